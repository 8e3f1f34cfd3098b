"""Template inheritance: extends chains, merge rules, remove:, errors with positions in the right file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pctl.template.extends import MAX_DEPTH, ExtendsFailed, dump_yaml, resolve_file
from pctl.template.validate import validate_file, validate_text

run_pctl = None  # the real CLI in a subprocess (conftest's `pctl` fixture), set for every test below


@pytest.fixture(autouse=True)
def _cli(pctl):
    global run_pctl
    run_pctl = pctl

LAB = """\
metadata:
  title: Lab standard
  tags: [lab]
cluster:
  name: lab
  region: us-east-1
  tags: {lab: smith, cost-center: "42"}
compute:
  head_node: t3.large
  queues:
    - name: cpu
      instance_types: [c6i.xlarge, c6i.2xlarge]
      max_count: 4
      capacity: spot
    - name: gpu
      instance_types: [g5.xlarge]
      max_count: 2
software:
  spack_packages:
    - samtools@1.21
    - gatk@4.5.0.0
    - bwa
users:
  - {name: alice, uid: 5001, gid: 5000, groups: [lab]}
  - {name: bob, uid: 5002, gid: 5000}
groups:
  - {name: lab, gid: 5000}
data:
  s3_mounts:
    - {bucket: lab-data, mount_point: /data/lab}
    - {bucket: lab-refs, mount_point: /data/refs}
  shared_storage:
    - {type: efs, mount_point: /shared}
"""

PROJECT = """\
extends: ../lab.yaml
metadata:
  title: Genomics project
cluster:
  name: genomics
  tags: {project: genomics}
compute:
  queues:
    - name: cpu
      max_count: 20
    - name: big
      instance_types: [r6i.8xlarge]
software:
  spack_packages:
    - samtools@1.20
    - bcftools@1.21
users:
  - {name: alice, uid: 5001, gid: 5000, groups: [lab], sudo: true}
  - {name: carol, uid: 5003, gid: 5000}
data:
  s3_mounts:
    - {bucket: genomics-data, mount_point: /data/lab/}
remove:
  compute: {queues: [gpu]}
  users: [bob]
  data: {s3_mounts: [/data/refs]}
"""

STUDENT = """\
extends: genomics
cluster:
  name: student-dana
compute:
  queues:
    - name: cpu
      max_count: 2
software:
  spack_packages: [gatk@4.6.0.0]
remove:
  software: {spack_packages: [bwa]}
"""


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


@pytest.fixture
def lab(tmp_path):
    return _write(tmp_path, {"lab.yaml": LAB, "projects/genomics.yaml": PROJECT, "projects/student.yaml": STUDENT})


def _ok(path, source=None):
    r = validate_file(path, source or str(path), use_catalog=False)
    assert r.ok, [d.format() for d in r.errors]
    return r


def test_three_level_chain_merges(lab):
    r = _ok(lab / "projects/student.yaml", "student.yaml")
    t = r.template
    data = r.loaded.data
    assert "extends" not in data and "remove" not in data
    assert t.cluster.name == "student-dana"
    assert t.cluster.region == "us-east-1"  # from the grandparent
    assert t.cluster.tags == {"lab": "smith", "cost-center": "42", "project": "genomics"}  # maps merge deeply
    assert t.compute.head_node == "t3.large"
    # queues merged by name: cpu keeps the lab's types and capacity, max_count from the closest child
    q = {x.name: x for x in t.compute.queues}
    assert list(q) == ["cpu", "big"]
    assert q["cpu"].instance_types == ["c6i.xlarge", "c6i.2xlarge"] and q["cpu"].capacity == "spot"
    assert q["cpu"].max_count == 2
    # spack: same package name -> the later spec wins in place; removed bwa; new ones appended
    assert t.software.spack_packages == ["samtools@1.20", "gatk@4.6.0.0", "bcftools@1.21"]
    # users replaced by name (alice gains sudo), bob removed, carol appended
    assert [(u.name, u.sudo) for u in t.users] == [("alice", True), ("carol", False)]
    # mounts by mount point (normalized): /data/lab/ replaces /data/lab; /data/refs removed
    assert [(m.bucket, m.mount_point) for m in t.data.s3_mounts] == [("genomics-data", "/data/lab/")]
    assert [s.mount_point for s in t.data.shared_storage] == ["/shared"]
    assert t.groups[0].name == "lab"
    chain = r.loaded.chain
    assert chain[0] == "student.yaml" and chain[1].endswith("genomics.yaml") and chain[2].endswith("lab.yaml")


def test_metadata_is_not_inherited(lab):
    r = _ok(lab / "projects/student.yaml")
    assert r.template.metadata.title is None
    assert _ok(lab / "projects/genomics.yaml").template.metadata.title == "Genomics project"


def test_lists_without_a_rule_are_replaced(tmp_path):
    _write(tmp_path, {"lab.yaml": LAB, "c.yaml": "extends: lab.yaml\ncompute:\n  queues:\n    - name: cpu\n"
                                                "      instance_types: [c6i.4xlarge]\n"})
    t = _ok(tmp_path / "c.yaml").template
    assert t.compute.queues[0].instance_types == ["c6i.4xlarge"]


def test_multiple_parents_merge_left_to_right(tmp_path):
    _write(tmp_path, {
        "lab.yaml": LAB,
        "gpu.yaml": "compute:\n  head_node: t3.large\n  queues:\n    - {name: gpu, instance_types: [g6.xlarge], max_count: 8}\n"
                    "cluster: {name: gpu}\n",
        "c.yaml": "extends: [lab.yaml, gpu.yaml]\ncluster: {name: both}\n",
    })
    t = _ok(tmp_path / "c.yaml").template
    q = {x.name: x for x in t.compute.queues}
    assert q["gpu"].instance_types == ["g6.xlarge"] and q["gpu"].max_count == 8
    assert t.cluster.name == "both" and t.cluster.region == "us-east-1"


def test_extends_a_library_template_by_name(tmp_path):
    _write(tmp_path, {"mine.yaml": "extends: bioinformatics/gatk-pipeline\ncluster: {name: my-gatk}\n"
                                   "compute:\n  queues:\n    - {name: call, max_count: 10}\n"})
    r = _ok(tmp_path / "mine.yaml", "mine.yaml")
    assert r.template.cluster.name == "my-gatk"
    assert [q.max_count for q in r.template.compute.queues if q.name == "call"] == [10]
    assert r.loaded.chain == ["mine.yaml", "library:bioinformatics/gatk-pipeline"]


def test_sibling_name_before_library(tmp_path):
    _write(tmp_path, {"starter.yaml": LAB, "c.yaml": "extends: starter\ncluster: {name: c}\n"})
    r = _ok(tmp_path / "c.yaml")
    assert r.template.cluster.region == "us-east-1" and len(r.template.compute.queues) == 2


def test_fingerprint_of_a_child_that_only_changes_queues(lab, tmp_path):
    from pctl.template.fingerprint import fingerprint

    _write(lab, {"queues-only.yaml": "extends: lab.yaml\ncluster: {name: other}\ncompute:\n  queues:\n"
                                     "    - {name: cpu, max_count: 80}\n    - {name: extra, instance_types: [c6i.large]}\n"})
    parent = _ok(lab / "lab.yaml").template
    child = _ok(lab / "queues-only.yaml").template
    assert fingerprint(child) == fingerprint(parent)
    assert fingerprint(_ok(lab / "projects/genomics.yaml").template) != fingerprint(parent)


def test_load_valid_and_validate_refs_resolve_extends(lab, monkeypatch):
    from pctl.registry.templates import load_valid, validate_refs
    from pctl.template.fingerprint import fingerprint

    monkeypatch.chdir(lab / "projects")
    tref, result = load_valid("student.yaml", use_catalog=False)
    assert result.template.cluster.region == "us-east-1"
    assert fingerprint(result.template) == fingerprint(_ok(lab / "projects/student.yaml").template)
    (bare,) = validate_refs(["student"], use_catalog=False)  # no library/registry template: ./student.yaml
    assert bare.result is not None and bare.result.ok
    (o,) = validate_refs(["./student.yaml"], use_catalog=False)
    assert o.result.ok
    d = o.to_dict(resolved=True)
    assert d["resolved"]["cluster"]["name"] == "student-dana" and len(d["extends_chain"]) == 3


# ---------------------------------------------------------------- remove:


def test_remove_nothing_inherited_is_a_warning(tmp_path):
    _write(tmp_path, {"lab.yaml": LAB, "c.yaml": "extends: lab.yaml\nremove:\n  users: [zed]\n  cluster: {tags: [nope]}\n"})
    r = validate_file(tmp_path / "c.yaml", "c.yaml", use_catalog=False)
    assert r.ok
    msgs = [(d.where(), d.message) for d in r.warnings if d.code == "remove-nothing"]
    assert ("c.yaml:3:11", "no inherited user 'zed' to remove") in msgs
    assert any(w.startswith("c.yaml:4:") and "cluster.tags.nope" in m for w, m in msgs)


def test_remove_map_keys_and_spec_by_name(tmp_path):
    _write(tmp_path, {"lab.yaml": LAB, "c.yaml": "extends: lab.yaml\nremove:\n  cluster: {tags: [cost-center]}\n"
                                                "  software: {spack_packages: ['gatk@4.5.0.0']}\n"})
    t = _ok(tmp_path / "c.yaml").template
    assert t.cluster.tags == {"lab": "smith"}
    assert t.software.spack_packages == ["samtools@1.21", "bwa"]


@pytest.mark.parametrize("remove,where,text", [
    ("remove: [users]", "c.yaml:2:9", "must be a mapping"),
    ("remove:\n  users: bob", "c.yaml:3:10", "must be a list of user names"),
    ("remove:\n  compute: {queues: [{name: gpu}]}", "c.yaml:3:22", "each entry must be a queue name"),
    ("remove:\n  compute: {head_node: [x]}", "c.yaml:3:24", "must name keys or items"),
    ("remove:\n  software: {mirrors: [x]}", "c.yaml:3:14", "nothing inherited at software.mirrors"),
])
def test_remove_shape_errors(tmp_path, remove, where, text):
    _write(tmp_path, {"lab.yaml": LAB, "c.yaml": f"extends: lab.yaml\n{remove}\n"})
    r = validate_file(tmp_path / "c.yaml", "c.yaml", use_catalog=False)
    found = [(d.where(), d.message) for d in r.diagnostics]
    assert any(w == where and text in m for w, m in found), found


def test_remove_without_extends_is_an_error():
    r = validate_text("cluster: {name: c}\ncompute: {head_node: t3.large, queues: [{name: q, instance_types: [c6i.large]}]}\n"
                      "remove: {users: [bob]}\n", "r.yaml", use_catalog=False)
    assert not r.ok
    assert r.errors[0].where() == "r.yaml:3:1" and "needs extends" in r.errors[0].message


# ---------------------------------------------------------------- errors


def test_error_in_an_inherited_value_points_into_the_parent(tmp_path):
    bad = LAB.replace("instance_types: [c6i.xlarge, c6i.2xlarge]", "instance_types: [c6i.xlarge, zz9.huge]")
    _write(tmp_path, {"base/lab.yaml": bad,
                      "mid.yaml": "extends: base/lab.yaml\ncompute:\n  queues:\n    - {name: cpu, max_count: 5000}\n",
                      "leaf.yaml": "extends: mid.yaml\ncluster:\n  name: Bad_Name\n"})
    r = validate_file(tmp_path / "leaf.yaml", "leaf.yaml", use_catalog=False)
    errs = {d.path_str: (d.file, d.line, d.column) for d in r.errors}
    lab_file = errs["compute.queues[0].instance_types[1]"][0]
    assert lab_file.endswith("lab.yaml") and errs["compute.queues[0].instance_types[1]"][1:] == (12, 36)
    assert errs["compute.queues[0].max_count"] == (errs["compute.queues[0].max_count"][0], 4, 30)
    assert errs["compute.queues[0].max_count"][0].endswith("mid.yaml")
    assert errs["cluster.name"] == ("leaf.yaml", 3, 9)
    # a missing key at a merged map reports where the closest file set it
    r = validate_text("extends: " + str(tmp_path / "base/lab.yaml") + "\ncompute:\n  queues:\n    - name: cpu\n"
                      "      instance_types: [c6i.large]\n      bogus: 1\n", "x.yaml", use_catalog=False)
    assert any(d.where() == "x.yaml:6:7" and "unknown key 'bogus'" in d.message for d in r.errors)


def test_cycle_names_the_chain(tmp_path):
    _write(tmp_path, {"a.yaml": "extends: b.yaml\n", "b.yaml": "extends: c.yaml\ncluster: {name: b}\n",
                      "c.yaml": "extends: [a.yaml]\n"})
    with pytest.raises(ExtendsFailed) as ei:
        resolve_file(tmp_path / "a.yaml", "a.yaml")
    d = ei.value.diagnostics[0]
    assert d.message.endswith("cycle: a.yaml -> b.yaml -> c.yaml -> a.yaml") or "a.yaml -> " in d.message
    assert d.file.endswith("c.yaml") and (d.line, d.column) == (1, 11)
    r = validate_file(tmp_path / "a.yaml", "a.yaml", use_catalog=False)
    assert not r.ok and "cycle" in r.errors[0].message


def test_self_extends(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, {"a.yaml": "extends: a.yaml\n"})
    r = validate_file(Path("a.yaml"), "a.yaml", use_catalog=False)
    assert r.errors[0].message == "inheritance cycle: a.yaml -> a.yaml"
    assert r.errors[0].where() == "a.yaml:1:10"


def test_missing_parent_names_the_chain(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, {"a.yaml": "extends: sub/b.yaml\n", "sub/b.yaml": "cluster: {name: b}\nextends: ../nope.yaml\n"})
    r = validate_file(Path("a.yaml"), "a.yaml", use_catalog=False)
    (e,) = r.errors
    assert e.where() == str(Path("sub/b.yaml")) + ":2:10"
    assert "'../nope.yaml' not found" in e.message and "a.yaml -> sub/b.yaml -> ../nope.yaml" in e.message
    _write(tmp_path, {"n.yaml": "extends: no-such-template-anywhere\n"})
    (e,) = validate_file(Path("n.yaml"), "n.yaml", use_catalog=False).errors
    assert "no-such-template-anywhere" in e.message and e.where() == "n.yaml:1:10"


def test_broken_parent_reports_its_own_position(tmp_path):
    _write(tmp_path, {"p.yaml": "cluster:\n  name: [unclosed\n", "c.yaml": "extends: p.yaml\n"})
    r = validate_file(tmp_path / "c.yaml", "c.yaml", use_catalog=False)
    (e,) = r.errors
    assert e.file.endswith("p.yaml") and e.code == "yaml" and "loaded through extends" in (e.hint or "")


def test_depth_limit(tmp_path):
    n = MAX_DEPTH + 2
    files = {f"t{i}.yaml": f"extends: t{i + 1}.yaml\n" for i in range(n)}
    files[f"t{n}.yaml"] = LAB
    _write(tmp_path, files)
    r = validate_file(tmp_path / "t0.yaml", "t0.yaml", use_catalog=False)
    assert not r.ok and f"deeper than {MAX_DEPTH} levels" in r.errors[0].message
    files = {f"t{i}.yaml": f"extends: t{i + 1}.yaml\n" for i in range(MAX_DEPTH)}
    files[f"t{MAX_DEPTH}.yaml"] = LAB
    d2 = tmp_path / "ok"
    _write(d2, files)
    _ok(d2 / "t0.yaml")


@pytest.mark.parametrize("value", ["42", "[]", "{a: b}", "['']", "[lab.yaml, 3]"])
def test_malformed_extends(tmp_path, value):
    _write(tmp_path, {"lab.yaml": LAB, "c.yaml": f"extends: {value}\n"})
    r = validate_file(tmp_path / "c.yaml", "c.yaml", use_catalog=False)
    assert not r.ok and r.errors[0].code == "extends" and r.errors[0].where().startswith("c.yaml:1:")


@pytest.mark.parametrize("payload", ["; rm -rf /", "$(reboot)", "`id`", "x && y", "${HOME}", "\u202eevil", "-rf", "*",
                                     "../../etc/passwd", "/etc/passwd", "~", "a b"])
def test_hostile_extends_values_are_rejected(tmp_path, monkeypatch, payload):
    monkeypatch.chdir(tmp_path)
    doc = {"extends": payload, "cluster": {"name": "c"}}
    r = validate_text(json.dumps(doc), "h.yaml", use_catalog=False)
    assert not r.ok


def test_library_template_cannot_reach_outside_its_source(tmp_path, monkeypatch):
    """A template in a registry cache may extend names and files of its own source only."""
    from pctl.registry.names import FINDER
    from pctl.registry.paths import source_dir

    tree = source_dir("team") / "tree"
    _write(tree, {"ok.yaml": "extends: base.yaml\ncluster: {name: ok}\n", "base.yaml": LAB,
                  "evil.yaml": f"extends: {tmp_path / 'secret.yaml'}\n", "evil2.yaml": "extends: ../../../../../secret.yaml\n"})
    _write(tmp_path, {"secret.yaml": LAB})
    assert validate_file(tree / "ok.yaml", use_catalog=False, finder=FINDER).ok
    for f in ("evil.yaml", "evil2.yaml"):
        r = validate_file(tree / f, use_catalog=False, finder=FINDER)
        assert not r.ok and "outside this template's source" in r.errors[0].message


def test_dump_yaml_round_trips(lab):
    loaded = resolve_file(lab / "projects/student.yaml")
    text = dump_yaml(loaded.data, header="resolved")
    assert text.startswith("# resolved\n")
    r = validate_text(text, "resolved.yaml", use_catalog=False)
    assert r.ok and r.loaded.data == loaded.data


# ---------------------------------------------------------------- CLI


def test_cli_template_resolve_and_show_resolved(lab):
    cwd = lab / "projects"
    r = run_pctl("template", "resolve", "student.yaml", cwd=cwd)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("# student.yaml resolved (extends: student.yaml -> genomics.yaml -> ")
    assert "extends" not in r.stdout.split("\n", 1)[1] and "region: us-east-1" in r.stdout
    out = lab / "resolved.yaml"
    r = run_pctl("template", "resolve", "student.yaml", "-o", str(out), cwd=cwd)
    assert r.returncode == 0 and out.is_file() and f"wrote {out}" in r.stderr
    r = run_pctl("validate", "--no-catalog", str(out))
    assert r.returncode == 0, r.stdout
    r = run_pctl("template", "resolve", "student.yaml", "--json", cwd=cwd)
    doc = json.loads(r.stdout)
    assert doc["valid"] and len(doc["chain"]) == 3 and len(doc["fingerprint"]) == 64
    assert doc["template"]["cluster"]["name"] == "student-dana"
    r = run_pctl("validate", "--no-catalog", "--show-resolved", "student.yaml", cwd=cwd)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "name: student-dana" in r.stdout and "valid" in r.stdout
    r = run_pctl("validate", "--no-catalog", "--show-resolved", "--json", "student.yaml", cwd=cwd)
    assert json.loads(r.stdout)["results"][0]["resolved"]["cluster"]["name"] == "student-dana"


def test_cli_resolve_errors(tmp_path):
    _write(tmp_path, {"a.yaml": "extends: b.yaml\n", "b.yaml": "extends: a.yaml\n"})
    r = run_pctl("template", "resolve", "a.yaml", cwd=tmp_path)
    assert r.returncode == 1 and "inheritance cycle: a.yaml -> b.yaml -> a.yaml" in r.stderr
    r = run_pctl("validate", "a.yaml", "--no-catalog", cwd=tmp_path)
    assert r.returncode == 1 and "b.yaml:1:10: error: extends: inheritance cycle" in r.stdout
    _write(tmp_path, {"bad.yaml": "extends: a.yaml\ncluster: {name: x}\n", "inv.yaml": "extends: bioinformatics\n"
                      "cluster: {name: Bad_Name}\n"})
    r = run_pctl("template", "resolve", "inv.yaml", cwd=tmp_path)
    assert r.returncode == 1 and "inv.yaml:2:17: error: cluster.name" in r.stderr and "head_node:" in r.stdout
