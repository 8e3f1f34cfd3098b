"""A capture (and optionally a batch profile) -> a commented pctl template and a migration report.

:func:`analyze` is pure apart from validating its own output: it takes the capture document, the
Spack catalog (or None) and the batch profile (or None), and returns an :class:`Analysis` with the
template text, the report as a dict (the ``--json`` form) and as Markdown.

Mapping rules live in :mod:`.mapping` (modules -> Spack specs) and :mod:`.instances` (partitions ->
EC2 instance types); users, groups and storage are handled here:

* users with a UID/GID outside pctl's 1000-60000, UID 1000 (the image's default user), reserved names
  (``slurm``, ``munge``, ``admin`` ...) and service accounts (nologin shells) are skipped and reported;
  with ``remap_ids_from=N`` out-of-range IDs are renumbered from N instead (the report lists the new IDs:
  files copied from on-prem then need ``chown``);
* mounts: scratch-like paths (``/scratch``, ``/work``, ``/tmp*``, parallel file systems) -> one FSx for
  Lustre sized from ``df``; project/home-like paths (``/projects``, ``/data``, ``/group`` ...) -> one EFS
  (``deletion_policy: retain``); the rest are reported with an S3 suggestion (commented in the template).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from pctl.capture import instances
from pctl.capture.mapping import Mapping, map_module
from pctl.template import rules

SPOT_RE = re.compile(r"(?:^|[-_.])(?:debug|short|preempt\w*|low|lowprio|scavenge\w*|standby|spot|backfill|test|"
                     r"dev|devel|free|opportunistic|idle)(?:$|[-_.\d])", re.I)
_STD_SHELLS = ("/bin/bash", "/usr/bin/bash", "/bin/sh", "/usr/bin/sh", "/bin/zsh", "/usr/bin/zsh", "/bin/tcsh",
               "/usr/bin/tcsh", "/bin/csh", "/usr/bin/csh", "/usr/bin/fish", "/bin/ksh", "/usr/bin/ksh")
_NOLOGIN = ("/sbin/nologin", "/usr/sbin/nologin", "/bin/false", "/usr/bin/false", "/bin/sync", "/sbin/shutdown",
            "/sbin/halt")
_SCRATCH_RE = re.compile(r"(?:^|/)(?:scratch\w*|work|tmp\w*|fast\w*|flash|burst\w*|lustre\w*|gpfs\w*|beegfs\w*|"
                         r"nobackup\w*|temp)(?:/|$)", re.I)
_PROJECT_RE = re.compile(r"(?:^|/)(?:projects?|proj|home\w*|users?|groups?|data|shared?|lab\w*|research|"
                         r"archive|nfs\w*|store|storage|export\w*|depot|labs?)(?:/|$)", re.I)
_SOFTWARE_RE = re.compile(r"(?:^|/)(?:apps?|software|sw|modulefiles|modules|spack|easybuild|opt)(?:/|$)", re.I)
_NETWORK_FS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "fuse.sshfs", "davfs"}
_PARALLEL_FS = {"lustre", "gpfs", "beegfs", "fuse.beegfs", "panfs", "wekafs", "ceph", "cephfs", "fuse.ceph",
                "glusterfs", "fuse.glusterfs", "orangefs", "pvfs2", "fhgfs", "quobyte", "vastfs"}
_LOCAL_FS = {"ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "jfs", "reiserfs", "f2fs"}


MAX_SPECS = 500  # software.spack_packages limit of the template model
MAX_GROUPS = 500


@dataclass
class Analysis:
    template: str
    report: dict[str, Any]
    markdown: str
    valid: bool = True
    errors: list[str] = field(default_factory=list)


# ============================================================================================ helpers

def _clean_comment(text: Any, limit: int = 220) -> str:
    s = re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+", " ", str(text))
    s = " ".join(s.split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


_PLAIN_RE = re.compile(r"^[A-Za-z/][A-Za-z0-9_.@/+=%^~-]*(?: [A-Za-z0-9_.@/+=%^~:-]+)*$")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "none", "~"}


def _q(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    s = str(value)
    if _PLAIN_RE.match(s) and s.lower() not in _YAML_WORDS and ": " not in s and " #" not in s:
        return s
    from pctl.capture.yamlio import quote

    return quote(s)


def _cluster_name(raw: str | None) -> str:
    s = re.sub(r"[^A-Za-z0-9-]+", "-", (raw or "").split(".")[0]).strip("-")
    s = re.sub(r"-{2,}", "-", s)
    if not s or not s[0].isalpha():
        s = "onprem" + ("-" + s if s else "")
    s = s[:56].rstrip("-")
    return f"{s}-aws"


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


def map_os(os_info: dict[str, Any] | None) -> tuple[str, str]:
    """(pctl os, why)."""
    o = os_info or {}
    oid = (o.get("id") or "").lower()
    like = (o.get("id_like") or "").lower()
    ver = str(o.get("version_id") or "")
    major = ver.split(".")[0] if ver else ""
    pretty = o.get("pretty_name") or (f"{oid} {ver}".strip() or "unknown OS")
    if oid in ("rhel", "redhat") and major in ("8", "9"):
        return f"rhel{major}", f"{pretty} -> rhel{major} (same release)"
    if oid in ("rocky", "almalinux", "ol", "centos", "rhel", "scientific", "fedora") or "rhel" in like:
        if major in ("8", "9"):
            return f"rocky{major}", f"{pretty} -> rocky{major} (binary compatible with RHEL {major})"
        if major and major.isdigit() and int(major) >= 10:
            return "rocky9", f"{pretty} -> rocky9 (newest RHEL-compatible image ParallelCluster offers)"
        return "rocky8", f"{pretty} -> rocky8 (RHEL/CentOS {major or '?'} is past end of life; rocky8 is the closest supported)"
    if oid == "amzn":
        return "alinux2023", f"{pretty} -> alinux2023"
    if oid == "ubuntu":
        if ver.startswith("24"):
            return "ubuntu2404", f"{pretty} -> ubuntu2404"
        return "ubuntu2204", f"{pretty} -> ubuntu2204" + ("" if ver.startswith("22") else " (closest supported Ubuntu)")
    if oid == "debian" or "debian" in like:
        if major.isdigit() and int(major) >= 12:
            return "ubuntu2404", f"{pretty} -> ubuntu2404 (Debian is not offered by ParallelCluster; closest apt-based image)"
        return "ubuntu2204", f"{pretty} -> ubuntu2204 (Debian is not offered by ParallelCluster; closest apt-based image)"
    if oid.startswith("sles") or oid.startswith("opensuse") or "suse" in like:
        return "rhel9", f"{pretty} -> rhel9 (SUSE is not offered by ParallelCluster; closest enterprise Linux)"
    return "alinux2023", f"{pretty} -> alinux2023 (ParallelCluster's default)"


# ============================================================================================ software

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


# ============================================================================================ queues

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


# ============================================================================================ users

def map_users(view: dict[str, Any], remap_from: int | None = None) -> dict[str, Any]:
    users_in = [u for u in (view.get("users") or []) if isinstance(u, dict)]
    groups_in = [g for g in (view.get("groups") or []) if isinstance(g, dict)]
    gid_name = {}
    for g in groups_in:
        if isinstance(g.get("gid"), int):
            gid_name.setdefault(g["gid"], g.get("name"))
    name_gid = {g.get("name"): g.get("gid") for g in groups_in if isinstance(g.get("gid"), int)}
    report_users: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    taken_uids = {u["uid"] for u in users_in if isinstance(u.get("uid"), int)}
    taken_gids = set(gid_name)
    next_id = [remap_from or 0]
    uid_map: dict[int, int] = {}
    gid_map: dict[int, int] = {}

    def in_range(i: int | None) -> bool:
        return isinstance(i, int) and rules.UID_MIN <= i <= rules.UID_MAX and i != rules.OS_DEFAULT_UID

    def fresh(taken: set[int]) -> int | None:
        while next_id[0] <= rules.UID_MAX:
            cand = next_id[0]
            next_id[0] += 1
            if cand not in taken_uids and cand not in taken_gids and cand != rules.OS_DEFAULT_UID:
                taken.add(cand)
                return cand
        return None

    def map_gid(g: int) -> int | None:
        if in_range(g):
            return g
        if remap_from is None:
            return None
        if g not in gid_map:
            new = fresh(taken_gids)
            if new is None:
                return None
            gid_map[g] = new
        return gid_map[g]

    seen_names: set[str] = set()
    seen_uids: set[int] = set()
    for u in users_in:
        name, uid, gid, shell = u.get("name"), u.get("uid"), u.get("gid"), u.get("shell") or "/bin/bash"
        entry = {"name": name, "uid": uid, "gid": gid, "status": "skipped", "reason": ""}
        report_users.append(entry)
        if not isinstance(name, str) or rules.posix_name_problem(name):
            entry["reason"] = "name is not a portable POSIX user name (lowercase letters, digits, _ and -)"
            continue
        if name in rules.RESERVED_USERS:
            entry["reason"] = f"{name!r} is a system/service account name on the node images"
            continue
        if shell in _NOLOGIN:
            entry["reason"] = f"service account (shell {shell})"
            continue
        if name in seen_names:
            entry["reason"] = "listed twice"
            continue
        if not isinstance(uid, int):
            entry["reason"] = "no numeric uid"
            continue
        new_uid = uid
        if not in_range(uid):
            why = ("uid 1000 belongs to the image's default login user (ec2-user/ubuntu/rocky)"
                   if uid == rules.OS_DEFAULT_UID else f"uid {uid} is outside {rules.UID_MIN}-{rules.UID_MAX}")
            if remap_from is None:
                entry["reason"] = why + "; skipped (use --remap-ids-from N to renumber)"
                continue
            if uid not in uid_map:
                nu = fresh(taken_uids)
                if nu is None:
                    entry["reason"] = why + "; no free id left to remap to"
                    continue
                uid_map[uid] = nu
            new_uid = uid_map[uid]
            entry["remapped_uid"] = new_uid
        if new_uid in seen_uids:
            entry["reason"] = f"uid {new_uid} is already used by another kept user"
            continue
        new_gid = None
        if isinstance(gid, int):
            new_gid = map_gid(gid)
            if new_gid is None:
                entry["reason"] = (f"primary gid {gid} is outside {rules.UID_MIN}-{rules.UID_MAX} or the default "
                                   "user's group; skipped (use --remap-ids-from N to renumber)")
                continue
            if new_gid != gid:
                entry["remapped_gid"] = new_gid
        sups, dropped = [], []
        for gname in u.get("groups") or []:
            if gname in rules.OS_GROUPS:
                sups.append(gname)
                continue
            g = name_gid.get(gname)
            if not isinstance(g, int) or rules.posix_name_problem(gname, "group name") or gname in rules.RESERVED_USERS:
                dropped.append(gname)
                continue
            ng = map_gid(g)
            if ng is None:
                dropped.append(gname)
                continue
            sups.append(gname)
        keep = {"name": name, "uid": new_uid, "gid": new_gid, "groups": sups,
                "shell": shell if shell in _STD_SHELLS else "/bin/bash", "onprem_uid": uid, "onprem_gid": gid}
        if dropped:
            entry["dropped_groups"] = dropped
        if shell not in _STD_SHELLS:
            entry["note"] = f"shell {shell} replaced by /bin/bash"
        entry["status"] = "kept" if new_uid == uid and new_gid == gid else "remapped"
        entry["reason"] = "same uid/gid" if entry["status"] == "kept" else "ids renumbered (chown migrated files)"
        kept.append(keep)
        seen_names.add(name)
        seen_uids.add(new_uid)
        if len(kept) >= 2000:
            report_users.append({"name": "...", "status": "skipped", "reason": "stopped at 2000 users (template limit)"})
            break
    # groups: primary and supplementary groups of kept users
    wanted: dict[str, int] = {}
    for k in kept:
        og = k["onprem_gid"]
        pname = gid_name.get(og) if isinstance(og, int) else None
        if pname and k["gid"] is not None:
            wanted.setdefault(pname, k["gid"])
        for gname in k["groups"]:
            if gname in rules.OS_GROUPS:
                continue
            g = name_gid.get(gname)
            if isinstance(g, int):
                ng = map_gid(g)
                if ng is not None:
                    wanted.setdefault(gname, ng)
    groups_out: list[dict[str, Any]] = []
    report_groups: list[dict[str, Any]] = []
    used_gids: dict[int, str] = {}
    for gname, gid in wanted.items():
        e = {"name": gname, "gid": gid, "onprem_gid": name_gid.get(gname)}
        if len(groups_out) >= MAX_GROUPS:
            e.update(status="skipped", reason=f"the template holds at most {MAX_GROUPS} groups")
        elif rules.posix_name_problem(gname, "group name") or gname in rules.RESERVED_USERS or gname in rules.OS_GROUPS:
            e.update(status="skipped", reason="not a usable group name on the node images")
        elif gid in used_gids:
            e.update(status="skipped", reason=f"gid {gid} is also group {used_gids[gid]!r}")
        else:
            e.update(status="kept" if gid == name_gid.get(gname) else "remapped", reason="")
            used_gids[gid] = gname
            groups_out.append({"name": gname, "gid": gid})
        report_groups.append(e)
    ok_groups = {g["name"] for g in groups_out}
    for k in kept:
        k["groups"] = [g for g in k["groups"] if g in ok_groups or g in rules.OS_GROUPS]
        og = k["onprem_gid"]
        pname = gid_name.get(og) if isinstance(og, int) else None
        k["primary_group"] = pname if pname in ok_groups else None
    return {"users": kept, "groups": groups_out, "report_users": report_users, "report_groups": report_groups,
            "uid_map": uid_map, "gid_map": gid_map}


# ============================================================================================ storage

def map_storage(view: dict[str, Any]) -> dict[str, Any]:
    mounts = [m for m in (view.get("mounts") or []) if isinstance(m, dict) and not m.get("pseudo")]
    mods = (view.get("modules") or {}).get("modulepath") or []
    storage: list[dict[str, Any]] = []
    report: list[dict[str, Any]] = []
    s3: list[dict[str, Any]] = []
    have = {"fsx_lustre": False, "efs": False}
    for m in mounts:
        t = m.get("target") or ""
        fs = (m.get("fstype") or "").lower()
        e = {"target": t, "fstype": fs, "source": m.get("source"), "size_gib": m.get("size_gib"),
             "used_gib": m.get("used_gib"), "suggestion": None, "reason": ""}
        if not t.startswith("/") or fs in ("swap",):
            continue
        network = fs in _NETWORK_FS
        parallel = fs in _PARALLEL_FS
        local = fs in _LOCAL_FS
        if not (network or parallel or local):
            continue
        problem = rules.mount_point_problem(t)
        norm = rules.normalize_mount(t) if t.startswith("/") else t
        if norm == "/home" or norm.startswith("/home/"):
            e.update(suggestion="head-node /home", reason=(
                "ParallelCluster shares /home from the head node; copy home directories there (rsync), or mount an "
                "EFS elsewhere and point users at it"))
            report.append(e)
            continue
        if problem and not (network or parallel):
            continue  # /, /boot, /var ... local system disks: nothing to migrate
        if any(p.startswith(norm.rstrip("/") + "/") or p == norm for p in mods) or (
                _SOFTWARE_RE.search(norm) and not _PROJECT_RE.search(norm) and not _SCRATCH_RE.search(norm)):
            e.update(suggestion="none", reason="software tree: replaced by the Spack packages pctl installs")
            report.append(e)
            continue
        if problem:
            e.update(suggestion="s3", reason=f"{problem}; copy its data to S3 and mount it elsewhere")
            report.append(e)
            continue
        scratch = bool(_SCRATCH_RE.search(norm)) or (parallel and not _PROJECT_RE.search(norm))
        if scratch and not have["fsx_lustre"]:
            size = instances.fsx_size_gb(m.get("size_gib"), m.get("used_gib"))
            item = {"type": "fsx_lustre", "mount_point": norm, "size_gb": size, "deployment_type": "SCRATCH_2",
                    "deletion_policy": "delete"}
            have["fsx_lustre"] = True
            storage.append(item)
            e.update(suggestion="fsx_lustre", reason=(
                f"scratch-like ({fs}, {m.get('size_gib') if m.get('size_gib') is not None else '?'} GiB on-prem) -> FSx for Lustre SCRATCH_2, {size} GB "
                "(the smallest valid size at least as large); scratch data is not copied"))
            report.append(e)
            continue
        if not scratch and not have["efs"]:
            item = {"type": "efs", "mount_point": norm, "deletion_policy": "retain"}
            have["efs"] = True
            storage.append(item)
            e.update(suggestion="efs", reason=(
                f"shared project data ({fs}, {m.get('used_gib') if m.get('used_gib') is not None else '?'} GiB used) -> EFS (grows as needed; "
                "deletion_policy retain keeps it when the cluster is deleted); copy the data with rsync or AWS DataSync"))
            report.append(e)
            continue
        bucket = re.sub(r"[^a-z0-9-]+", "-", norm.strip("/").lower()).strip("-")[:40] or "data"
        s3.append({"bucket": f"CHANGE-ME-{bucket}", "mount_point": norm, "read_only": True})
        e.update(suggestion="s3", reason=(
            "one new EFS and one new FSx are created per cluster: copy this data to an S3 bucket and mount it "
            "(commented s3_mounts entry in the template), or give an existing file system id"))
        report.append(e)
    return {"shared_storage": storage, "s3_suggestions": s3, "report": report}


# ============================================================================================ template

def _spec_comment(r: Mapping) -> str:
    where = f" ({r.where})" if r.where else ""
    tail = ""
    if r.status == "approximated":
        tail = f"; {r.reason}"
    elif r.status == "unverified":
        tail = "; not verified (no catalog)"
    if r.also:
        tail += "; also on-prem: " + ", ".join(r.also[:4]) + (" ..." if len(r.also) > 4 else "")
    return _clean_comment(f"on-prem: {r.full_name}{where} -> {r.spec}{tail}", 300)


def render_template(ctx: dict[str, Any]) -> str:
    L: list[str] = []
    add = L.append
    meta = ctx["meta"]
    add(f"# pctl template generated by `pctl capture analyze` from the capture of {_clean_comment(meta['where'])}")
    add(f"# captured {_clean_comment(meta.get('captured_at') or '?')}; {_clean_comment(ctx['catalog_line'])}")
    add("# Review every section (see the migration report), then: pctl validate FILE && pctl create -t FILE --dry-run")
    add("metadata:")
    add(f"  title: {_q(ctx['title'])}")
    add(f"  description: {_q(ctx['description'])}")
    add("  tags: [migration, captured]")
    add("cluster:")
    add(f"  name: {_q(ctx['cluster_name'])}")
    if ctx.get("region"):
        add(f"  region: {_q(ctx['region'])}")
    else:
        add("  # region: us-east-1          # unset: your AWS configuration's region")
    add(f"  os: {ctx['os']}                # {_clean_comment(ctx['os_why'])}")
    add("compute:")
    add(f"  head_node: {ctx['head_node']}      # login/controller node; on-prem had {ctx['total_nodes'] or '?'} compute node(s)")
    add("  queues:")
    for q in ctx["queues"]:
        o = q["onprem"]
        desc = (f"on-prem partition {q['partition']}" + (" (default)" if o["default"] else "")
                + f": {o['nodes'] if o['nodes'] is not None else '?'} node(s) x {o['cores_per_node'] or '?'} CPUs, "
                + (f"{o['memory_mb'] / 1024:.0f} GiB" if o.get("memory_mb") else "? GiB")
                + (f", {o['gpus_per_node']} GPU(s) {o.get('gpu_type') or ''}".rstrip() if o.get("gpus_per_node") else "")
                + (f", max time {o['max_walltime_min']} min" if o.get("max_walltime_min") else ""))
        if q.get("synthetic"):
            desc = "no partitions captured: sized like the captured machine"
        add(f"    # {_clean_comment(desc)}")
        add(f"    # {_clean_comment(q['why'])}")
        for a in q["adjusted"]:
            add(f"    # batch profile: {_clean_comment(a)}")
        if q["renamed"]:
            add(f"    # renamed from {_clean_comment(q['partition'])!s} (queue names: lowercase letters, digits, '-', at most 25)")
        add(f"    - name: {_q(q['name'])}")
        add(f"      instance_types: [{', '.join(q['instance_types'])}]")
        add("      min_count: 0")
        add(f"      max_count: {q['max_count']}")
        cap = f"      capacity: {q['capacity']}"
        if q.get("why_capacity"):
            cap += f"    # {_clean_comment(q['why_capacity'])}"
        add(cap)
        if q["efa"]:
            add("      efa: true           # multi-node MPI: Elastic Fabric Adapter")
    add("software:")
    add(f"  modules: {ctx['modules_layout']}    # {_clean_comment(ctx['modules_why'])}")
    specs = ctx["specs"]
    if specs:
        add("  spack_packages:")
        section = None
        for r in specs:
            head = {"compiler": "compilers", "mpi": "MPI"}.get(r.role, "packages")
            if head != section:
                add(f"    # {head}")
                section = head
            add(f"    # {_spec_comment(r)}")
            add(f"    - {_q(r.spec)}")
    else:
        add("  spack_packages: []       # no on-prem module could be mapped (see the report)")
    users, groups = ctx["users"], ctx["groups"]
    if users:
        add("users:")
        for u in users:
            note = (f"    # on-prem uid {u['onprem_uid']} gid {u['onprem_gid']} (renumbered)"
                    if (u["uid"] != u["onprem_uid"] or u["gid"] != u["onprem_gid"]) else None)
            if note:
                add(note)
            add(f"  - name: {_q(u['name'])}")
            add(f"    uid: {u['uid']}")
            if u["gid"] is not None:
                add(f"    gid: {u['gid']}" + (f"                # primary group {u['primary_group']}" if u.get("primary_group") else ""))
            if u["groups"]:
                add(f"    groups: [{', '.join(_q(g) for g in u['groups'])}]")
            if u["shell"] != "/bin/bash":
                add(f"    shell: {u['shell']}")
    else:
        add("users: []                  # no on-prem account could be kept (see the report)")
    if groups:
        add("groups:")
        for g in groups:
            add(f"  - {{name: {_q(g['name'])}, gid: {g['gid']}}}")
    st = ctx["storage"]
    add("data:")
    if st["shared_storage"]:
        add("  shared_storage:")
        for s in st["shared_storage"]:
            src = next((e for e in st["report"] if e.get("target") == s["mount_point"]), None)
            if src:
                add(f"    # on-prem {s['mount_point']}: {_clean_comment(src.get('fstype'))} "
                    f"{_clean_comment(src.get('source'))}, {src.get('size_gib') or '?'} GiB"
                    f" ({src.get('used_gib') if src.get('used_gib') is not None else '?'} GiB used)")
            add(f"    - type: {s['type']}")
            add(f"      mount_point: {_q(s['mount_point'])}")
            for k in ("size_gb", "deployment_type", "deletion_policy"):
                if k in s:
                    add(f"      {k}: {s[k]}")
    else:
        add("  shared_storage: []")
    add("  # S3 buckets mounted on every node (Mountpoint for S3). Copy on-prem data with `aws s3 sync`, then e.g.:")
    sugg = st["s3_suggestions"] or [{"bucket": "CHANGE-ME-lab-data", "mount_point": "/data/lab", "read_only": True}]
    add("  # s3_mounts:")
    for s in sugg:
        add(f"  #   - {{bucket: {s['bucket'].lower()}, mount_point: {s['mount_point']}, read_only: true}}")
    add("  s3_mounts: []")
    return "\n".join(L) + "\n"


# ============================================================================================ analyze

def analyze(doc: dict[str, Any], catalog=None, profile: dict[str, Any] | None = None, *,
            remap_ids_from: int | None = None, cluster_name: str | None = None, region: str | None = None,
            validate: bool = True) -> Analysis:
    from pctl.capture.document import reparse

    doc = reparse(doc)
    view = doc.get("parsed") or {}
    meta = doc.get("meta") or {}
    host = view.get("host") or {}
    sched = view.get("scheduler") or {}
    usage = {str(k): int(v) for k, v in ((profile or {}).get("modules") or {}).items() if isinstance(v, int)}
    kept, allmaps = map_software(view, catalog, usage)
    queues, qnotes = map_queues(view, profile)
    ug = map_users(view, remap_ids_from)
    st = map_storage(view)
    os_name, os_why = map_os(view.get("os"))
    total_nodes = sched.get("node_count") or sum((q["onprem"]["nodes"] or 0) for q in queues) or None
    hier = any(m.get("parents") for m in ((view.get("modules") or {}).get("modules") or []) if isinstance(m, dict))
    where = meta.get("target") or host.get("hostname") or "an on-prem cluster"
    cname = cluster_name or _cluster_name(sched.get("cluster_name") or host.get("hostname") or meta.get("target"))
    if rules.cluster_name_problem(cname):
        from pctl.errors import UsageError

        raise UsageError(rules.cluster_name_problem(cname))
    cat_line = (f"Spack catalog {catalog.release}: names and versions checked" if catalog is not None else
                "no Spack catalog: package names come from pctl's rules and versions were not verified")
    ctx = {
        "meta": {"where": where, "captured_at": meta.get("captured_at") or host.get("date")},
        "catalog_line": cat_line,
        "title": _clean_comment(f"Migrated from {sched.get('cluster_name') or host.get('hostname') or where}", 120),
        "description": _clean_comment(
            f"Generated by pctl capture analyze from {where}"
            + (f" ({(view.get('os') or {}).get('pretty_name')})" if (view.get('os') or {}).get('pretty_name') else "")
            + f": {len(kept)} Spack specs from {len(allmaps)} modules, {len(queues)} queues, {len(ug['users'])} users.", 400),
        "cluster_name": cname, "region": region, "os": os_name, "os_why": os_why,
        "head_node": instances.head_node_for(total_nodes or 0), "total_nodes": total_nodes, "queues": queues,
        "modules_layout": "hierarchical" if hier else "flat",
        "modules_why": ("on-prem modules were hierarchical (Core/Compiler/MPI): users keep `module load gcc openmpi X`"
                        if hier else "on-prem modules were flat"),
        "specs": kept, "users": ug["users"], "groups": ug["groups"], "storage": st,
    }
    text = render_template(ctx)
    report = _report(doc, view, catalog, kept, allmaps, queues, qnotes, ug, st, os_name, os_why, profile)
    valid, errors = True, []
    if validate:
        from pctl.template.validate import validate_text

        res = validate_text(text, "<generated template>", catalog=catalog, use_catalog=catalog is not None)
        valid = res.ok
        errors = [f"{d.where()}: {d.path_str}: {d.message}" for d in res.errors]
        report["validation"] = {
            "valid": res.ok,
            "errors": errors,
            "warnings": [f"{d.path_str}: {d.message}" for d in res.warnings],
        }
    return Analysis(template=text, report=report, markdown=render_markdown(report), valid=valid, errors=errors)


def _report(doc, view, catalog, kept, allmaps, queues, qnotes, ug, st, os_name, os_why, profile) -> dict[str, Any]:
    meta = doc.get("meta") or {}
    host = view.get("host") or {}
    soft = [m.to_dict() for m in allmaps]
    for d in soft:
        d["kept"] = False
    kept_ids = {id(k) for k in kept}
    for d, m in zip(soft, allmaps):
        d["kept"] = id(m) in kept_ids
    counts = {k: sum(1 for d in soft if d["status"] == k) for k in ("mapped", "approximated", "unverified",
                                                                      "not_mappable", "skipped")}
    notes = list(qnotes)
    for c in view.get("compilers") or []:
        notes.append(f"system compiler on the login node: {c.get('name')} {c.get('version') or ''} "
                     "(ParallelCluster images bring their own system compiler)".replace("  ", " "))
    for m in view.get("mpi") or []:
        notes.append(f"MPI on the default PATH: {m.get('name') or '?'} {m.get('version') or ''}".strip())
    cuda = view.get("cuda")
    if isinstance(cuda, dict) and cuda.get("version"):
        notes.append(f"CUDA toolkit on the default PATH: {cuda['version']}")
    gpus = (view.get("hardware") or {}).get("gpus") or []
    for g in gpus:
        notes.append(f"login node GPU: {g.get('count')} x {g.get('model')}")
    used_unmapped = []
    if profile and profile.get("modules"):
        mapped_names = {d["full_name"] for d in soft if d["kept"]} | {d["name"] for d in soft if d["kept"]}
        for mod, n in profile["modules"].items():
            if mod not in mapped_names and str(mod).split("/")[0] not in mapped_names:
                used_unmapped.append({"module": mod, "jobs": n})
    return {
        "schema_version": 1,
        "source": {"target": meta.get("target"), "hostname": host.get("hostname"), "user": host.get("user"),
                   "method": meta.get("method"), "captured_at": meta.get("captured_at") or host.get("date"),
                   "complete": meta.get("complete"), "pctl_version": meta.get("pctl_version")},
        "catalog": ({"release": catalog.release, "path": str(getattr(catalog, "source_path", "") or "")}
                    if catalog is not None else None),
        "summary": {
            "modules": len(soft), "specs": len(kept), **{f"software_{k}": v for k, v in counts.items()},
            "queues": len(queues), "users_kept": sum(1 for u in ug["report_users"] if u["status"] in ("kept", "remapped")),
            "users_skipped": sum(1 for u in ug["report_users"] if u["status"] == "skipped"),
            "groups": len(ug["groups"]), "shared_storage": len(st["shared_storage"]),
        },
        "os": {"onprem": (view.get("os") or {}).get("pretty_name"), "template": os_name, "why": os_why},
        "software": soft,
        "queues": queues,
        "users": ug["report_users"],
        "groups": ug["report_groups"],
        "storage": st["report"],
        "batch": ({"jobs": (profile or {}).get("job_count"), "modules_used_but_not_kept": used_unmapped}
                  if profile else None),
        "notes": notes,
        "warnings": list(view.get("warnings") or []) + ([f"capture incomplete: {meta.get('error')}"]
                                                         if meta.get("complete") is False and meta.get("error") else []),
    }


def _md(s: Any) -> str:
    return _clean_comment("" if s is None else s, 400).replace("|", "\\|")


def render_markdown(rep: dict[str, Any]) -> str:
    L: list[str] = []
    add = L.append
    src = rep["source"]
    add(f"# Migration report: {_md(src.get('target') or src.get('hostname'))}")
    add("")
    add(f"Captured {_md(src.get('captured_at'))} as {_md(src.get('user'))} ({_md(src.get('method'))})"
        + ("" if src.get("complete") is not False else " — **the capture is incomplete**") + ".")
    cat = rep.get("catalog")
    add(f"Spack catalog: {_md(cat['release'])} — package names and versions were checked." if cat else
        "No Spack catalog: package names were mapped by pctl's rules; **names and versions were not verified** "
        "(set PCTL_SPACK_INDEX or run `pctl spack index build`).")
    add("")
    s = rep["summary"]
    add("## Summary")
    add("")
    add("| | |")
    add("|---|---|")
    for k, label in (("modules", "on-prem modules"), ("specs", "Spack specs in the template"),
                     ("software_mapped", "mapped (same version)"), ("software_approximated", "approximated"),
                     ("software_unverified", "mapped, not verified"), ("software_not_mappable", "not mappable"),
                     ("software_skipped", "skipped (hidden, duplicates)"), ("queues", "queues"),
                     ("users_kept", "users kept"), ("users_skipped", "users skipped"), ("groups", "groups"),
                     ("shared_storage", "shared storage")):
        add(f"| {label} | {s.get(k, 0)} |")
    add("")
    add(f"Operating system: {_md(rep['os']['why'])}.")
    add("")
    add("## Software")
    for status, title in (("mapped", "Mapped"), ("unverified", "Mapped by rules (not verified)"),
                          ("approximated", "Approximated"), ("not_mappable", "Not mappable"),
                          ("skipped", "Skipped")):
        rows = [d for d in rep["software"] if d["status"] == status]
        if not rows:
            continue
        add("")
        add(f"### {title} ({len(rows)})")
        add("")
        add("| on-prem module | where | Spack spec | why |")
        add("|---|---|---|---|")
        for d in rows:
            add(f"| {_md(d['full_name'])}{' (default)' if d.get('default') else ''} | {_md(d.get('where') or '')} | "
                f"{_md(d.get('spec') or '—')}{'' if d.get('kept') or not d.get('spec') else ' (not added)'} | {_md(d.get('reason'))} |")
    add("")
    add("## Queues")
    add("")
    add("| partition | nodes × CPUs, memory, GPUs | queue | instance types | max_count | capacity | why |")
    add("|---|---|---|---|---|---|---|")
    for q in rep["queues"]:
        o = q["onprem"]
        size = (f"{o['nodes'] if o['nodes'] is not None else '?'} × {o['cores_per_node'] or '?'}, "
                + (f"{o['memory_mb'] / 1024:.0f} GiB" if o.get("memory_mb") else "?")
                + (f", {o['gpus_per_node']} GPU" if o.get("gpus_per_node") else ""))
        why = q["why"] + ("; " + "; ".join(q["adjusted"]) if q["adjusted"] else "")
        add(f"| {_md(q['partition'])} | {_md(size)} | {q['name']} | {', '.join(q['instance_types'])} | {q['max_count']} | "
            f"{q['capacity']} | {_md(why)} |")
    add("")
    add("## Users and groups")
    add("")
    add("| user | uid | gid | status | why |")
    add("|---|---|---|---|---|")
    for u in rep["users"]:
        uid = f"{u.get('uid')}" + (f" → {u['remapped_uid']}" if "remapped_uid" in u else "")
        gid = f"{u.get('gid')}" + (f" → {u['remapped_gid']}" if "remapped_gid" in u else "")
        why = u.get("reason", "") + (f"; dropped groups: {', '.join(u['dropped_groups'])}" if u.get("dropped_groups") else "")
        add(f"| {_md(u.get('name'))} | {uid} | {gid} | {u['status']} | {_md(why)} |")
    if rep["groups"]:
        add("")
        add("| group | gid | status | why |")
        add("|---|---|---|---|")
        for g in rep["groups"]:
            add(f"| {_md(g['name'])} | {g['gid']} | {g['status']} | {_md(g.get('reason'))} |")
    add("")
    add("## Storage")
    add("")
    if rep["storage"]:
        add("| on-prem mount | type | size (GiB) | suggestion | why |")
        add("|---|---|---|---|---|")
        for e in rep["storage"]:
            add(f"| {_md(e['target'])} | {_md(e.get('fstype'))} | {e.get('size_gib') if e.get('size_gib') is not None else '?'} | "
                f"{_md(e.get('suggestion'))} | {_md(e.get('reason'))} |")
    else:
        add("No shared or data file systems were found in the capture.")
    if rep.get("batch"):
        add("")
        add("## Batch scripts")
        add("")
        b = rep["batch"]
        add(f"{b.get('jobs') or 0} job scripts profiled.")
        if b["modules_used_but_not_kept"]:
            add("")
            add("Modules the jobs load that the template does not provide:")
            add("")
            for x in b["modules_used_but_not_kept"]:
                add(f"- {_md(x['module'])} ({x['jobs']} jobs)")
    if rep.get("notes"):
        add("")
        add("## Other findings")
        add("")
        for n in rep["notes"]:
            add(f"- {_md(n)}")
    if rep.get("warnings"):
        add("")
        add("## Capture warnings")
        add("")
        for w in rep["warnings"]:
            add(f"- {_md(w)}")
    val = rep.get("validation")
    if val:
        add("")
        add("## Validation of the generated template")
        add("")
        add("valid" if val["valid"] else "**invalid**: " + "; ".join(_md(e) for e in val["errors"]))
        for w in val.get("warnings", [])[:20]:
            add(f"- warning: {_md(w)}")
    return "\n".join(L) + "\n"
