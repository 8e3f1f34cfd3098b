"""`pctl status`, `pctl list` and `pctl delete` print what a cluster reports (the head node's software.json, tags
of instances the cluster launched, ParallelCluster's answers): a hostile head node cannot send escape sequences to
the user's terminal. A real cluster through pcluster.lib on the lifecycle moto server (see test_lifecycle.py)."""

from __future__ import annotations

import json
import shutil

import boto3
import pytest
from click.testing import CliRunner

EVIL = "\x1b]0;pwned\x07\x1b[2J\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\\x9b31m\x1b]52;c;cm0gLXJm\x07"
UNSAFE = ("\x1b", "\x07", "\x9b", "\x9d")


@pytest.fixture
def hostile(aws_lifecycle_env, tmp_path, monkeypatch):
    """A real cluster (software at boot) whose head node turned hostile (its progress file carries escape
    sequences), and whose summary in the bucket was tampered with."""
    pytest.importorskip("pcluster")
    if shutil.which("node") is None:
        pytest.skip("ParallelCluster needs Node.js")
    from pctl.aws.pcluster import EMULATOR_SUPPRESSED
    from pctl.cluster.create import create_cluster
    from pctl.cluster.plan import CreateOptions

    monkeypatch.setenv("PCTL_SSH_DIR", str(tmp_path / "ssh"))
    ec2 = boto3.client("ec2", region_name="us-east-1")
    ec2.create_key_pair(KeyName="k", KeyType="ed25519")
    rec = create_cluster(CreateOptions(template="bioinformatics", name="evil", key_name="k", region="us-east-1",
                                       ssh_cidr="198.51.100.7/32", suppress_validators=EMULATOR_SUPPRESSED),
                         use_catalog=False, yes=True, poll=0.05)
    boto3.client("s3").put_object(Bucket=rec["bucket"], Key="clusters/evil/status/software.json", Body=json.dumps({
        "step": "install" + EVIL, "status": "running" + EVIL, "packages_total": 3, "packages_done": 1,
        "updated": "now" + EVIL}).encode())
    summary = "clusters/evil/cluster.json"  # what pctl wrote at create, tampered with in the bucket
    boto3.client("s3").put_object(Bucket=rec["bucket"], Key=summary, Body=json.dumps({
        "users": [{"name": "alice" + EVIL}], "s3_mounts": [{"bucket": "b" + EVIL, "mount_point": "/data" + EVIL,
                                                       "access": "writable by group users" + EVIL}],
        "shared_storage": [{"mount_point": "/x" + EVIL, "type": "Efs", "name": "n" + EVIL}],
        "queues": [{"name": "cpu" + EVIL, "max_count": 4, "capacity": "spot" + EVIL}]}).encode())
    return rec


def _run(cmd, *args):
    r = CliRunner().invoke(cmd, list(args), catch_exceptions=False)
    return r


def test_status_text_and_json_carry_no_escape_sequences(hostile):
    from pctl.cli.cluster import status

    r = _run(status, "evil")
    assert r.exit_code == 0, r.output
    assert not any(c in r.output for c in UNSAFE), repr(r.output)
    assert "CREATE_COMPLETE" in r.output and "install" in r.output and "cpu" in r.output and "alice" in r.output
    assert "writable by group users" in r.output
    assert "click" in r.output  # the text of a hyperlink stays, the link does not
    r = _run(status, "evil", "--json")
    assert not any(c in r.output for c in UNSAFE), repr(r.output)
    data = json.loads(r.output)
    assert data["software"]["step"] == "install" + EVIL  # the data is kept, escaped for the terminal


def test_list_carries_no_escape_sequences(hostile):
    from pctl.cli.cluster import list_

    for args in ((), ("--json",)):
        r = _run(list_, *args)
        assert r.exit_code == 0, r.output
        assert not any(c in r.output for c in UNSAFE), repr(r.output)
        assert "bioinformatics" in r.output
