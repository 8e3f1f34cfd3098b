"""Queue fields for what ParallelCluster users already express: allocation_strategy, explicit compute
resources with their own counts, placement groups, and custom actions kept next to pctl's own."""

from __future__ import annotations

import copy
import json

import pytest

from pctl.render.pcluster import NetworkLayout, RenderContext, Subnet, render_config
from pctl.template.validate import validate_text

BASE = {"cluster": {"name": "q", "region": "us-east-1"},
        "compute": {"head_node": "c6i.xlarge", "queues": [{"name": "cpu", "instance_types": ["c6i.2xlarge",
                                                                                            "c6a.2xlarge"]}]}}
_SUBNET = Subnet("subnet-0123456789abcdef0", "us-east-1a", public=True)
CTX = RenderContext(region="us-east-1", network=NetworkLayout(head=_SUBNET, compute=(_SUBNET,), source="existing"),
                    scripts_bucket="pctl-1-us-east-1",
                    scripts_prefix="clusters/q/x/", cluster_name="q", template_name="q", fingerprint="f" * 64,
                    pctl_version="0", software_mode="none")


def _doc(**queue):
    d = copy.deepcopy(BASE)
    d["compute"]["queues"][0].update(queue)
    return d


def _check(doc):
    return validate_text(json.dumps(doc), "q.yaml", use_catalog=False)


def _queue_cfg(doc):
    r = _check(doc)
    assert r.ok, [e.format() for e in r.errors]
    return render_config(r.template, CTX).config["Scheduling"]["SlurmQueues"][0]


@pytest.mark.parametrize("capacity,strategy,ok", [
    ("spot", "lowest-price", True), ("spot", "price-capacity-optimized", True), ("spot", "capacity-optimized", True),
    ("spot", "capacity-optimized-prioritized", True), ("spot", "prioritized", False),
    ("ondemand", "lowest-price", True), ("ondemand", "prioritized", True), ("ondemand", "capacity-optimized", False),
    ("ondemand", "price-capacity-optimized", False)])
def test_allocation_strategy_follows_parallelclusters_rules(capacity, strategy, ok):
    r = _check(_doc(capacity=capacity, allocation_strategy=strategy))
    assert r.ok is ok, [e.format() for e in r.errors]
    if ok:
        assert _queue_cfg(_doc(capacity=capacity, allocation_strategy=strategy))["AllocationStrategy"] == strategy


def test_allocation_strategy_default_and_typo():
    assert _queue_cfg(_doc(capacity="spot"))["AllocationStrategy"] == "capacity-optimized"
    assert "AllocationStrategy" not in _queue_cfg(_doc())
    r = _check(_doc(capacity="spot", allocation_strategy="cheapest"))
    assert not r.ok and "lowest-price" in r.errors[0].message


def test_explicit_compute_resources_keep_their_counts():
    doc = _doc(instance_types=None, compute_resources=[
        {"name": "small", "instance_types": ["c6i.2xlarge"], "min_count": 1, "max_count": 20},
        {"instance_types": ["c6i.8xlarge", "c6a.8xlarge"], "max_count": 4, "efa": True}])
    del doc["compute"]["queues"][0]["instance_types"]
    r = _check(doc)
    assert r.ok, [e.format() for e in r.errors]
    q = r.template.compute.queues[0]
    assert (q.instance_types, q.min_count, q.max_count) == (["c6i.2xlarge", "c6i.8xlarge", "c6a.8xlarge"], 1, 24)
    crs = _queue_cfg(doc)["ComputeResources"]
    # always Instances lists: ParallelCluster refuses InstanceType on a queue that spans subnets
    assert [(c["Name"], [i["InstanceType"] for i in c["Instances"]], c["MinCount"], c["MaxCount"], "Efa" in c)
            for c in crs] == [("small", ["c6i.2xlarge"], 1, 20, False),
                              ("c6i-8xlarge-flex", ["c6i.8xlarge", "c6a.8xlarge"], 0, 4, True)]
    assert [i["InstanceType"] for i in crs[1]["Instances"]] == ["c6i.8xlarge", "c6a.8xlarge"]


def test_compute_resources_that_contradict_the_queue_are_errors():
    doc = _doc(min_count=5, compute_resources=[{"instance_types": ["c6i.large"], "max_count": 2}])
    msgs = [e.message for e in _check(doc).errors]
    assert any("instance_types c6i.2xlarge, c6a.2xlarge differ" in m for m in msgs), msgs
    assert any("min_count 5 is not the sum" in m for m in msgs), msgs
    dup = _doc(compute_resources=[{"name": "a", "instance_types": ["c6i.2xlarge"]},
                                  {"name": "a", "instance_types": ["c6a.2xlarge"]}])
    assert any("used twice" in e.message for e in _check(dup).errors)


def test_placement_group_follows_efa_unless_said():
    assert _queue_cfg(_doc(efa=True))["Networking"]["PlacementGroup"] == {"Enabled": True}
    assert _queue_cfg(_doc(efa=True, placement_group=False))["Networking"]["PlacementGroup"] == {"Enabled": False}
    assert _queue_cfg(_doc(placement_group=True))["Networking"]["PlacementGroup"] == {"Enabled": True}
    assert "PlacementGroup" not in _queue_cfg(_doc())["Networking"]


@pytest.mark.parametrize("script,ok", [
    ("s3://lab-scripts/setup.sh", True), ("https://example.org/x/setup.sh", True),
    ("http://example.org/setup.sh", False), ("s3://lab-scripts/", False), ("s3://Bad_Bucket/x.sh", False),
    ("https://example.org/x.sh?token=abc", False), ("s3://lab-scripts/$(id).sh", False)])
def test_custom_action_scripts_are_urls_with_a_grammar(script, ok):
    assert _check(_doc(custom_actions={"on_node_start": [{"script": script}]})).ok is ok


def test_custom_actions_render_after_pctls_own_and_get_read_access():
    q = _queue_cfg(_doc(custom_actions={"on_node_start": [{"script": "s3://lab-scripts/pre.sh"}],
                                        "on_node_configured": [{"script": "s3://lab-scripts/post.sh",
                                                                "args": ["--fast"]}]}))
    assert q["CustomActions"]["OnNodeStart"] == {"Script": "s3://lab-scripts/pre.sh"}
    seq = q["CustomActions"]["OnNodeConfigured"]["Sequence"]
    assert seq[0]["Script"] == "s3://pctl-1-us-east-1/clusters/q/x/compute.sh"
    assert seq[1] == {"Script": "s3://lab-scripts/post.sh", "Args": ["--fast"]}
    access = q["Iam"]["S3Access"]
    assert {"BucketName": "lab-scripts", "KeyName": "post.sh", "EnableWriteAccess": False} in access
    assert {"BucketName": "lab-scripts", "KeyName": "pre.sh", "EnableWriteAccess": False} in access
    plain = _queue_cfg(_doc())
    assert plain["CustomActions"] == {"OnNodeConfigured": {"Script": "s3://pctl-1-us-east-1/clusters/q/x/compute.sh",
                                                           "Args": ["compute", "cpu"]}}


def test_render_is_accepted_by_parallelclusters_schema():
    pytest.importorskip("pcluster")
    from pctl.render.pcluster_check import offline_check

    doc = _doc(capacity="spot", allocation_strategy="price-capacity-optimized", efa=True, placement_group=False,
               custom_actions={"on_node_start": [{"script": "s3://lab-scripts/pre.sh"}],
                               "on_node_configured": [{"script": "s3://lab-scripts/a.sh"},
                                                      {"script": "https://example.org/b.sh", "args": ["x"]}]})
    doc["compute"]["head_node_custom_actions"] = {"on_node_updated": [{"script": "s3://lab-scripts/u.sh"}]}
    r = _check(doc)
    cfg = render_config(r.template, CTX).config
    assert [f for f in offline_check(cfg, "q") if f.level == "ERROR"] == []
