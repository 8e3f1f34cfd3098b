"""On-prem modules -> the template's Spack specs.

Every module is mapped (:mod:`.mapping`); each Spack package keeps one version (the one jobs load most,
else the on-prem default, else the newest); compilers and MPI come first. When a site has more software
than the template may hold, :mod:`.selection` chooses what stays and says why each other package went.
"""

from __future__ import annotations

import os
from typing import Any

from pctl.capture.mapping import Mapping, map_module

MAX_SPECS = 500  # software.spack_packages limit of the template model

def _version_key(v: str | None):
    from pctl.spack.version import Version, VersionError

    from pctl.capture.mapping import normalise_version

    nv = normalise_version(v)
    if nv:
        try:
            return (1, Version(nv).key)
        except VersionError:
            pass
    return (0, str(v or ""))


def _effective_defaults(mods: list[dict[str, Any]]) -> tuple[set[tuple], set[str]]:
    """Lmod's view: the default of each (mpath, name) group (explicit marker, else the highest version) and
    the modules reachable by loading defaults only (``module load gcc openmpi gromacs``)."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for m in mods:
        if m.get("hidden"):
            continue
        groups.setdefault((m.get("mpath"), str(m.get("name", "")).lower()), []).append(m)
    defaults: set[tuple] = set()
    for key, ms in groups.items():
        marked = [m for m in ms if m.get("default")]
        pick = marked[0] if marked else max(ms, key=lambda m: _version_key(m.get("version")))
        defaults.add((pick.get("mpath"), pick.get("full_name")))
    reachable: set[tuple] = set()
    names: set[str] = set()  # full names of reachable modules (hierarchy parents are named this way)
    changed = True
    rounds = 0
    while changed and rounds < 10:
        changed = False
        rounds += 1
        for m in mods:
            key = (m.get("mpath"), m.get("full_name"))
            if key not in defaults or key in reachable:
                continue
            parents = m.get("parents") or []
            if not parents or any(all(p in names for p in row) for row in parents):
                reachable.add(key)
                names.add(str(m.get("full_name")))
                changed = True
    return defaults, reachable


def _mpath_root(mods: list[dict[str, Any]]) -> str | None:
    paths = sorted({m["mpath"] for m in mods if m.get("parents") and isinstance(m.get("mpath"), str)})
    if not paths:
        return None
    related = set(paths)
    parent_names = {p for m in mods for row in (m.get("parents") or []) for p in row}
    for m in mods:
        if m.get("full_name") in parent_names and isinstance(m.get("mpath"), str):
            related.add(m["mpath"])
    try:
        root = os.path.commonpath(sorted(related))
    except ValueError:
        return None
    return root if root not in ("/", "") else None


def map_software(view: dict[str, Any], catalog, usage: dict[str, int] | None = None) -> tuple[list[Mapping], list[Mapping]]:
    """(kept, all): every module's mapping; kept = the specs for the template, compilers and MPI first."""
    mods = [m for m in ((view.get("modules") or {}).get("modules") or []) if isinstance(m, dict)]
    usage = usage or {}
    defaults, reachable = _effective_defaults(mods)
    root = _mpath_root(mods)
    results: list[Mapping] = []
    for m in mods:
        where = None
        if m.get("parents"):
            mp = m.get("mpath")
            if root and isinstance(mp, str) and mp.startswith(root + "/"):
                where = mp[len(root) + 1:]
            else:
                where = " ".join(m["parents"][0])
        r = map_module(m, catalog, where=where)
        key = (m.get("mpath"), m.get("full_name"))
        r.default = key in reachable
        r.used_by_jobs = int(usage.get(str(m.get("full_name")), 0))
        if r.default:
            r.used_by_jobs += int(usage.get(str(m.get("name")), 0))
        results.append(r)
    by_pkg: dict[str, list[Mapping]] = {}
    order: list[str] = []
    for r in results:
        if r.spec is None or r.status in ("skipped", "not_mappable"):
            continue
        if r.package not in by_pkg:
            order.append(r.package)
        by_pkg.setdefault(r.package, []).append(r)
    kept: list[Mapping] = []
    for pkg in order:
        rs = by_pkg[pkg]
        best = max(rs, key=lambda r: (r.used_by_jobs, r.default, _version_key(r.version), _version_key(r.onprem_version)))
        why = ("most used by the batch scripts" if best.used_by_jobs and any(r.used_by_jobs != best.used_by_jobs for r in rs)
               else "the on-prem default" if best.default else "the newest on-prem version")
        for r in rs:
            if r is best:
                continue
            if r.spec == best.spec:
                best.also.append(r.full_name + (f" ({r.where})" if r.where else ""))
                r.status = "skipped"
                r.reason = f"same spec as {best.full_name} ({best.spec}); one install serves both"
            else:
                best.also.append(r.full_name + (f" ({r.where})" if r.where else ""))
                r.reason = (f"other version of {pkg}: kept {best.spec} ({why}); one Spack environment concretizes one "
                            f"{pkg}; add this version by hand if jobs need it")
                r.status = "skipped"
        kept.append(best)
    rank = {"compiler": 0, "mpi": 1, "package": 2}
    kept.sort(key=lambda r: rank.get(r.role, 2))  # stable: on-prem order within each group
    if len(kept) > MAX_SPECS:  # the template's limit: keep compilers, MPI, then what jobs use most
        order_ix = {id(r): i for i, r in enumerate(kept)}
        chosen = sorted(kept, key=lambda r: (rank.get(r.role, 2), -r.used_by_jobs, order_ix[id(r)]))[:MAX_SPECS]
        ids = {id(r) for r in chosen}
        for r in kept:
            if id(r) not in ids:
                r.status = "skipped"
                r.reason = f"the template holds at most {MAX_SPECS} Spack specs; add it in a second template (extends:)"
        kept = [r for r in kept if id(r) in ids]
    return kept, results
