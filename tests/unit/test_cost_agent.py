"""The head-node agent: what it reads from Slurm, what it publishes, the login message; run as the node
runs it (its own file, python3, commands on PATH)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path


from pctl.cost.idle import agent
from pctl.cost.idle.node import AGENT_DIR, agent_config, agent_files

CONFIG = {"cluster": "lab", "timeout_s": 7200, "action": "auto_stop", "queues": {
    "gpu": {"capacity": "spot", "resources": {"g5-2xlarge": ["g5.2xlarge"]}},
    "gpu-multi": {"capacity": "ondemand", "resources": {"g5-12xlarge": ["g5.12xlarge"]}},
    "cpu": {"capacity": "spot", "resources": {"c6i-4xlarge-flex": ["c6i.4xlarge", "c6a.4xlarge"]}}}}

# `scontrol show nodes --oneliner` on a ParallelCluster 3 head node (Slurm 23.11): dynamic nodes powered
# down until a job needs them (IDLE+CLOUD+POWERED_DOWN), one allocated GPU node, one powering up.
SCONTROL = """\
NodeName=gpu-dy-g5-2xlarge-1 Arch=x86_64 CoresPerSocket=4 CPUAlloc=8 CPUEfctv=8 CPUTot=8 CPULoad=7.91 AvailableFeatures=dynamic,g5.2xlarge,g5-2xlarge,gpu ActiveFeatures=dynamic,g5.2xlarge,g5-2xlarge,gpu Gres=gpu:a10g:1 NodeAddr=10.0.1.23 NodeHostName=gpu-dy-g5-2xlarge-1 Version=23.11.10 OS=Linux 6.1.119-129.201.amzn2023.x86_64 RealMemory=31129 AllocMem=0 FreeMem=28770 Sockets=1 Boards=1 State=ALLOCATED+CLOUD ThreadsPerCore=2 TmpDisk=0 Weight=1000 Owner=N/A MCS_label=N/A Partitions=gpu BootTime=2026-12-04T05:02:10 SlurmdStartTime=2026-12-04T05:04:41 LastBusyTime=2026-12-04T05:04:41 ResumeAfterTime=None CfgTRES=cpu=8,mem=31129M,billing=8,gres/gpu=1 AllocTRES=cpu=8,gres/gpu=1 CapWatts=n/a CurrentWatts=0 AveWatts=0 ExtSensorsJoules=n/s ExtSensorsWatts=0 ExtSensorsTemp=n/s
NodeName=gpu-dy-g5-2xlarge-2 Arch=x86_64 CoresPerSocket=4 CPUAlloc=0 CPUEfctv=8 CPUTot=8 CPULoad=0.00 AvailableFeatures=dynamic,g5.2xlarge,g5-2xlarge,gpu ActiveFeatures=dynamic,g5.2xlarge,g5-2xlarge,gpu Gres=gpu:a10g:1 NodeAddr=gpu-dy-g5-2xlarge-2 NodeHostName=gpu-dy-g5-2xlarge-2 RealMemory=31129 AllocMem=0 FreeMem=N/A Sockets=1 Boards=1 State=IDLE+CLOUD+POWERED_DOWN ThreadsPerCore=2 TmpDisk=0 Weight=1000 Owner=N/A MCS_label=N/A Partitions=gpu BootTime=None SlurmdStartTime=None LastBusyTime=Unknown ResumeAfterTime=None CfgTRES=cpu=8,mem=31129M,billing=8,gres/gpu=1 AllocTRES= CapWatts=n/a
NodeName=gpu-multi-dy-g5-12xlarge-1 Arch=x86_64 CoresPerSocket=24 CPUAlloc=0 CPUEfctv=48 CPUTot=48 CPULoad=0.00 AvailableFeatures=dynamic,g5.12xlarge,g5-12xlarge,gpu ActiveFeatures=dynamic,g5.12xlarge,g5-12xlarge,gpu Gres=gpu:a10g:4 NodeAddr=10.0.1.40 NodeHostName=gpu-multi-dy-g5-12xlarge-1 Version=23.11.10 RealMemory=186368 AllocMem=0 FreeMem=180001 Sockets=1 Boards=1 State=IDLE+CLOUD ThreadsPerCore=2 TmpDisk=0 Weight=1000 Owner=N/A MCS_label=N/A Partitions=gpu-multi BootTime=2026-12-04T04:00:00 SlurmdStartTime=2026-12-04T04:02:00 LastBusyTime=2026-12-04T05:55:00 ResumeAfterTime=None CfgTRES=cpu=48,mem=186368M,billing=48,gres/gpu=4 AllocTRES= CapWatts=n/a
NodeName=cpu-dy-c6i-4xlarge-flex-1 Arch=x86_64 CoresPerSocket=8 CPUAlloc=16 CPUEfctv=16 CPUTot=16 CPULoad=0.00 AvailableFeatures=dynamic,c6a.4xlarge,c6i-4xlarge-flex ActiveFeatures=dynamic,c6a.4xlarge,c6i-4xlarge-flex Gres=(null) NodeAddr=10.0.2.11 NodeHostName=cpu-dy-c6i-4xlarge-flex-1 RealMemory=30000 AllocMem=0 FreeMem=N/A Sockets=1 Boards=1 State=ALLOCATED+CLOUD+POWERING_UP ThreadsPerCore=2 TmpDisk=0 Weight=1000 Owner=N/A MCS_label=N/A Partitions=cpu BootTime=None SlurmdStartTime=None LastBusyTime=2026-12-04T06:00:00 ResumeAfterTime=None CfgTRES=cpu=16,mem=30000M,billing=16 AllocTRES=cpu=16 CapWatts=n/a
"""
SQUEUE = "RUNNING\nRUNNING\nPENDING\nCOMPLETING\n"
WHO = "ec2-user pts/0        2026-12-04 05:40 (203.0.113.7)\nalice    pts/1        2026-12-04 06:01 (203.0.113.9)\n"


def test_parsers_read_slurm_and_who():
    assert agent.parse_squeue(SQUEUE) == {"running": 3, "pending": 1}
    assert agent.parse_squeue("") == {"running": 0, "pending": 0}
    assert agent.parse_squeue(None) is None  # Slurm did not answer
    assert agent.parse_who(WHO) == 2 and agent.parse_who("") == 0
    nodes = {n["name"]: n for n in agent.parse_nodes(SCONTROL)}
    assert (nodes["gpu-dy-g5-2xlarge-1"]["billed"], nodes["gpu-dy-g5-2xlarge-1"]["gpus"],
            nodes["gpu-dy-g5-2xlarge-1"]["gpus_alloc"]) == (True, 1, 1)
    assert not nodes["gpu-dy-g5-2xlarge-2"]["billed"]  # powered down: no instance
    assert nodes["gpu-multi-dy-g5-12xlarge-1"]["gpus"] == 4 and nodes["gpu-multi-dy-g5-12xlarge-1"]["gpus_alloc"] == 0
    assert nodes["cpu-dy-c6i-4xlarge-flex-1"]["billed"]  # powering up: the instance exists
    assert agent.node_instance_type(nodes["gpu-multi-dy-g5-12xlarge-1"], CONFIG) == "g5.12xlarge"
    assert agent.node_instance_type(nodes["cpu-dy-c6i-4xlarge-flex-1"], CONFIG) == "c6a.4xlarge"  # from its features


def test_usage_accumulates_per_queue_hour_and_type():
    nodes = agent.parse_nodes(SCONTROL)
    u = agent.accumulate({}, nodes, CONFIG, 1_000_000.0)
    assert "hours" not in u or not u["hours"]  # the first sample only starts the clock
    u = agent.accumulate(u, nodes, CONFIG, 1_000_060.0)
    hour = time.strftime("%Y-%m-%dT%H", time.gmtime(1_000_060.0))
    b = u["hours"][hour]
    assert b["gpu"] == {"node_s": 60.0, "gpu_s": 60.0, "gpu_alloc_s": 60.0}
    assert b["gpu-multi"] == {"node_s": 60.0, "gpu_s": 240.0, "gpu_alloc_s": 0.0}  # 4 idle GPUs
    assert b["cpu"]["node_s"] == 60.0
    assert u["totals"] == {"g5.2xlarge:spot": 60.0, "g5.12xlarge:ondemand": 60.0, "c6a.4xlarge:spot": 60.0}
    u = agent.accumulate(u, nodes, CONFIG, 1_000_060.0 + 3600)  # a long gap counts at most 5 minutes
    assert u["totals"]["g5.2xlarge:spot"] == 360.0


def _tick(tmp_path, monkeypatch, **kw):
    monkeypatch.setattr(agent, "STATE_DIR", str(tmp_path / "state"))
    sent = {}

    def put(local, uri):
        sent[uri] = json.loads(Path(local).read_text())
        return True

    return agent.tick(CONFIG, uri="s3://pctl-123456789012-us-east-1/clusters/lab/status/", put=put,
                      get=lambda uri: kw.pop("control", None), **kw), sent


def test_busy_cluster_heartbeat_and_message(tmp_path, monkeypatch):
    now = time.time()
    out, sent = _tick(tmp_path, monkeypatch, now=now, squeue=SQUEUE, who="", nodes=SCONTROL)
    hb = sent["s3://pctl-123456789012-us-east-1/clusters/lab/status/heartbeat.json"]
    assert hb["jobs"] == {"running": 3, "pending": 1} and hb["active"] and hb["last_active"] == hb["updated"]
    assert hb["nodes"]["gpu-multi"] == {"up": 1, "gpus": 4, "gpus_alloc": 0}
    msg = (tmp_path / "state" / "idle-message.txt").read_text()
    assert "STOPPED" in msg and "after 2 h" in msg and "busy now" in msg and "pctl keep lab --for 4h" in msg


def test_idle_cluster_counts_down_and_keeps_last_activity(tmp_path, monkeypatch):
    now = time.time()
    _tick(tmp_path, monkeypatch, now=now - 1800, squeue=SQUEUE, who="", nodes="")
    out, sent = _tick(tmp_path, monkeypatch, now=now, squeue="", who="", nodes="")
    hb = out["heartbeat"]
    assert not hb["active"] and hb["last_active"] == agent.iso(now - 1800)
    d = out["decision"]
    assert not d["busy"] and 5400 - 5 <= d["remaining_s"] <= 5400
    msg = (tmp_path / "state" / "idle-message.txt").read_text()
    assert "idle since" in msg and "1 h 30 min left" in msg  # rounded up: never promises more time


def test_slurm_not_answering_counts_as_activity(tmp_path, monkeypatch):
    out, _ = _tick(tmp_path, monkeypatch, now=time.time(), squeue=None, who="", nodes="")
    assert out["heartbeat"]["active"] and out["heartbeat"]["slurm_answered"] is False


def test_no_timer_no_message(tmp_path, monkeypatch):
    monkeypatch.setattr(agent, "STATE_DIR", str(tmp_path / "state"))
    cfg = dict(CONFIG, timeout_s=None, action=None)
    agent.tick(cfg, now=time.time(), squeue="", who="", nodes="", uri="s3://b/clusters/lab/status/",
               put=lambda *a: True, get=lambda u: None)
    assert (tmp_path / "state" / "idle-message.txt").read_text() == ""


def test_config_from_a_template():
    from pctl.cluster.plan import CreateOptions, prepare

    t = prepare(CreateOptions(template="ml/pytorch-gpu"), use_catalog=False).template
    cfg = agent_config(t)
    assert cfg["cluster"] == "pytorch-gpu" and cfg["timeout_s"] is None
    assert cfg["queues"]["gpu"] == {"capacity": "spot", "resources": {"g5-2xlarge": ["g5.2xlarge"]}}
    assert list(cfg["queues"]["cpu"]["resources"].values()) == [["c6i.4xlarge", "c6a.4xlarge", "m6i.4xlarge"]]


def _exe(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_agent_runs_as_installed(tmp_path):
    """The files head.sh installs, run by python3 with fake slurm/who/aws commands on PATH, twice."""
    from pctl.template.validate import validate_text

    t = validate_text("cluster: {name: lab, idle_timeout: 2h}\ncompute: {head_node: t3.large, queues: "
                      "[{name: gpu, instance_types: [g5.2xlarge], capacity: spot}]}\n", use_catalog=False).template
    files = agent_files(t)
    home = tmp_path / "opt"
    home.mkdir()
    (home / "decide.py").write_text(files["decide"])
    _exe(home / "pctl_agent.py", files["agent"])
    cfg = json.loads(files["config"])
    cfg["status_uri"] = "s3://pctl-123456789012-us-east-1/clusters/lab/status/"  # instead of IMDS
    (tmp_path / "agent.json").write_text(json.dumps(cfg))
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    (tmp_path / "scontrol.txt").write_text(SCONTROL.replace("gpu-multi", "other"))
    _exe(bin_ / "squeue", "#!/bin/sh\nprintf 'PENDING\\n'\n")
    _exe(bin_ / "who", "#!/bin/sh\nexit 0\n")
    _exe(bin_ / "scontrol", f"#!/bin/sh\ncat {tmp_path / 'scontrol.txt'}\n")
    s3 = tmp_path / "s3"
    # `aws s3 cp SRC DST`: the bucket is a folder here
    _exe(bin_ / "aws", f"""#!/bin/sh
src=$4; dst=$5
case "$src" in s3://*) f="{s3}/${{src#s3://}}"; [ -f "$f" ] || exit 1; cat "$f"; exit 0;; esac
mkdir -p "$(dirname "{s3}/${{dst#s3://}}")" && cp "$src" "{s3}/${{dst#s3://}}"
""")
    (s3 / "pctl-123456789012-us-east-1/clusters/lab/status").mkdir(parents=True)
    (s3 / "pctl-123456789012-us-east-1/clusters/lab/status/control.json").write_text(json.dumps({"keep_until": None}))
    env = dict(os.environ, PATH=f"{bin_}:{os.environ['PATH']}", PCTL_AGENT_CONFIG=str(tmp_path / "agent.json"),
               PCTL_AGENT_STATE=str(tmp_path / "state"))
    for _ in range(2):
        r = subprocess.run([sys.executable, str(home / "pctl_agent.py")], env=env, capture_output=True, text=True,
                           timeout=60, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
    assert "0 running, 1 pending, 0 session(s); published=True" in r.stdout
    hb = json.loads((s3 / "pctl-123456789012-us-east-1/clusters/lab/status/heartbeat.json").read_text())
    assert hb["cluster"] == "lab" and hb["jobs"]["pending"] == 1 and hb["usage"]["totals"]
    assert "busy now" in (tmp_path / "state" / "idle-message.txt").read_text()
    assert files["dir"] == AGENT_DIR


def test_profile_snippet_prints_the_message_only_in_interactive_shells(tmp_path):
    import shutil

    from pctl.cost.idle.node import PROFILE

    p = tmp_path / "pctl-idle.sh"
    p.write_text(PROFILE)
    if shutil.which("shellcheck"):
        assert subprocess.run(["shellcheck", "-s", "sh", str(p)], capture_output=True).returncode == 0
    msg = tmp_path / "idle-message.txt"
    msg.write_text("pctl: lab is STOPPED after 2 h\n")
    p.write_text(PROFILE.replace("/var/lib/pctl/idle-message.txt", str(msg)))
    env = {k: v for k, v in os.environ.items() if k != "PS1"}
    login = subprocess.run(["sh", "-i", "-c", f". {p}"], capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    batch = subprocess.run(["sh", "-c", f". {p}"], capture_output=True, text=True, env=env)
    assert "STOPPED" in login.stdout and batch.stdout == "", "scp/sbatch/non-interactive shells stay quiet"
    msg.write_text("")
    assert subprocess.run(["sh", "-i", "-c", f". {p}"], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL).stdout == ""
