"""AMI builds: the pure parts (ids, base-image names, estimates, IAM policy, user data, agent helpers,
reconciling a record with EC2, notifications). The end-to-end state machine is in
tests/integration/test_ami_build.py."""

from __future__ import annotations

import ast
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pctl.ami import agent, estimates, iam, ids, status, userdata
from pctl.ami.base import OS_AMI_PART, base_owners, name_pattern
from pctl.errors import PctlError, UsageError

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------------ ids

def test_build_ids_carry_their_region_and_sort_by_time():
    a = ids.new_build_id("us-west-2", NOW)
    b = ids.new_build_id("us-west-2", NOW + timedelta(seconds=1))
    c = ids.new_build_id("ap-southeast-2", NOW + timedelta(seconds=2))
    assert ids.is_build_id(a) and re.match(r"^b-20260101-120000-us-west-2-[0-9a-f]{4}$", a)
    assert sorted([b, a]) == [a, b]
    assert sorted([c, b, a], key=ids.sort_key) == [a, b, c]
    assert ids.region_of(a) == "us-west-2" and ids.region_of(c) == "ap-southeast-2"
    assert ids.region_of("us-gov-west-1") is None and ids.region_of("3fa9") is None
    assert ids.region_of(ids.new_build_id("us-gov-west-1")) == "us-gov-west-1"
    assert ids.region_of("b-20260101-120000-aaaa") is None and ids.is_build_id("b-20260101-120000-aaaa")  # old ids
    assert len("pctl-build-" + ids.new_build_id("ap-southeast-5")) <= 64, "the per-build IAM role name fits"
    with pytest.raises(UsageError):
        ids.new_build_id("us-east1")


def test_short_id_resolution():
    known = ["b-20260101-120000-aaaa", "b-20260101-130000-us-east-1-bbbb", "b-20260102-090000-eu-west-1-cccc"]
    assert ids.resolve_build_id("bbbb", known) == known[1]
    assert ids.resolve_build_id("b-20260102", known) == known[2]
    assert ids.resolve_build_id("20260101-13", known) == known[1]
    assert ids.resolve_build_id(known[0], known) == known[0]
    with pytest.raises(UsageError, match="matches 2 builds"):
        ids.resolve_build_id("b-20260101", known)
    assert ids.resolve_build_id("eu-west-1", known) == known[2]
    with pytest.raises(UsageError, match="no AMI build matches"):
        ids.resolve_build_id("dddd", known)
    with pytest.raises(UsageError):
        ids.resolve_build_id("", known)


# ------------------------------------------------------------------------------------------ base image

@pytest.mark.parametrize("os_name,part", [("alinux2023", "amzn2023"), ("ubuntu2204", "ubuntu-2204-lts"),
                                          ("ubuntu2404", "ubuntu-2404-lts"), ("rhel8", "rhel8"), ("rhel9", "rhel9"),
                                          ("rocky8", "rocky8"), ("rocky9", "rocky9")])
def test_official_image_names(os_name, part):
    assert name_pattern(os_name, "x86_64", "3.16.1") == f"aws-parallelcluster-3.16.1-{part}-hvm-x86_64-*"
    assert name_pattern(os_name, "arm64", "3.16.1").endswith("-hvm-arm64-*")
    assert OS_AMI_PART[os_name] == part


def test_unknown_os_and_owner_override(monkeypatch):
    with pytest.raises(PctlError, match="cannot build AMIs"):
        name_pattern("windows", "x86_64", "3.16.1")
    monkeypatch.delenv("PCTL_AMI_BASE_OWNERS", raising=False)
    assert base_owners() == ["amazon"]
    monkeypatch.setenv("PCTL_AMI_BASE_OWNERS", "self, 123456789012")
    assert base_owners() == ["self", "123456789012"]


# ------------------------------------------------------------------------------------------ estimates

def _rec(est, act, status_="available"):
    return {"build_id": f"b-{est}-{act}", "status": status_, "estimate": {"software_raw_minutes": est},
            "software_minutes": act}


def test_calibration_is_the_median_ratio_of_successful_builds():
    assert estimates.calibration([]) == (None, 0)
    recs = [_rec(10, 20), _rec(10, 15), _rec(20, 20), _rec(10, 90, "failed"), {"status": "available"}]
    ratio, n = estimates.calibration(recs)
    assert n == 3 and ratio == pytest.approx(1.5)
    p = estimates.plan(30.0, recs)
    assert p["software_raw_minutes"] == 30 and p["software_minutes"] == 45 and p["samples"] == 3
    assert p["total_minutes"] == pytest.approx(45 + sum(estimates.FIXED_MINUTES.values()))
    assert "x 1.50 (observed over 3 past builds)" in estimates.describe(p)
    # absurd history is bounded
    assert estimates.calibration([_rec(1, 1000)])[0] == estimates.RATIO_BOUNDS[1]


def test_lifetime_limit_and_volume():
    assert estimates.lifetime_minutes(10) == 60  # at least an hour
    assert estimates.lifetime_minutes(100) == 200  # twice the estimate
    assert estimates.lifetime_minutes(1000) == 480  # capped at 8 h by default
    assert estimates.lifetime_minutes(1000, max_hours=2) == 120

    class P:
        def __init__(self, name, how):
            self.name, self.how = name, how

    class E:
        packages = [P("samtools", "prebuilt"), P("gromacs", "source"), P("cuda", "binary"), P("slurm", "external")]

    assert estimates.volume_gb(40, E()) == 40 + 25  # 10 (Spack) + 0.5 + 2 + 12, rounded up
    assert estimates.volume_gb(40, None) == 60


def test_remaining_time_follows_the_steps_and_the_package_pace():
    started = NOW - timedelta(minutes=10)
    rec = {"status": "running", "step": "software", "estimate": {"software_minutes": 30.0},
           "launched_at": iso(NOW - timedelta(minutes=15)),
           "steps": {"software": {"started_at": iso(started)}}}
    later = sum(estimates.FIXED_MINUTES[s] for s in ("check", "hygiene", "image"))
    # no package done yet: the estimate minus the time spent
    assert estimates.remaining_minutes(rec, {"step": "software"}, NOW) == pytest.approx(20 + later)
    # half the packages in 10 minutes: the pace (10 more) and the estimate (20 more) blend half and half
    r = estimates.remaining_minutes(rec, {"step": "software", "packages_total": 10, "packages_done": 5}, NOW)
    assert r == pytest.approx(0.5 * 10 + 0.5 * 20 + later)
    # nearly all done: mostly the pace
    r = estimates.remaining_minutes(rec, {"step": "software", "packages_total": 10, "packages_done": 9}, NOW)
    assert r < 5 + later
    # before the agent reports: launch + everything
    launching = {"status": "launching", "estimate": {"software_minutes": 30.0}, "created_at": iso(NOW)}
    assert estimates.remaining_minutes(launching, {}, NOW) == pytest.approx(30 + sum(estimates.FIXED_MINUTES.values()))
    assert estimates.remaining_minutes({"status": "available"}, {}, NOW) == 0
    assert estimates.remaining_minutes({"status": "running"}, {}, NOW) is None
    assert estimates.percent_done(30, 10) == 75
    assert estimates.fmt_minutes(90) == "1 h 30 min" and estimates.fmt_minutes(0.5) == "30 s"


# ------------------------------------------------------------------------------------------ IAM

def test_builder_policy_names_only_its_own_build():
    doc = iam.builder_policy("b-20260101-120000-abcd", "pctl-123456789012-eu-west-1", "eu-west-1", "123456789012")
    text = str(doc)
    assert "builds/b-20260101-120000-abcd/" in text
    for s in doc["Statement"]:
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        assert s["Effect"] == "Allow"
        if resources == ["*"]:
            assert all(a.startswith("ec2:Describe") for a in actions)
        elif any(a.startswith("s3:") for a in actions):
            assert all(r.startswith("arn:aws:s3:::pctl-123456789012-eu-west-1/builds/b-20260101-120000-abcd/")
                       for r in resources)
        elif any(a.startswith("iam:") for a in actions):  # giving up its own access when the build ends
            assert all(r.endswith("/pctl/pctl-build-b-20260101-120000-abcd") for r in resources), s
            assert not any(a.startswith(("iam:Put", "iam:Create", "iam:Attach", "iam:Pass", "iam:Update"))
                           for a in actions)
        else:
            assert "b-20260101-120000-abcd" in str(s["Condition"]), s
    deletes = next(s for s in doc["Statement"] if s["Action"] == "s3:DeleteObject")["Resource"]
    assert sorted(r.rsplit("/", 1)[1] for r in deletes) == ["agent.py", "check.sh", "config.json", "software-install.sh"]
    writes = next(s for s in doc["Statement"] if s["Action"] == "s3:PutObject")["Resource"]
    assert sorted(r.rsplit("/", 1)[1] for r in writes) == sorted(iam.WRITABLE)
    tag = next(s for s in doc["Statement"] if s["Action"] == "ec2:CreateTags")
    assert tag["Condition"]["StringEquals"]["ec2:CreateAction"] == "CreateImage"
    assert iam.partition("cn-north-1") == "aws-cn" and iam.partition("us-gov-west-1") == "aws-us-gov"
    assert iam.build_id_of(iam.role_name("b-1")) == "b-1" and iam.build_id_of("other") is None


# ------------------------------------------------------------------------------------------ user data

def _ud(**kw):
    args = dict(build_id="b-20260101-120000-abcd", bucket="pctl-123456789012-us-east-1",
                prefix="builds/b-20260101-120000-abcd/", region="us-east-1", lifetime_minutes=240)
    args.update(kw)
    return userdata.render_user_data(**args)


def test_user_data_is_small_and_sets_the_lifetime_limit_first():
    text = _ud()
    assert len(text.encode()) < 4096 < userdata.USER_DATA_LIMIT
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#") and "=" not in ln.split()[0]]
    assert 'shutdown -h "+$PCTL_LIFETIME_MINUTES"' in text and "PCTL_LIFETIME_MINUTES=240" in text
    assert text.index("shutdown -h") < text.index("agent.py")
    assert "cookbook_virtualenv/bin/python" in text and "/run/pctl-build" in text
    assert lines[0].startswith("set -uo pipefail")
    with pytest.raises(ValueError):
        _ud(bucket="evil'; rm -rf /")
    with pytest.raises(ValueError):
        _ud(lifetime_minutes=0)
    with pytest.raises(ValueError):
        _ud(lifetime_minutes=True)


# ------------------------------------------------------------------------------------------ agent

AGENT = Path(agent.__file__)


def test_agent_runs_on_old_pythons_and_imports_boto3_lazily():
    tree = ast.parse(AGENT.read_text(), feature_version=(3, 7))
    top = {a.name.split(".")[0] for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
           for a in n.names} | {n.module.split(".")[0] for n in tree.body
                                if isinstance(n, ast.ImportFrom) and n.module}
    assert not top & {"boto3", "botocore", "pctl"}, "stdlib only at import time; nothing from pctl"
    assert "removeprefix" not in AGENT.read_text() and ":=" not in AGENT.read_text()


def test_webhook_urls():
    assert agent.webhook_allowed("https://hooks.slack.com/services/T/B/X")
    assert agent.webhook_allowed("http://127.0.0.1:8080/hook")
    assert agent.webhook_allowed("http://localhost/x")
    assert not agent.webhook_allowed("http://hooks.example.com/x")
    assert not agent.webhook_allowed("file:///etc/passwd")
    assert not agent.webhook_allowed("https://")


def test_spack_log_scan(tmp_path):
    log = tmp_path / "spack-install.log"
    scan = agent.SpackLogScan(str(log))
    scan.update()
    assert (scan.done, scan.current) == (0, None)
    log.write_text("==> Installing zlib-ng-2.2.1-abcdefg [1/3]\n[+] /opt/pctl/software/zlib-ng-2.2.1-abcdefg\n"
                   "==> Installing samtools-1.21-7xyz [2/3]\n==> Installing bw")
    scan.update()
    assert (scan.done, scan.current) == (1, "samtools@1.21")
    log.write_text("==> Installing bwa-0.7.18-aaaa [1/1]\n")  # rotated: a new install
    scan.update()
    assert (scan.done, scan.current) == (0, "bwa@0.7.18")
    assert agent._package_name("py-numpy-2.1.0-3abc") == "py-numpy@2.1.0"
    assert agent._rotated("messages.1") and agent._rotated("secure-20260101") and not agent._rotated("messages")


def test_agent_imds_client_uses_tokens(monkeypatch):
    import http.server
    import threading

    seen = []

    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_PUT(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"tok")

        def do_GET(self):
            seen.append(self.headers.get("X-aws-ec2-metadata-token"))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"i-0123456789abcdef0")

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", f"http://127.0.0.1:{srv.server_address[1]}/")
        assert agent.Imds().get("meta-data/instance-id") == "i-0123456789abcdef0"
        assert seen == ["tok"]
    finally:
        srv.shutdown()


# ------------------------------------------------------------------------------------------ reconcile

def _inst(state):
    return {"InstanceId": "i-1", "State": {"Name": state}}


def test_reconcile_a_record_with_ec2():
    running = {"build_id": "b-1", "status": "running", "step": "software", "launched_at": iso(NOW - timedelta(hours=1)),
               "deadline": iso(NOW + timedelta(hours=1))}
    assert status.reconcile(running, _inst("running"), NOW)["status"] == "running"
    gone = status.reconcile(running, _inst("terminated"), NOW)
    assert gone["status"] == "failed" and gone["failure"]["step"] == "software" and "terminated" in gone["failure"]["message"]
    assert status.reconcile(running, None, NOW)["status"] == "failed"
    fresh = dict(running, launched_at=iso(NOW - timedelta(minutes=1)))
    assert status.reconcile(fresh, None, NOW)["status"] == "running", "EC2 is eventually consistent"
    late = dict(running, deadline=iso(NOW - timedelta(hours=1)))
    assert "lifetime limit" in status.reconcile(late, _inst("running"), NOW)["failure"]["message"]
    done = dict(running, status="available")
    assert status.reconcile(done, None, NOW) == done


def test_progress_line():
    v = {"build_id": "b-1", "status": "running", "progress": {
        "step": "software", "percent": 42.0, "packages_total": 10, "packages_done": 4, "current_package": "gromacs@2024",
        "elapsed_minutes": 12.0, "remaining_minutes": 16.0}}
    assert status.line(v) == "b-1  running  step software  42%  package 4/10 gromacs@2024  elapsed 12 min  about 16 min left"
    v2 = dict(v, status="failed", failure={"step": "image", "message": "boom"})
    assert status.line(v2) == "b-1  failed  at step image: boom"


# ------------------------------------------------------------------------------------------ notifications

def test_desktop_notification(tmp_path, monkeypatch):
    from pctl.ami import notify

    monkeypatch.setattr(notify.sys, "platform", "linux")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert "no desktop notifier" in notify.desktop_notify("t", "m")
    rec = tmp_path / "calls"
    ns = tmp_path / "notify-send"
    ns.write_text(f'#!/bin/sh\nprintf "%s|" "$@" >> {rec}\n')
    ns.chmod(0o755)
    assert notify.desktop_notify("pctl ami build", "b-1 done") is None
    assert rec.read_text() == "--app-name=pctl|pctl ami build|b-1 done|"
    assert notify._applescript('say "hi"') == '"say \\"hi\\""'


def test_cli_module_is_registered_lazily():
    from pctl.cli.main import COMMANDS

    assert COMMANDS["ami"][0] == "pctl.cli.ami:ami"
    src = Path(os.path.dirname(agent.__file__)).parent.joinpath("cli", "ami.py").read_text()
    assert "import boto3" not in src


def test_the_agent_runs_as_a_unit_stopped_before_the_network():
    """At shutdown (lifetime limit, stop, terminate) systemd must stop the agent while the network is
    up, so that it can record the end: a unit of its own, ordered after network-online.target."""
    ud = _ud()
    assert 'systemd-run --unit "pctl-build-agent"' in ud and "--wait" in ud
    assert "--property=After=network-online.target" in ud and "--property=KillMode=mixed" in ud
    assert "--property=TimeoutStopSec=240" in ud
    assert '"${agent[@]}"' in ud  # without systemd (a test, a chroot) it runs directly


@pytest.mark.parametrize("total, max_hours, level", [
    (504, 8, "error"),     # the past build: an 8 h 24 min estimate under an 8 h limit
    (240, 3.87, "error"),  # a 3 h 52 min limit under a 4 h estimate
    (400, 8, "warning"),   # 8 h limit for 6 h 40 min: little margin
    (100, 8, None),
])
def test_a_lifetime_limit_below_the_estimate_is_refused(total, max_hours, level):
    lifetime = estimates.lifetime_minutes(total, max_hours)
    problem = estimates.lifetime_problem(total, lifetime, max_hours)
    assert (problem.level if problem else None) == level
    if problem:
        assert estimates.fmt_minutes(total) in problem.message and estimates.fmt_minutes(lifetime) in problem.message
        assert "--max-hours" in problem.hint


def test_the_agent_the_policy_and_the_builder_name_the_same_inputs():
    """The agent runs alone on the instance (no pctl import), so its copy of the list is checked here:
    an input the agent does not delete (check.sh once) stays in the bucket after every build."""
    from pctl.ami import agent, iam, store

    assert agent.INPUTS == store.INPUTS == iam.INPUTS


# ------------------------------------------------------------------------------------------ resolving an AMI

@pytest.mark.parametrize("code,expect", [
    ("InvalidAMIID.NotFound", "not found in us-east-1"),
    ("UnauthorizedOperation", "UnauthorizedOperation"),  # a missing permission is not a missing AMI
])
def test_resolving_an_ami_id_tells_missing_from_forbidden(code, expect, monkeypatch):
    pytest.importorskip("boto3")
    from botocore.stub import Stubber

    from pctl.ami.manage import resolve_pctl_ami
    from pctl.aws import Aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    aws = Aws(region="us-east-1")
    stub = Stubber(aws.client("ec2"))
    stub.add_client_error("describe_images", service_error_code=code, service_message="no")
    with stub, pytest.raises(PctlError) as err:
        resolve_pctl_ami(aws, "ami-0123456789abcdef0")
    assert expect in str(err.value) + str(getattr(err.value, "code", ""))
    if code != "InvalidAMIID.NotFound":
        assert "not found" not in str(err.value)
