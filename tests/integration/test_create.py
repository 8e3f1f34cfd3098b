"""create / delete / list / status against the moto server, with ParallelCluster behind a recording seam
(moto cannot run ParallelCluster's real CloudFormation stack)."""

from __future__ import annotations

import json

import pytest

from pctl.cluster import pcluster_api
from pctl.cluster.create import create_cluster
from pctl.cluster.ops import cluster_status, delete_cluster, list_clusters
from pctl.cluster.plan import CreateOptions
from pctl.errors import PctlError
from pctl.network.delete import tagged_resources


STACK_TEMPLATE = json.dumps({"Resources": {"HeadNodeBucket": {"Type": "AWS::S3::Bucket"}}})


class FakeBackend:
    """Records create/delete and answers describe like ParallelCluster would. Like ParallelCluster it
    makes a CloudFormation stack named after the cluster (a tiny one), so stack events are real."""

    def __init__(self, fail_with=None, fail_stack=False):
        self.clusters: dict[str, dict] = {}
        self.calls: list[tuple] = []
        self.fail_with = fail_with
        self.fail_stack = fail_stack

    def version(self):
        return "3.16.1"

    def create_cluster(self, name, config, region, *, dryrun=False, rollback=True, suppress=()):
        self.calls.append(("create", name, config, region, rollback))
        if self.fail_with:
            return pcluster_api.PclusterResult(False, "400", "Invalid cluster configuration.",
                                               [{"level": "ERROR", "type": self.fail_with, "message": "bad"}])
        self.clusters[name] = {"clusterName": name, "clusterStatus": "CREATE_IN_PROGRESS", "region": region,
                               "tags": [{"key": t["Key"], "value": t["Value"]} for t in config["Tags"]],
                               "headNode": {"publicIpAddress": "198.51.100.10", "instanceType": config["HeadNode"]["InstanceType"],
                                            "state": "running"},
                               "creationTime": "2026-11-30T00:00:00Z", "version": "3.16.1",
                               "cloudFormationStackStatus": "CREATE_IN_PROGRESS", "computeFleetStatus": "RUNNING",
                               "scheduler": {"queues": [{"name": q["Name"]} for q in config["Scheduling"]["SlurmQueues"]]}}
        import boto3

        boto3.client("cloudformation", region_name=region).create_stack(StackName=name, TemplateBody=STACK_TEMPLATE)
        if self.fail_stack:
            self.clusters[name]["failing"] = True
        return pcluster_api.PclusterResult(True, "CREATE_IN_PROGRESS")

    def describe_cluster(self, name, region):
        c = self.clusters.get(name)
        if c is None:
            return None
        # one poll later the stack is done
        if c["clusterStatus"] == "CREATE_IN_PROGRESS":
            out = dict(c)
            c["clusterStatus"] = c["cloudFormationStackStatus"] = "CREATE_FAILED" if c.get("failing") else "CREATE_COMPLETE"
            return out
        if c["clusterStatus"] == "DELETE_IN_PROGRESS":
            del self.clusters[name]
            return dict(c)
        return dict(c)

    def delete_cluster(self, name, region):
        self.calls.append(("delete", name, region))
        self.clusters[name]["clusterStatus"] = "DELETE_IN_PROGRESS"
        return {}

    def list_clusters(self, region):
        return [{"clusterName": n, "clusterStatus": c["clusterStatus"]} for n, c in self.clusters.items()]


@pytest.fixture
def backend(monkeypatch):
    b = FakeBackend()
    monkeypatch.setattr(pcluster_api, "backend", b)
    return b


@pytest.fixture
def ssh_dir(tmp_path, monkeypatch):
    d = tmp_path / "ssh"
    monkeypatch.setenv("PCTL_SSH_DIR", str(d))
    return d


def _create(name="bioinformatics", **kw):
    return create_cluster(CreateOptions(template=name, **kw), use_catalog=False, yes=True, poll=0,
                          ssh_cidr="203.0.113.0/24", as_json=True)


def test_create_builds_network_bucket_and_calls_pcluster(aws, aws_env, backend, ssh_dir, capsys):
    rec = _create()
    assert rec["status"] == "CREATE_COMPLETE" and rec["head_node"] == "198.51.100.10"
    (_, name, config, region, rollback), = [c for c in backend.calls if c[0] == "create"]
    assert name == "gatk-genomics" or name == rec["name"]
    ec2, s3 = aws.client("ec2"), aws.client("s3")
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:pctl:network", "Values": ["us-east-1"]}])["Vpcs"]
    assert len(vpcs) == 1
    subnets = {s["SubnetId"]: s for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpcs[0]["VpcId"]]}])["Subnets"]}
    head_subnet = config["HeadNode"]["Networking"]["SubnetId"]
    assert head_subnet in subnets and subnets[head_subnet]["MapPublicIpOnLaunch"]
    for q in config["Scheduling"]["SlurmQueues"]:
        for s in q["Networking"]["SubnetIds"]:
            assert s in subnets and not subnets[s]["MapPublicIpOnLaunch"], "compute nodes stay private"
    # the bucket: private, encrypted, TLS only; scripts where the config points
    bucket = rec["bucket"]
    pab = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(pab.values())
    enc = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert enc["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    for uri in [config["HeadNode"]["CustomActions"]["OnNodeConfigured"]["Script"]] + [
            q["CustomActions"]["OnNodeConfigured"]["Script"] for q in config["Scheduling"]["SlurmQueues"]]:
        b, _, key = uri[len("s3://"):].partition("/")
        assert b == bucket
        body = s3.get_object(Bucket=b, Key=key)["Body"].read().decode()
        assert body.startswith("#!/bin/bash")
    tags = {t["Key"]: t["Value"] for t in config["Tags"]}
    assert tags["pctl:template"] == "bioinformatics" and len(tags["pctl:fingerprint"]) == 64
    assert config["HeadNode"]["Ssh"]["AllowedIps"] == "203.0.113.0/24"
    assert config["Imds"] == {"ImdsSupport": "v2.0"}
    # ssh CLUSTER works: a Host entry in pctl's file, included from ~/.ssh/config
    assert "HostName 198.51.100.10" in (ssh_dir / "pctl" / "config").read_text()
    assert (ssh_dir / "config").read_text().startswith("Include ~/.ssh/pctl/config")


def test_second_cluster_reuses_network(aws, aws_env, backend, ssh_dir):
    _create()
    before = len(aws.client("ec2").describe_vpcs()["Vpcs"])
    _create(name="starter")
    assert len(aws.client("ec2").describe_vpcs()["Vpcs"]) == before


def test_existing_name_refused(aws, aws_env, backend, ssh_dir):
    _create()
    with pytest.raises(PctlError, match="already exists"):
        _create()


def test_failed_create_rolls_back(aws, aws_env, monkeypatch, ssh_dir):
    b = FakeBackend(fail_with="InstanceTypeValidator")
    monkeypatch.setattr(pcluster_api, "backend", b)
    with pytest.raises(PctlError) as exc:
        _create()
    assert "InstanceTypeValidator" in exc.value.message and "compute.queues" in (exc.value.hint or "")
    assert tagged_resources(aws) == []
    s3 = aws.client("s3")
    for bkt in s3.list_buckets()["Buckets"]:
        assert s3.list_objects_v2(Bucket=bkt["Name"]).get("KeyCount", 0) == 0


def test_delete_removes_everything(aws, aws_env, backend, ssh_dir):
    rec = _create()
    report = delete_cluster(aws, backend, rec["name"], yes=True, poll=0, quiet=True)
    assert report["cluster"] == "DELETE_COMPLETE" and report["objects_deleted"] >= 2
    assert report["ssh_entry_removed"] and report["network_deleted"]
    assert tagged_resources(aws) == []
    assert rec["name"] not in (ssh_dir / "pctl" / "config").read_text()


def test_delete_without_yes_refuses_when_not_a_terminal(aws, aws_env, backend, ssh_dir):
    rec = _create()
    with pytest.raises(PctlError, match="confirmation"):
        delete_cluster(aws, backend, rec["name"], yes=False, poll=0, quiet=True)


def test_interrupted_delete_is_finished_by_a_second_delete(aws, aws_env, backend, ssh_dir):
    rec = _create()
    report = delete_cluster(aws, backend, rec["name"], yes=True, wait=False, quiet=True)
    assert report["cluster"] == "DELETE_IN_PROGRESS"
    backend.describe_cluster(rec["name"], "us-east-1")  # stack finishes deleting in AWS meanwhile
    again = delete_cluster(aws, backend, rec["name"], yes=True, poll=0, quiet=True)
    assert again["objects_deleted"] >= 2 and again["network_deleted"]
    with pytest.raises(PctlError, match="no cluster named"):
        delete_cluster(aws, backend, rec["name"], yes=True, poll=0, quiet=True)


def test_list_and_status_come_from_aws(aws, aws_env, backend, ssh_dir):
    rec = _create()
    rows = list_clusters(aws, backend)
    assert [r["name"] for r in rows] == [rec["name"]] and rows[0]["template"] == "bioinformatics"
    s = cluster_status(aws, backend, rec["name"])
    assert s["status"] == "CREATE_COMPLETE" and s["head_node"]["public_ip"] == "198.51.100.10"
    assert {q["name"] for q in s["queues"]} and all(q["max"] >= 1 for q in s["queues"])
    assert {m["mount_point"] for m in s["s3_mounts"]} == {"/data/broad-references", "/data/1000genomes"} or s["s3_mounts"]
    assert any(st["mount_point"] == "/opt/pctl" for st in s["shared_storage"])


def test_matching_ami_is_used_automatically(aws, aws_env, backend, ssh_dir):
    from pctl.cluster.plan import prepare

    fp = prepare(CreateOptions(template="bioinformatics"), use_catalog=False).fingerprint
    ec2 = aws.client("ec2")
    inst = ec2.run_instances(ImageId=ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"],
                             InstanceType="t3.micro", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ami = ec2.create_image(InstanceId=inst, Name="pctl-genomics",
                           TagSpecifications=[{"ResourceType": "image", "Tags": [
                               {"Key": "pctl:fingerprint", "Value": fp}, {"Key": "pctl:pcluster-version", "Value": "3.16.1"}]}])["ImageId"]
    ec2.terminate_instances(InstanceIds=[inst])
    rec = _create()
    (_, _, config, _, _), = [c for c in backend.calls if c[0] == "create"]
    assert config["Image"]["CustomAmi"] == ami and rec["software"] == "ami"
    assert not any(s.get("Name") == "pctl-software" for s in config.get("SharedStorage", []))


def test_custom_ami_version_mismatch_refused(aws, aws_env, backend, ssh_dir):
    ec2 = aws.client("ec2")
    inst = ec2.run_instances(ImageId=ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"],
                             InstanceType="t3.micro", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ec2.create_image(InstanceId=inst, Name="old-image", TagSpecifications=[{"ResourceType": "image", "Tags": [
        {"Key": "pctl:name", "Value": "genomics-v1"}, {"Key": "pctl:pcluster-version", "Value": "3.9.0"}]}])
    with pytest.raises(PctlError, match="built for ParallelCluster 3.9.0"):
        _create(custom_ami="ami-genomics-v1")


def test_ssh_command_for_a_created_cluster(aws, aws_env, backend, ssh_dir, tmp_path):
    from pctl.cluster.ops import ssh_command

    rec = _create(name="minimal", key_name="lab-key")
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "lab-key.pem").write_text("PRIVATE")
    info = backend.describe_cluster(rec["name"], "us-east-1")
    args = ssh_command(rec["name"], info, region="us-east-1", command=("sinfo", "-N"), home=tmp_path)
    assert args[1:] == ["-o", "StrictHostKeyChecking=accept-new", "-i", str(tmp_path / ".ssh" / "lab-key.pem"),
                        "ec2-user@198.51.100.10", "--", "sinfo", "-N"]
    with pytest.raises(PctlError, match="no cluster named"):
        ssh_command("nope", None, region="us-east-1")


def test_create_shows_stack_events_while_waiting(aws, aws_env, backend, ssh_dir, capsys):
    create_cluster(CreateOptions(template="minimal"), use_catalog=False, yes=True, poll=0, ssh_cidr="203.0.113.0/24")
    err = capsys.readouterr().err
    assert "s]   minimal: CREATE_" in err  # a CloudFormation event of the cluster's stack
    assert "s] minimal: CREATE_COMPLETE" in err  # the cluster status


def test_failed_stack_is_reported(aws, aws_env, monkeypatch, ssh_dir):
    b = FakeBackend(fail_stack=True)
    monkeypatch.setattr(pcluster_api, "backend", b)
    with pytest.raises(PctlError) as exc:
        create_cluster(CreateOptions(template="minimal"), use_catalog=False, yes=True, poll=0,
                       ssh_cidr="203.0.113.0/24", rollback=False)
    assert "failed to create" in exc.value.message and "kept for debugging" in exc.value.message
    assert "pctl delete" in exc.value.hint


def test_status_reports_software_progress_published_by_the_head_node(aws, aws_env, backend, ssh_dir):
    rec = _create()
    (_, name, config, _, _), = [c for c in backend.calls if c[0] == "create"]
    key = f"clusters/{name}/status/software.json"
    head = config["HeadNode"]
    assert head["CustomActions"]["OnNodeConfigured"]["Args"] == ["head", f"s3://{rec['bucket']}/{key}"]
    writable = [a for a in head["Iam"]["S3Access"] if a.get("EnableWriteAccess")]
    assert writable == [{"BucketName": rec["bucket"], "KeyName": key, "EnableWriteAccess": True},
                        {"BucketName": rec["bucket"], "KeyName": f"clusters/{name}/status/heartbeat.json",
                         "EnableWriteAccess": True}]  # the head node's own status documents, nothing else
    for q in config["Scheduling"]["SlurmQueues"]:  # compute nodes never write to the pctl bucket
        assert not any(a["BucketName"] == rec["bucket"] and a["EnableWriteAccess"] for a in q["Iam"]["S3Access"])
    assert cluster_status(aws, backend, name)["software"] is None
    aws.client("s3").put_object(Bucket=rec["bucket"], Key=key, Body=json.dumps(
        {"step": "install", "status": "running", "packages_total": 40, "packages_done": 12}).encode())
    sw = cluster_status(aws, backend, name)["software"]
    assert (sw["step"], sw["packages_done"], sw["packages_total"]) == ("install", 12, 40)
