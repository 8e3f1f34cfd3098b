"""Build records in S3: ``s3://pctl-<account>-<region>/builds/<build-id>/``.

=====================  =============================================================================
``state.json``         the build record: id, template, fingerprint, status, step, AMI, times, estimate,
                       actual minutes, failure marker. Written by pctl at launch, then by the agent.
``progress.json``      the agent's progress: step, percent, package i of n, current package
``build.log``          the agent's full log; ``spack-install.log`` Spack's own output
``config.json``        the agent's input (tags, paths, webhook); ``agent.py``, ``software-install.sh``, ``check.sh``
=====================  =============================================================================

The bucket is the source of truth: any machine with the account's credentials lists and follows
builds; nothing about builds is kept locally.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from pctl.aws import s3

ROOT = "builds/"
TERMINAL = ("available", "failed")
INPUTS = ("agent.py", "config.json", "software-install.sh", "check.sh")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(dt: datetime | None = None) -> str:
    return (dt or utcnow()).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text) -> datetime | None:
    if not text or not isinstance(text, str):
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
        except ValueError:
            return None


def prefix_of(build_id: str) -> str:
    return f"{ROOT}{build_id}/"


class BuildStore:
    """One region's build records and objects (the S3 calls are pctl.aws.s3's)."""

    def __init__(self, aws, bucket: str | None = None):
        self.aws = aws
        self.bucket = bucket or aws.pctl_bucket()

    # --------------------------------------------------------------- objects
    def get_bytes(self, build_id: str, name: str, start: int = 0) -> bytes | None:
        """The object's bytes from START on (b"" when nothing is there yet past START); None when it does not exist."""
        return s3.get_object_bytes(self.aws, self.bucket, prefix_of(build_id) + name, start=start)

    def get_json(self, build_id: str, name: str) -> dict | None:
        data = self.get_bytes(build_id, name)
        if not data:
            return None
        try:
            obj = json.loads(data.decode("utf-8"))
        except ValueError:
            return None
        return obj if isinstance(obj, dict) else None

    def put(self, build_id: str, name: str, body, content_type: str = "application/json") -> None:
        s3.put_object(self.aws, self.bucket, prefix_of(build_id) + name, body, content_type=content_type)

    def put_json(self, build_id: str, name: str, obj: dict) -> None:
        self.put(build_id, name, json.dumps(obj, indent=2, sort_keys=True, default=str))

    # --------------------------------------------------------------- listing
    def keys(self) -> dict[str, list[str]]:
        """{build_id: [object names]} for every build prefix in the bucket (one paginated listing); {} without
        the bucket."""
        out: dict[str, list[str]] = {}
        for key in s3.list_prefix(self.aws, self.bucket, ROOT):
            bid, _, name = key[len(ROOT):].partition("/")
            if bid and name:
                out.setdefault(bid, []).append(name)
        return dict(sorted(out.items()))

    def ids(self) -> list[str]:
        return list(self.keys())

    def records(self, ids: list[str] | None = None) -> list[dict]:
        """Every build's state.json (oldest first); builds without one are skipped."""
        ids = self.ids() if ids is None else ids
        if not ids:
            return []
        with ThreadPoolExecutor(max_workers=min(8, len(ids))) as pool:
            recs = list(pool.map(lambda b: self.get_json(b, "state.json"), ids))
        out = []
        for bid, rec in zip(ids, recs):
            if rec:
                rec.setdefault("build_id", bid)
                out.append(rec)
        return sorted(out, key=lambda r: r.get("build_id", ""))

    def delete(self, build_id: str, names: list[str]) -> int:
        """Delete the build's objects NAMES; an object S3 refuses to delete is an error that names it (cleanup
        reports it, a launch's rollback lists it)."""
        if not names:
            return 0
        refused = s3.delete_keys(self.aws, self.bucket, [prefix_of(build_id) + n for n in names])
        if refused:
            from pctl.aws.errors import AwsError

            raise AwsError(f"S3 would not delete {len(refused)} object(s) of build {build_id}: "
                           + "; ".join(f"s3://{self.bucket}/{k} ({why})" for k, why in sorted(refused.items())),
                           code=next(iter(refused.values())).split(":")[0], operation="DeleteObjects",
                           hint="check your s3:DeleteObject permission on the pctl bucket; then: pctl ami cleanup")
        return len(names)
