"""IAM roles pctl creates: for its own functions (the idle timer) and for AMI builders (a role in an instance
profile)."""

from __future__ import annotations

import json

from pctl.aws.session import aws_errors


def _missing(exc) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("NoSuchEntity", "404")


def get_role(aws, name: str) -> dict | None:
    from botocore.exceptions import ClientError

    with aws_errors():
        try:
            return aws.client("iam").get_role(RoleName=name)["Role"]
        except ClientError as exc:
            if _missing(exc):
                return None
            raise


def ensure_role(aws, *, name: str, path: str, trust: dict, policy_name: str, policy: dict, tags: dict[str, str],
                description: str) -> str:
    """Create the role (or adopt it) with exactly one inline policy. Returns the role ARN."""
    iam = aws.client("iam")
    with aws_errors():
        role = get_role(aws, name)
        if role is None:
            role = iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=json.dumps(trust),
                                   Description=description, MaxSessionDuration=3600,
                                   Tags=[{"Key": k, "Value": v} for k, v in tags.items()])["Role"]
        else:
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
            iam.tag_role(RoleName=name, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        for other in iam.list_role_policies(RoleName=name).get("PolicyNames", []):
            if other != policy_name:
                iam.delete_role_policy(RoleName=name, PolicyName=other)
        iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(policy))
    return role["Arn"]


def role_policy(aws, name: str, policy_name: str) -> dict | None:
    from botocore.exceptions import ClientError

    with aws_errors():
        try:
            doc = aws.client("iam").get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
    return json.loads(doc) if isinstance(doc, str) else doc


def delete_role(aws, name: str) -> bool:
    """Delete the role and its inline/attached policies. False when there was no such role."""
    from botocore.exceptions import ClientError

    iam = aws.client("iam")
    with aws_errors():
        try:
            for p in iam.list_role_policies(RoleName=name).get("PolicyNames", []):
                iam.delete_role_policy(RoleName=name, PolicyName=p)
            for p in iam.list_attached_role_policies(RoleName=name).get("AttachedPolicies", []):
                iam.detach_role_policy(RoleName=name, PolicyArn=p["PolicyArn"])
            iam.delete_role(RoleName=name)
            return True
        except ClientError as exc:
            if _missing(exc):
                return False
            raise


def list_roles(aws, path: str) -> list[dict]:
    out: list[dict] = []
    with aws_errors():
        for page in aws.client("iam").get_paginator("list_roles").paginate(PathPrefix=path):
            out += page.get("Roles", [])
    return out


def role_tags(aws, name: str) -> dict[str, str]:
    from botocore.exceptions import ClientError

    with aws_errors():
        try:
            tags = aws.client("iam").list_role_tags(RoleName=name).get("Tags", [])
        except ClientError as exc:
            if _missing(exc):
                return {}
            raise
    return {t["Key"]: t["Value"] for t in tags}


def put_role_policy(aws, role: str, policy_name: str, policy: dict) -> None:
    with aws_errors():
        aws.client("iam").put_role_policy(RoleName=role, PolicyName=policy_name, PolicyDocument=json.dumps(policy))


def list_instance_profiles(aws, path: str) -> list[dict]:
    out: list[dict] = []
    with aws_errors():
        for page in aws.client("iam").get_paginator("list_instance_profiles").paginate(PathPrefix=path):
            out += page.get("InstanceProfiles", [])
    return out


def create_instance_role(aws, *, name: str, path: str, trust: dict, policy_name: str, policy: dict,
                         tags: dict[str, str], description: str, max_session_seconds: int = 3600) -> str:
    """A new role with one inline policy, in a new instance profile of the same name and path (both tagged).
    Returns the instance profile ARN. All or nothing: on any failure what it made is removed again (see
    delete_instance_role) and the error is raised."""
    iam = aws.client("iam")
    tag_list = [{"Key": k, "Value": v} for k, v in tags.items()]
    try:
        with aws_errors():
            iam.create_role(RoleName=name, Path=path, MaxSessionDuration=max_session_seconds, Tags=tag_list,
                            AssumeRolePolicyDocument=json.dumps(trust), Description=description)
            iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(policy))
            prof = iam.create_instance_profile(InstanceProfileName=name, Path=path, Tags=tag_list)
            iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    except BaseException:
        delete_instance_role(aws, name)
        raise
    return prof["InstanceProfile"]["Arn"]


def delete_instance_role(aws, name: str) -> list[str]:
    """Remove the role NAME, its inline and attached policies and its instance profile NAME, each step tried even
    when another failed; what is already gone is fine. Returns what could not be removed, as text."""
    from botocore.exceptions import ClientError

    iam = aws.client("iam")
    problems: list[str] = []

    def attempt(what, fn, **kw):
        try:
            fn(**kw)
        except ClientError as exc:
            if not _missing(exc):
                problems.append(f"{what}: {exc.response.get('Error', {}).get('Message', exc)}")

    with aws_errors():
        attempt("remove role from instance profile", iam.remove_role_from_instance_profile,
                InstanceProfileName=name, RoleName=name)
        attempt("delete instance profile", iam.delete_instance_profile, InstanceProfileName=name)
        try:
            for pol in iam.list_role_policies(RoleName=name).get("PolicyNames", []):
                attempt(f"delete policy {pol}", iam.delete_role_policy, RoleName=name, PolicyName=pol)
            for pol in iam.list_attached_role_policies(RoleName=name).get("AttachedPolicies", []):
                attempt(f"detach {pol['PolicyArn']}", iam.detach_role_policy, RoleName=name,
                        PolicyArn=pol["PolicyArn"])
        except ClientError as exc:
            if not _missing(exc):
                problems.append(str(exc))
        attempt("delete role", iam.delete_role, RoleName=name)
    return problems
