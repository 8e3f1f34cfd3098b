"""ParallelCluster's own stacks against the idle timer's IAM and pctl's cost tags: `pctl create` runs the installed
aws-parallelcluster for real on the lifecycle moto server (see test_lifecycle.py), and the test reads the stack
templates ParallelCluster uploaded (root and nested) and the tags of the stack it made."""

from __future__ import annotations

import json
import shutil

import pytest

from pctl.aws.pcluster import EMULATOR_SUPPRESSED
from pctl.cluster.create import create_cluster
from pctl.cluster.plan import CreateOptions
from pctl.cost.idle.policy import DELETE_ACTIONS

pytestmark = pytest.mark.slow


def _synth(name, tmp_path, monkeypatch):
    """(template bodies of the root and nested stacks, the stack's tags, the prepared template)."""
    pytest.importorskip("pcluster")
    if shutil.which("node") is None:
        pytest.skip("ParallelCluster synthesizes with Node.js (CDK)")
    import boto3
    import yaml

    from pctl.cluster.plan import prepare

    monkeypatch.setenv("PCTL_SSH_DIR", str(tmp_path / "ssh"))
    boto3.client("ec2").create_key_pair(KeyName="k", KeyType="ed25519")
    prepared = prepare(CreateOptions(template=name, key_name="k", region="us-east-1"), use_catalog=False)
    create_cluster(CreateOptions(template=name, key_name="k", region="us-east-1", ssh_cidr="203.0.113.0/24",
                                 suppress_validators=EMULATOR_SUPPRESSED), use_catalog=False, yes=True, poll=0.05)
    s3 = boto3.client("s3")
    (bucket,) = [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("parallelcluster-")]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])
            if f"/clusters/{prepared.cluster_name}-" in o["Key"] and ("/templates/" in o["Key"] or "/assets/" in o["Key"])]
    docs = [yaml.safe_load(s3.get_object(Bucket=bucket, Key=k)["Body"].read().decode()) for k in keys]
    stack = boto3.client("cloudformation").describe_stacks(StackName=prepared.cluster_name)["Stacks"][0]
    return docs, stack.get("Tags", []), prepared


@pytest.mark.parametrize("name", ["bioinformatics", "earth/hydrology"])
def test_parallelcluster_stack_types_and_tags(aws_lifecycle_env, name, tmp_path, monkeypatch):
    docs, tags, prepared = _synth(name, tmp_path, monkeypatch)
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
