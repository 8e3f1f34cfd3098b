"""A cluster's whole life through the real ParallelCluster (pcluster.lib): create, list, status, ssh, delete,
interrupts and `pctl cleanup`.

These run on the lifecycle moto server (fixture aws_lifecycle_env), where a stack moto cannot make is recorded
without resources: ParallelCluster's create completes, and its describe/list/delete run for real against the stack
it made. The instances CloudFormation would have launched (head node, compute nodes) are launched by the test
with ParallelCluster's tags. Everything else is pctl and ParallelCluster as users run them.
"""

from __future__ import annotations

import json
import shutil

import boto3
import pytest

from pctl.aws.pcluster import EMULATOR_SUPPRESSED
from pctl.cluster.create import create_cluster
from pctl.cluster.plan import CreateOptions
from pctl.errors import PctlError
from support.cli import run_pctl

pytestmark = pytest.mark.slow
AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"


@pytest.fixture(autouse=True)
def _needs_pcluster_and_node():
    pytest.importorskip("pcluster")
    if shutil.which("node") is None:
        pytest.skip("ParallelCluster needs Node.js (./scripts/test installs it)")


@pytest.fixture
def env(aws_lifecycle_env, tmp_path, monkeypatch):
    monkeypatch.setenv("PCTL_SSH_DIR", str(tmp_path / "ssh"))
    ec2 = boto3.client("ec2", region_name="us-east-1")
    ec2.create_key_pair(KeyName="lab-key", KeyType="ed25519")
    ami = boto3.client("ssm", region_name="us-east-1").get_parameter(Name=AL2023)["Parameter"]["Value"]
    return dict(aws_lifecycle_env, PCTL_SSH_DIR=str(tmp_path / "ssh"), AMI=ami)


def launch(name: str, node_type: str, queue: str | None = None) -> str:
    """The instance CloudFormation (head node) or Slurm (compute) would have launched for the cluster."""
    ec2 = boto3.client("ec2", region_name="us-east-1")
    ami = boto3.client("ssm", region_name="us-east-1").get_parameter(Name=AL2023)["Parameter"]["Value"]
    tags = [{"Key": "parallelcluster:cluster-name", "Value": name}, {"Key": "parallelcluster:node-type",
                                                                     "Value": node_type}]
    if queue:
        tags.append({"Key": "parallelcluster:queue-name", "Value": queue})
    r = ec2.run_instances(ImageId=ami, InstanceType="t3.micro", MinCount=1, MaxCount=1,
                          TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])
    return r["Instances"][0]["InstanceId"]


def opts(template="minimal", **kw):
    base = dict(template=template, key_name="lab-key", ssh_cidr="198.51.100.7/32",
                suppress_validators=EMULATOR_SUPPRESSED)
    base.update(kw)
    return CreateOptions(**base)


def stacks():
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    return sorted(s["StackName"] for s in cfn.describe_stacks()["Stacks"] if s["StackStatus"] != "DELETE_COMPLETE")


def test_create_list_status_ssh_delete(env, tmp_path):
    launch("minimal", "HeadNode")
    rec = create_cluster(opts(custom_ami=env["AMI"]), use_catalog=False, yes=True, poll=0.05)
    assert rec["status"] == "CREATE_COMPLETE" and rec["head_node"]
    assert stacks() == ["minimal", "pctl-cluster-minimal", "pctl-network-us-east-1"]
    ssh_cfg = (tmp_path / "ssh" / "pctl" / "config").read_text()
    assert "Host minimal" in ssh_cfg and f"HostName {rec['head_node']}" in ssh_cfg
    assert rec["ssh"] == "ssh minimal"
    launch("minimal", "Compute", "compute")
    r = run_pctl("list", "--json", env=env)
    rows = json.loads(r.stdout)["clusters"]
    assert [(c["name"], c["status"], c["template"]) for c in rows] == [("minimal", "CREATE_COMPLETE", "minimal")]
    r = run_pctl("status", "minimal", "--json", env=env)
    s = json.loads(r.stdout)
    assert s["status"] == "CREATE_COMPLETE" and s["head_node"]["public_ip"] == rec["head_node"]
    assert s["running_compute_nodes"] == {"compute": 1}
    (q,) = s["queues"]
    assert (q["name"], q["running"], q["max"]) == ("compute", 1, 2) and len(q["zones"]) == 2
    # delete: ParallelCluster's stack, then pctl's own stack, the bootstrap files, the ssh entry; the network stays
    r = run_pctl("delete", "minimal", "--yes", "--json", env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["cluster"] == "DELETE_COMPLETE" and report["stack"] == "DELETE_COMPLETE"
    assert report["objects_deleted"] >= 3 and report["ssh_entry_removed"] and report["network"] is None
    assert stacks() == ["pctl-network-us-east-1"]
    assert boto3.client("iam").list_policies(Scope="Local", PathPrefix="/pctl/")["Policies"] == []
    r = run_pctl("delete", "minimal", "--yes", env=env)
    assert r.returncode == 1 and "no cluster named 'minimal'" in r.stderr


def test_network_in_use_is_never_deleted_and_goes_with_the_last_cluster(env):
    create_cluster(opts(custom_ami=env["AMI"]), use_catalog=False, yes=True, poll=0.05)
    create_cluster(opts("starter", custom_ami=env["AMI"], region="us-east-1"), use_catalog=False, yes=True,
                   poll=0.05)
    r = run_pctl("network", "delete", "--yes", env=env)
    assert r.returncode == 1 and "in use by cluster(s)" in r.stderr and "minimal" in r.stderr
    r = run_pctl("delete", "minimal", "--yes", "--delete-network", env=env, timeout=300)
    assert r.returncode == 1 and "in use by cluster(s): starter" in r.stderr
    assert "minimal" not in stacks()  # the cluster itself went; the network stayed for starter
    r = run_pctl("delete", "starter", "--yes", "--delete-network", "--json", env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert stacks() == []


def test_ctrl_c_before_parallelcluster_rolls_back_everything(env):
    def say(msg):
        if msg.startswith("creating cluster"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        create_cluster(opts(custom_ami=env["AMI"]), use_catalog=False, yes=True, poll=0.05, say=say)
    assert stacks() == []


def test_ctrl_c_after_the_cluster_stack_exists_leaves_it_to_cloudformation(env):
    def say(msg):
        if "s] minimal: CREATE_COMPLETE" in msg:  # the wait for ParallelCluster's stack
            raise KeyboardInterrupt

    with pytest.raises(PctlError) as exc:
        create_cluster(opts(custom_ami=env["AMI"]), use_catalog=False, yes=True, poll=0.05, say=say)
    assert exc.value.exit_code == 130 and "pctl delete minimal" in exc.value.hint
    assert stacks() == ["minimal", "pctl-cluster-minimal", "pctl-network-us-east-1"]  # nothing pulled from under it


def test_second_ctrl_c_during_roll_back_reports_what_is_left_and_how_to_remove_it(env):
    said = []

    def say(msg):
        said.append(msg)
        if msg.startswith("creating cluster") or msg.startswith("rolled back s3://"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        create_cluster(opts(custom_ami=env["AMI"]), use_catalog=False, yes=True, poll=0.05, say=say)
    left = [m for m in said if m.startswith("left behind:")]
    assert left and "pctl-cluster-minimal" in left[0] and "pctl delete minimal" in left[0]
    assert "pctl network delete --region us-east-1" in left[0]
    # and pctl cleanup finds it (the stack is young: --older-than 0m)
    r = run_pctl("cleanup", "--dry-run", "--older-than", "0m", "--json", "--no-amis", env=env)
    kinds = {x["kind"]: x["target"] for x in json.loads(r.stdout)["leftovers"]}
    assert kinds["delete-cluster-stack"] == "pctl-cluster-minimal" and "delete-network" in kinds
    r = run_pctl("cleanup", "--older-than", "0m", "--yes", "--no-amis", env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert stacks() == []
    r = run_pctl("cleanup", "--dry-run", "--no-amis", env=env)
    assert "nothing left over" in r.stdout


def test_cleanup_leaves_a_young_claim_alone(env):
    """A create in progress makes its pctl stack minutes before ParallelCluster's: cleanup must not take it."""
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    cfn.create_stack(StackName="pctl-cluster-busy", TemplateBody=json.dumps(
        {"Resources": {"M": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}))
    r = run_pctl("cleanup", "--dry-run", "--json", "--no-amis", env=env)
    assert json.loads(r.stdout)["leftovers"] == []


def test_ten_concurrent_creates_some_failing_leave_every_cluster_and_its_network_intact(env, tmp_path):
    """Ten `pctl create` processes at once in a fresh region; every third one is refused by ParallelCluster after
    the network exists (EFA on a type without it). The network is made once and survives every failure."""
    import os
    import subprocess
    import sys

    bad = tmp_path / "bad.yaml"
    bad.write_text("cluster: {name: bad, region: us-east-1}\ncompute:\n  head_node: t3.large\n  queues:\n"
                   "    - {name: mpi, instance_types: [c5.large], max_count: 2, efa: true}\n")
    e = dict(os.environ, **{k: v for k, v in env.items() if k != "AMI"})
    e.pop("PCTL_DEBUG", None)
    procs = {}
    for i in range(10):
        name = f"c{i}"
        template = str(bad) if i % 3 == 2 else "minimal"
        cmd = [sys.executable, "-m", "pctl", "create", "-t", template, "--name", name, "--key-name", "lab-key",
               "--custom-ami", env["AMI"], "--ssh-cidr", "198.51.100.7/32", "--yes", "--json"]
        for v in EMULATOR_SUPPRESSED:
            cmd += ["--suppress-validators", v]
        procs[name] = subprocess.Popen(cmd, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = {n: (p.wait(timeout=900), p.stdout.read(), p.stderr.read()) for n, p in procs.items()}
    ok = sorted(n for n, (rc, _o, _e) in results.items() if rc == 0)
    failed = sorted(n for n, (rc, _o, _e) in results.items() if rc != 0)
    assert failed == ["c2", "c5", "c8"], {n: results[n][2][-500:] for n in failed}
    for n in failed:
        err = json.loads(results[n][1])["error"]
        assert "ParallelCluster refused the configuration" in err["message"], err
    # every successful cluster: its stacks, and one shared network, intact
    assert stacks() == sorted(ok + [f"pctl-cluster-{n}" for n in ok] + ["pctl-network-us-east-1"])
    from pctl.aws import Aws
    from pctl.network import stack as network_stack

    aws = Aws(region="us-east-1")
    net = network_stack.describe(aws)
    subnets = {s["SubnetId"] for s in boto3.client("ec2").describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [net.vpc_id]}])["Subnets"]}
    assert {i for i, _ in net.public_subnets + net.private_subnets} <= subnets
    assert network_stack.users(aws, "us-east-1") == ok
    vpcs = [v for v in boto3.client("ec2").describe_vpcs()["Vpcs"] if not v.get("IsDefault")]
    assert len(vpcs) == 1, "no orphan network"
    # the failures left nothing of their own
    s3 = boto3.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="pctl-123456789012-us-east-1").get("Contents", [])]
    assert not [k for k in keys if k.split("/")[1] in failed]
    assert {k.split("/")[1] for k in keys} == set(ok)


def test_a_stack_that_fails_later_is_removed_with_everything_this_run_made(env, tmp_path):
    """CloudFormation fails the cluster's stack after ParallelCluster made it (the lifecycle server fails a stack
    tagged so, as AWS can for capacity): create says why and removes the cluster, its pctl stack, its files
    and the network it made."""
    t = tmp_path / "doomed.yaml"
    t.write_text("cluster: {name: doomed, region: us-east-1, tags: {pctl-test:fail-stack: no capacity in zone}}\n"
                 "compute:\n  head_node: t3.large\n  queues:\n    - {name: cpu, instance_types: [c6i.large]}\n")
    said = []
    with pytest.raises(PctlError) as exc:
        create_cluster(opts(str(t)), use_catalog=False, yes=True, poll=0.05, say=said.append)
    assert "failed to create: HeadNode: no capacity in zone" in exc.value.message
    assert "everything this run made was removed" in exc.value.message
    assert stacks() == []
    s3 = boto3.client("s3")
    assert not s3.list_objects_v2(Bucket="pctl-123456789012-us-east-1").get("Contents")
