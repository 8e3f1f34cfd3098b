"""The lab manager's walkthrough (seed/PERSONAS.md, Michael): a lab AMI built from lab-standard.yaml, a
project template that extends it with more packages, and

    pctl create -t project-a-genomics --custom-ami ami-lab-2024

through the real ParallelCluster on the lifecycle moto server (see test_lifecycle.py). The AMI carries
exactly the tags ``pctl ami build`` gives an image (pctl.ami.builder.ami_tags; test_ami_build.py checks the
agent puts them on the real image). Checked: the plan and create make the same decision, only the
missing packages are installed at boot (the uploaded spack.yaml), on a shared /opt/pctl-layer beside the
AMI's /opt/pctl, and ``pctl status`` says so; an AMI pctl cannot read installs everything, with a warning.
"""

from __future__ import annotations

import shutil
import sys
from types import SimpleNamespace

import pytest
from ruamel.yaml import YAML

from pctl.aws.pcluster import EMULATOR_SUPPRESSED
from pctl.cluster.create import create_cluster
from pctl.cluster.ops import cluster_status
from pctl.cluster.plan import CreateOptions, dry_run, prepare

LAB_STANDARD = """\
cluster:
  name: lab
  region: us-east-1
  os: alinux2023
compute:
  head_node: c6i.xlarge
  queues:
    - name: cpu
      instance_types: [c6i.8xlarge]
      max_count: 10
software:
  spack_packages: [samtools@1.21, bwa@0.7.18, bcftools@1.21, htslib@1.21, fastqc, picard, py-numpy, bedtools2,
                   trimmomatic, r@4.4, openmpi@5]
users:
  - {name: student1, uid: 6001}
"""
PROJECT = """\
extends: lab-standard.yaml
cluster:
  name: project-a-cluster
software:
  spack_packages: [gatk@4.6.0.0, star@2.7.11b]
remove:
  software: {spack_packages: [r, openmpi, trimmomatic]}
"""
IN_AMI = ["samtools@1.21", "bwa@0.7.18", "bcftools@1.21", "htslib@1.21", "fastqc", "picard", "py-numpy", "bedtools2"]
MISSING = ["gatk@4.6.0.0", "star@2.7.11b"]


@pytest.fixture
def aws(aws_lifecycle_env):
    pytest.importorskip("pcluster")
    if shutil.which("node") is None:
        pytest.skip("ParallelCluster needs Node.js")
    from pctl.aws import Aws

    return Aws(region="us-east-1")


def stacks(aws):
    return [s["StackName"] for s in aws.client("cloudformation").describe_stacks()["Stacks"]
            if s["StackStatus"] != "DELETE_COMPLETE"]


@pytest.fixture
def lab(tmp_path, monkeypatch, aws):
    """The lab's templates in the current folder and the lab-2024 AMI in the account."""
    from pctl.ami.builder import ami_tags

    (tmp_path / "lab-standard.yaml").write_text(LAB_STANDARD)
    (tmp_path / "project-a-genomics.yaml").write_text(PROJECT)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PCTL_SSH_DIR", str(tmp_path / "ssh"))
    lab_prepared = prepare(CreateOptions(template="lab-standard"), use_catalog=False)
    base = {"image_id": "ami-0123456789abcdef0", "tags": {"parallelcluster:kernel_version": "6.1.0",
                                                         "parallelcluster:slurm_version": "24.05.7"}}
    tags = ami_tags(build_id="b-20260101-000000-1a2b", name="lab-2024", prepared=lab_prepared, pc_version="3.16.1",
                    base=base)
    ec2 = aws.client("ec2")
    amazon = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    inst = ec2.run_instances(ImageId=amazon, InstanceType="t3.micro", MinCount=1, MaxCount=1)["Instances"][0]
    ami = ec2.create_image(InstanceId=inst["InstanceId"], Name="lab-2024-b-20260101-000000-1a2b",
                           TagSpecifications=[{"ResourceType": "image", "Tags": [
                               {"Key": k, "Value": v} for k, v in tags.items()]}])["ImageId"]
    ec2.terminate_instances(InstanceIds=[inst["InstanceId"]])
    return SimpleNamespace(dir=tmp_path, ami=ami, tags=tags)


def _say(msg):
    print(msg, file=sys.stderr)


def _create(template="project-a-genomics", ami="ami-lab-2024"):  # as the student runs it (progress on stderr)
    return create_cluster(CreateOptions(template=template, custom_ami=ami, ssh_cidr="203.0.113.0/24",
                                        suppress_validators=EMULATOR_SUPPRESSED),
                          use_catalog=False, yes=True, poll=0.05, say=_say)


def test_the_lab_walkthrough_installs_exactly_the_missing_packages(lab, aws, capsys):
    # 1. the plan (dry run, with credentials: it reads the AMI's tags, nothing else)
    plan = dry_run(CreateOptions(template="project-a-genomics", custom_ami="ami-lab-2024"), use_catalog=False)
    sw = plan["plan"]["software"]
    assert sw["mode"] == "layer" and sw["in_ami"] == IN_AMI and sw["at_boot"] == MISSING
    assert sw["summary"].startswith(f"{len(IN_AMI)} in the AMI, {len(MISSING)} installed at boot, about ")
    assert sw["target"] == "x86_64_v4" and sw["ami"]["image_id"] == lab.ami
    # 2. create makes the same decision
    rec = _create()
    err = capsys.readouterr().err
    assert f"software: {sw['summary']} (AMI {lab.ami})" in err
    assert rec["software"] == "layer" and rec["software_plan"]["at_boot"] == MISSING
    name, config = rec["name"], rec["config"]
    assert name == "project-a-cluster" and config["Image"]["CustomAmi"] == lab.ami
    storage = {s["Name"]: s for s in config["SharedStorage"]}
    assert storage["pctl-software"]["MountDir"] == "/opt/pctl-layer"  # beside the AMI's /opt/pctl, not over it
    assert {t["Key"]: t["Value"] for t in config["Tags"]}["pctl:software"] == "layer"
    assert config["DevSettings"]["Timeouts"]["HeadNodeBootstrapTimeout"] >= 1800
    # the uploaded environment holds exactly the missing packages, with the AMI as upstream
    s3 = aws.client("s3")
    spack_yaml = s3.get_object(Bucket=rec["bucket"], Key=rec["prefix"] + "spack.yaml")["Body"].read().decode()
    doc = YAML(typ="safe").load(spack_yaml)["spack"]
    assert doc["specs"] == MISSING and doc["upstreams"]["pctl-ami"]["install_tree"] == "/opt/pctl/software"
    assert doc["packages"]["all"]["require"] == ["target=x86_64_v4"]
    head = s3.get_object(Bucket=rec["bucket"], Key=rec["prefix"] + "head.sh")["Body"].read().decode()
    assert "PCTL_UPSTREAM=/opt/pctl" in head and "PCTL_MODE=layer" in head
    # 3. pctl status (any machine: from AWS and the cluster record in the bucket)
    st = cluster_status(aws, name)
    assert st["software_plan"]["at_boot"] == MISSING and st["software_plan"]["in_ami"] == IN_AMI
    from click.testing import CliRunner

    from pctl.cli.main import cli

    out = CliRunner().invoke(cli, ["status", name, "--region", "us-east-1"])
    assert out.exit_code == 0, out.output
    assert f"packages   {sw['summary']} (CPU target x86_64_v4)" in out.output
    assert "installed at boot: gatk@4.6.0.0, star@2.7.11b" in out.output


def test_an_ami_pctl_cannot_read_installs_everything_with_a_warning(lab, aws, capsys):
    ec2 = aws.client("ec2")
    foreign = ec2.create_image(InstanceId=ec2.run_instances(
        ImageId=ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"], InstanceType="t3.micro",
        MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"], Name="someone-elses-image")["ImageId"]
    plan = dry_run(CreateOptions(template="project-a-genomics", custom_ami=foreign), use_catalog=False)["plan"]
    sw = plan["software"]
    assert sw["mode"] == "boot" and sw["at_boot"] == IN_AMI + MISSING
    assert any("not built by 'pctl ami build'" in w and "installed at boot" in w for w in sw["warnings"])
    rec = _create(ami=foreign)
    assert "warning: AMI " in capsys.readouterr().err
    config = rec["config"]
    storage = {s["Name"]: s for s in config["SharedStorage"]}
    assert storage["pctl-software"]["MountDir"] == "/opt/pctl" and rec["software"] == "boot"


def test_an_ami_built_for_a_cpu_a_queue_cannot_run_is_refused(lab, aws):
    from pctl.errors import PctlError

    (lab.dir / "amd.yaml").write_text(PROJECT + "compute:\n  queues:\n    - name: cpu\n"
                                                "      instance_types: [hpc6a.48xlarge]\n")
    with pytest.raises(PctlError, match=r"built for CPU target x86_64_v4, which hpc6a.48xlarge \(AMD Zen 3\)"):
        dry_run(CreateOptions(template="amd", custom_ami="ami-lab-2024"), use_catalog=False)
    assert stacks(aws) == []
