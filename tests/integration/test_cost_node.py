"""The head node's part of cost: head.sh installs the agent, its timer and the login message in a real
(throwaway Debian) root; the installed agent then runs from those files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox import Sandbox, SandboxUnavailable, ensure_rootfs  # noqa: E402

from pctl.render.scripts import ScriptOptions, render_node_scripts  # noqa: E402
from pctl.template.model import Template  # noqa: E402

pytestmark = pytest.mark.slow

DOC = {"cluster": {"name": "lab", "region": "us-east-1", "os": "ubuntu2404", "idle_timeout": "90m",
                   "idle_action": "auto_stop"},
       "compute": {"head_node": "t3.large", "queues": [
           {"name": "gpu", "instance_types": ["g5.2xlarge"], "max_count": 2, "capacity": "spot"}]}}


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    try:
        ensure_rootfs()
        box = Sandbox.create(tmp_path_factory.mktemp("head"))
    except SandboxUnavailable as exc:
        pytest.skip(f"node-script sandbox unavailable: {exc}")
    box.fake_pcluster_node()
    scripts = render_node_scripts(Template.model_validate(DOC), ScriptOptions("none"))
    first = box.run_script(scripts["head.sh"], "head", name="head.sh")
    second = box.run_script(scripts["head.sh"], "head", name="head.sh")
    yield box, first, second, scripts
    if not os.environ.get("PCTL_TEST_KEEP_SANDBOX"):
        box.destroy()


def test_head_sh_installs_the_agent_timer_and_login_message(head):
    box, first, second, _ = head
    assert first.returncode == 0, first.stderr
    log = box.read("/var/log/pctl/bootstrap.log")
    assert "step cost-agent: start" in log and "step cost-agent: done" in log
    assert "pctl-heartbeat.timer installed, not started" in log  # no systemd in the sandbox
    cfg = json.loads(box.read("/etc/pctl/agent.json"))
    assert cfg == {"schema": 1, "cluster": "lab", "timeout_s": 5400, "action": "auto_stop",
                   "queues": {"gpu": {"capacity": "spot", "resources": {"g5-2xlarge": ["g5.2xlarge"]}}}}
    timer = box.read("/etc/systemd/system/pctl-heartbeat.timer").splitlines()
    assert "OnUnitActiveSec=60" in timer and "WantedBy=timers.target" in timer
    service = box.read("/etc/systemd/system/pctl-heartbeat.service").splitlines()
    assert "ExecStart=/opt/pctl-agent/run" in service and "Type=oneshot" in service
    assert (box.path("/opt/pctl-agent/pctl_agent.py").stat().st_mode & 0o777) == 0o755
    assert (box.path("/opt/pctl-agent/run").stat().st_mode & 0o777) == 0o755
    assert "idle-message.txt" in box.read("/etc/profile.d/pctl-idle.sh")
    if box.exists("/usr/bin/systemd-analyze"):
        r = box.run(["systemd-analyze", "verify", "/etc/systemd/system/pctl-heartbeat.timer"])
        assert r.returncode == 0, r.stderr


def test_second_run_rewrites_nothing(head):
    box, first, second, _ = head
    assert second.returncode == 0, second.stderr
    last = box.read("/var/log/pctl/bootstrap.log").split("head.sh starting")[-1]
    assert "wrote /opt/pctl-agent" not in last and "wrote /etc/pctl" not in last


def test_installed_agent_runs(head, tmp_path):
    """The files as installed, run with python3 and fake slurm/aws (the sandbox has no python3)."""
    box, *_ = head
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    for name, body in (("squeue", "printf 'RUNNING\\n'"), ("who", "true"), ("scontrol", "true"),
                       ("aws", f"cp \"$4\" {tmp_path}/heartbeat.json")):
        (bin_ / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_ / name).chmod(0o755)
    cfg = json.loads(box.read("/etc/pctl/agent.json"))
    cfg["status_uri"] = "s3://pctl-123456789012-us-east-1/clusters/lab/status/"
    (tmp_path / "agent.json").write_text(json.dumps(cfg))
    env = dict(os.environ, PATH=f"{bin_}:{os.environ['PATH']}", PCTL_AGENT_CONFIG=str(tmp_path / "agent.json"),
               PCTL_AGENT_STATE=str(tmp_path / "state"))
    r = subprocess.run([sys.executable, str(box.path("/opt/pctl-agent/pctl_agent.py"))], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    hb = json.loads((tmp_path / "heartbeat.json").read_text())
    assert hb["cluster"] == "lab" and hb["jobs"]["running"] == 1 and hb["active"]
    assert "STOPPED" in (tmp_path / "state" / "idle-message.txt").read_text()
