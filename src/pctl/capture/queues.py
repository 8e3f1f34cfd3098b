"""Scheduler partitions -> pctl queues (EC2 instance types sized from the nodes, spot for short or
preemptible partitions, counts from the nodes or the batch profile)."""

from __future__ import annotations

import re
from typing import Any

from pctl.capture import instances
from pctl.template import rules

SPOT_RE = re.compile(r"(?:^|[-_.])(?:debug|short|preempt\w*|low|lowprio|scavenge\w*|standby|spot|backfill|test|"
                     r"dev|devel|free|opportunistic|idle)(?:$|[-_.\d])", re.I)


def queue_name(raw: str, used: set[str]) -> str:
    n = re.sub(r"[^a-z0-9-]+", "-", str(raw).lower()).strip("-")
    n = re.sub(r"-{2,}", "-", n)
    if not n or not n[0].isalpha():
        n = ("q-" + n) if n else "queue"
    if n == "default":
        n = "default-q"
    n = n[: rules.QUEUE_NAME_MAX].rstrip("-")
    base, i = n, 2
    while n in used:
        suf = f"-{i}"
        n = base[: rules.QUEUE_NAME_MAX - len(suf)].rstrip("-") + suf
        i += 1
    used.add(n)
    return n


def _pq(profile: dict[str, Any] | None, name: str, is_default: bool) -> dict[str, Any] | None:
    if not profile:
        return None
    qs = profile.get("queues") or {}
    if name in qs:
        return qs[name]
    if is_default and "(default)" in qs:
        return qs["(default)"]
    return None


def _stat(pq: dict[str, Any] | None, key: str, which: str = "peak"):
    if not pq or not isinstance(pq.get(key), dict):
        return None
    v = pq[key].get(which)
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def map_queues(view: dict[str, Any], profile: dict[str, Any] | None) -> tuple[list[dict[str, Any]], list[str]]:
    sched = view.get("scheduler") or {}
    notes: list[str] = []
    out: list[dict[str, Any]] = []
    used: set[str] = set()
    qs = [q for q in (sched.get("queues") or []) if isinstance(q, dict) and q.get("name")]
    if not qs:
        hw = view.get("hardware") or {}
        mem = hw.get("memory_gib")
        qs = [{"name": "compute", "nodes": None, "cores_per_node": hw.get("cpus"),
               "memory_mb": int(mem * 1024) if mem else None,
               "gpus_per_node": sum(g.get("count", 0) for g in hw.get("gpus") or []),
               "gpu_type": (hw.get("gpus") or [{}])[0].get("model") if hw.get("gpus") else None,
               "default": True, "synthetic": True}]
        notes.append("no scheduler partitions were captured: one queue sized like the captured machine")
    for q in qs[:50]:
        name = queue_name(q["name"], used)
        cpus, mem, gpus = q.get("cores_per_node"), q.get("memory_mb"), q.get("gpus_per_node") or 0
        nodes = q.get("nodes")
        adjust = []
        pq = _pq(profile, q["name"], bool(q.get("default")))
        if pq:
            mem_peak = _stat(pq, "memory_per_node_mb")
            if mem_peak and (not mem or mem_peak > mem):
                adjust.append(f"memory raised to the jobs' peak {mem_peak / 1024:.0f} GiB per node")
                mem = int(mem_peak)
            nodes_peak = _stat(pq, "nodes")
            gpu_peak = _stat(pq, "gpus")
            if gpu_peak and not gpus:
                gpus = min(8, -(-int(gpu_peak) // max(1, int(nodes_peak or 1))))
                adjust.append(f"{gpus} GPU(s) per node from the jobs' requests")
            cores_peak = _stat(pq, "cores")
            if cores_peak and not cpus:
                cpus = -(-int(cores_peak) // max(1, int(nodes_peak or 1)))
                adjust.append(f"{cpus} CPUs per node from the jobs' requests")
            if nodes_peak and not nodes:
                nodes = int(nodes_peak)
                adjust.append(f"max_count from the largest job ({nodes} nodes)")
        gpu_type = q.get("gpu_type")
        if gpus and not gpu_type and pq and isinstance(pq.get("gpu_types"), dict) and pq["gpu_types"]:
            gpu_type = next(iter(pq["gpu_types"]))  # the GPU model the jobs ask for most
        choice = instances.choose(cpus, mem, gpus, gpu_type, nodes)
        max_count = max(1, min(1000, int(nodes or 10)))
        if nodes and nodes > 1000:
            adjust.append(f"max_count capped at 1000 (on-prem {nodes} nodes)")
        spot = bool(SPOT_RE.search(str(q["name"])))
        efa = bool(choice.efa and (nodes or 0) >= 2)
        item = {
            "partition": q["name"], "name": name, "instance_types": choice.instance_types, "min_count": 0,
            "max_count": max_count, "capacity": "spot" if spot else "ondemand", "efa": efa,
            "why": choice.why, "adjusted": adjust, "onprem": {
                "nodes": q.get("nodes"), "cores_per_node": q.get("cores_per_node"), "memory_mb": q.get("memory_mb"),
                "gpus_per_node": q.get("gpus_per_node"), "gpu_type": q.get("gpu_type"),
                "max_walltime_min": q.get("max_walltime_min"), "default": bool(q.get("default")),
                "state": q.get("state")},
            "renamed": name != q["name"], "synthetic": bool(q.get("synthetic")),
        }
        if spot:
            item["why_capacity"] = f"spot: the partition name {q['name']!r} suggests short or preemptible jobs"
        out.append(item)
    if len(qs) > 50:
        notes.append(f"{len(qs) - 50} partitions beyond the 50-queue limit were left out: "
                     + ", ".join(q["name"] for q in qs[50:60]) + (" ..." if len(qs) > 60 else ""))
    out.sort(key=lambda x: not x["onprem"]["default"])  # the default partition first (Slurm's default queue)
    return out, notes
