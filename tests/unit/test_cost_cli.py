"""The cost commands as a user meets them offline: help with examples, usage errors, the policy printer."""

from __future__ import annotations

import json

import pytest

from support.cli import run_pctl

LEAVES = [("cost", "report"), ("cost", "prices"), ("cost", "activate-tags"), ("cost", "budget"), ("keep",),
          ("start",), ("stop",), ("idle", "arm"), ("idle", "remove"), ("idle", "policy")]


@pytest.mark.parametrize("cmd", LEAVES, ids=" ".join)
def test_every_command_has_examples(cmd):
    r = run_pctl(*cmd, "--help")
    assert r.returncode == 0 and "Examples:" in r.stdout, r.stdout


def test_top_level_help_lists_the_cost_commands():
    r = run_pctl("--help")
    for cmd in ("cost", "keep", "start", "stop", "idle"):
        assert f"  {cmd} " in r.stdout


def test_cost_name_is_a_report(tmp_path):
    # "pctl cost NAME" is "pctl cost report NAME"; its arguments are checked before any AWS call
    r = run_pctl("cost", "lab", "--since", "not-a-date")
    assert r.returncode == 2 and "--since" in r.stderr
    r = run_pctl("cost", "lab", "--project", "genomics")
    assert r.returncode == 2 and "not both" in r.stderr
    r = run_pctl("cost", "--since", "2026-12-01", "--until", "2026-11-01")
    assert r.returncode == 2 and "is not before" in r.stderr


def test_idle_policy_for_a_template_without_timer(tmp_path):
    t = tmp_path / "t.yaml"
    t.write_text("cluster: {name: lab}\ncompute: {head_node: t3.large, queues: [{name: q, instance_types: [c6i.xlarge]}]}\n")
    r = run_pctl("idle", "policy", "-t", str(t))
    assert r.returncode == 1 and "--action" in r.stderr
    r = run_pctl("idle", "policy", "-t", str(t), "--action", "auto_delete", "--account", "111122223333",
                 "--region", "eu-west-1")
    doc = json.loads(r.stdout)
    assert all("us-east-1" not in json.dumps(s) for s in doc["Statement"])
    assert any("111122223333" in json.dumps(s) for s in doc["Statement"])


def test_validate_rejects_bad_cost_fields(tmp_path):
    t = tmp_path / "t.yaml"
    t.write_text("cluster: {name: lab, idle_timeout: 5m, idle_action: explode}\n"
                 "compute: {head_node: t3.large, queues: [{name: q, instance_types: [c6i.xlarge]}]}\n"
                 "budget: {monthly_usd: -5, notify: [not-an-address, 'arn:aws:sns:us-east-1:1:x'], scope: project}\n")
    r = run_pctl("validate", str(t), "--no-catalog", "--json")
    errors = {e["path"]: e["message"] for e in json.loads(r.stdout)["results"][0]["errors"]}
    assert r.returncode == 1
    assert "shorter than 10m" in errors["cluster.idle_timeout"]
    assert "cluster.idle_action" in errors and "budget.monthly_usd" in errors
    assert "e-mail address or an SNS topic ARN" in errors["budget.notify[0]"]
    assert "budget.notify[1]" in errors  # not a 12-digit account
