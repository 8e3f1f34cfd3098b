"""The private pctl bucket (pctl-<account>-<region>): bootstrap scripts, build logs and state."""

from __future__ import annotations

import json

from pctl.aws.errors import AwsError
from pctl.aws.session import aws_errors


def bucket_policy(bucket: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }],
    }


def ensure_bucket(aws, name: str | None = None) -> str:
    """Create (or adopt) the bucket: block all public access, default encryption, TLS only, owner-enforced."""
    from botocore.exceptions import ClientError

    s3 = aws.client("s3")
    name = name or aws.pctl_bucket()
    with aws_errors():
        try:
            s3.head_bucket(Bucket=name)
            exists = True
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code"))
            if code in ("403", "AccessDenied", "Forbidden"):
                from pctl.errors import PctlError

                raise PctlError(f"bucket {name} exists but belongs to another account or denies access",
                                hint="pctl uses pctl-<account>-<region>; check your account") from None
            exists = False
        if not exists:
            kwargs = {}
            if aws.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": aws.region}
            s3.create_bucket(Bucket=name, ObjectOwnership="BucketOwnerEnforced", **kwargs)
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]})
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps(bucket_policy(name)))
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "pctl:managed", "Value": "true"}]})
    return name


def put_object(aws, bucket: str, key: str, body: str | bytes, *, content_type: str) -> None:
    """Write s3://BUCKET/KEY (a str is written as UTF-8), encrypted at rest (SSE-S3)."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    with aws_errors():
        aws.client("s3").put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type,
                                    ServerSideEncryption="AES256")


def get_object_bytes(aws, bucket: str, key: str, *, start: int = 0) -> bytes | None:
    """The bytes of s3://BUCKET/KEY from offset START on: b"" when the object has nothing past START yet, None when
    it (or the bucket) does not exist."""
    kwargs = {"Range": f"bytes={start}-"} if start else {}
    try:
        with aws_errors():
            return aws.client("s3").get_object(Bucket=bucket, Key=key, **kwargs)["Body"].read()
    except AwsError as exc:
        if str(exc.code) in ("InvalidRange", "416"):
            return b""
        if str(exc.code) in ("NoSuchKey", "404", "NoSuchBucket"):
            return None
        raise


def delete_keys(aws, bucket: str, keys: list[str]) -> dict[str, str]:
    """Delete the objects (a missing one counts as deleted, as in S3). Returns {key: why} for every object S3
    would not delete (DeleteObjects answers per key)."""
    failed: dict[str, str] = {}
    s3 = aws.client("s3")
    with aws_errors():
        for i in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]],
                                                         "Quiet": True})
            for e in r.get("Errors", []) or []:
                failed[e.get("Key", "?")] = f"{e.get('Code', 'error')}: {e.get('Message', '')}".rstrip(": ")
    return failed


def upload(aws, bucket: str, prefix: str, files: dict[str, str | bytes]) -> list[str]:
    keys = []
    for name, body in sorted(files.items()):
        key = f"{prefix}{name}"
        put_object(aws, bucket, key, body, content_type="text/x-shellscript" if name.endswith(".sh") else "text/plain")
        keys.append(key)
    return keys


def delete_prefix(aws, bucket: str, prefix: str) -> int:
    """Remove every object under prefix (all versions are not needed: versioning stays off)."""
    from botocore.exceptions import ClientError

    s3 = aws.client("s3")
    n = 0
    with aws_errors():
        try:
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for page in pages:
                objs = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if objs:
                    s3.delete_objects(Bucket=bucket, Delete={"Objects": objs, "Quiet": True})
                    n += len(objs)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("NoSuchBucket", "404"):
                return 0
            raise
    return n


def list_prefix(aws, bucket: str, prefix: str) -> list[str]:
    from botocore.exceptions import ClientError

    s3 = aws.client("s3")
    out = []
    with aws_errors():
        try:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                out += [o["Key"] for o in page.get("Contents", [])]
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("NoSuchBucket", "404"):
                return []
            raise
    return out


def get_json(aws, bucket: str | None, key: str):
    """The JSON document at s3://BUCKET/KEY; None when it (or the bucket) does not exist or is not JSON."""
    if not bucket:
        return None
    try:
        with aws_errors():
            body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except AwsError as exc:
        if str(exc.code) in ("NoSuchKey", "NoSuchBucket", "404", "403", "AccessDenied"):
            return None
        raise
    try:
        return json.loads(body)
    except ValueError:
        return None


def put_json(aws, bucket: str, key: str, doc) -> None:
    put_object(aws, bucket, key, json.dumps(doc, indent=1), content_type="application/json")


def pctl_bucket_regions(aws) -> list[str] | None:
    """Regions in which this account has a pctl bucket (``pctl-<account>-<region>``), sorted; one ListBuckets
    call (S3 lists every region's buckets). None when the caller may not list buckets (s3:ListAllMyBuckets)."""
    from botocore.exceptions import ClientError

    from pctl.template.rules import REGION_RE

    prefix = f"pctl-{aws.account_id}-"
    names: list[str] = []
    s3 = aws.client("s3")
    with aws_errors():
        try:
            kwargs: dict = {}
            while True:
                page = s3.list_buckets(**kwargs)
                names += [b["Name"] for b in page.get("Buckets", [])]
                token = page.get("ContinuationToken")
                if not token:
                    break
                kwargs = {"ContinuationToken": token}
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("AccessDenied", "403", "Forbidden"):
                return None
            raise
    regions = {n[len(prefix):] for n in names if n.startswith(prefix)}
    return sorted(r for r in regions if REGION_RE.fullmatch(r))


def object_exists(aws, bucket: str, key: str) -> bool:
    """True when s3://bucket/key exists (False also when the bucket does not)."""
    from botocore.exceptions import ClientError

    with aws_errors():
        try:
            aws.client("s3").head_object(Bucket=bucket, Key=key)
            return True
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NoSuchBucket", "NotFound"):
                return False
            raise


def list_folders(aws, bucket: str, prefix: str) -> list[str]:
    """The next-level "folder" names under prefix (``clusters/`` -> cluster names); [] without the bucket."""
    from botocore.exceptions import ClientError

    s3 = aws.client("s3")
    out: list[str] = []
    with aws_errors():
        try:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
                out += [p["Prefix"][len(prefix):].rstrip("/") for p in page.get("CommonPrefixes", [])]
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("NoSuchBucket", "404"):
                return []
            raise
    return sorted(n for n in out if n)
