"""The parts of a queue's ParallelCluster configuration that come from explicit template choices:
compute resources the template spells out, the EC2 allocation strategy, the placement group, and
the user's own custom actions placed around pctl's.

Kept apart from :mod:`pctl.render.pcluster` so the main renderer calls each through one line.
Pure functions of the template (no I/O).
"""

from __future__ import annotations

# ------------------------------------------------------------------ compute resources

def explicit_compute_resources(queue, make_plan, name_for):
    """The queue's own compute resources as ComputeResourcePlan objects, or None when the template
    leaves the grouping to pctl. ``make_plan(name, types, mn, mx, efa, dht)`` builds one plan entry;
    ``name_for(types, used)`` makes pctl's usual name when the template gives none."""
    crs = getattr(queue, "compute_resources", None)
    if not crs:
        return None
    used: set[str] = {c.name for c in crs if c.name}
    out = []
    for c in crs:
        name = c.name or name_for(list(c.instance_types), used)
        out.append(make_plan(name, list(c.instance_types), c.min_count, c.max_count, c.efa, c.disable_hyperthreading))
    return out


def compute_resource_efa(queue, cr) -> bool:
    own = getattr(cr, "efa", None)
    return queue.efa if own is None else own


def compute_resource_dht(queue, cr) -> bool:
    own = getattr(cr, "disable_hyperthreading", None)
    return queue.disable_hyperthreading if own is None else own


def any_efa(queue, plan) -> bool:
    return any(compute_resource_efa(queue, c) for c in plan.compute_resources)


# ------------------------------------------------------------------ networking and capacity

def placement_group(queue, plan) -> dict | None:
    """The queue's PlacementGroup setting: enabled when the template asks for one, else whenever EFA is used;
    an explicit ``Enabled: false`` when EFA runs without one (ParallelCluster requires EFA queues to say so)."""
    own = getattr(queue, "placement_group", None)
    wanted = any_efa(queue, plan) if own is None else own
    if wanted:
        return {"Enabled": True}
    if any_efa(queue, plan):
        return {"Enabled": False}
    return None


def allocation_strategy(queue, plan) -> str | None:
    """The queue's AllocationStrategy: the template's choice, else capacity-optimized for spot queues
    with more than one instance type in a compute resource (pctl's default), else ParallelCluster's."""
    own = getattr(queue, "allocation_strategy", None)
    if own:
        return own
    if queue.capacity == "spot" and any(len(c.instance_types) > 1 for c in plan.compute_resources):
        return "capacity-optimized"
    return None


# ------------------------------------------------------------------ custom actions

def _entry(action) -> dict:
    d = {"Script": action.script}
    if action.args:
        d["Args"] = list(action.args)
    return d


def _one_or_sequence(entries: list[dict]) -> dict:
    return entries[0] if len(entries) == 1 else {"Sequence": entries}


def custom_actions(pctl_configured: dict | None, user, *, head: bool = False) -> dict:
    """ParallelCluster CustomActions: the user's OnNodeStart scripts; OnNodeConfigured runs pctl's script
    first (users, mounts, software, Lmod) and then the user's, in order; OnNodeUpdated (head node) is the
    user's. Each event is a single Script or a Sequence."""
    out: dict = {}
    start = [_entry(a) for a in (getattr(user, "on_node_start", None) or [])]
    if start:
        out["OnNodeStart"] = _one_or_sequence(start)
    configured = ([dict(pctl_configured)] if pctl_configured else []) + [
        _entry(a) for a in (getattr(user, "on_node_configured", None) or [])]
    if configured:
        out["OnNodeConfigured"] = _one_or_sequence(configured)
    if head:
        updated = [_entry(a) for a in (getattr(user, "on_node_updated", None) or [])]
        if updated:
            out["OnNodeUpdated"] = _one_or_sequence(updated)
    return out


def action_script_access(*action_sets) -> list[dict]:
    """Read access to exactly the S3 objects of the user's custom action scripts (least privilege:
    one object each), so ParallelCluster can download them."""
    seen: set[tuple[str, str]] = set()
    out = []
    for acts in action_sets:
        if acts is None:
            continue
        for field in ("on_node_start", "on_node_configured", "on_node_updated"):
            for a in getattr(acts, field, None) or []:
                if not a.script.startswith("s3://"):
                    continue
                bucket, _, key = a.script[5:].partition("/")
                if (bucket, key) in seen:
                    continue
                seen.add((bucket, key))
                out.append({"BucketName": bucket, "KeyName": key, "EnableWriteAccess": False})
    return out
