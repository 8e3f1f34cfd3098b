"""AWS-facing commands through the real CLI (subprocesses) against the moto server."""

from __future__ import annotations

import json
import os
import stat

from support.cli import run_pctl


def test_network_commands(aws_env):
    r = run_pctl("network", "create", "--public-only", "--json", env=aws_env)
    assert r.returncode == 0, r.stderr
    created = json.loads(r.stdout)
    assert created["vpc_id"].startswith("vpc-") and created["public_only"] and created["api_calls"] > 0
    assert created["stack"] == "pctl-network-us-east-1" and created["created"]
    r = run_pctl("network", "list", "--json", env=aws_env)
    nets = json.loads(r.stdout)["networks"]
    assert [n["vpc_id"] for n in nets] == [created["vpc_id"]] and nets[0]["in_use_by"] == []
    r = run_pctl("network", "list", env=aws_env)
    assert "pctl-network-us-east-1" in r.stdout and created["vpc_id"] in r.stdout
    # without a terminal and without --yes nothing is deleted
    r = run_pctl("network", "delete", env=aws_env, input="")
    assert r.returncode == 1 and "--yes" in r.stderr
    r = run_pctl("network", "delete", "--yes", "--json", env=aws_env)
    assert r.returncode == 0, r.stderr
    assert json.loads(run_pctl("network", "list", "--json", env=aws_env).stdout)["networks"] == []
    r = run_pctl("network", "delete", "--yes", env=aws_env)
    assert r.returncode == 1 and "no pctl network" in r.stderr


def test_doctor_reports_each_check(aws_env):
    r = run_pctl("doctor", "--key-name", "nokey", "--json", env=aws_env)
    data = json.loads(r.stdout)
    checks = {c["name"]: c for c in data["checks"]}
    assert checks["Credentials"]["status"] == "ok" and "123456789012" in checks["Credentials"]["detail"]
    assert checks["Region"]["detail"] == "us-east-1"
    assert checks["VPC quota"]["status"] in ("ok", "fail")
    assert checks["Key pair"]["status"] == "fail" and "create-key-pair" in checks["Key pair"]["fix"]
    assert r.returncode == 1  # a failed check fails the command (CI can gate on it)


def test_doctor_without_credentials_says_what_to_do(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
               AWS_EC2_METADATA_DISABLED="true", AWS_DEFAULT_REGION="us-east-1")
    r = run_pctl("doctor", "--json", env=env, replace_env=True)
    checks = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    assert checks["Credentials"]["status"] == "fail" and "aws configure" in checks["Credentials"]["fix"]


def test_list_uses_parallelcluster_against_the_emulator(aws_env):
    r = run_pctl("list", "--json", env=aws_env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"region": "us-east-1", "regions": ["us-east-1"], "clusters": []}


def test_status_and_delete_of_unknown_cluster(aws_env):
    r = run_pctl("status", "nope", env=aws_env)
    assert r.returncode == 1 and "no cluster named 'nope'" in r.stderr and "Traceback" not in r.stderr
    r = run_pctl("delete", "nope", "--yes", env=aws_env)
    assert r.returncode == 1 and "no cluster named 'nope'" in r.stderr


def test_expired_credentials_message(aws_env, tmp_path):
    env = dict(aws_env)
    env.pop("AWS_ENDPOINT_URL")
    env["AWS_ENDPOINT_URL"] = "https://127.0.0.1:9"  # nothing listens: a connection error, not a traceback
    r = run_pctl("network", "list", env=env)
    assert r.returncode == 1 and "cannot reach AWS" in r.stderr and "Traceback" not in r.stderr


def test_ssh_runs_the_system_client(aws_env, tmp_path, monkeypatch):
    """pctl ssh execs OpenSSH with host-key checking on; a recording ssh stands in for the real one."""
    from pctl.aws import Aws

    # a cluster as ParallelCluster would report it cannot exist in moto, so check the error path and
    # the argument building through the library function's exec (recorded by a fake ssh on PATH)
    fake = tmp_path / "bin" / "ssh"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$SSH_ARGS_OUT\"\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = dict(aws_env, PATH=f"{fake.parent}:{os.environ['PATH']}", SSH_ARGS_OUT=str(tmp_path / "args"))
    r = run_pctl("ssh", "nope", env=env)
    assert r.returncode == 1 and "no cluster named" in r.stderr
    assert Aws(region="us-east-1").region == "us-east-1"
