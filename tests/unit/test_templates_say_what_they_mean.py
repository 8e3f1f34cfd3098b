"""Templates say what they mean: max_count is per instance type (the queue total is the sum, shown in the plan);
an S3 mount that looks like a place for output and does not say read_only gets a clear warning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.cli import VALID, run_pctl

ML = Path(__file__).resolve().parents[1] / "fixtures" / "personas" / "ml-training.yaml"


def _plan(ref, **kw):
    r = run_pctl("create", "-t", str(ref), "--dry-run", "--json", "--no-catalog", **kw)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_ml_engineers_queue_scales_to_four_of_each_gpu_type():
    data = _plan(ML)
    q, = data["plan"]["queues"]
    crs = {tuple(c["instance_types"]): (c["min_count"], c["max_count"]) for c in q["compute_resources"]}
    assert crs == {("p3.8xlarge",): (0, 4), ("p3.16xlarge",): (0, 4)}, "auto-scales to 4x p3.16xlarge"
    assert (q["min_count"], q["max_count"]) == (0, 8)
    assert any("at most 8 nodes in this queue" in n and "max_count is per type" in n for n in q["notes"])
    cfg_q, = data["config"]["Scheduling"]["SlurmQueues"]
    assert sorted((c["Instances"][0]["InstanceType"], c["MinCount"], c["MaxCount"]) for c in cfg_q["ComputeResources"]) == [
        ("p3.16xlarge", 0, 4), ("p3.8xlarge", 0, 4)]
    # the words a person reads
    r = run_pctl("create", "-t", str(ML), "--dry-run", "--no-catalog")
    assert "gpu-training   ondemand  0–8 nodes in total" in r.stdout
    assert "up to 4 x p3.8xlarge" in r.stdout and "up to 4 x p3.16xlarge" in r.stdout


def test_pclusters_own_validators_accept_the_per_type_counts():
    pytest.importorskip("pcluster")
    from pctl.cluster.plan import CreateOptions, dry_run
    from pctl.render.pcluster_check import offline_check

    rendered = dry_run(CreateOptions(template=str(ML), key_name="k", ssh_cidr="203.0.113.0/24"), use_catalog=False)
    assert not [f for f in offline_check(rendered["config"], "ml-training") if f.level == "ERROR"]


def test_min_count_is_the_queue_total_on_the_first_type_and_pools_share_max_count():
    text = VALID.replace("instance_types: [c6i.xlarge, c6i.2xlarge]", "instance_types: [c6i.2xlarge, c6a.2xlarge, "
                                                                       "c6i.8xlarge]").replace("min_count: 0", "min_count: 2")
    q, = _plan("-", input=text)["plan"]["queues"]
    crs = [(c["instance_types"], c["min_count"], c["max_count"]) for c in q["compute_resources"]]
    # c6i.2xlarge and c6a.2xlarge stand in for each other: one pool of max_count
    assert crs == [(["c6i.2xlarge", "c6a.2xlarge"], 2, 4), (["c6i.8xlarge"], 0, 4)]
    assert (q["min_count"], q["max_count"]) == (2, 8)


def test_head_node_memory_counts_every_type():
    # 8 types x 40 = 320 nodes need 13.4 GiB; a t3.large (8 GiB) is too small although max_count is only 40
    types = ", ".join(f"c6i.{s}" for s in ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge",
                                           "16xlarge", "24xlarge"))
    text = VALID.replace("[c6i.xlarge, c6i.2xlarge]", f"[{types}]").replace("max_count: 4", "max_count: 40")
    r = run_pctl("validate", "--no-catalog", "-", input=text)
    assert r.returncode == 1 and "to manage 320 compute nodes" in r.stdout


def test_checkpoint_mount_of_the_seed_template_gets_a_clear_warning():
    r = run_pctl("validate", str(ML))
    assert "/shared/checkpoints looks like a place for output" in r.stdout and "read_only: false" in r.stdout
    assert r.stdout.count("looks like a place for output") == 1, "/shared/data is input"
    plan = _plan(ML)["plan"]
    assert any("/shared/checkpoints looks like a place for output" in w for w in plan["warnings"])
    assert [m["read_only"] for m in plan["s3_mounts"]] == [True, True]


def test_saying_read_only_false_makes_checkpoints_writable_and_quiet(tmp_path):
    t = tmp_path / "ml.yaml"
    t.write_text(ML.read_text().replace("mount_point: /shared/checkpoints",
                                        "mount_point: /shared/checkpoints\n      read_only: false"))
    r = run_pctl("validate", "--no-catalog", str(t))
    assert "looks like a place for output" not in r.stdout
    data = _plan(t)
    assert [m["read_only"] for m in data["plan"]["s3_mounts"]] == [True, False]
    assert "--allow-overwrite" in data_scripts(t)
    # saying read_only: true also silences the note
    t.write_text(ML.read_text().replace("mount_point: /shared/checkpoints",
                                        "mount_point: /shared/checkpoints\n      read_only: true"))
    assert "looks like a place for output" not in run_pctl("validate", "--no-catalog", str(t)).stdout


def data_scripts(template) -> str:
    from pctl.cluster.plan import CreateOptions, prepare

    prepared = prepare(CreateOptions(template=str(template)), use_catalog=False)
    return "\n".join(prepared.scripts.values())
