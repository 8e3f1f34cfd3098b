"""Spend from Cost Explorer, grouped by cluster or by project (the pctl:cluster / pctl:project cost
allocation tags). Pure apart from the one Cost Explorer call in ``report``."""

from __future__ import annotations

import datetime as dt

from pctl.cost.tags import CLUSTER, COST_TAGS, PROJECT
from pctl.errors import UsageError

ACTIVATE_HINT = ("activate them once per account: 'pctl cost activate-tags' (or Billing console > Cost allocation "
                 "tags > select pctl:cluster, pctl:project, pctl:template > Activate); AWS applies them to spend "
                 "from then on, within 24 hours")


def parse_day(text: str, what: str) -> dt.date:
    """YYYY-MM-DD, or a relative span: 7d, 4w, 3m (months of 30 days) before today."""
    text = text.strip()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    unit = {"d": 1, "w": 7, "m": 30}.get(text[-1:].lower())
    if unit and text[:-1].isdigit():
        return dt.date.today() - dt.timedelta(days=int(text[:-1]) * unit)
    raise UsageError(f"{what}: {text!r} is neither a date (2026-11-01) nor a span (7d, 4w, 3m)")


def period(since: str | None, until: str | None, *, today: dt.date | None = None) -> tuple[str, str, str]:
    """(start, end exclusive, granularity): default the current month so far; DAILY up to 62 days."""
    today = today or dt.date.today()
    start = parse_day(since, "--since") if since else today.replace(day=1)
    end = parse_day(until, "--until") + dt.timedelta(days=1) if until else today + dt.timedelta(days=1)
    if start >= end:
        raise UsageError(f"--since {start} is not before the end of the period ({end - dt.timedelta(days=1)})")
    if (today - start).days > 14 * 30 - 1:
        raise UsageError("Cost Explorer keeps 14 months of history: choose a later --since")
    gran = "DAILY" if (end - start).days <= 62 else "MONTHLY"
    return start.isoformat(), end.isoformat(), gran


def query(*, name: str | None, project: str | None, group_by: str) -> tuple[list[dict], dict | None]:
    """(GroupBy, Filter) for a cluster, a project or every pctl cluster."""
    key = PROJECT if group_by == "project" else CLUSTER
    group = [{"Type": "TAG", "Key": key}]
    if name:
        flt = {"Tags": {"Key": CLUSTER, "Values": [name], "MatchOptions": ["EQUALS"]}}
    elif project:
        flt = {"Tags": {"Key": PROJECT, "Values": [project], "MatchOptions": ["EQUALS"]}}
    else:  # everything that carries the tag at all
        flt = {"Not": {"Tags": {"Key": key, "MatchOptions": ["ABSENT"]}}}
    return group, flt


def summarize(results: list[dict], *, group_tag: str, metric: str = "UnblendedCost") -> dict:
    """ResultsByTime -> {"groups": [{name, total, days: [{start, amount}]}], "total", "unit", "estimated",
    "untagged"}. Group keys look like 'pctl:cluster$lab'; an empty value is spend without the tag."""
    groups: dict[str, dict] = {}
    unit = "USD"
    estimated = False
    untagged = 0.0
    for r in results:
        start = (r.get("TimePeriod") or {}).get("Start")
        estimated = estimated or bool(r.get("Estimated"))
        rows = r.get("Groups") or []
        if not rows and r.get("Total"):
            m = (r["Total"].get(metric) or next(iter(r["Total"].values()), {}))
            rows = [{"Keys": [f"{group_tag}$"], "Metrics": {metric: m}}]
        for g in rows:
            key = (g.get("Keys") or [""])[0]
            value = key.split("$", 1)[1] if "$" in key else key
            m = (g.get("Metrics") or {}).get(metric) or next(iter((g.get("Metrics") or {}).values()), {})
            amount = float(m.get("Amount") or 0)
            unit = m.get("Unit") or unit
            if not value:
                untagged += amount
                continue
            entry = groups.setdefault(value, {"name": value, "total": 0.0, "days": []})
            entry["total"] += amount
            entry["days"].append({"start": start, "amount": round(amount, 4)})
    rows = sorted(groups.values(), key=lambda g: -g["total"])
    for g in rows:
        g["total"] = round(g["total"], 2)
    return {"groups": rows, "total": round(sum(g["total"] for g in rows), 2), "unit": unit, "estimated": estimated,
            "untagged": round(untagged, 2)}


def report(aws, *, name: str | None = None, project: str | None = None, since: str | None = None,
           until: str | None = None, group_by: str | None = None) -> dict:
    from pctl.aws import ce

    if name and project:
        raise UsageError("give a cluster NAME or --project, not both")
    group_by = group_by or ("cluster" if (name or project) else "cluster")
    start, end, gran = period(since, until)
    group, flt = query(name=name, project=project, group_by=group_by)
    tag = group[0]["Key"]
    results = ce.cost_and_usage(aws, start=start, end=end, granularity=gran, group_by=group, filter_=flt)
    out = summarize(results, group_tag=tag)
    out.update(start=start, end=end, granularity=gran, group_by=group_by, cluster=name, project=project)
    status = ce.cost_allocation_tags(aws, list(COST_TAGS))
    inactive = [k for k in (CLUSTER, PROJECT) if status is not None and status.get(k) != "Active"]
    out["tags_status"] = status
    out["activate_hint"] = None
    if inactive:
        out["activate_hint"] = (f"{' and '.join(inactive)} {'is not an active cost allocation tag' if len(inactive) == 1 else 'are not active cost allocation tags'} "
                                f"yet, so Cost Explorer cannot group spend by {'it' if len(inactive) == 1 else 'them'}; "
                                + ACTIVATE_HINT)
    elif status is None and not out["groups"]:
        out["activate_hint"] = (f"no spend carries {tag} in this period; if pctl:cluster and pctl:project are not "
                                "active cost allocation tags yet, " + ACTIVATE_HINT)
    return out
