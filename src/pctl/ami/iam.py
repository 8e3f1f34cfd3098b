"""The builder's instance profile: one IAM role per build, allowed to touch only that build.

Why per build, not one shared role with tag conditions: a shared role cannot name "this build's S3
prefix" (the instance's credentials carry no build id an S3 policy could match), so every builder
could read and overwrite every other build's records and scripts. A per-build role names its own
resources literally:

* S3: read ``builds/<id>/*``; write only ``state.json``, ``progress.json``, ``build.log`` and
  ``spack-install.log`` there. Nothing else in the bucket, no other bucket.
* EC2: ``CreateImage`` only of an instance tagged ``pctl:build-id=<id>`` (itself) and only when the
  new image and snapshots are tagged with that id at creation; ``CreateTags`` only as part of that
  ``CreateImage``; ``DeregisterImage``/``DeleteSnapshot``/``TerminateInstances`` only on resources
  tagged with that id. ``Describe*`` (read-only; EC2 has no resource-level permissions for them).
* When the build ends: delete its own inputs (``agent.py``, ``software-install.sh``, ``config.json``
  with the webhook URL), and give up its own access: remove the role from its instance profile,
  delete that profile, delete the role's policy (last). Only on this build's role and profile.
* Nothing else: no other IAM action, no SSM, no other service, no passing roles.

It is created at launch (path ``/pctl/``, name ``pctl-build-<id>``, tagged). When the build ends the
agent empties it (profile and policy gone), and the watching ``pctl ami build`` (attached), ``pctl ami
status`` or ``pctl ami cleanup`` deletes the emptied role: a role cannot delete itself (IAM refuses to
delete a role that still has a policy, and without one it may call nothing). An emptied role is inert:
it has no permission, and no instance profile to launch with.
"""

from __future__ import annotations


from pctl.ami.store import INPUTS
from pctl.aws import iam as aws_iam
from pctl.regions import partition

ROLE_PATH = "/pctl/"
ROLE_PREFIX = "pctl-build-"
POLICY_NAME = "pctl-build"
WRITABLE = ("state.json", "progress.json", "build.log", "spack-install.log")
#: The build's inputs, deleted when it ends: one list (pctl.ami.store.INPUTS) for the agent, policy and builder.


def role_name(build_id: str) -> str:
    return ROLE_PREFIX + build_id


def build_id_of(role: str) -> str | None:
    return role[len(ROLE_PREFIX):] if role.startswith(ROLE_PREFIX) else None


def trust_policy() -> dict:
    """Only EC2 may assume it (for the instance profile); launching with it needs iam:PassRole."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole",
    }]}


def builder_policy(build_id: str, bucket: str, region: str, account: str) -> dict:
    p = partition(region)
    prefix = f"arn:{p}:s3:::{bucket}/builds/{build_id}/"
    instance = f"arn:{p}:ec2:{region}:{account}:instance/*"
    image = f"arn:{p}:ec2:{region}::image/*"
    snapshot = f"arn:{p}:ec2:{region}::snapshot/*"
    own = {"StringEquals": {"aws:ResourceTag/pctl:build-id": build_id}}
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadThisBuild", "Effect": "Allow", "Action": "s3:GetObject", "Resource": prefix + "*"},
        {"Sid": "ReportThisBuild", "Effect": "Allow", "Action": "s3:PutObject",
         "Resource": [prefix + name for name in WRITABLE]},
        {"Sid": "ReadOnlyDescribe", "Effect": "Allow",
         "Action": ["ec2:DescribeImages", "ec2:DescribeSnapshots"], "Resource": "*"},
        {"Sid": "ImageOfItself", "Effect": "Allow", "Action": "ec2:CreateImage", "Resource": instance,
         "Condition": own},
        {"Sid": "NewImageTaggedWithThisBuild", "Effect": "Allow", "Action": "ec2:CreateImage",
         "Resource": [image, snapshot],
         "Condition": {"StringEquals": {"aws:RequestTag/pctl:build-id": build_id}}},
        {"Sid": "TagOnlyWhileCreatingTheImage", "Effect": "Allow", "Action": "ec2:CreateTags",
         "Resource": [image, snapshot],
         "Condition": {"StringEquals": {"ec2:CreateAction": "CreateImage",
                                        "aws:RequestTag/pctl:build-id": build_id}}},
        {"Sid": "UndoOwnImage", "Effect": "Allow", "Action": "ec2:DeregisterImage", "Resource": image,
         "Condition": own},
        {"Sid": "UndoOwnSnapshots", "Effect": "Allow", "Action": "ec2:DeleteSnapshot", "Resource": snapshot,
         "Condition": own},
        {"Sid": "EndItself", "Effect": "Allow", "Action": "ec2:TerminateInstances", "Resource": instance,
         "Condition": own},
        {"Sid": "RemoveOwnInputs", "Effect": "Allow", "Action": "s3:DeleteObject",
         "Resource": [prefix + name for name in INPUTS]},
        {"Sid": "ReleaseOwnAccess", "Effect": "Allow",
         "Action": ["iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile", "iam:DeleteRolePolicy"],
         "Resource": [f"arn:{p}:iam::{account}:role{ROLE_PATH}{role_name(build_id)}",
                      f"arn:{p}:iam::{account}:instance-profile{ROLE_PATH}{role_name(build_id)}"]},
    ]}


def create_builder_profile(aws, build_id: str, bucket: str) -> tuple[str, str]:
    """(role/profile name, instance profile ARN). Rolls back its own partial work on failure."""
    name = role_name(build_id)
    arn = aws_iam.create_instance_role(
        aws, name=name, path=ROLE_PATH, trust=trust_policy(), policy_name=POLICY_NAME,
        policy=builder_policy(build_id, bucket, aws.region, aws.account_id),
        tags={"pctl:build-id": build_id, "pctl:managed": "true", "pctl:role": "ami-builder"},
        description=f"pctl AMI build {build_id}: may touch only this build's resources", max_session_seconds=3600)
    return name, arn


def delete_builder_profile(aws, name: str) -> list[str]:
    """Remove the role, its policies and its instance profile; what could not be removed, as text."""
    return aws_iam.delete_instance_role(aws, name)


def list_builder_roles(aws) -> list[dict]:
    """[{name, build_id, created, kind}] for pctl build roles and any role-less build instance profiles."""
    out = []
    roles = [r for r in aws_iam.list_roles(aws, ROLE_PATH) if r["RoleName"].startswith(ROLE_PREFIX)]
    profiles = [p for p in aws_iam.list_instance_profiles(aws, ROLE_PATH)
                if p["InstanceProfileName"].startswith(ROLE_PREFIX)]
    names = {r["RoleName"] for r in roles}
    for r in roles:
        out.append({"name": r["RoleName"], "build_id": build_id_of(r["RoleName"]), "created": r.get("CreateDate"),
                    "kind": "role"})
    for p in profiles:
        if p["InstanceProfileName"] not in names:
            out.append({"name": p["InstanceProfileName"], "build_id": build_id_of(p["InstanceProfileName"]),
                        "created": p.get("CreateDate"), "kind": "instance-profile"})
    return out


def is_profile_propagation_error(exc) -> bool:
    """RunInstances right after CreateInstanceProfile: IAM is eventually consistent. EXC is the AwsError; its
    cause is AWS's own answer (the translated message may not repeat it)."""
    text = f"{exc} {exc.__cause__ or ''}"
    return "iamInstanceProfile" in text or "Invalid IAM Instance Profile" in text or "instance profile" in text.lower()
