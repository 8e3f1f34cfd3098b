"""On-prem modules -> the template's Spack specs.

Every module is mapped (:mod:`.mapping`); each Spack package keeps one version (the one jobs load most,
else the on-prem default, else the newest); compilers and MPI come first. When a site has more software
than the template may hold, :mod:`.selection` chooses what stays and says why each other package went.
"""

from __future__ import annotations

import os
import re
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


_BUILD_SUFFIX = re.compile(r"[-_](?=(?:gcc|gcccore|gnu|intel|oneapi|iccifort|nvhpc|pgi|aocc|clang|llvm|openmpi|"
                           r"ompi|mpich|impi|mvapich2?|cuda|foss|gompi|iimpi|intel-compilers)\b)", re.I)


def _release_of(r: Mapping) -> str:
    """The on-prem version without a build suffix (1.2.1-gcc-12.3.0 and 1.2.1-foss-2023a are one release)."""
    v = r.onprem_version or r.version or r.full_name
    return _BUILD_SUFFIX.split(str(v), maxsplit=1)[0].lower()


def _shell_count(shells: dict[str, int], m: dict[str, Any], is_default: bool) -> int:
    n = int(shells.get(str(m.get("full_name")), 0))
    if is_default:  # `module load gromacs` loads the default version
        n += int(shells.get(str(m.get("name")), 0))
    return n


def map_software(view: dict[str, Any], catalog, usage: dict[str, int] | None = None, *,
                 limit: int = MAX_SPECS) -> tuple[list[Mapping], list[Mapping]]:
    """(kept, all): every module's mapping; kept = the specs for the template, compilers and MPI first.

    ``usage`` counts the modules batch scripts load (module full name or bare name -> jobs). Modules the
    site loads at login and modules users load in their shells come from the capture itself
    (``modules.shell_loads``). When more packages map than ``limit``, :mod:`.selection` chooses; each one
    left out gets status ``dropped`` and a reason that names its rank."""
    from pctl.capture import selection

    modview = view.get("modules") or {}
    mods = [m for m in (modview.get("modules") or []) if isinstance(m, dict)]
    loads = modview.get("shell_loads") if isinstance(modview.get("shell_loads"), dict) else {}
    site_loads = {str(k): int(v) for k, v in (loads.get("site") or {}).items() if isinstance(v, int)}
    user_loads = {str(k): int(v) for k, v in (loads.get("user") or {}).items() if isinstance(v, int)}
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
        r.used_in_shells = _shell_count(user_loads, m, r.default)
        r.loaded_at_login = _shell_count(site_loads, m, r.default) > 0
        r.marked_default = bool(m.get("default")) and not m.get("hidden")
        results.append(r)
    by_pkg: dict[str, list[Mapping]] = {}
    order: list[str] = []
    for r in results:
        if r.spec is None or r.status in ("skipped", "not_mappable"):
            continue
        if r.package not in by_pkg:
            order.append(r.package)
        by_pkg.setdefault(r.package, []).append(r)
    best_of: dict[str, Mapping] = {}
    cands: list[selection.Candidate] = []
    for pkg in order:
        rs = by_pkg[pkg]
        best = max(rs, key=lambda r: (r.used_by_jobs, r.loaded_at_login, r.default, r.used_in_shells,
                                      _version_key(r.version), _version_key(r.onprem_version)))
        best_of[pkg] = best
        # distinct on-prem versions (builds of one version for other compilers are one version)
        versions = len({_release_of(r) for r in rs})
        desc = ""
        if catalog is not None:
            p = catalog.package(pkg)
            desc = p.description if p is not None else ""
        cands.append(selection.Candidate(
            package=pkg, best=best, role=best.role,
            site_default=best.loaded_at_login or (best.marked_default and versions > 1),
            jobs=sum(r.used_by_jobs for r in rs), shells=sum(r.used_in_shells for r in rs),
            versions=versions, domain=selection.domain_of(pkg, desc)))
    chosen, dropped = selection.choose(cands, max(0, limit))
    dropped_pkgs = {c.package for c in dropped}
    for c in dropped:
        c.best.status = "dropped"
        c.best.reason = selection.dropped_reason(c, limit, chosen)
        c.best.rank = c.position
    for c in chosen:
        c.best.rank = c.position
        c.best.kept_because = c.why_kept()
    for pkg in order:
        rs, best = by_pkg[pkg], best_of[pkg]
        why = ("most used by the batch scripts" if best.used_by_jobs and any(r.used_by_jobs != best.used_by_jobs for r in rs)
               else "loaded at login on-prem" if best.loaded_at_login
               else "the on-prem default" if best.default else "the newest on-prem version")
        for r in rs:
            if r is best:
                continue
            best.also.append(r.full_name + (f" ({r.where})" if r.where else ""))
            r.status = "skipped"
            if pkg in dropped_pkgs:
                r.reason = (f"other version of {pkg}, which is left out of the template (over the package limit; "
                            "see 'Left out')")
            elif r.spec == best.spec:
                r.reason = f"same spec as {best.full_name} ({best.spec}); one install serves both"
            else:
                r.reason = (f"other version of {pkg}: kept {best.spec} ({why}); one Spack environment concretizes one "
                            f"{pkg}; add this version by hand if jobs need it")
    # the template lists compilers, then MPI, then packages in on-prem order (the order people know)
    role_rank = {"compiler": 0, "mpi": 1, "package": 2}
    onprem = {id(r): i for i, r in enumerate(results)}
    kept = sorted((c.best for c in chosen), key=lambda r: (role_rank.get(r.role, 2), onprem[id(r)]))
    return kept, results
