"""Imported ParallelCluster configurations, judged by ParallelCluster itself: `pcluster.lib.create_cluster`
with dryrun=True against the moto server (every validator but the two launch-template ones, which moto
cannot answer), for every fixture shape. Existing file systems, volumes, AMIs, buckets and custom action
scripts are made in the emulator first and their ids put into the configuration."""

from __future__ import annotations

import shutil

import pytest

from pctl.adopt.pcluster_import import import_config
from pctl.aws.pcluster import EMULATOR_SUPPRESSED, create_cluster
from pctl.cluster.plan import CreateOptions, prepare
from support.render import render_single_subnet
from support import pcluster_semantics as sem

pytestmark = pytest.mark.slow

AMI_PARAM = {"x86_64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
             "arm64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"}


def _replace_ids(node, ids: dict):
    if isinstance(node, dict):
        return {k: _replace_ids(v, ids) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace_ids(v, ids) for v in node]
    return ids.get(node, node) if isinstance(node, str) else node


def _strings(node):
    if isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)
    elif isinstance(node, str):
        yield node


def _provision(aws, region: str, cfg: dict, arch: str) -> tuple[str, dict]:
    """A VPC and subnet, the key pair, and every existing resource the configuration names; returns the
    subnet and {placeholder id: real id}."""
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
    ec2.create_key_pair(KeyName="pctl-test-key", KeyType="ed25519")
    ids: dict[str, str] = {}
    ami = aws.client("ssm").get_parameter(Name=AMI_PARAM[arch])["Parameter"]["Value"]
    for s in set(_strings(cfg)):
        if s.startswith("ami-"):
            ids[s] = ami
        elif s.startswith("vol-"):
            ids[s] = ec2.create_volume(AvailabilityZone=zone, Size=100, VolumeType="gp3",
                                       Encrypted=True)["VolumeId"]
    for st in cfg.get("SharedStorage") or []:
        fs = (st.get("FsxLustreSettings") or {}).get("FileSystemId")
        if fs:
            sg = ec2.create_security_group(GroupName=f"lustre-{fs}", Description="Lustre from the VPC",
                                           VpcId=vpc)["GroupId"]
            ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[{
                "IpProtocol": "tcp", "FromPort": 988, "ToPort": 988, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}])
            ids[fs] = aws.client("fsx").create_file_system(
                FileSystemType="LUSTRE", StorageCapacity=1200, SubnetIds=[subnet], SecurityGroupIds=[sg],
                LustreConfiguration={"DeploymentType": "SCRATCH_2"})["FileSystem"]["FileSystemId"]
        fs = (st.get("EfsSettings") or {}).get("FileSystemId")
        if fs:
            efs = aws.client("efs")
            real = efs.create_file_system(CreationToken=fs, Encrypted=True)["FileSystemId"]
            sg = ec2.create_security_group(GroupName=f"nfs-{fs}", Description="NFS from the VPC", VpcId=vpc)["GroupId"]
            ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[{
                "IpProtocol": "tcp", "FromPort": 2049, "ToPort": 2049, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}])
            efs.create_mount_target(FileSystemId=real, SubnetId=subnet, SecurityGroups=[sg])
            ids[fs] = real
    return subnet, ids


def _buckets(aws, region, prepared, ctx, cfg):
    s3 = aws.client("s3")
    where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}

    def bucket(name):
        try:
            s3.create_bucket(Bucket=name, **where)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass

    bucket(ctx.scripts_bucket)
    for n, body in prepared.scripts.items():
        s3.put_object(Bucket=ctx.scripts_bucket, Key=f"{ctx.scripts_prefix}{n}", Body=body.encode())
    for m in prepared.template.data.s3_mounts:
        bucket(m.bucket)
    for s in set(_strings(cfg)):  # the custom action scripts the configuration runs
        if s.startswith("s3://") and s.endswith(".sh"):
            b, _, key = s[5:].partition("/")
            bucket(b)
            s3.put_object(Bucket=b, Key=key, Body=b"#!/bin/bash\nexit 0\n")


@pytest.mark.parametrize("name", sem.fixture_names())
def test_imported_config_passes_parallelclusters_create_dryrun(name, aws_env, monkeypatch, tmp_path):
    pytest.importorskip("pcluster")
    if shutil.which("node") is None:
        pytest.skip("ParallelCluster needs Node.js even for a dry run")
    from pctl.aws import Aws

    original = sem.load(name)
    region = original.get("Region", "us-east-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    monkeypatch.setenv("AWS_REGION", region)
    aws = Aws(region=region)
    first = import_config(original, source=f"{name}.yaml")
    arch = "arm64" if first.template["compute"]["head_node"].split(".")[0].endswith("g") else "x86_64"
    subnet, ids = _provision(aws, region, original, arch)
    cfg = _replace_ids(original, ids)
    result = import_config(cfg, source=f"{name}.yaml")
    assert result.valid, result.errors
    path = tmp_path / f"{name}.yaml"
    path.write_text(result.text)
    prepared = prepare(CreateOptions(template=str(path), key_name="pctl-test-key"), use_catalog=False)
    bucket = f"pctl-123456789012-{region}"
    zone = aws.client("ec2").describe_subnets(SubnetIds=[subnet])["Subnets"][0]["AvailabilityZone"]
    ami = prepared.template.cluster.custom_ami or aws.client("ssm").get_parameter(Name=AMI_PARAM[arch])["Parameter"]["Value"]
    b = render_single_subnet(prepared, region=region, bucket=bucket, subnet=subnet, ssh_cidr="203.0.113.0/24",
                             custom_ami=ami, zone=zone)
    _buckets(aws, region, prepared, b.ctx, cfg)
    # the node policies, as the cluster's pctl stack makes them
    import json

    aws.client("cloudformation").create_stack(StackName=f"pctl-cluster-{prepared.cluster_name}",
                                              TemplateBody=json.dumps(b.stack_template),
                                              Capabilities=["CAPABILITY_NAMED_IAM"])
    rendered = b.rendered
    res = create_cluster(aws, prepared.cluster_name, rendered.config, dryrun=True, suppress=EMULATOR_SUPPRESSED)
    errors = [m for m in res.validation if m["level"] == "ERROR"]
    assert res.ok and res.status == "DRYRUN", (res.message, errors)
    assert sem.summary(rendered.config) == sem.summary(cfg)
