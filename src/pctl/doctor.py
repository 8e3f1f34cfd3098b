"""`pctl doctor`: is this machine and account ready? Each check returns ok / warn / fail with a fix."""

from __future__ import annotations


def _check(name, status, detail, fix=None):
    return {"name": name, "status": status, "detail": detail, "fix": fix}


def check_node() -> dict:
    from pctl import nodejs

    node = nodejs.find()
    if not node.usable:
        return _check("Node.js", "fail", node.problem, nodejs.INSTALL_HINT + " (ParallelCluster's CDK needs it)")
    if node.advice:
        return _check("Node.js", "warn", f"{node.version}: {node.advice}", nodejs.INSTALL_HINT)
    return _check("Node.js", "ok", node.version)


def check_pcluster() -> dict:
    from pctl.render.pcluster_check import pcluster_version

    v = pcluster_version()
    if not v:
        return _check("ParallelCluster", "fail", "aws-parallelcluster is not installed", "pip install 'pctl[aws]'")
    return _check("ParallelCluster", "ok", f"aws-parallelcluster {v} (custom AMIs must match this version)")


def run_checks(*, profile=None, region=None, key_name=None) -> list[dict]:
    from pctl.aws import ec2, servicequotas, sts
    from pctl.errors import PctlError

    checks = [check_node(), check_pcluster()]
    try:
        from pctl.aws import Aws

        aws = Aws(profile=profile, region=region)
        checks.append(_check("Region", "ok", aws.region))
    except PctlError as exc:
        checks.append(_check("Region", "fail", exc.message, exc.hint))
        return checks
    try:
        ident = sts.identity(aws)
        checks.append(_check("Credentials", "ok", f"account {ident['Account']} as {ident['Arn']}"))
    except PctlError as exc:
        checks.append(_check("Credentials", "fail", exc.message, exc.hint))
        return checks
    try:
        from pctl.network import stack as network_stack

        vpcs = ec2.vpc_count(aws)
        limit = servicequotas.quota(aws, "vpc", "L-F678F1CE", 5)
        pctl_net = network_stack.describe(aws)
        if pctl_net or vpcs < limit:
            checks.append(_check("VPC quota", "ok", f"{vpcs} of {limit:.0f} VPCs used"
                                 + ("; the pctl network exists and is reused" if pctl_net else "")))
        else:
            checks.append(_check("VPC quota", "fail", f"{vpcs} of {limit:.0f} VPCs used: no room for the pctl network",
                                 "delete an unused VPC, request a quota increase, or pass --subnet-id"))
        eips = ec2.address_count(aws)
        elimit = servicequotas.quota(aws, "ec2", "L-0263D0A3", 5)
        status = "ok" if eips < elimit or pctl_net else "warn"
        checks.append(_check("Elastic IP quota", status, f"{eips} of {elimit:.0f} Elastic IPs used",
                             "release unused Elastic IPs or use --public-only (no NAT gateway)"))
    except PctlError as exc:
        checks.append(_check("EC2 access", "fail", exc.message, exc.hint))
    if key_name:
        try:
            if ec2.key_pair_exists(aws, key_name):
                checks.append(_check("Key pair", "ok", f"{key_name} exists in {aws.region}"))
            else:
                checks.append(_check("Key pair", "fail", f"{key_name} does not exist in {aws.region}",
                                     f"create or import it: aws ec2 create-key-pair --key-name {key_name} "
                                     f"--region {aws.region}"))
        except PctlError as exc:
            checks.append(_check("Key pair", "fail", exc.message, exc.hint))
    return checks
