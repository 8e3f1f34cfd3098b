"""`pctl status`, `pctl list` and `pctl delete` print what a cluster reports (tags, the head node's
software.json, ParallelCluster's failure reasons): a hostile head node or template cannot send escape
sequences to the user's terminal. AWS is the moto server; ParallelCluster is a stand-in backend."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pctl.cluster import pcluster_api

EVIL = "\x1b]0;pwned\x07\x1b[2J\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\\x9b31m\x1b]52;c;cm0gLXJm\x07"
UNSAFE = ("\x1b", "\x07", "\x9b", "\x9d")


class HostileBackend:
    def __init__(self, bucket: str):
        self.info = {
            "clusterName": "evil", "clusterStatus": "CREATE_FAILED" + EVIL, "region": "us-east-1",
            "cloudFormationStackStatus": "ROLLBACK" + EVIL, "computeFleetStatus": EVIL,
            "tags": [{"key": "pctl:template", "value": "tpl" + EVIL}, {"key": "pctl:version", "value": "1"},
                     {"key": "pctl:bucket", "value": bucket}, {"key": "pctl:software", "value": "boot"}],
            "headNode": {"publicIpAddress": "198.51.100.10" + EVIL, "instanceType": "t3.large", "state": EVIL},
            "creationTime": "2026-11-30T00:00:00Z", "version": "3.16.1",
            "scheduler": {"queues": [{"name": "cpu" + EVIL}]},
            "failureReason": "boom" + EVIL + "\nsecond line\rover",
        }

    def list_clusters(self, region):
        return [{"clusterName": "evil" + EVIL, "clusterStatus": self.info["clusterStatus"]}]

    def describe_cluster(self, name, region):
        return dict(self.info)


@pytest.fixture
def hostile(aws, monkeypatch):
    bucket = "pctl-123456789012-us-east-1"
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="clusters/evil/status/software.json", Body=json.dumps({
        "step": "install" + EVIL, "status": "running" + EVIL, "packages_total": 3, "packages_done": 1,
        "updated": "now" + EVIL}).encode())
    s3.put_object(Bucket=bucket, Key="clusters/evil/cluster.json", Body=json.dumps({
        "users": [{"name": "alice" + EVIL}], "s3_mounts": [{"bucket": "b" + EVIL, "mount_point": "/data" + EVIL}],
        "shared_storage": [{"mount_point": "/x" + EVIL, "type": "Efs", "name": "n" + EVIL}],
        "queues": [{"name": "cpu" + EVIL, "max_count": 4, "capacity": "spot" + EVIL}]}).encode())
    monkeypatch.setattr(pcluster_api, "backend", HostileBackend(bucket))


def _run(cmd, *args):
    r = CliRunner().invoke(cmd, list(args), catch_exceptions=False)
    return r


def test_status_text_and_json_carry_no_escape_sequences(hostile):
    from pctl.cli.cluster import status

    r = _run(status, "evil")
    assert r.exit_code == 0, r.output
    assert not any(c in r.output for c in UNSAFE), repr(r.output)
    assert "CREATE_FAILED" in r.output and "boom" in r.output and "install" in r.output and "alice" in r.output
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
        assert "tpl" in r.output
