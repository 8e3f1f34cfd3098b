"""The config `pctl create --dry-run` shows, judged by ParallelCluster itself: its schema and offline validators,
and its full create-time validation (`pcluster.lib.create_cluster(dryrun=True)`) against the moto server with the
dry run's placeholder subnets mapped to a real pctl network stack (two subnets in two availability zones), its
IAM policies made by the cluster's pctl stack, and its bootstrap files in the bucket, as create would have them."""

from __future__ import annotations

import json
import shutil

import pytest

from pctl import library
from pctl.aws.pcluster import EMULATOR_SUPPRESSED
from pctl.cluster.plan import (ACCOUNT_PLACEHOLDER, DRY_RUN_ID, PLACEHOLDER_PRIVATE, PLACEHOLDER_PUBLIC,
                               CreateOptions, dry_run, run_prefix)
from pctl.render.pcluster_check import offline_check

pytestmark = pytest.mark.slow

NAMES = library.names()
ACCOUNT = "123456789012"
AL2023 = {"x86_64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
          "arm64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"}


def _dry(name, **kw):
    return dry_run(CreateOptions(template=name, key_name="pctl-test-key", ssh_cidr="203.0.113.0/24", **kw),
                   use_catalog=False)


@pytest.mark.parametrize("name", NAMES)
def test_schema_and_offline_validators(name):
    pytest.importorskip("pcluster")
    dry = _dry(name)
    findings = [f for f in offline_check(dry["config"], dry["plan"]["cluster"]["name"]) if f.level == "ERROR"]
    assert not findings, findings


def _image(region: str, arch: str, size_gb: int | None) -> str:
    """moto's AL2023 image, or one made from an instance whose root volume is size_gb (an AMI pctl ami build made)."""
    import boto3

    ami = boto3.client("ssm", region_name=region).get_parameter(Name=AL2023[arch])["Parameter"]["Value"]
    if size_gb is None:
        return ami
    ec2 = boto3.client("ec2", region_name=region)
    root = ec2.describe_images(ImageIds=[ami])["Images"][0]["RootDeviceName"]
    inst = ec2.run_instances(ImageId=ami, InstanceType="t3.micro" if arch == "x86_64" else "t4g.micro",
                             MinCount=1, MaxCount=1,
                             BlockDeviceMappings=[{"DeviceName": root, "Ebs": {"VolumeSize": size_gb}}])
    iid = inst["Instances"][0]["InstanceId"]
    image = ec2.create_image(InstanceId=iid, Name=f"pctl-test-{size_gb}gb")["ImageId"]
    ec2.terminate_instances(InstanceIds=[iid])
    return image


def judge(name: str, *, ami_gb: int | None = None, **opts):
    """Provision in moto what create would have made, then ParallelCluster's own create-time validation."""
    import boto3

    from pctl.aws import Aws
    from pctl.aws.pcluster import create_cluster
    from pctl.network import stack as network_stack

    first = _dry(name, custom_ami="ami-0123456789abcdef0", **opts)  # only its region and architecture
    region, arch = first["plan"]["cluster"]["region"], first["plan"]["cluster"]["arch"]
    aws = Aws(region=region)
    ami = _image(region, arch, ami_gb)
    dry = _dry(name, custom_ami=ami, **opts)
    boto3.client("ec2", region_name=region).create_key_pair(KeyName="pctl-test-key", KeyType="ed25519")
    subst = {ACCOUNT_PLACEHOLDER: ACCOUNT}
    if dry["plan"]["network"]["mode"] == "pctl":
        net = network_stack.ensure(aws, public_only=bool(opts.get("public_only")), poll=0.05)
        for placeholder, (real, _zone) in zip(PLACEHOLDER_PUBLIC, net.public_subnets):
            subst[placeholder] = real
        for placeholder, (real, _zone) in zip(PLACEHOLDER_PRIVATE, net.private_subnets):
            subst[placeholder] = real
    text = json.dumps(dry["config"])
    stack = json.dumps(dry["cluster_stack"])
    for a, b in subst.items():
        text, stack = text.replace(a, b), stack.replace(a, b)
    config = json.loads(text)
    cfn = boto3.client("cloudformation", region_name=region)
    cfn.create_stack(StackName=f"pctl-cluster-{dry['plan']['cluster']['name']}", TemplateBody=stack,
                     Capabilities=["CAPABILITY_NAMED_IAM"])
    s3 = boto3.client("s3", region_name=region)
    bucket = f"pctl-{ACCOUNT}-{region}"
    s3.create_bucket(Bucket=bucket, **({} if region == "us-east-1" else
                                       {"CreateBucketConfiguration": {"LocationConstraint": region}}))
    prefix = run_prefix(dry["plan"]["cluster"]["name"], DRY_RUN_ID)
    for n in dry["scripts"]:
        s3.put_object(Bucket=bucket, Key=f"{prefix}{n}", Body=dry["scripts"][n].encode())
    result = create_cluster(aws, dry["plan"]["cluster"]["name"], config, dryrun=True, suppress=EMULATOR_SUPPRESSED)
    dry["submitted"] = config
    return dry, result


@pytest.fixture
def needs_pcluster():
    pytest.importorskip("pcluster")
    if shutil.which("node") is None:
        pytest.skip("ParallelCluster needs Node.js even for a dry run")


@pytest.mark.parametrize("name", NAMES)
def test_dry_run_config_passes_pclusters_create_validation_in_two_zones(name, aws_env, needs_pcluster):
    dry, result = judge(name)
    errors = [m for m in result.validation if m["level"] == "ERROR"]
    assert result.ok and result.status == "DRYRUN", (result.message, errors)
    spread = [q for q in dry["plan"]["queues"] if len(q["zones"]) == 2]
    single = [q for q in dry["plan"]["queues"] if len(q["zones"]) == 1]
    assert spread or single
    for q in single:  # EFA, placement groups and managed FSx keep their queue in the head node's zone
        assert q["zones"] == [dry["plan"]["head_node"]["zone"]], q


@pytest.mark.parametrize("name", NAMES)
def test_dry_run_config_passes_with_a_60_gb_custom_ami(name, aws_env, needs_pcluster):
    dry, result = judge(name, ami_gb=60)
    errors = [m for m in result.validation if m["level"] == "ERROR"]
    assert result.ok, (result.message, errors)


OSES = ["alinux2023", "ubuntu2204", "ubuntu2404", "rhel8", "rhel9", "rocky8", "rocky9"]


@pytest.mark.parametrize("os_name", OSES)
def test_every_os_pctl_offers_passes_pclusters_validators(os_name, aws_env, needs_pcluster, tmp_path):
    from pctl.template.model import OsName

    assert set(OSES) == set(OsName.__args__), "a new OS in the model needs its place in this test"
    t = tmp_path / f"{os_name}.yaml"
    t.write_text(f"cluster: {{name: os-{os_name}, region: us-east-1, os: {os_name}}}\n"
                 "compute:\n  head_node: t3.large\n  queues:\n"
                 "    - {name: cpu, instance_types: [c6i.large, c6a.large], max_count: 4}\n"
                 "    - {name: mpi, instance_types: [c5n.18xlarge], max_count: 2, efa: true}\n")
    # Rocky needs a custom AMI (ParallelCluster publishes none): judge() always passes one
    dry, result = judge(str(t))
    errors = [m for m in result.validation if m["level"] == "ERROR"]
    assert result.ok, (os_name, result.message, errors)


def test_invalid_counts_rejected_by_pclusters_own_validator(aws_env, needs_pcluster, tmp_path):
    from pctl.aws import Aws
    from pctl.aws.pcluster import create_cluster

    dry, result = judge("minimal")
    assert result.ok
    config = json.loads(json.dumps(dry["submitted"]))
    cr = config["Scheduling"]["SlurmQueues"][0]["ComputeResources"][0]
    cr["MinCount"], cr["MaxCount"] = 5, 2  # past pctl's own validation: ParallelCluster must catch it too
    r = create_cluster(Aws(region="us-east-1"), "minimal", config, dryrun=True, suppress=EMULATOR_SUPPRESSED)
    assert not r.ok
    assert any(m["type"] == "ComputeResourceSizeValidator" for m in r.validation), r.validation


def test_as_many_tags_as_validate_allows_pass_pclusters_tag_limit(aws_env, needs_pcluster, tmp_path):
    """The user's tags plus every tag pctl adds stay within ParallelCluster's limit (its own validator says)."""
    from pctl.cost.tags import MAX_USER_TAGS, PCTL_CONFIG_TAG_KEYS

    t = tmp_path / "tagged.yaml"
    t.write_text("cluster:\n  name: tagged\n  region: us-east-1\n  key_name: pctl-test-key\n  project: lab-a\n"
                 "  tags:\n" + "".join(f"    team-{i:02d}: x\n" for i in range(MAX_USER_TAGS))
                 + "compute:\n  head_node: t3.large\n  queues:\n    - {name: cpu, instance_types: [c6i.large], max_count: 4}\n")
    dry, result = judge(str(t))
    keys = [tag["Key"] for tag in dry["submitted"]["Tags"]]
    assert len(keys) == len(set(keys)) == MAX_USER_TAGS + len(PCTL_CONFIG_TAG_KEYS)
    assert {k for k in keys if k.startswith("pctl:")} == set(PCTL_CONFIG_TAG_KEYS)
    assert result.ok, (result.message, [m for m in result.validation if m["level"] == "ERROR"])
