"""`pctl template import`: ParallelCluster 3.x configurations of every documented shape become valid pctl
templates whose rendered configuration ParallelCluster's own schema and validators accept and that mean the
same as the original (queues, instance types, counts, capacity, EFA, placement groups, storage)."""

from __future__ import annotations

import json

import pytest

from pctl.adopt.pcluster_import import import_config
from pctl.cluster.plan import CreateOptions, prepare
from support.render import render_single_subnet
from support import pcluster_semantics as sem

NAMES = sem.fixture_names()


def _import(name, **kw):
    return import_config(sem.load(name), source=f"{name}.yaml", **kw)


def _render(tmp_path, name, text):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    prepared = prepare(CreateOptions(template=str(path), key_name="pctl-test-key"), use_catalog=False)
    t = prepared.template
    b = render_single_subnet(prepared, region=t.cluster.region or "us-east-1", bucket="pctl-123456789012-us-east-1",
                             subnet="subnet-0123456789abcdef0", ssh_cidr=t.networking.ssh_allowed_cidr,
                             custom_ami=t.cluster.custom_ami)
    return prepared, b.rendered


def test_at_least_ten_shapes():
    assert len(NAMES) >= 10


@pytest.mark.parametrize("name", NAMES)
def test_import_validates_and_renders_the_same_cluster(name, tmp_path):
    result = _import(name)
    assert result.valid, result.errors
    prepared, rendered = _render(tmp_path, name, result.text)
    original = sem.load(name)
    assert sem.summary(rendered.config) == sem.summary(original)


@pytest.mark.parametrize("name", NAMES)
def test_parallelclusters_schema_and_offline_validators_accept_the_render(name, tmp_path):
    pytest.importorskip("pcluster")
    from pctl.render.pcluster_check import offline_check

    prepared, rendered = _render(tmp_path, name, _import(name).text)
    errors = [f for f in offline_check(rendered.config, prepared.cluster_name) if f.level == "ERROR"]
    assert not errors, errors


@pytest.mark.parametrize("name", NAMES)
def test_every_key_of_the_config_is_in_the_report(name):
    """Nothing is dropped silently: each leaf of the config is covered by a report line."""
    from pctl.adopt.pcluster_import import _walk

    result = _import(name)
    paths = [p for f in result.findings for p in f.path.split(", ")]

    def covered(leaf):
        return any(leaf == p or leaf.startswith(p + ".") or leaf.startswith(p + "[") for p in paths)

    # a leaf consumed as part of a mapped whole (a queue's counts, a storage's settings) is covered by the
    # line of its parent; every other leaf has its own line
    assert [leaf for leaf in _walk(sem.load(name)) if not covered(leaf)] == []


def test_report_names_what_pctl_cannot_do():
    r = _import("login-nodes-devsettings")
    lost = {f.path: f for f in r.findings if f.status == "not_mapped"}
    for path in ("LoginNodes", "HeadNode.Dcv", "Scheduling.SlurmSettings.Database", "Monitoring",
                 "HeadNode.Iam.AdditionalIamPolicies", "Scheduling.SlurmQueues[0].ComputeResources[0].SpotPrice"):
        assert path in lost, sorted(lost)
    assert "AmazonSSMManagedInstanceCore" in lost["HeadNode.Iam.AdditionalIamPolicies"].before
    pctl_does = {f.path for f in r.findings if f.status == "pctl"}
    assert {"DevSettings.Timeouts", "Imds", "HeadNode.Networking.SubnetId"} <= pctl_does
    changed = {f.path: f for f in r.findings if f.status == "approximated"}
    assert changed["Scheduling.SlurmSettings.ScaledownIdletime"].before == "5"
    # the template itself carries the list of what was left out
    assert "# Left out (no pctl field):" in r.text and "LoginNodes" in r.text


def test_network_left_to_pctl_unless_kept():
    r = _import("slurm-multi-queue")
    assert "networking" not in r.template or "subnet_id" not in r.template["networking"]
    assert all("subnet" not in q for q in r.template["compute"]["queues"])
    kept = _import("slurm-multi-queue", keep_network=True)
    assert kept.template["networking"]["subnet_id"] == "subnet-0aaaaaaaaaaaaaaa1"
    assert {q.get("subnet") for q in kept.template["compute"]["queues"]} == {"subnet-0bbbbbbbbbbbbbbb1"}
    multi = _import("multi-subnet", keep_network=True)
    assert multi.template["compute"]["queues"][0]["subnet"] == "subnet-0bbbbbbbbbbbbbbb1"
    assert any(f.status == "approximated" and "SubnetIds" in f.path for f in multi.findings)


def test_counts_pctl_would_split_differently_stay_explicit():
    q = _import("slurm-multi-queue").template["compute"]["queues"][0]
    assert [(c["name"], c["instance_types"], c["min_count"], c["max_count"]) for c in q["compute_resources"]] == [
        ("small", ["c6i.2xlarge"], 1, 20), ("large", ["c6i.8xlarge"], 0, 4)]
    simple = _import("slurm-multi-queue").template["compute"]["queues"][1]
    assert simple == {"name": "highmem", "instance_types": ["r6i.4xlarge"], "min_count": 0, "max_count": 6}


def test_spot_allocation_strategy_and_parallelclusters_default():
    qs = {q["name"]: q for q in _import("spot-allocation").template["compute"]["queues"]}
    assert qs["spot"]["allocation_strategy"] == "price-capacity-optimized" and qs["spot"]["capacity"] == "spot"
    assert qs["ondemand"]["allocation_strategy"] == "lowest-price"
    cfg = sem.load("multi-subnet")
    del cfg["Scheduling"]["SlurmQueues"][0]["AllocationStrategy"]
    r = import_config(cfg, source="x.yaml")
    assert r.template["compute"]["queues"][0]["allocation_strategy"] == "lowest-price"  # not pctl's own default


def test_custom_actions_kept_after_pctls_own(tmp_path):
    r = _import("custom-actions")
    head = r.template["compute"]["head_node_custom_actions"]
    assert head["on_node_configured"] == [{"script": "s3://lab-cluster-scripts/head-post.sh",
                                           "args": ["--install-monitoring", "v2"]}]
    _, rendered = _render(tmp_path, "custom-actions", r.text)
    ca = rendered.config["HeadNode"]["CustomActions"]
    assert ca["OnNodeStart"] == {"Script": "s3://lab-cluster-scripts/head-start.sh"}
    seq = ca["OnNodeConfigured"]["Sequence"]
    assert seq[0]["Script"].endswith("/head.sh") and seq[1]["Script"] == "s3://lab-cluster-scripts/head-post.sh"
    assert ca["OnNodeUpdated"] == {"Script": "s3://lab-cluster-scripts/head-updated.sh"}
    q = rendered.config["Scheduling"]["SlurmQueues"][0]
    scripts = [x["Script"] for x in q["CustomActions"]["OnNodeConfigured"]["Sequence"]]
    assert scripts[0].endswith("/compute.sh") and scripts[1:] == ["s3://lab-cluster-scripts/compute-mounts.sh",
                                                                 "s3://lab-cluster-scripts/compute-tuning.sh"]
    # the nodes may read exactly those objects
    keys = {(a["BucketName"], a.get("KeyName")) for a in q["Iam"]["S3Access"]}
    assert ("lab-cluster-scripts", "compute-tuning.sh") in keys


def test_old_os_and_per_queue_ami():
    r = _import("custom-ami-alinux2")
    assert r.template["cluster"]["os"] == "alinux2023"
    os_line = next(f for f in r.findings if f.path == "Image.Os")
    assert os_line.status == "approximated" and "rebuild it" in os_line.message
    assert any(f.status == "not_mapped" and f.path.endswith("Image.CustomAmi") for f in r.findings)
    assert r.template["networking"]["ssh_allowed_cidr"] == "0.0.0.0/0"
    assert any("open to the whole internet" in w for w in r.warnings)


def test_not_slurm_or_not_a_config_is_a_clear_error():
    from pctl.errors import PctlError

    with pytest.raises(PctlError, match="AWS Batch|awsbatch|'awsbatch'"):
        import_config({"Region": "us-east-1", "HeadNode": {"InstanceType": "t3.large"},
                       "Scheduling": {"Scheduler": "awsbatch", "AwsBatchQueues": []}}, source="b.yaml")
    with pytest.raises(PctlError, match="not a ParallelCluster"):
        import_config({"cluster": {"name": "x"}}, source="t.yaml")


def test_cli_import_writes_template_and_reports_on_stderr(pctl, tmp_path):
    out = tmp_path / "t.yaml"
    r = pctl("template", "import", str(sem.FIXTURES / "login-nodes-devsettings.yaml"), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_text().startswith("# pctl template imported")
    assert "Cannot be mapped (left out)" in r.stderr and "LoginNodes" in r.stderr
    assert pctl("validate", str(out)).returncode == 0
    strict = pctl("template", "import", str(sem.FIXTURES / "login-nodes-devsettings.yaml"), "--strict", "--json")
    assert strict.returncode == 1
    doc = json.loads(strict.stdout)
    assert doc["valid"] and doc["report"]["summary"]["not_mapped"] >= 6
    assert pctl("template", "import", str(sem.FIXTURES / "gpu.yaml"), "--strict", "-o", str(out)).returncode == 0


def test_validate_on_a_parallelcluster_config_names_the_import_command(pctl):
    r = pctl("validate", str(sem.FIXTURES / "gpu.yaml"))
    assert r.returncode == 1
    assert "ParallelCluster configuration" in r.stdout and "pctl template import" in r.stdout
    assert r.stdout.count("error:") == 1  # one clear error, not one per unknown key
