"""The nodes' IAM, read from the rendered policy documents: exactly what each S3 mount needs, nothing at bucket
level but a prefix-conditioned ListBucket, read-only and read-write mounts of one bucket kept apart."""

from __future__ import annotations

import json

import pytest

from pctl.cluster.plan import CreateOptions, dry_run
from pctl.render.iam import actions_by_resource

TEMPLATE = """
cluster: {name: lab, region: us-east-1}
compute:
  head_node: t3.large
  queues:
    - {name: cpu, instance_types: [c6i.large], max_count: 2}
data:
  s3_mounts:
    - {bucket: lab-data, prefix: runs/, mount_point: /data/runs, read_only: false}
    - {bucket: lab-data, prefix: reference/, mount_point: /data/reference}
    - {bucket: public-genomes, mount_point: /data/genomes}
"""


@pytest.fixture
def plan(tmp_path):
    t = tmp_path / "lab.yaml"
    t.write_text(TEMPLATE)
    return dry_run(CreateOptions(template=str(t), ssh_cidr="203.0.113.0/24"), use_catalog=False)


def _docs(dry) -> dict[str, dict]:
    res = dry["cluster_stack"]["Resources"]
    return {r["Properties"]["ManagedPolicyName"].rsplit("-", 1)[1]: r["Properties"]["PolicyDocument"]
            for r in res.values() if r["Type"] == "AWS::IAM::ManagedPolicy"}


def _allowed(doc, bucket):
    return {(a, r, c) for a, r, c in actions_by_resource(doc) if f":::{bucket}" in r}


def test_read_write_mount_with_prefix_allows_nothing_outside_its_prefix(plan):
    docs = _docs(plan)
    assert set(docs) == {"head", "compute"}
    for doc in docs.values():
        lab = _allowed(doc, "lab-data")
        bucket_level = {(a, c) for a, r, c in lab if r == "arn:aws:s3:::lab-data"}
        # the only bucket-level action: ListBucket, conditioned on each mount's own prefix
        assert {a for a, _ in bucket_level} == {"s3:ListBucket"}
        conds = sorted(json.loads(c)["StringLike"]["s3:prefix"] for _, c in bucket_level)
        assert conds == [["reference/", "reference/*"], ["runs/", "runs/*"]]
        objects = {(a, r) for a, r, _c in lab if r != "arn:aws:s3:::lab-data"}
        assert objects == {
            ("s3:GetObject", "arn:aws:s3:::lab-data/runs/*"),
            ("s3:PutObject", "arn:aws:s3:::lab-data/runs/*"),
            ("s3:DeleteObject", "arn:aws:s3:::lab-data/runs/*"),
            ("s3:AbortMultipartUpload", "arn:aws:s3:::lab-data/runs/*"),
            ("s3:GetObject", "arn:aws:s3:::lab-data/reference/*"),  # read-only: get only, never promoted to write
        }
        for a, r, _c in actions_by_resource(doc):
            assert "*" not in a, f"wildcard action {a}"
            assert r != "*" and not r.endswith(":::lab-data/*"), r


def test_whole_bucket_read_only_mount(plan):
    for doc in _docs(plan).values():
        assert {(a, r) for a, r, _c in _allowed(doc, "public-genomes")} == {
            ("s3:ListBucket", "arn:aws:s3:::public-genomes"), ("s3:GetObject", "arn:aws:s3:::public-genomes/*")}


def test_pctl_bucket_access_is_this_run_only_and_the_head_writes_one_key(plan):
    docs = _docs(plan)
    head = {(a, r) for a, r, _c in _allowed(docs["head"], "pctl-ACCOUNT-us-east-1")}
    compute = {(a, r) for a, r, _c in _allowed(docs["compute"], "pctl-ACCOUNT-us-east-1")}
    run = "arn:aws:s3:::pctl-ACCOUNT-us-east-1/clusters/lab/runs/dry-run/*"
    assert compute == {("s3:GetObject", run)}
    # no software: no progress key (it is only written while software installs at boot); the cost agent's
    # heartbeat (write) and pctl's control document (read) are the head node's only other keys
    status = "arn:aws:s3:::pctl-ACCOUNT-us-east-1/clusters/lab/status/"
    assert head == {("s3:GetObject", run), ("s3:PutObject", status + "heartbeat.json"),
                    ("s3:GetObject", status + "control.json")}


def test_config_uses_these_policies_and_no_s3access(plan):
    cfg = plan["config"]
    assert "S3Access" not in json.dumps(cfg)
    arns = {p["Policy"] for p in cfg["HeadNode"]["Iam"]["AdditionalIamPolicies"]}
    assert arns == {"arn:aws:iam::ACCOUNT:policy/pctl/pctl-us-east-1-lab-head"}
    for q in cfg["Scheduling"]["SlurmQueues"]:
        assert {p["Policy"] for p in q["Iam"]["AdditionalIamPolicies"]} == {
            "arn:aws:iam::ACCOUNT:policy/pctl/pctl-us-east-1-lab-compute"}


def test_many_mounts_split_into_policies_under_the_size_limit(tmp_path):
    mounts = "\n".join(f"    - {{bucket: bucket-{i:02d}, prefix: p{i}/deep/path/, mount_point: /data/m{i}, "
                       f"read_only: false}}" for i in range(40))
    t = tmp_path / "many.yaml"
    t.write_text(TEMPLATE.split("data:")[0] + "data:\n  s3_mounts:\n" + mounts + "\n")
    dry = dry_run(CreateOptions(template=str(t), ssh_cidr="203.0.113.0/24"), use_catalog=False)
    res = [r for r in dry["cluster_stack"]["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy"]
    assert len(res) > 2
    for r in res:
        assert len(json.dumps(r["Properties"]["PolicyDocument"], separators=(",", ":"))) <= 6144
    head_arns = dry["config"]["HeadNode"]["Iam"]["AdditionalIamPolicies"]
    assert len(head_arns) == len([r for r in res if "-lab-head-" in r["Properties"]["ManagedPolicyName"]]) == 4


def test_ssh_command_line_wins_and_the_world_is_opt_in(tmp_path):
    from pctl.cluster.plan import prepare, ssh_choice
    from pctl.errors import UsageError

    t = tmp_path / "open.yaml"
    t.write_text(TEMPLATE + "networking: {ssh_allowed_cidr: 0.0.0.0/0}\n")
    tpl = prepare(CreateOptions(template=str(t)), use_catalog=False).template
    assert ssh_choice(CreateOptions(template="x", ssh_cidr="198.51.100.7/32"), tpl) == ("198.51.100.7/32", "--ssh-cidr")
    with pytest.raises(UsageError, match="needs --ssh-from-anywhere"):
        ssh_choice(CreateOptions(template="x"), tpl)
    assert ssh_choice(CreateOptions(template="x", ssh_from_anywhere=True), tpl)[0] == "0.0.0.0/0"
    t.write_text(TEMPLATE + "networking: {ssh_allowed_cidr: 0.0.0.0/0, ssh_from_anywhere: true}\n")
    tpl = prepare(CreateOptions(template=str(t)), use_catalog=False).template
    assert ssh_choice(CreateOptions(template="x"), tpl) == ("0.0.0.0/0", "networking.ssh_allowed_cidr")
    with pytest.raises(UsageError, match="--ssh-from-anywhere"):
        ssh_choice(CreateOptions(template="x", ssh_cidr="0.0.0.0/0"), prepare(
            CreateOptions(template="minimal"), use_catalog=False).template)
