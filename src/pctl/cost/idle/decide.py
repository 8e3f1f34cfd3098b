"""When is a cluster idle, and when does its idle timer fire? One pure function, used in three places:
the scheduled function in the account (acts on it), the head-node agent (the login message) and
``pctl status`` (the countdown). Standard library only: this file is shipped to the function and to
the head node as it is.

Inputs (all JSON documents in the pctl bucket under clusters/NAME/status/):

* ``heartbeat.json`` written every minute by the head node: running/pending jobs, logged-in sessions,
  ``last_active`` (the last time it saw either) and ``updated``;
* ``control.json`` written by pctl: ``armed_at`` (timer installed), ``keep_until`` (pctl keep),
  ``resumed_at`` (pctl start);
* ``idle-state.json`` written by the function: what it last saw and did (``complete_since``: first time
  it saw the cluster's stack complete).

The idle clock starts at the latest of: arming, the stack becoming complete (when armed before), the
agent's start (the head node has bootstrapped), the last activity the head node reported, a resume. A fresh heartbeat with jobs or sessions means busy. A stale or missing
heartbeat (the head node is down or unhealthy) reports no activity, so the clock runs — unless compute
nodes still run (jobs may be running without a head node to report them; ParallelCluster's compute
nodes shut themselves down about 10 minutes after losing their head node, and then the clock runs).
``keep_until`` postpones the deadline.
"""

from __future__ import annotations

import datetime as _dt

HEARTBEAT_STALE_S = 15 * 60


def parse_time(value) -> float | None:
    """ISO 8601 (with Z or an offset) or epoch seconds -> epoch seconds; None when absent or unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        text = str(value).strip().replace("Z", "+00:00")
        t = _dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.timezone.utc)
    return t.timestamp()


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def decide(*, now: float, timeout_s: int, heartbeat: dict | None = None, control: dict | None = None,
           state: dict | None = None, compute_running: int | None = None) -> dict:
    """{"busy", "idle_since", "deadline", "remaining_s", "fire", "reason", "heartbeat_fresh"} at NOW."""
    control = control or {}
    state = state or {}
    hb = heartbeat or {}
    anchors = [parse_time(control.get("armed_at")), parse_time(state.get("complete_since")),
               parse_time(control.get("resumed_at"))]
    anchors.append(parse_time(hb.get("started")))  # the agent starts when the head node has bootstrapped
    hb_updated = parse_time(hb.get("updated"))
    fresh = hb_updated is not None and now - hb_updated <= HEARTBEAT_STALE_S
    last_active = parse_time(hb.get("last_active"))
    if last_active is not None:
        anchors.append(min(last_active, now))
    jobs = hb.get("jobs") or {}
    running, pending = int(jobs.get("running") or 0), int(jobs.get("pending") or 0)
    sessions = int(hb.get("sessions") or 0)
    busy, reason = False, ""
    if fresh and (running or pending or sessions):
        busy = True
        reason = f"{running} running and {pending} pending job(s), {sessions} login session(s)"
    elif not fresh and compute_running:
        busy = True
        reason = (f"the head node has not reported since {iso(hb_updated) or 'it started'}, but {compute_running} "
                  "compute node(s) run: waiting for them")
    idle_since = max([a for a in anchors if a is not None], default=now)
    if busy:
        idle_since = now
    deadline = idle_since + timeout_s
    keep_until = parse_time(control.get("keep_until"))
    kept = keep_until is not None and keep_until > deadline
    if kept:
        deadline = keep_until
    fire = not busy and now >= deadline
    if not busy:
        if not fresh:
            reason = ("no heartbeat from the head node yet" if hb_updated is None else
                      f"the head node has not reported since {iso(hb_updated)}; no compute nodes run")
        else:
            reason = "no jobs and no login sessions"
        if kept and not fire:
            reason += f"; kept until {iso(keep_until)}"
    return {"busy": busy, "idle_since": iso(idle_since), "deadline": iso(deadline),
            "remaining_s": max(0, int(deadline - now)), "fire": fire, "reason": reason,
            "heartbeat_fresh": fresh, "kept_until": iso(keep_until) if kept else None}
