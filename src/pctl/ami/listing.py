"""`pctl ami list-builds`: the builds of one or several regions, oldest first, and the build this machine
started last on the last line (see :mod:`pctl.ami.journal`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pctl.ami.ids import sort_key
from pctl.ami.store import TERMINAL, BuildStore


@dataclass
class Listing:
    regions: list[str]  # where it looked
    views: list[dict]  # status views (each with "region"), in the order to print
    last_started_here: str | None = None  # the journal's build, when it is listed (always the last line)
    out_of_order: bool = False  # True when that build is not the newest listed
    notes: list[str] = field(default_factory=list)


def _views(aws, region: str) -> list[dict]:
    from pctl.ami.status import builder_instances, view

    a = aws.in_region(region)
    store = BuildStore(a)
    records = store.records()
    pending = [r["build_id"] for r in records if r.get("status") not in TERMINAL]
    insts = builder_instances(a, pending) if pending else {}
    return [dict(view(store, r, insts.get(r["build_id"]), progress={}), region=region) for r in records]


def list_builds(aws, regions: list[str], *, include_mine: bool = True) -> Listing:
    """Builds of ``regions`` oldest first; with ``include_mine``, the build this machine's `pctl ami build`
    returned last is added (from its own region if need be) and put last."""
    from pctl.ami import journal

    views: list[dict] = []
    for r in regions:
        views += _views(aws, r)
    views.sort(key=lambda v: sort_key(v["build_id"]))
    out = Listing(list(regions), views)
    mine = journal.latest() if include_mine else None
    if not mine:
        return out
    bid = mine["build_id"]
    found = next((v for v in views if v["build_id"] == bid), None)
    if found is None and mine.get("region") and mine["region"] not in regions:
        from pctl.ami.status import builder_instances, view

        a = aws.in_region(mine["region"])
        store = BuildStore(a)
        rec = store.get_json(bid, "state.json")
        if rec is not None:
            rec.setdefault("build_id", bid)
            inst = builder_instances(a, [bid]).get(bid) if rec.get("status") not in TERMINAL else None
            found = dict(view(store, rec, inst, progress={}), region=mine["region"])
            out.notes.append(f"the last line is the build started from this machine, in {mine['region']}")
    if found is None:
        return out
    rest = [v for v in views if v["build_id"] != bid]
    out.out_of_order = bool(rest) and sort_key(rest[-1]["build_id"]) > sort_key(bid)
    out.views = rest + [found]
    out.last_started_here = bid
    return out
