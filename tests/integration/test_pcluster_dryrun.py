"""ParallelCluster's own create-time validation (pcluster.lib.create_cluster dryrun=True) against the moto
server, for every library template; and ParallelCluster's offline schema + validators."""

from __future__ import annotations

import shutil

import pytest

from pctl import library
from pctl.cluster.pcluster_api import EMULATOR_SUPPRESSED, RealBackend
from pctl.cluster.plan import CreateOptions, prepare, render_for
from pctl.render.pcluster_check import offline_check

pytestmark = pytest.mark.slow

NAMES = library.names()
AL2023 = {"x86_64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
          "arm64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"}


def _render(name, *, subnet="subnet-0123456789abcdef0", bucket="pctl-123456789012-us-east-1", ami=None):
    prepared = prepare(CreateOptions(template=name, key_name="pctl-test-key"), use_catalog=False)
    t = prepared.template
    region = t.cluster.region or "us-east-1"
    ctx, rendered = render_for(prepared, region=region, bucket=bucket, head_subnet=subnet, compute_subnets=(subnet,),
                               ssh_cidr="203.0.113.0/24", custom_ami=ami)
    return prepared, ctx, rendered


@pytest.mark.parametrize("name", NAMES)
def test_schema_and_offline_validators(name):
    pytest.importorskip("pcluster")
    prepared, ctx, rendered = _render(name)
    findings = [f for f in offline_check(rendered.config, prepared.cluster_name) if f.level == "ERROR"]
    assert not findings, findings


def _provision(aws, prepared, ctx, region):
    ec2, s3 = aws.client("ec2"), aws.client("s3")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
    ec2.create_key_pair(KeyName="pctl-test-key", KeyType="ed25519")
    where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=ctx.scripts_bucket, **where)
    for n, body in prepared.scripts.items():
        s3.put_object(Bucket=ctx.scripts_bucket, Key=f"{ctx.scripts_prefix}{n}", Body=body.encode())
    for m in prepared.template.data.s3_mounts:  # the data buckets the template mounts
        try:
            s3.create_bucket(Bucket=m.bucket, **where)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
    ami = aws.client("ssm").get_parameter(Name=AL2023[prepared.template.arch])["Parameter"]["Value"]
    return subnet, ami


@pytest.mark.parametrize("name", NAMES)
def test_pcluster_dryrun_would_succeed(name, aws_env, monkeypatch):
    pytest.importorskip("pcluster")
    if shutil.which("node") is None:
        pytest.skip("ParallelCluster needs Node.js even for a dry run")
    from pctl.aws import Aws

    prepared, ctx, _ = _render(name)
    region = prepared.template.cluster.region or "us-east-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    aws = Aws(region=region)
    bucket = f"pctl-123456789012-{region}"
    prepared, ctx, _ = _render(name, bucket=bucket)
    subnet, ami = _provision(aws, prepared, ctx, region)
    _, _, rendered = _render(name, subnet=subnet, bucket=bucket, ami=ami)
    result = RealBackend().create_cluster(prepared.cluster_name, rendered.config, region, dryrun=True,
                                          suppress=EMULATOR_SUPPRESSED)
    errors = [m for m in result.validation if m["level"] == "ERROR"]
    assert result.ok and result.status == "DRYRUN", (result.message, errors)


def test_invalid_counts_rejected_by_pclusters_own_validator(aws_env):
    pytest.importorskip("pcluster")
    if shutil.which("node") is None:
        pytest.skip("needs Node.js")
    from pctl.aws import Aws

    aws = Aws(region="us-east-1")
    prepared, ctx, _ = _render("minimal")
    subnet, ami = _provision(aws, prepared, ctx, "us-east-1")
    _, _, rendered = _render("minimal", subnet=subnet, ami=ami)
    cr = rendered.config["Scheduling"]["SlurmQueues"][0]["ComputeResources"][0]
    cr["MinCount"], cr["MaxCount"] = 5, 2  # past pctl's own validation: pcluster must catch it too
    result = RealBackend().create_cluster(prepared.cluster_name, rendered.config, "us-east-1", dryrun=True,
                                          suppress=EMULATOR_SUPPRESSED)
    assert not result.ok
    assert any(m["type"] == "ComputeResourceSizeValidator" for m in result.validation), result.validation
