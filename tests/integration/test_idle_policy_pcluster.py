"""ParallelCluster's own stacks against the idle timer's IAM and pctl's cost tags: the installed
aws-parallelcluster creates a cluster for real against moto (validators, CDK synth with Node.js, its
bucket, the upload) up to CloudFormation's CreateStack, whose arguments are captured there."""

from __future__ import annotations

import json
import shutil

import pytest

from pctl.cluster.pcluster_api import EMULATOR_SUPPRESSED
from pctl.cluster.plan import CreateOptions, prepare, render_for
from pctl.cost.idle.policy import DELETE_ACTIONS

pytestmark = pytest.mark.slow

AL2023 = {"x86_64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
          "arm64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"}


def _synth(aws, name):
    """(template bodies of the root and nested stacks, CreateStack tags) ParallelCluster would deploy."""
    pytest.importorskip("pcluster")
    if shutil.which("node") is None:
        pytest.skip("ParallelCluster synthesizes with Node.js (CDK)")
    import pcluster.lib as pc
    import yaml
    from pcluster.aws import cfn as cfnmod
    from pcluster.aws.aws_api import AWSApi

    ec2, s3 = aws.client("ec2"), aws.client("s3")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
    ec2.create_key_pair(KeyName="k", KeyType="ed25519")
    bucket = "pctl-123456789012-us-east-1"
    s3.create_bucket(Bucket=bucket)
    prepared = prepare(CreateOptions(template=name, key_name="k", region="us-east-1"), use_catalog=False)
    for m in prepared.template.data.s3_mounts:
        s3.create_bucket(Bucket=m.bucket)
    ami = aws.client("ssm").get_parameter(Name=AL2023[prepared.template.arch])["Parameter"]["Value"]
    ctx, rendered = render_for(prepared, region="us-east-1", bucket=bucket, head_subnet=subnet,
                               compute_subnets=(subnet,), ssh_cidr="203.0.113.0/24", custom_ami=ami)
    for n, body in prepared.scripts.items():
        s3.put_object(Bucket=bucket, Key=f"{ctx.scripts_prefix}{n}", Body=body.encode())
    captured = {}

    def create_stack_from_url(self, stack_name, template_url, **kw):
        b, key = template_url.split("://", 1)[1].split(".", 1)[0], template_url.split(".amazonaws.com/", 1)[1]
        captured["bodies"] = [s3.get_object(Bucket=b, Key=key)["Body"].read().decode()]
        assets = key.rsplit("/templates/", 1)[0] + "/assets/"
        for o in s3.list_objects_v2(Bucket=b, Prefix=assets).get("Contents", []):
            captured["bodies"].append(s3.get_object(Bucket=b, Key=o["Key"])["Body"].read().decode())
        captured["tags"] = kw.get("tags")
        raise RuntimeError("captured by the test")

    orig = cfnmod.CfnClient.create_stack_from_url
    cfnmod.CfnClient.create_stack_from_url = create_stack_from_url
    try:
        AWSApi.reset()
        pc.create_cluster(cluster_name=prepared.cluster_name, cluster_configuration=rendered.config, region="us-east-1",
                          suppress_validators=list(EMULATOR_SUPPRESSED))
    except Exception:
        pass
    finally:
        cfnmod.CfnClient.create_stack_from_url = orig
    if "bodies" not in captured:
        pytest.fail("ParallelCluster did not get to CreateStack against moto")
    docs = [yaml.safe_load(b) for b in captured["bodies"]]
    return docs, captured["tags"], prepared


@pytest.mark.parametrize("name", ["bioinformatics", "earth/hydrology"])
def test_parallelcluster_stack_types_and_tags(aws, name, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    docs, tags, prepared = _synth(aws, name)
    types = {r["Type"] for d in docs for r in (d.get("Resources") or {}).values() if isinstance(r, dict)}
    assert types - set(DELETE_ACTIONS) == set(), "resource types without delete permissions in the idle policy"
    fixture = json.loads((__import__("pathlib").Path(__file__).parents[1] / "fixtures" / "cost" /
                          "pcluster-stacks.json").read_text())["stacks"].get(name)
    if fixture:
        assert types == set(fixture["types"]), "the recorded stack types are out of date"
    got = {t["Key"]: t["Value"] for t in tags}
    assert got["pctl:cluster"] == prepared.cluster_name and got["pctl:template"] == prepared.ref.name
    assert got["parallelcluster:cluster-name"] == prepared.cluster_name
    for k, v in prepared.template.cluster.tags.items():
        assert got[k] == v
    if prepared.template.cluster.tags.get("project"):
        assert got["pctl:project"] == prepared.template.cluster.tags["project"]
