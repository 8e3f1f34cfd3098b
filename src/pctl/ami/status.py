"""Read a build from any machine (S3 record + progress), reconcile it with EC2, watch it to its end.

Reconciling: a build whose record still says launching/running although its builder instance is
gone (terminated by the lifetime limit, crashed before the agent could report) or running past its
deadline is shown as failed, with the reason; ``pctl ami cleanup`` writes that into the record.
"""

from __future__ import annotations

import time
from datetime import timedelta

from pctl.ami import estimates
from pctl.ami.store import TERMINAL, BuildStore, iso, parse_iso, utcnow
from pctl.aws import ec2

#: After launch, how long a builder may be missing from DescribeInstances before the build is
#: declared lost (EC2 is eventually consistent right after RunInstances).
MISSING_GRACE = timedelta(minutes=10)
DEADLINE_GRACE = timedelta(minutes=5)
LIVE_STATES = ("pending", "running", "stopping", "stopped", "shutting-down")


def builder_instances(aws, build_ids: list[str] | None = None) -> dict[str, dict]:
    """{build_id: newest builder instance} for pctl builders (tag pctl:role=ami-builder)."""
    filters = [{"Name": "tag:pctl:role", "Values": ["ami-builder"]}]
    if build_ids:
        filters.append({"Name": "tag:pctl:build-id", "Values": list(build_ids)})
    out: dict[str, dict] = {}
    for inst in ec2.instances(aws, filters):
        tags = ec2.tags_of(inst)
        bid = tags.get("pctl:build-id")
        if not bid:
            continue
        inst = dict(inst, _tags=tags)
        prev = out.get(bid)
        if prev is None or (inst["State"]["Name"] in LIVE_STATES and prev["State"]["Name"] not in LIVE_STATES):
            out[bid] = inst
    return out


def reconcile(record: dict, instance: dict | None, now=None) -> dict:
    """The record as it really is: a non-final build whose builder is gone or overdue is failed."""
    now = now or utcnow()
    rec = dict(record)
    if rec.get("status") in TERMINAL:
        return rec
    launched = parse_iso(rec.get("launched_at") or rec.get("created_at"))
    deadline = parse_iso(rec.get("deadline"))
    step = rec.get("step") or "launch"
    reason = None
    if instance is None:
        if launched is None or now - launched > MISSING_GRACE:
            reason = "the builder instance no longer exists, and the build never reported an end"
    else:
        state = instance["State"]["Name"]
        if state not in ("pending", "running"):
            reason = (f"the builder instance {instance['InstanceId']} is {state}, and the build never reported an "
                      "end (lifetime limit reached, or the agent could not run; see 'pctl ami logs')")
        elif deadline is not None and now > deadline + DEADLINE_GRACE:
            reason = (f"the builder instance {instance['InstanceId']} is still running past its lifetime limit "
                      f"({rec.get('deadline')}); 'pctl ami cleanup' terminates it")
    if reason:
        rec["status"] = "failed"
        rec["failure"] = {"step": step, "message": reason, "log_tail": [], "reconciled": True}
        rec.setdefault("finished_at", None)
    return rec


def view(store: BuildStore, record: dict, instance: dict | None, *, progress: dict | None = None, now=None) -> dict:
    """Everything `ami status` shows: the reconciled record, progress, elapsed and remaining time."""
    now = now or utcnow()
    rec = reconcile(record, instance, now)
    if progress is None:
        progress = store.get_json(rec["build_id"], "progress.json") or {}
    start = parse_iso(rec.get("launched_at") or rec.get("created_at"))
    end = parse_iso(rec.get("finished_at")) if rec.get("status") in TERMINAL else None
    elapsed = max(0.0, ((end or now) - start).total_seconds() / 60.0) if start else 0.0
    remaining = estimates.remaining_minutes(rec, progress, now)
    percent = 100.0 if rec.get("status") == "available" else estimates.percent_done(
        elapsed, remaining, progress.get("percent"))
    rec["progress"] = {
        "step": progress.get("step") or rec.get("step") or "launch",
        "agent_percent": progress.get("percent"),
        "percent": round(percent, 1),
        "packages_total": progress.get("packages_total") or 0,
        "packages_done": progress.get("packages_done") or 0,
        "current_package": progress.get("current_package"),
        "software_step": progress.get("software_step"),
        "updated_at": progress.get("updated_at"),
        "elapsed_minutes": round(elapsed, 1),
        "remaining_minutes": remaining,
    }
    if instance is not None:
        rec["instance_state"] = instance["State"]["Name"]
    return rec


def load(aws, ref: str, *, store: BuildStore | None = None) -> dict:
    from pctl.ami.ids import resolve_build_id
    from pctl.errors import PctlError

    store = store or BuildStore(aws)
    bid = resolve_build_id(ref, store.ids())
    record = store.get_json(bid, "state.json")
    if record is None:
        raise PctlError(f"build {bid} has no record yet (state.json)", hint="it may still be launching; try again")
    record.setdefault("build_id", bid)
    inst = builder_instances(aws, [bid]).get(bid)
    return view(store, record, inst)


def latest_id(store: BuildStore) -> str:
    from pctl.errors import PctlError

    ids = store.ids()
    if not ids:
        raise PctlError(f"no AMI builds in {store.aws.region}",
                        hint="list every region's with 'pctl ami list-builds --all-regions'")
    return ids[-1]


def _line_parts(v: dict) -> tuple[list[str], list[str]]:
    """(what the build is doing, the clock): a change of the first is a change worth a line."""
    p = v["progress"]
    parts = [v["build_id"], v.get("status", "?")]
    clock: list[str] = []
    if v.get("status") not in TERMINAL:
        parts.append(f"step {p['step']}")
        parts.append(f"{p['percent']:.0f}%")
        if p.get("packages_total"):
            parts.append(f"package {p['packages_done']}/{p['packages_total']}"
                         + (f" {p['current_package']}" if p.get("current_package") else ""))
        clock.append(f"elapsed {estimates.fmt_minutes(p['elapsed_minutes'])}")
        if p.get("remaining_minutes") is not None:
            clock.append(f"about {estimates.fmt_minutes(p['remaining_minutes'])} left")
    elif v.get("status") == "available":
        parts.append(f"ami {v.get('ami_id')}")
        clock.append(f"in {estimates.fmt_minutes(p['elapsed_minutes'])}")
    else:
        f = v.get("failure") or {}
        parts.append(f"at step {f.get('step', '?')}: {f.get('message', '')}")
    return parts, clock


def line(v: dict) -> str:
    """One line of progress (what --watch prints per change without a terminal)."""
    parts, clock = _line_parts(v)
    return "  ".join(parts + clock)


def _change_key(v: dict) -> tuple:
    return tuple(_line_parts(v)[0])


#: how long `--watch` keeps asking while AWS cannot be reached before it gives up with exit code 3
DEFAULT_RETRY_FOR = 600.0
MAX_BACKOFF = 60.0


def watch(aws, build_id: str, *, interval: float = 10.0, on_view=None, timeout: float | None = None,
          store: BuildStore | None = None, retry_for: float = DEFAULT_RETRY_FOR, on_retry=None) -> dict:
    """Poll until the build ends; call on_view(view, changed) after every poll. Returns the final view.

    A poll that fails for a reason that may pass (network, throttling, AWS 5xx: after botocore's own retries)
    is retried with exponential backoff (from the interval up to 60 s) for up to ``retry_for`` seconds of
    consecutive failures; on_retry(error, attempt, delay) is told. Then, or at once for a failure that will not
    pass by itself (credentials, permissions), :class:`pctl.errors.CouldNotFindOut` (exit code 3): the build's
    outcome is unknown, which is not the same as a failed build (exit 1)."""
    from pctl.aws.errors import AwsError, is_transient
    from pctl.errors import CouldNotFindOut

    store = store or BuildStore(aws)
    last = None
    start = time.monotonic()
    inst_checked = 0.0
    inst = None
    failing_since: float | None = None
    attempt = 0
    while True:
        try:
            record = store.get_json(build_id, "state.json") or {"build_id": build_id, "status": "launching"}
            record.setdefault("build_id", build_id)
            # the instance only matters for a build that has not reported an end: checked at most every 30 s
            if record.get("status") not in TERMINAL and time.monotonic() - inst_checked >= min(30.0, interval * 3):
                inst = builder_instances(aws, [build_id]).get(build_id)
                inst_checked = time.monotonic()
            v = view(store, record, inst)
        except AwsError as exc:
            now = time.monotonic()
            failing_since = failing_since if failing_since is not None else now
            attempt += 1
            why = f"could not find out how build {build_id} is doing: {exc.message}"
            if not is_transient(exc):
                raise CouldNotFindOut(why, hint=exc.hint or f"fix access, then: pctl ami status {build_id} --watch"
                                      ) from exc
            if now - failing_since >= retry_for:
                raise CouldNotFindOut(f"{why} (still failing after {attempt} attempts over {now - failing_since:.0f} s)",
                                      hint=f"the build goes on; when AWS answers again: pctl ami status {build_id} "
                                           "--watch") from exc
            delay = min(MAX_BACKOFF, max(interval, 1.0) * 2 ** (attempt - 1), max(0.0, retry_for - (now - failing_since)))
            if on_retry:
                on_retry(exc, attempt, delay)
            time.sleep(delay)
            continue
        failing_since, attempt = None, 0
        key = _change_key(v)
        if on_view:
            on_view(v, key != last)
        last = key
        if v.get("status") in TERMINAL:
            return v
        if timeout is not None and time.monotonic() - start > timeout:
            from pctl.errors import PctlError

            raise PctlError(f"stopped watching {build_id} after {timeout:.0f} s; the build goes on",
                            hint=f"pctl ami status {build_id} --watch")
        time.sleep(interval)


def mark_failed(store: BuildStore, rec: dict) -> None:
    """Write a reconciled failure into the record (cleanup does this)."""
    current = store.get_json(rec["build_id"], "state.json") or {}
    if current.get("status") in TERMINAL:
        return
    current.update(status="failed", failure=rec.get("failure"), finished_at=iso(), updated_at=iso())
    store.put_json(rec["build_id"], "state.json", current)
