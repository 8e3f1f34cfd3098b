"""Regions followed everywhere, and every next step pctl prints works verbatim.

Clusters: the real ParallelCluster on the lifecycle moto server (see test_lifecycle.py), where its create
completes; the pctl commands run in-process through `pctl.cli.main.main` (the same code as the executable).
Builds: the real CLI in subprocesses and the real builder agent.
The shell's default region is us-east-1 throughout; the template says us-west-2.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import subprocess
import sys

import pytest
from test_ami_build import builder_root, fast_agent, imds, run_builder, standins  # noqa: F401  (fixtures)

from pctl.aws import Aws
from pctl.aws.pcluster import EMULATOR_SUPPRESSED

pytestmark = pytest.mark.slow

WEST = """\
cluster:
  name: {name}
  region: us-west-2
compute:
  head_node: t3.large
  queues:
    - name: compute
      instance_types: [c6i.xlarge]
      max_count: 2
"""


@pytest.fixture
def cluster_env(aws_lifecycle_env):
    import shutil

    pytest.importorskip("pcluster")
    if shutil.which("node") is None:
        pytest.skip("ParallelCluster needs Node.js")
    return aws_lifecycle_env


def stacks(region):
    cfn = Aws(region=region).client("cloudformation")
    return sorted(s["StackName"] for s in cfn.describe_stacks()["Stacks"] if s["StackStatus"] != "DELETE_COMPLETE")


def head_node(name, region) -> str:
    """The head node CloudFormation would have launched: its public address."""
    ec2 = Aws(region=region).client("ec2")
    ami = Aws(region=region).client("ssm").get_parameter(
        Name="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")["Parameter"]["Value"]
    r = ec2.run_instances(ImageId=ami, InstanceType="t3.micro", MinCount=1, MaxCount=1, TagSpecifications=[
        {"ResourceType": "instance", "Tags": [{"Key": "parallelcluster:cluster-name", "Value": name},
                                              {"Key": "parallelcluster:node-type", "Value": "HeadNode"}]}])
    return r["Instances"][0]["PublicIpAddress"]


@pytest.fixture
def ssh_dir(tmp_path, monkeypatch):
    d = tmp_path / "ssh"
    monkeypatch.setenv("PCTL_SSH_DIR", str(d))
    return d


@pytest.fixture
def person_says_yes(monkeypatch):
    """A person at a terminal who answers yes: commands that ask run as printed, without --yes."""
    import click

    from pctl.cli import common

    asked = []
    monkeypatch.setattr(common, "interactive", lambda: True)
    monkeypatch.setattr(click, "confirm", lambda q, **kw: asked.append(q) or True)
    return asked


@pytest.fixture
def execv(monkeypatch):
    calls = []

    def fake(path, args):
        calls.append(args)
        raise SystemExit(0)

    monkeypatch.setattr(os, "execv", fake)
    return calls


def pctl(*args) -> tuple[int, str, str]:
    """The CLI in this process (so the ParallelCluster seam applies): (exit code, stdout, stderr)."""
    from pctl.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return code, out.getvalue(), err.getvalue()


NEXT_RE = re.compile(r"(?:^|\s)next: (pctl [^\n]+)$", re.M)
QUOTED_RE = re.compile(r"'(pctl [^']+)'")


def next_steps(*texts) -> list[str]:
    """Every `next: pctl ...` line and every quoted 'pctl ...' command without placeholders, in order."""
    found = []
    for text in texts:
        found += NEXT_RE.findall(text)
        found += [c for c in QUOTED_RE.findall(text) if not re.search(r"\b[A-Z]{2,}\b|<|\{", c)]
    return list(dict.fromkeys(found))


def create_west(tmp_path, name="genomics", *extra, text=None):
    t = tmp_path / f"{name}.yaml"
    t.write_text(text or WEST.format(name=name))
    suppress = [a for v in EMULATOR_SUPPRESSED for a in ("--suppress-validators", v)]
    return pctl("create", "-t", str(t), "--yes", "--ssh-cidr", "203.0.113.0/24", "--no-catalog", *suppress, *extra)


def test_cluster_commands_follow_the_clusters_region(cluster_env, ssh_dir, execv, person_says_yes, tmp_path):
    address = head_node("genomics", "us-west-2")
    code, out, err = create_west(tmp_path)
    assert code == 0, err
    assert "genomics" in stacks("us-west-2") and stacks("us-east-1") == []
    # the cluster record carries its region, in that region's bucket
    rec = json.loads(Aws(region="us-west-2").client("s3").get_object(
        Bucket="pctl-123456789012-us-west-2", Key="clusters/genomics/cluster.json")["Body"].read())
    assert rec["region"] == "us-west-2" and rec["name"] == "genomics"
    # status and ssh find it without --region (the shell says us-east-1)
    code, out, err = pctl("status", "genomics", "--json")
    assert code == 0, err
    assert json.loads(out)["region"] == "us-west-2"
    code, _, err = pctl("ssh", "genomics", "--", "sinfo")
    assert code == 0 and execv[-1][-3:] == [f"ec2-user@{address}", "--", "sinfo"], execv
    # list says where it looked, and where the clusters are
    code, out, err = pctl("list")
    assert code == 0 and out == ""
    assert "no clusters in us-east-1; pctl clusters in us-west-2 (genomics)" in err
    steps = next_steps(err)
    assert steps == ["pctl list --all-regions"]
    code, out, err = pctl(*shlex.split(steps[0])[1:])
    assert code == 0, err
    header, row = out.splitlines()
    assert row.split()[0] == "genomics" and row.split()[-1] == "us-west-2" and header.split()[-1] == "REGION"
    # an explicit --region wins (and says what it found there)
    code, _, err = pctl("status", "genomics", "--region", "us-east-1")
    assert code == 1 and "no cluster named 'genomics' in us-east-1" in err
    # delete --no-wait: the printed next step works verbatim (it finds the cluster in us-west-2 again)
    code, out, err = pctl("delete", "genomics", "--yes", "--no-wait")
    assert code == 0, err
    steps = next_steps(err)
    assert steps == ["pctl delete genomics"], err
    code, out, err = pctl(*shlex.split(steps[0])[1:])  # ParallelCluster has finished deleting meanwhile
    assert code == 0, err
    assert out.startswith("genomics: already gone; removed ") and "ssh entry removed" in out
    assert stacks("us-west-2") == ["pctl-network-us-west-2"]
    code, _, err = pctl("status", "genomics")
    assert code == 1 and "no cluster named 'genomics' in us-east-1" in err  # nothing of it is left anywhere


def test_a_name_in_two_regions_is_ambiguous(cluster_env, ssh_dir, tmp_path, monkeypatch):
    assert create_west(tmp_path)[0] == 0
    code, _, err = create_west(tmp_path, "east", text=WEST.format(name="genomics").replace("us-west-2", "us-east-1"))
    assert code == 0, err
    code, _, err = pctl("status", "genomics")
    assert code == 2 and "there is a cluster named 'genomics' in 2 regions: us-east-1, us-west-2" in err
    assert "--region us-east-1" in err


def test_failed_create_next_steps_work_verbatim(cluster_env, ssh_dir, person_says_yes, tmp_path, monkeypatch):
    """A stack that fails after ParallelCluster made it (the lifecycle server fails a stack tagged so), kept for
    debugging: the next steps it prints work verbatim."""
    text = WEST.format(name="genomics").replace("  region: us-west-2\n", "  region: us-west-2\n  tags: {pctl-test:fail-stack: "
                                                "'We currently do not have sufficient capacity'}\n")
    code, out, err = create_west(tmp_path, "genomics", "--no-rollback", text=text)
    assert code == 1 and "failed to create" in err and "sufficient capacity" in err
    steps = next_steps(err)
    assert steps == ["pctl status genomics", "pctl delete genomics"], err
    code, out, e = pctl(*shlex.split(steps[0])[1:])
    assert code == 0 and "genomics (us-west-2): CREATE_FAILED" in out, e
    code, out, e = pctl(*shlex.split(steps[1])[1:])
    assert code == 0 and "genomics: DELETE_COMPLETE" in out, e
    assert person_says_yes and "Delete cluster genomics in us-west-2?" in person_says_yes[-1]


def test_build_next_steps_work_verbatim(aws_env, builder_root, standins, imds, tmp_path, monkeypatch):
    """Every next step the build commands print, run verbatim from the shell's default region."""
    monkeypatch.setenv("PCTL_AMI_BASE_OWNERS", "self")
    west = Aws(region="us-west-2")
    west.client("ec2").register_image(Name="aws-parallelcluster-3.16.1-amzn2023-hvm-x86_64-202601010000")
    t = tmp_path / "west.yaml"
    t.write_text(WEST.format(name="west-build") + "software:\n  spack_packages: [samtools@1.21, zlib]\n")

    def run(cmd: str, **env):
        e = dict(os.environ, **env)
        e.pop("PCTL_DEBUG", None)
        return subprocess.run([sys.executable, "-m", "pctl", *shlex.split(cmd)[1:]], capture_output=True, text=True,
                              env=e, timeout=180)

    r = run(f"pctl ami build -t {t} --detach --no-catalog")
    assert r.returncode == 0, r.stderr
    bid = r.stdout.strip()
    executed: list[str] = []
    steps = next_steps(r.stderr)
    assert steps == [f"pctl ami status {bid} --watch"]
    r = run(f"pctl ami status {bid}")  # running: the next step is to watch it
    assert r.returncode == 0 and "launching" in r.stdout
    assert next_steps(r.stderr) == [f"pctl ami status {bid} --watch"]
    imds.region = "us-west-2"
    fast_agent(west, bid)
    rc, out = run_builder(west, bid, imds, standins)
    assert rc == 0, out
    for step in steps:
        r = run(step)
        executed.append(step)
        assert r.returncode == 0, (step, r.stderr)
        assert "available" in r.stdout
    r = run(f"pctl ami status {bid}")
    steps = next_steps(r.stderr)
    assert steps == ["pctl ami list --region us-west-2"]
    ami = json.loads(run(f"pctl ami status {bid} --json").stdout)["ami_id"]
    r = run(steps[0])
    executed.append(steps[0])
    assert r.returncode == 0 and r.stdout.splitlines()[1].split()[0] == ami
    # from a machine that never built: list-builds says where it looked and what to run
    laptop = {"PCTL_HOME": str(tmp_path / "laptop")}
    r = run("pctl ami list-builds", **laptop)
    steps = next_steps(r.stderr)
    assert steps == ["pctl ami list-builds --all-regions"]
    r = run(steps[0], **laptop)
    executed.append(steps[0])
    assert r.returncode == 0 and bid in r.stdout
    # a failed build: the next step shows its log
    r = run(f"pctl ami build -t {t} --detach --no-catalog --force")
    failed = r.stdout.strip()
    fast_agent(west, failed)
    assert run_builder(west, failed, imds, standins, extra_env={"PCTL_AGENT_FAIL_AT": "hygiene"})[0] == 0
    r = run(f"pctl ami status {failed} --watch --interval 0.2")
    assert r.returncode == 1
    steps = next_steps(r.stderr)
    assert steps == [f"pctl ami logs {failed}"]
    r = run(steps[0])
    executed.append(steps[0])
    assert r.returncode == 0 and "injected failure at step hygiene" in r.stdout
    assert len(executed) == 4


def test_parallelclusters_cached_answers_do_not_follow_into_another_region(aws_env):
    """pcluster caches answers per client object; one region's instance types must not judge another's.

    Seen in CI: hpc7a.96xlarge (offered in us-east-2, not us-east-1) refused as "not supported" because a
    us-east-2 client reused the address, and so the cache entry, of an earlier us-east-1 client."""
    pytest.importorskip("pcluster")
    from pcluster.aws.aws_api import AWSApi
    from pcluster.aws.common import Cache

    from pctl.aws import pcluster as seam

    with seam._environment(Aws(region="us-east-1")):
        seam._lib()
        east1 = set(AWSApi.instance().ec2.list_instance_types())
    assert any(Cache._caches), "pcluster cached nothing: this test no longer exercises its cache"
    with seam._environment(Aws(region="us-east-2")):
        seam._lib()
        assert not any(Cache._caches)
        east2 = set(AWSApi.instance().ec2.list_instance_types())
    assert "hpc7a.96xlarge" in east2 and "hpc7a.96xlarge" not in east1


def _pctl_ami_in(region: str, name: str) -> str:
    """A pctl AMI (its tags, as a build leaves them) and the region's pctl bucket, made directly in moto."""
    aws = Aws(region=region)
    ec2 = aws.client("ec2")
    base = aws.client("ssm").get_parameter(
        Name="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")["Parameter"]["Value"]
    inst = ec2.run_instances(ImageId=base, MinCount=1, MaxCount=1, InstanceType="t3.micro")["Instances"][0]
    image = ec2.create_image(InstanceId=inst["InstanceId"], Name=f"pctl-{name}-x")["ImageId"]
    ec2.terminate_instances(InstanceIds=[inst["InstanceId"]])
    ec2.create_tags(Resources=[image], Tags=[{"Key": k, "Value": v} for k, v in {
        "pctl:managed": "true", "pctl:name": name, "pctl:os": "alinux2023", "pctl:arch": "x86_64"}.items()])
    s3 = aws.client("s3")
    bucket = f"pctl-{aws.account_id}-{region}"
    with contextlib.suppress(Exception):
        s3.create_bucket(Bucket=bucket, **({} if region == "us-east-1" else
                                           {"CreateBucketConfiguration": {"LocationConstraint": region}}))
    return image


def test_ami_list_delete_and_cleanup_follow_the_amis_region(aws_env):
    """The shell's region is us-east-1; the AMI was built in us-west-2: list --all-regions shows it, delete
    finds it there by name, cleanup --all-regions looks there too."""
    from support.cli import run_pctl

    west = _pctl_ami_in("us-west-2", "lab-2024")
    r = run_pctl("ami", "list")
    assert r.returncode == 0 and "no pctl AMIs in us-east-1" in r.stderr
    assert "pctl ami list --all-regions" in r.stderr and "us-west-2" in r.stderr
    r = run_pctl("ami", "list", "--all-regions", "--json")
    data = json.loads(r.stdout)
    assert [(a["ami_id"], a["region"], a["name"]) for a in data["amis"]] == [(west, "us-west-2", "lab-2024")]
    assert data["all_regions"] and "us-west-2" in data["regions"]
    r = run_pctl("ami", "list", "--all-regions")
    assert re.search(rf"^{west}\s+lab-2024\s.*\sus-west-2$", r.stdout, re.M), r.stdout
    # an explicit --region is the only place looked in
    r = run_pctl("ami", "delete", "lab-2024", "--region", "us-east-1", "--yes")
    assert r.returncode == 1 and "no AMI named 'lab-2024' in us-east-1" in r.stderr
    r = run_pctl("ami", "cleanup", "--all-regions", "--dry-run", "--json")
    assert r.returncode == 0 and "us-west-2" in json.loads(r.stdout)["regions"]
    r = run_pctl("ami", "delete", "lab-2024", "--yes", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["ami_id"] == west and out["region"] == "us-west-2"
    assert Aws(region="us-west-2").client("ec2").describe_images(Owners=["self"])["Images"] == []
    # gone everywhere now: the error names every region looked in
    r = run_pctl("ami", "delete", "lab-2024", "--yes")
    assert r.returncode == 1 and "no AMI named 'lab-2024' in us-east-1, us-west-2" in r.stderr, r.stderr
