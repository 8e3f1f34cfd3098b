#!/usr/bin/env python3
"""pctl's head-node agent: every minute (systemd timer pctl-heartbeat.timer) it

1. asks Slurm what runs (``squeue``: running and pending jobs) and who is logged in (``who``);
2. samples the compute nodes (``scontrol show nodes --oneliner``): which are powered up (billed), and
   for GPU nodes how many GPUs they have and how many jobs hold, accumulated per queue and per hour
   (node-hours, GPU-hours, GPU-hours allocated) for ``pctl status``;
3. writes the heartbeat to s3://pctl-<account>-<region>/clusters/<cluster>/status/heartbeat.json (the
   head node's role may write that one object) and keeps a local copy in /var/lib/pctl/;
4. reads pctl's control document (keep/resume times) and writes the login message users see
   (/etc/profile.d/pctl-idle.sh prints /var/lib/pctl/idle-message.txt).

It never stops or deletes anything: the idle timer's function in the account does, from this
heartbeat (so it also works when this node is unhealthy). Standard library only; run as root.
Configuration: /etc/pctl/agent.json (written by the node bootstrap).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    from decide import decide, iso  # type: ignore  # installed next to this file
except ImportError:  # pragma: no cover - inside pctl (tests)
    from pctl.cost.idle.decide import decide, iso

CONFIG = os.environ.get("PCTL_AGENT_CONFIG", "/etc/pctl/agent.json")
STATE_DIR = os.environ.get("PCTL_AGENT_STATE", "/var/lib/pctl")
KEEP_HOURS = 48  # hourly usage buckets kept
MAX_GAP_S = 300  # a longer gap between samples (node down, agent stopped) is not counted as usage
RUNNING_STATES = {"RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "STAGE_OUT", "SIGNALING", "RESIZING"}
PENDING_STATES = {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"}


def run(cmd: list[str], timeout: float = 30) -> str | None:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout if r.returncode == 0 else None


# ------------------------------------------------------------------------------------ parsing

def parse_squeue(text: str | None) -> dict | None:
    """`squeue -h -a -o %T` -> {"running": n, "pending": n}; None when Slurm did not answer."""
    if text is None:
        return None
    running = pending = 0
    for line in text.splitlines():
        state = line.strip().upper()
        if state in RUNNING_STATES:
            running += 1
        elif state in PENDING_STATES:
            pending += 1
    return {"running": running, "pending": pending}


def parse_who(text: str | None) -> int:
    """`who` -> number of login sessions (terminal logins, ssh sessions with a terminal)."""
    if not text:
        return 0
    return sum(1 for line in text.splitlines() if line.strip())


def _fields(line: str) -> dict:
    out = {}
    for tok in line.split():
        k, eq, v = tok.partition("=")
        if eq:
            out[k] = v
    return out


def _tres(text: str | None, key: str) -> int:
    for part in (text or "").split(","):
        k, _, v = part.partition("=")
        if k == key:
            try:
                return int(v)
            except ValueError:
                return 0
    return 0


def parse_nodes(text: str | None) -> list[dict]:
    """`scontrol show nodes --oneliner` -> [{name, queue, billed, gpus, gpus_alloc, cpus_alloc, state}].

    A ParallelCluster node is billed (its instance exists) unless its state says POWERED_DOWN (the
    instance was terminated and the node waits, '~' in sinfo). POWERING_UP nodes are billed already."""
    out = []
    for line in (text or "").splitlines():
        f = _fields(line)
        name = f.get("NodeName")
        if not name:
            continue
        flags = set(f.get("State", "").upper().split("+"))
        billed = "POWERED_DOWN" not in flags and "FUTURE" not in flags
        gpus = _tres(f.get("CfgTRES"), "gres/gpu")
        out.append({"name": name, "queue": (f.get("Partitions") or "").split(",")[0] or None, "billed": billed,
                    "gpus": gpus, "gpus_alloc": _tres(f.get("AllocTRES"), "gres/gpu"), "state": f.get("State", ""),
                    "features": f.get("AvailableFeatures", "")})
    return out


def node_instance_type(node: dict, config: dict) -> str | None:
    """ParallelCluster names nodes <queue>-<st|dy>-<compute resource>-<n>; the compute resource gives
    the instance type (the first of a flexible resource: an estimate)."""
    q = node.get("queue")
    parts = node["name"].split("-")
    for i in range(1, len(parts) - 1):
        if parts[i] in ("st", "dy") and "-".join(parts[:i]) in (config.get("queues") or {}):
            q = "-".join(parts[:i])
            cr = "-".join(parts[i + 1:-1])
            types = ((config["queues"][q].get("resources") or {}).get(cr)) or []
            for feat in node.get("features", "").split(","):
                if feat in types:
                    return feat
            return types[0] if types else None
    return None


# ------------------------------------------------------------------------------------ usage

def _hour(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H", time.gmtime(ts))


def accumulate(usage: dict, nodes: list[dict], config: dict, now: float) -> dict:
    """Add the time since the last sample to every billed node's queue (and hour, and instance type)."""
    last = usage.get("last_sample")
    usage["last_sample"] = now
    if last is None or now <= last:
        return usage
    dt = min(now - last, MAX_GAP_S)
    hours = usage.setdefault("hours", {})
    bucket = hours.setdefault(_hour(now), {})
    totals = usage.setdefault("totals", {})
    for n in nodes:
        if not n["billed"] or not n.get("queue"):
            continue
        q = bucket.setdefault(n["queue"], {"node_s": 0.0, "gpu_s": 0.0, "gpu_alloc_s": 0.0})
        q["node_s"] += dt
        q["gpu_s"] += dt * n["gpus"]
        q["gpu_alloc_s"] += dt * min(n["gpus_alloc"], n["gpus"])
        itype = node_instance_type(n, config) or "unknown"
        cap = ((config.get("queues") or {}).get(n["queue"]) or {}).get("capacity", "ondemand")
        key = f"{itype}:{cap}"
        totals[key] = round(totals.get(key, 0.0) + dt, 3)
    for h in sorted(hours)[:-KEEP_HOURS]:
        del hours[h]
    return usage


# ------------------------------------------------------------------------------------ AWS

def imds(path: str) -> str | None:
    """IMDSv2 (the only version pctl's nodes allow)."""
    try:
        req = urllib.request.Request("http://169.254.169.254/latest/api/token", method="PUT",
                                     headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"})
        token = urllib.request.urlopen(req, timeout=2).read().decode()
        req = urllib.request.Request(f"http://169.254.169.254/latest/{path}",
                                     headers={"X-aws-ec2-metadata-token": token})
        return urllib.request.urlopen(req, timeout=2).read().decode()
    except OSError:
        return None


def status_uri(config: dict) -> str | None:
    if config.get("status_uri"):
        return config["status_uri"]
    doc = imds("dynamic/instance-identity/document")
    if not doc:
        return None
    ident = json.loads(doc)
    return f"s3://pctl-{ident['accountId']}-{ident['region']}/clusters/{config['cluster']}/status/"


def s3_put(local: str, uri: str) -> bool:
    return run(["aws", "s3", "cp", "--only-show-errors", local, uri], timeout=60) is not None


def s3_get_json(uri: str):
    text = run(["aws", "s3", "cp", "--only-show-errors", uri, "-"], timeout=60)
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


# ------------------------------------------------------------------------------------ main

def _load(path: str, default):
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return default


def _write(path: str, text: str, mode: int = 0o644) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def message(config: dict, d: dict | None, control: dict | None) -> str:
    """The login message: what the idle timer will do and when (or only the usage line without one)."""
    name = config["cluster"]
    if not config.get("timeout_s") or d is None:
        return ""
    what = ("STOPPED (compute nodes and this head node; files on shared storage stay; `pctl start "
            f"{name}` resumes)" if config.get("action") == "auto_stop" else "DELETED with its storage")
    hours = config["timeout_s"] / 3600
    lines = [f"pctl: {name} is {what} after {hours:g} h without jobs or logins."]
    if d["busy"]:
        lines.append(f"pctl: busy now ({d['reason']}); the countdown starts when it is idle.")
    else:
        minutes = (d["remaining_s"] + 59) // 60
        lines.append(f"pctl: idle since {d['idle_since']}; {minutes // 60} h {minutes % 60:02d} min left "
                     f"(at {d['deadline']}).")
    lines.append(f"pctl: postpone from your computer: pctl keep {name} --for 4h")
    return "\n".join(lines) + "\n"


_ASK = object()  # tick() runs the command unless a test gives its output


def tick(config: dict, *, now: float | None = None, squeue=_ASK, who=_ASK, nodes=_ASK, uri=None,
         put=s3_put, get=s3_get_json) -> dict:
    now = time.time() if now is None else now
    jobs = parse_squeue(run(["squeue", "-h", "-a", "-o", "%T"]) if squeue is _ASK else squeue)
    sessions = parse_who(run(["who"]) if who is _ASK else who)
    node_list = parse_nodes(run(["scontrol", "show", "nodes", "--oneliner"]) if nodes is _ASK else nodes)
    usage = accumulate(_load(os.path.join(STATE_DIR, "usage.json"), {}), node_list, config, now)
    _write(os.path.join(STATE_DIR, "usage.json"), json.dumps(usage))
    prev = _load(os.path.join(STATE_DIR, "heartbeat.json"), {})
    active = jobs is None or bool(jobs["running"] or jobs["pending"]) or sessions > 0
    # Slurm not answering (restarting, broken) counts as activity: never stop a cluster on a blind spot
    last_active = iso(now) if active else (prev.get("last_active") or iso(now))
    per_queue: dict = {}
    for n in node_list:
        if n.get("queue"):
            q = per_queue.setdefault(n["queue"], {"up": 0, "gpus": 0, "gpus_alloc": 0})
            if n["billed"]:
                q["up"] += 1
                q["gpus"] += n["gpus"]
                q["gpus_alloc"] += n["gpus_alloc"]
    hb = {"schema": 1, "cluster": config["cluster"], "updated": iso(now), "jobs": jobs or {"running": 0, "pending": 0},
          "slurm_answered": jobs is not None, "sessions": sessions, "active": active, "last_active": last_active,
          "started": prev.get("started") or iso(now), "nodes": per_queue,
          "usage": {"hours": usage.get("hours", {}), "totals": usage.get("totals", {})}}
    path = os.path.join(STATE_DIR, "heartbeat.json")
    _write(path, json.dumps(hb, indent=1))
    uri = uri if uri is not None else status_uri(config)
    control = None
    if uri:
        hb["published"] = put(path, uri + "heartbeat.json")
        control = get(uri + "control.json") if config.get("timeout_s") else None
    d = None
    if config.get("timeout_s"):
        d = decide(now=now, timeout_s=int(config["timeout_s"]), heartbeat=hb, control=control,
                   state={"complete_since": hb["started"]})
    _write(os.path.join(STATE_DIR, "idle-message.txt"), message(config, d, control))
    return {"heartbeat": hb, "decision": d}


def main() -> int:
    config = _load(CONFIG, None)
    if not config:
        print(f"pctl agent: no configuration at {CONFIG}", file=sys.stderr)
        return 1
    result = tick(config)
    hb = result["heartbeat"]
    print(f"pctl agent: {hb['jobs']['running']} running, {hb['jobs']['pending']} pending, {hb['sessions']} session(s); "
          f"published={hb.get('published')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
