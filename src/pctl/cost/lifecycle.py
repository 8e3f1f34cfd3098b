"""The three moments cost touches a cluster's life, as single calls for create and delete:

* ``before_create``: current prices (Price List API when credentials allow, else cache/snapshot), the
  estimate, and the budget gate (an idle month above ``budget.monthly_usd`` is refused without --yes);
* ``after_create``: the AWS Budget (``budget:``) and the idle timer (``cluster.idle_timeout``);
* ``after_delete``: removes both (a project budget stays while another cluster of the project exists).

Each returns a small report for the command's output; none prints.
"""

from __future__ import annotations

import datetime as dt

PRICE_MAX_AGE_DAYS = 7


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def needed_instance_types(template) -> list[str]:
    types = [template.compute.head_node] + [t for q in template.compute.queues for t in q.instance_types]
    return sorted(set(types))


def fresh_prices(aws, region: str, types: list[str], *, progress=None) -> str | None:
    """Refresh the cached prices of TYPES from the Price List API when they are missing or older than a
    week. Returns a note when that was not possible (no permission, no network): the estimate then uses
    the cache or the snapshot, and says so."""
    from pctl.cost.prices import PriceTable, refresh
    from pctl.errors import PctlError

    table = PriceTable.load(region)
    stamps = table.cache.get("fetched", {}) if table.cache else {}
    limit = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=PRICE_MAX_AGE_DAYS)).strftime("%Y-%m-%dT%H:%M:%SZ")
    stale = [t for t in types if stamps.get(f"instance:{t}:ondemand", "") < limit]
    if not stale:
        return None
    try:
        refresh(aws, region, stale, now=_now(), progress=progress, max_attempts=2)
    except PctlError as exc:
        code = getattr(exc, "code", None)
        why = exc.message if len(exc.message) < 160 and "<" not in exc.message else f"the Price List API answered {code}"
        return f"prices not refreshed ({why}); using the cached or shipped prices"
    return None


def before_create(aws, prepared, *, region: str, public_only: bool, yes: bool, progress=None) -> dict:
    from pctl.cost.checks import check_create, template_cost

    t = prepared.template
    note = fresh_prices(aws, region, needed_instance_types(t), progress=progress)
    est = template_cost(t, region=region, public_only=public_only)
    if note:
        est["notes"].append(note)
    check_create(est, yes=yes)
    return est


def cost_record(prepared, estimate: dict, *, region: str) -> dict:
    """What pctl keeps about a cluster's cost (clusters/NAME/cost.json in the pctl bucket): the estimate
    and the per-hour prices of its instance types, so `pctl list` can tell the spend so far."""
    from pctl.cost.prices import PriceTable

    t = prepared.template
    table = PriceTable.load(region)
    prices = {}
    for q in t.compute.queues:
        for it in q.instance_types:
            entry = {}
            for cap in ("ondemand", "spot"):
                p = table.instance(it, cap) or (table.instance(it, "ondemand") if cap == "spot" else None)
                if p is not None:
                    entry[cap] = p.value
            prices[it] = entry
    from pctl.cost.tags import project_of

    return {"schema": 1, "cluster": t.cluster.name, "region": region, "project": project_of(t),
            "created": _now(), "idle_hourly": estimate["idle_hourly"], "idle_monthly": estimate["idle_monthly"],
            "full_scale_hourly": estimate["full_scale_hourly"], "prices": estimate["prices"],
            "always_on_hourly": round(sum(q["idle_hourly"] for q in estimate["queues"]), 6),
            "instance_prices": prices, "capacity": {q.name: q.capacity for q in t.compute.queues},
            "budget": estimate.get("budget"),
            "idle_timeout": t.cluster.idle_timeout, "idle_action": t.cluster.idle_action if t.cluster.idle_timeout else None}


COST_KEY = "clusters/{name}/cost.json"


def read_cost_record(aws, bucket: str | None, name: str) -> dict | None:
    from pctl.aws import s3

    if not bucket:
        return None
    return s3.get_json(aws, bucket, COST_KEY.format(name=name))


def after_create(aws, prepared, *, region: str, bucket: str | None, estimate: dict, progress=None) -> dict:
    """Budget and idle timer for a cluster ParallelCluster has just created. Failures are reported, not
    raised: the cluster exists and works; 'pctl cost budget NAME' and 'pctl idle arm NAME' retry."""
    import json

    from pctl.aws import s3
    from pctl.cost import budgets
    from pctl.errors import PctlError

    t = prepared.template
    report: dict = {"budget": None, "idle_timer": None, "problems": []}
    if bucket:
        try:
            s3.upload(aws, bucket, f"clusters/{t.cluster.name}/", {
                "cost.json": json.dumps(cost_record(prepared, estimate, region=region), indent=1)})
        except PctlError as exc:
            report["problems"].append(f"cost record not written: {exc.message}")
    if t.budget is not None:
        try:
            report["budget"] = budgets.ensure_budget(aws, t, cluster_name=t.cluster.name)
        except PctlError as exc:
            report["problems"].append(f"budget not created: {exc.message}")
    if t.cluster.idle_timeout:
        from pctl.cost.idle import install

        try:
            report["idle_timer"] = install.arm(aws, t, cluster_name=t.cluster.name, bucket=bucket,
                                               template_name=prepared.ref.name, progress=progress)
        except PctlError as exc:
            report["problems"].append(f"idle timer not armed: {exc.message}")
    return report


def after_delete(aws, name: str, tags: dict | None, *, bucket: str | None = None, progress=None) -> dict:
    """Remove the cluster's budget (and its project's budget when no other cluster of the project is
    left) and its idle timer. Safe to run twice; runs for leftovers of auto-deleted clusters too (the
    project then comes from the cost record, read before the cluster's objects are removed)."""
    from pctl.cost import budgets
    from pctl.cost.idle import install
    from pctl.errors import PctlError

    report: dict = {"budgets_deleted": [], "idle_timer_removed": [], "problems": []}
    project = (tags or {}).get("pctl:project")
    try:
        if project is None:
            project = (read_cost_record(aws, bucket, name) or {}).get("project")
        report["budgets_deleted"] = budgets.remove_budget(aws, cluster_name=name, project=project, progress=progress)
    except PctlError as exc:  # e.g. no budgets permission: the cluster is gone all the same
        report["problems"].append(f"budget: {exc.message}")
    try:
        report["idle_timer_removed"] = install.disarm(aws, name, progress=progress)
    except PctlError as exc:
        report["problems"].append(f"idle timer: {exc.message}")
    if report["problems"] and progress:
        progress("could not remove: " + "; ".join(report["problems"]) + f" (run 'pctl delete {name}' again)")
    return report


def build_cost(region: str, instance_type: str, minutes: float, volume_gb: int, lifetime_minutes: int) -> dict:
    from pctl.cost.estimate import builder_estimate
    from pctl.cost.prices import PriceTable

    return builder_estimate(PriceTable.load(region), instance_type=instance_type, minutes=minutes,
                            volume_gb=volume_gb, lifetime_minutes=lifetime_minutes)
