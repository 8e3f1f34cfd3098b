"""What a running cluster uses and has cost so far, for `pctl status` and `pctl list`.

Node-hours and GPU-hours come from the head node's heartbeat (the agent samples Slurm's node states
every minute: a node is counted while its instance exists, a GPU while its node does; "allocated" GPU
hours are those a job held). This needs no Slurm accounting database. Spend so far is an estimate:
the idle cost per hour (head node, storage, network) times the cluster's age, plus every compute
node-hour the head node counted at its price. Cost Explorer (`pctl cost`) has the billed amounts, a day
later.
"""

from __future__ import annotations

import datetime as dt
import time

from pctl.cost.idle.decide import parse_time


def _hour_start(key: str) -> float | None:
    try:
        return dt.datetime.strptime(key, "%Y-%m-%dT%H").replace(tzinfo=dt.timezone.utc).timestamp()
    except ValueError:
        return None


def last_day(heartbeat: dict | None, *, now: float | None = None, hours: int = 24) -> dict[str, dict]:
    """{queue: {node_hours, gpu_hours, gpu_alloc_hours, gpu_idle_hours}} over the last HOURS hours."""
    now = time.time() if now is None else now
    out: dict[str, dict] = {}
    buckets = ((heartbeat or {}).get("usage") or {}).get("hours") or {}
    for key, queues in buckets.items():
        start = _hour_start(key)
        if start is None or start + 3600 <= now - hours * 3600 or start > now:
            continue
        for q, v in (queues or {}).items():
            e = out.setdefault(q, {"node_hours": 0.0, "gpu_hours": 0.0, "gpu_alloc_hours": 0.0})
            e["node_hours"] += float(v.get("node_s") or 0) / 3600
            e["gpu_hours"] += float(v.get("gpu_s") or 0) / 3600
            e["gpu_alloc_hours"] += float(v.get("gpu_alloc_s") or 0) / 3600
    for e in out.values():
        e["gpu_idle_hours"] = max(0.0, e["gpu_hours"] - e["gpu_alloc_hours"])
        for k in list(e):
            e[k] = round(e[k], 2)
    return out


def spend_so_far(record: dict | None, heartbeat: dict | None, *, created, now: float | None = None) -> dict | None:
    """{"usd", "basis"} or None without a cost record (a cluster pctl did not create)."""
    if not record:
        return None
    now = time.time() if now is None else now
    start = parse_time(created) or parse_time(record.get("created"))
    if start is None:
        return None
    hours = max(0.0, (now - start) / 3600)
    always_on = float(record.get("always_on_hourly") or 0.0)
    base = max(0.0, float(record.get("idle_hourly") or 0.0) - always_on)
    totals = ((heartbeat or {}).get("usage") or {}).get("totals")
    if totals is None:
        return {"usd": round((base + always_on) * hours, 2), "basis": "idle cost x age (no usage reported yet)",
                "hours": round(hours, 1)}
    prices = record.get("instance_prices") or {}
    nodes = 0.0
    unpriced = set()
    for key, seconds in totals.items():
        itype, _, cap = key.partition(":")
        p = (prices.get(itype) or {}).get(cap or "ondemand") or (prices.get(itype) or {}).get("ondemand")
        if p is None:
            unpriced.add(itype)
            continue
        nodes += float(seconds) / 3600 * float(p)
    out = {"usd": round(base * hours + nodes, 2), "basis": "idle cost x age + compute node-hours counted by the head node",
           "hours": round(hours, 1), "compute_usd": round(nodes, 2)}
    if unpriced:
        out["unpriced"] = sorted(unpriced)
    return out


def status_block(aws, name: str, tags: dict, *, compute_running: int | None = None) -> dict:
    """Everything cost adds to `pctl status NAME`: usage of the last day per queue, the idle timer's
    countdown, the estimate and the spend so far."""
    from pctl.aws import s3
    from pctl.cost.idle import install
    from pctl.errors import PctlError

    bucket = tags.get("pctl:bucket") or aws.pctl_bucket()
    out: dict = {"usage_last_day": {}, "idle_timer": None, "cost": None}
    try:
        hb = s3.get_json(aws, bucket, f"clusters/{name}/status/heartbeat.json")
        record = s3.get_json(aws, bucket, f"clusters/{name}/cost.json")
    except PctlError:
        hb = record = None
    out["usage_last_day"] = last_day(hb)
    out["heartbeat"] = (hb or {}).get("updated")
    if record:
        out["cost"] = {"idle_hourly": record.get("idle_hourly"), "idle_monthly": record.get("idle_monthly"),
                       "full_scale_hourly": record.get("full_scale_hourly"), "prices": record.get("prices"),
                       "so_far": spend_so_far(record, hb, created=record.get("created"))}
    try:
        out["idle_timer"] = install.view(aws, name, bucket=bucket, compute_running=compute_running)
    except PctlError as exc:
        out["idle_timer"] = {"error": exc.message}
    return out


def list_extras(aws, rows: list[dict]) -> None:
    """Add running compute nodes and the spend so far to `pctl list` rows (in place)."""
    from pctl.aws import ec2, s3
    from pctl.errors import PctlError

    try:
        running = ec2.running_nodes_by_cluster(aws)
    except PctlError:
        running = {}
    bucket = None
    for r in rows:
        r["running_nodes"] = running.get(r["name"], 0)
        r["spend_so_far"] = None
        if not r.get("managed_by_pctl"):
            continue
        try:
            bucket = bucket or aws.pctl_bucket()
            record = s3.get_json(aws, bucket, f"clusters/{r['name']}/cost.json")
            hb = s3.get_json(aws, bucket, f"clusters/{r['name']}/status/heartbeat.json") if record else None
        except PctlError:
            continue
        so_far = spend_so_far(record, hb, created=r.get("created") or (record or {}).get("created"))
        if so_far:
            r["spend_so_far"] = so_far["usd"]
            r["spend_basis"] = so_far["basis"]
