"""`pctl doctor`: is this machine and account ready? Each check returns ok / warn / fail with a fix."""

from __future__ import annotations

import shutil
import subprocess


def _check(name, status, detail, fix=None):
    return {"name": name, "status": status, "detail": detail, "fix": fix}


def check_node() -> dict:
    node = shutil.which("node")
    if not node:
        return _check("Node.js", "fail", "not found", "install Node.js 18 or newer (ParallelCluster's CDK needs it)")
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
        major = int(out.lstrip("v").split(".")[0])
    except Exception:
        return _check("Node.js", "warn", f"{node} did not report a version", "reinstall Node.js 18 or newer")
    if major < 18:
        return _check("Node.js", "fail", f"{out} is too old", "install Node.js 18 or newer")
    return _check("Node.js", "ok", out)


def check_pcluster() -> dict:
    from pctl.render.pcluster_check import pcluster_version

    v = pcluster_version()
    if not v:
        return _check("ParallelCluster", "fail", "aws-parallelcluster is not installed", "pip install 'pctl[aws]'")
    return _check("ParallelCluster", "ok", f"aws-parallelcluster {v} (custom AMIs must match this version)")


def _quota(aws, service: str, code: str, default: float) -> float:
    try:
        return float(aws.client("service-quotas").get_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]["Value"])
    except Exception:
        return default


def run_checks(*, profile=None, region=None, key_name=None) -> list[dict]:
    checks = [check_node(), check_pcluster()]
    try:
        from pctl.aws import Aws

        aws = Aws(profile=profile, region=region)
        checks.append(_check("Region", "ok", aws.region))
    except Exception as exc:
        checks.append(_check("Region", "fail", getattr(exc, "message", str(exc)), getattr(exc, "hint", None)))
        return checks
    try:
        ident = aws.client("sts").get_caller_identity()
        checks.append(_check("Credentials", "ok", f"account {ident['Account']} as {ident['Arn']}"))
    except Exception as exc:
        from pctl.aws.errors import translate

        e = translate(exc)
        checks.append(_check("Credentials", "fail", e.message, e.hint))
        return checks
    ec2 = aws.client("ec2")
    try:
        vpcs = len(ec2.describe_vpcs()["Vpcs"])
        limit = _quota(aws, "vpc", "L-F678F1CE", 5)
        pctl_net = ec2.describe_vpcs(Filters=[{"Name": "tag-key", "Values": ["pctl:network"]}])["Vpcs"]
        if pctl_net or vpcs < limit:
            checks.append(_check("VPC quota", "ok", f"{vpcs} of {limit:.0f} VPCs used"
                                 + ("; the pctl network exists and is reused" if pctl_net else "")))
        else:
            checks.append(_check("VPC quota", "fail", f"{vpcs} of {limit:.0f} VPCs used: no room for the pctl network",
                                 "delete an unused VPC, request a quota increase, or pass --subnet-id"))
        eips = len(ec2.describe_addresses()["Addresses"])
        elimit = _quota(aws, "ec2", "L-0263D0A3", 5)
        status = "ok" if eips < elimit or pctl_net else "warn"
        checks.append(_check("Elastic IP quota", status, f"{eips} of {elimit:.0f} Elastic IPs used",
                             "release unused Elastic IPs or use --public-only (no NAT gateway)"))
    except Exception as exc:
        from pctl.aws.errors import translate

        e = translate(exc)
        checks.append(_check("EC2 access", "fail", e.message, e.hint))
    if key_name:
        try:
            ec2.describe_key_pairs(KeyNames=[key_name])
            checks.append(_check("Key pair", "ok", f"{key_name} exists in {aws.region}"))
        except Exception:
            checks.append(_check("Key pair", "fail", f"{key_name} does not exist in {aws.region}",
                                 f"create or import it: aws ec2 create-key-pair --key-name {key_name} --region {aws.region}"))
    return checks
