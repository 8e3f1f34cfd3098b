"""The template model and rules: one test (or table row) per rule, golden messages for common mistakes."""

from __future__ import annotations

import json

import pytest

from pctl.template.validate import validate_text

VALID = """\
cluster:
  name: test-cluster
  region: us-east-1
compute:
  head_node: t3.large
  queues:
    - name: compute
      instance_types: [c6i.xlarge, c6i.2xlarge]
      min_count: 0
      max_count: 4
"""


def v(text, **kw):
    kw.setdefault("use_catalog", False)
    return validate_text(text, "t.yaml", **kw)


def errors(text, **kw):
    return [(d.path_str, d.message) for d in v(text, **kw).errors]


def one_error(text, **kw):
    errs = v(text, **kw).errors
    assert len(errs) == 1, [d.format() for d in errs]
    return errs[0]


def test_valid_minimal_template_has_defaults():
    r = v(VALID)
    assert r.ok, [d.format() for d in r.diagnostics]
    t = r.template
    assert t.cluster.os == "alinux2023"
    assert t.compute.queues[0].capacity == "ondemand"
    assert t.software.modules == "flat"
    assert t.arch == "x86_64"


def test_error_names_file_line_column_and_path():
    text = VALID.replace("max_count: 4", "max_count: 4000")
    d = one_error(text)
    assert d.path_str == "compute.queues[0].max_count"
    assert (d.file, d.line, d.column) == ("t.yaml", 10, 18)
    assert d.message == "must be at most 1000, got 4000"
    assert d.format().startswith("t.yaml:10:18: error: compute.queues[0].max_count: must be at most 1000")


def test_unknown_key_did_you_mean_points_at_key():
    text = VALID.replace("min_count: 0", "mn_count: 0")
    d = one_error(text)
    assert d.message == "unknown key 'mn_count'; did you mean 'min_count'?"
    assert (d.line, d.column) == (9, 7)
    assert d.code == "unknown-key"


def test_unknown_top_level_section_suggests():
    d = one_error(VALID + "sofware:\n  spack_packages: [samtools]\n")
    assert d.message == "unknown key 'sofware'; did you mean 'software'?"


def test_all_errors_at_once():
    text = """\
cluster:
  name: 9lives
  region: mars-1
  os: windows
compute:
  head_node: t3.huge
  queues:
    - name: Compute
      instance_types: []
      min_count: 5
      max_count: 2
users:
  - name: root
    uid: 0
"""
    paths = {p for p, _ in errors(text)}
    assert {"cluster.name", "cluster.region", "cluster.os", "compute.head_node", "compute.queues[0].name",
            "compute.queues[0].instance_types", "compute.queues[0].min_count", "users[0].name", "users[0].uid"} <= paths


def test_missing_required_sections():
    errs = errors("cluster:\n  name: a\n")
    assert ("compute", "missing required key 'compute'") in errs


@pytest.mark.parametrize("name,ok", [
    ("a", True), ("my-cluster-01", True), ("A" * 60, True), ("A" * 61, False), ("1abc", False),
    ("has_underscore", False), ("dots.no", False), ("-lead", False), ("ünïcode", False), ("x; rm -rf /", False),
])
def test_cluster_name_rule(name, ok):
    text = VALID.replace("name: test-cluster", f"name: {json.dumps(name)}")
    assert v(text).ok is ok


@pytest.mark.parametrize("region,ok", [
    ("us-east-1", True), ("ap-southeast-7", True), ("us-gov-west-1", True), ("eu-central-2", True),
    ("mx-central-1", True), ("us-east", False), ("US-EAST-1", False), ("useast1", False),
])
def test_region_rule(region, ok):
    r = v(VALID.replace("us-east-1", region))
    assert r.ok is ok
    if not ok:  # a suggestion when one is close, else the list of regions
        msg = r.errors[0].message
        assert ("did you mean 'us-east-1'?" in msg) if region != "us-east" else ("did you mean 'us-east-" in msg)
        assert "known regions" not in msg


def test_region_typos_get_one_suggestion_not_a_list():
    for typo, meant in (("us-east1", "us-east-1"), ("uswest2", "us-west-2"), ("ap-southeast1", "ap-southeast-1"),
                        ("EU_WEST_1", "eu-west-1")):
        msg = v(VALID.replace("us-east-1", typo)).errors[0].message
        assert msg == f"{typo!r} is not an AWS region name; did you mean {meant!r}?", msg
    msg = v(VALID.replace("us-east-1", "mars")).errors[0].message
    assert "known regions: us-east-1" in msg


def test_os_and_instance_type_typos_suggest():
    for typo, meant in (("ubuntu22", "ubuntu2204"), ("Ubuntu 22.04", "ubuntu2204"), ("al2023", "alinux2023"),
                        ("amazonlinux2023", "alinux2023"), ("rocky-9", "rocky9")):
        r = v(VALID.replace("  region: us-east-1", f"  region: us-east-1\n  os: {json.dumps(typo)}"))
        assert f"(did you mean {meant!r}?)" in r.errors[0].message, (typo, r.errors[0].message)
    r = v(VALID.replace("c6i.xlarge, c6i.2xlarge", "c6l.xlarge, c6i.5xlarge"))
    assert r.ok, "well-formed but unknown types are warnings: AWS adds types faster than pctl's list"
    msgs = [w.message for w in r.warnings if w.code == "unknown-instance-type"]
    assert any("did you mean 'c6i.xlarge'" in m for m in msgs), msgs
    assert any("c6i comes in large, xlarge, 2xlarge" in m for m in msgs), msgs
    assert not [w for w in v(VALID).warnings if w.code == "unknown-instance-type"]


@pytest.mark.parametrize("itype,ok", [
    ("t3.micro", True), ("hpc7a.96xlarge", True), ("trn1.32xlarge", True), ("inf2.xlarge", True),
    ("m7i.metal-24xl", True), ("c7i-flex.large", True), ("u-6tb1.112xlarge", True), ("p5.48xlarge", True),
    ("c5", False), ("c5.huge", False), ("C5.large", False), ("c5.large ", False), ("c5.large;id", False),
])
def test_instance_type_rule(itype, ok):
    text = VALID.replace("head_node: t3.large", f"head_node: {json.dumps(itype)}")
    assert v(text).ok is ok


def test_instance_type_case_suggestion():
    d = one_error(VALID.replace("head_node: t3.large", "head_node: T3.Large"))
    assert "did you mean 't3.large'?" in d.message


@pytest.mark.parametrize("os_name", ["alinux2023", "ubuntu2204", "ubuntu2404", "rhel8", "rhel9", "rocky8", "rocky9"])
def test_every_supported_os(os_name):
    ami = "\n  custom_ami: ami-0123456789abcdef0" if os_name.startswith("rocky") else ""
    assert v(VALID.replace("region: us-east-1", f"region: us-east-1\n  os: {os_name}{ami}")).ok


@pytest.mark.parametrize("os_name", ["rocky8", "rocky9"])
def test_rocky_without_a_custom_ami_is_an_error_with_a_way_forward(os_name):
    d = one_error(VALID.replace("region: us-east-1", f"region: us-east-1\n  os: {os_name}"))
    assert d.path == ("cluster", "os") and f"no official {os_name} AMI" in d.message
    assert "pcluster build-image" in d.hint and "--custom-ami" in d.hint and "rhel" in d.hint


def test_os_typo_suggests():
    d = one_error(VALID.replace("region: us-east-1", "region: us-east-1\n  os: ubuntu2024"))
    assert "choose one of" in d.message and "did you mean 'ubuntu2204'" in d.message or "ubuntu2404" in d.message


@pytest.mark.parametrize("qname,msg", [
    ("default", "'default' cannot be used as a queue name"),
    ("GPU", "must start with a lowercase letter"),
    ("a" * 26, "at most 25"),
    ("gpu_queue", "must start with a lowercase letter"),
])
def test_queue_name_rule(qname, msg):
    d = one_error(VALID.replace("- name: compute", f"- name: {qname}"))
    assert msg in d.message


def test_duplicate_queue_names():
    text = VALID + "    - name: compute\n      instance_types: [c6i.large]\n"
    d = one_error(text)
    assert d.path_str == "compute.queues[1].name"
    assert d.message == "queue name 'compute' is used twice (first at compute.queues[0])"


def test_min_greater_than_max():
    d = one_error(VALID.replace("min_count: 0", "min_count: 5"))
    assert d.message == "min_count (5) is greater than max_count (4)"


@pytest.mark.parametrize("field,value,msg", [
    ("min_count", "-1", "must be at least 0"),
    ("max_count", "0", "must be at least 1"),
    ("max_count", "1001", "must be at most 1000"),
    ("max_count", "'4'", "must be a whole number, got '4'"),
    ("max_count", "4.5", "must be a whole number"),
    ("max_count", "true", "must be a whole number"),
])
def test_counts(field, value, msg):
    text = VALID.replace(f"{field}: {'0' if field == 'min_count' else '4'}", f"{field}: {value}")
    assert any(msg in m for _, m in errors(text))


def test_capacity_is_forgiving_about_case():
    t = v(VALID + "      capacity: Spot\n").template
    assert t.compute.queues[0].capacity == "spot"
    t = v(VALID + "      capacity: on-demand\n").template
    assert t.compute.queues[0].capacity == "ondemand"
    d = one_error(VALID + "      capacity: reserved\n")
    assert "choose one of 'ondemand' or 'spot'" in d.message


def test_mixed_architectures_rejected():
    d = one_error(VALID.replace("[c6i.xlarge, c6i.2xlarge]", "[c7g.xlarge]"))
    assert "arm64" in d.message and "x86_64" in d.message and d.path_str == "compute.queues[0].instance_types[0]"


def test_graviton_cluster_is_arm64():
    t = v(VALID.replace("t3.large", "t4g.large").replace("[c6i.xlarge, c6i.2xlarge]", "[c7g.xlarge, hpc7g.16xlarge]")).template
    assert t.arch == "arm64"


def test_cost_warning_for_large_min_count():
    r = v(VALID.replace("[c6i.xlarge, c6i.2xlarge]", "[p4d.24xlarge]").replace("min_count: 0", "min_count: 2"))
    assert r.ok
    assert any(w.code == "cost" and "billed" in w.message for w in r.warnings)


def test_efa_on_small_instance_warns():
    r = v(VALID + "      efa: true\n")
    assert r.ok and any(w.code == "efa" for w in r.warnings)


USERS = VALID + """\
users:
  - name: alice
    uid: 5001
    gid: 5000
    groups: [lab]
  - name: bob
    uid: 5002
    gid: 5000
groups:
  - name: lab
    gid: 5000
"""


def test_users_with_shared_gid_are_valid():
    r = v(USERS)
    assert r.ok, [d.format() for d in r.diagnostics]
    assert [u.primary_gid for u in r.template.users] == [5000, 5000]


def test_duplicate_uid_rejected():
    d = one_error(USERS.replace("uid: 5002", "uid: 5001"))
    assert d.message == "uid 5001 is already used by user 'alice'"
    assert d.path_str == "users[1].uid"


@pytest.mark.parametrize("uid", [0, 999, 60001, 65534])
def test_uid_range(uid):
    d = one_error(USERS.replace("uid: 5002", f"uid: {uid}"))
    assert "outside 1000–60000" in d.message


def test_uid_1000_warns_system_range():
    r = v(USERS.replace("uid: 5002", "uid: 1000"))
    assert r.ok and any(w.code == "system-range" for w in r.warnings)


@pytest.mark.parametrize("name", ["root", "ec2-user", "slurm", "Alice", "1bob", "a" * 33, "bob;id", "users", "docker"])
def test_bad_user_names(name):
    assert not v(USERS.replace("name: bob", f"name: {json.dumps(name)}")).ok


def test_undefined_supplementary_group():
    d = one_error(USERS.replace("groups: [lab]", "groups: [lab, physics]"))
    assert d.message.startswith("group 'physics' is not defined")


def test_ssh_keys_checked():
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop"
    ok = USERS.replace("    groups: [lab]\n", f"    groups: [lab]\n    ssh_public_keys:\n      - {key}\n")
    assert v(ok).ok
    bad = ok.replace("AAAAC3Nza", "AAAAB3Nza")
    assert "does not match its type" in one_error(bad).message
    assert "not an OpenSSH public key" in one_error(ok.replace(key, "hello")).message


MOUNTS = VALID + """\
data:
  s3_mounts:
    - bucket: my-lab-data
      mount_point: /data/lab
"""


@pytest.mark.parametrize("mp", ["/", "/etc", "/usr", "/home", "/etc/x", "/usr/local/data", "/proc/x", "/opt/slurm/x",
                                "relative/path", "/data/../etc", "/data with space", "/data;rm"])
def test_forbidden_mount_points(mp):
    assert not v(MOUNTS.replace("/data/lab", json.dumps(mp))).ok


@pytest.mark.parametrize("bucket,ok", [("1000genomes", True), ("openneuro.org", True), ("My-Bucket", False),
                                       ("ab", False), ("a..b", False), ("10.1.2.3", False), ("s3://my-lab-data", False),
                                       ("xn--foo", False), ("foo-s3alias", False)])
def test_bucket_rules(bucket, ok):
    assert v(MOUNTS.replace("my-lab-data", json.dumps(bucket))).ok is ok


def test_read_only_default_and_prefix_rules():
    t = v(MOUNTS).template
    assert t.data.s3_mounts[0].read_only is True
    d = one_error(MOUNTS + "      prefix: runs/2024\n")
    assert "must end with '/'" in d.message


def test_duplicate_and_nested_mounts():
    text = MOUNTS + "    - bucket: other-bucket\n      mount_point: /data/lab\n"
    assert "already used" in one_error(text).message
    text = MOUNTS + "    - bucket: other-bucket\n      mount_point: /data/lab/sub\n"
    assert "inside the S3 mount" in one_error(text).message


GROUP_MOUNTS = USERS + """\
  - name: instrument
    gid: 5100
data:
  s3_mounts:
    - bucket: lab-results
      mount_point: /data/results
      read_only: false
      group: lab
"""


@pytest.mark.parametrize("group", ["lab", "instrument", "alice", "bob", "users"])
def test_mount_group_may_name_a_group_a_user_or_users(group):
    text = GROUP_MOUNTS.replace("group: lab", f"group: {group}").replace("groups: [lab]", "groups: [lab, instrument]")
    r = v(text)
    assert r.ok and not r.warnings, [d.format() for d in r.diagnostics]
    assert r.template.data.s3_mounts[0].group == group


def test_mount_group_is_optional_and_allowed_on_read_only_mounts():
    assert v(GROUP_MOUNTS.replace("      group: lab\n", "")).template.data.s3_mounts[0].group is None
    r = v(GROUP_MOUNTS.replace("read_only: false", "read_only: true"))
    assert r.ok and r.template.data.s3_mounts[0].read_only is True


@pytest.mark.parametrize("typo, guess", [("labb", "lab"), ("instrumnt", "instrument"), ("alic", "alice"),
                                         ("user", "users")])
def test_unknown_mount_group_is_an_error_with_a_suggestion(typo, guess):
    d = one_error(GROUP_MOUNTS.replace("group: lab", f"group: {typo}"))
    assert d.path_str == "data.s3_mounts[0].group" and d.code == "undefined-group"
    assert d.message == f"group {typo!r} is not defined; did you mean {guess!r}?"
    assert "groups:" in d.hint and "users" in d.hint


def test_unknown_mount_group_without_a_close_match():
    d = one_error(GROUP_MOUNTS.replace("group: lab", "group: zzzzzz"))
    assert d.message == "group 'zzzzzz' is not defined"


@pytest.mark.parametrize("name", ["wheel", "adm", "docker", "root"])
def test_system_groups_cannot_own_a_mount(name):
    """Their gids differ between the node images (wheel is 10 on RHEL, absent on Ubuntu): no same gid everywhere."""
    d = one_error(GROUP_MOUNTS.replace("group: lab", f"group: {name}"))
    assert "system group" in d.message and "same gid on every node" in d.message


@pytest.mark.parametrize("value", ["Lab", "1lab", "lab;id", "a" * 33, 5000])
def test_mount_group_grammar(value):
    assert not v(GROUP_MOUNTS.replace("group: lab", f"group: {json.dumps(value)}")).ok


def test_a_mount_group_without_template_members_warns():
    r = v(GROUP_MOUNTS.replace("group: lab", "group: instrument"))
    assert r.ok
    (w,) = r.warnings
    assert w.code == "empty-group" and w.path_str == "data.s3_mounts[0].group"
    assert w.message == ("no template user is a member of group 'instrument': only root and the default OS user "
                         "can write /data/results")


STORAGE = VALID + """\
data:
  shared_storage:
    - type: fsx_lustre
      mount_point: /fsx
      size_gb: 1200
"""


@pytest.mark.parametrize("size,ok", [(1200, True), (2400, True), (4800, True), (3600, False), (100, False)])
def test_fsx_sizes(size, ok):
    assert v(STORAGE.replace("1200", str(size))).ok is ok


def test_storage_id_and_size_conflict():
    d = one_error(STORAGE + "      id: fs-0123456789abcdef0\n")
    assert "either id" in d.message


def test_efs_has_no_size():
    d = one_error(STORAGE.replace("fsx_lustre", "efs"))
    assert "EFS grows automatically" in d.message


def test_duplicate_keys_are_errors():
    d = one_error(VALID + "cluster:\n  name: again\n")
    assert d.code == "duplicate-key" and "duplicate key 'cluster'" in d.message


@pytest.mark.parametrize("text,code", [
    ("", "empty"), ("# only a comment\n", "empty"), ("- a\n- b\n", "type"), ("just text", "type"),
    ("a: [1, 2\n", "yaml"), ("a: !!python/object:os.system x\n", "yaml-tag"),
])
def test_broken_documents(text, code):
    r = v(text)
    assert not r.ok and r.errors[0].code == code


def test_tags_rules():
    assert v(VALID.replace("region: us-east-1", "region: us-east-1\n  tags:\n    project: genomics\n    cost-center: '42'")).ok
    d = one_error(VALID.replace("region: us-east-1", "region: us-east-1\n  tags:\n    'aws:x': y"))
    assert "reserved prefix" in d.message
    d = one_error(VALID.replace("region: us-east-1", "region: us-east-1\n  tags:\n    owner: '$(id)'"))
    assert "may contain only" in d.message


def test_tag_count_leaves_room_for_pctls_own_tags():
    """ParallelCluster refuses more than 40 tag keys; pctl adds 11 of its own, so 29 are the user's."""
    def with_tags(n):
        return VALID.replace("region: us-east-1", "region: us-east-1\n  tags:\n" + "".join(
            f"    team-{i:02d}: x\n" for i in range(n)))

    assert v(with_tags(29)).ok
    d = one_error(with_tags(30))
    assert d.code == "limit" and "30 tags; at most 29" in d.message


def test_ssh_cidr_rules():
    assert v(VALID + "networking:\n  ssh_allowed_cidr: 203.0.113.0/24\n").ok
    d = one_error(VALID + "networking:\n  ssh_allowed_cidr: 203.0.113.5/24\n")
    assert "did you mean 203.0.113.0/24" in d.message
    r = v(VALID + "networking:\n  ssh_allowed_cidr: 0.0.0.0/0\n")
    assert r.ok and any(w.code == "security" for w in r.warnings)


def test_head_node_too_small_for_the_fleet():
    # max_count is per instance type: 150 of each of the queue's two types is 300 nodes
    text = VALID.replace("max_count: 4", "max_count: 150").replace("head_node: t3.large", "head_node: t3.medium")
    d = one_error(text)
    assert d.code == "head-node-memory" and "at least 12.6 GiB" in d.message and d.path_str == "compute.head_node"
    assert "to manage 300 compute nodes" in d.message
    assert v(text.replace("head_node: t3.medium", "head_node: m6i.xlarge")).ok


@pytest.mark.parametrize("typo,guess", [("t3.larg", "t3.large"), ("c6i.8xlarg", "c6i.8xlarge"), ("m5.xlage", "m5.xlarge")])
def test_instance_size_typo_suggests(typo, guess):
    d = one_error(VALID.replace("head_node: t3.large", f"head_node: {typo}"))
    assert f"did you mean '{guess}'?" in d.message


def test_build_from_source_advice_follows_how_the_software_is_delivered():
    """Validated against a named custom AMI, then create learns what it holds: the advice changes with it."""
    from pctl.template.diagnostics import Diagnostic
    from pctl.template.validate import (AMI_SOURCE_HINT, BOOT_SOURCE_HINT, UNKNOWN_AMI_SOURCE_HINT,
                                        warnings_for)

    src = Diagnostic(severity="warning", path=("software",), message="3 packages will build from source",
                     code="build-from-source", hint=AMI_SOURCE_HINT)
    other = Diagnostic(severity="warning", path=("cluster",), message="something else", code="x", hint="h")
    assert warnings_for([src, other], "ami") == [other]  # all in the AMI: nothing builds
    assert [w.hint for w in warnings_for([src, other], "boot")] == [BOOT_SOURCE_HINT, "h"]  # the AMI lacks them
    assert [w.hint for w in warnings_for([src, other], "layer")] == [BOOT_SOURCE_HINT, "h"]
    assert warnings_for([src], "boot", ami_unknown=True)[0].hint == UNKNOWN_AMI_SOURCE_HINT
