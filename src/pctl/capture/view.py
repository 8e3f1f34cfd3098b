"""Raw capture sections -> the parsed view (pure: text in, plain dicts out, never raising).

The view is what ``pctl capture analyze`` works from and what a person reads in the capture file:
``host``, ``os``, ``hardware``, ``modules``, ``users``, ``groups``, ``mounts``, ``fstab``, ``scheduler``,
``compilers``, ``mpi``, ``cuda`` and ``warnings``. It is rebuilt from the raw outputs whenever they are
present (``pctl capture reparse``), so parser improvements apply to old captures.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

# sections whose failure is normal (the command is optional on most clusters)
_OPTIONAL = ("hw.gpu_", "compiler.", "mpi.", "cuda.", "modules.version", "modules.shell_loads")


def _out(sections: Mapping[str, Mapping[str, Any]], name: str) -> str | None:
    s = sections.get(name)
    if not isinstance(s, Mapping):
        return None
    out = s.get("output")
    return out if isinstance(out, str) else None


def _ok(sections: Mapping[str, Mapping[str, Any]], name: str) -> bool:
    s = sections.get(name)
    return isinstance(s, Mapping) and s.get("rc") == 0 and not s.get("timed_out") and not s.get("incomplete")


def _kv(text: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (text or "").splitlines():
        k, sep, v = line.partition("=")
        if sep and k.strip():
            out[k.strip()] = v.strip()
    return out


def build_view(sections: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    warnings: list[str] = []
    view: dict[str, Any] = {}
    for name, s in sections.items():
        if not isinstance(s, Mapping):
            continue
        if s.get("timed_out"):
            warnings.append(f"section {name} timed out after {s.get('duration_s')} s; its output is partial")
        elif s.get("incomplete"):
            warnings.append(f"section {name} did not finish (connection ended); its output is partial")
        elif s.get("truncated"):
            warnings.append(f"section {name} was cut at the output size limit")
        elif s.get("rc") not in (0, None) and not name.startswith(_OPTIONAL):
            warnings.append(f"section {name} exited with status {s.get('rc')}")
    for key, fn in (("host", _host), ("os", _os), ("hardware", _hardware), ("modules", _modules),
                    ("scheduler", _scheduler), ("compilers", _compilers), ("mpi", _mpi), ("cuda", _cuda)):
        try:
            view[key] = fn(sections)
        except Exception as exc:  # pragma: no cover - the view must never fail as a whole
            warnings.append(f"could not read {key}: {type(exc).__name__}: {exc}")
            view[key] = None
    try:
        view["users"], view["groups"] = _users(sections)
    except Exception as exc:  # pragma: no cover
        warnings.append(f"could not read users: {type(exc).__name__}: {exc}")
        view["users"], view["groups"] = [], []
    try:
        view["mounts"], view["fstab"] = _storage(sections)
    except Exception as exc:  # pragma: no cover
        warnings.append(f"could not read mounts: {type(exc).__name__}: {exc}")
        view["mounts"], view["fstab"] = [], []
    mods = view.get("modules") or {}
    for w in mods.get("warnings", []) if isinstance(mods, dict) else []:
        warnings.append(f"modules: {w}")
    view["warnings"] = warnings
    order = ["host", "os", "hardware", "scheduler", "modules", "users", "groups", "mounts", "fstab", "compilers",
             "mpi", "cuda", "warnings"]
    return {k: view.get(k) for k in order}


# ---------------------------------------------------------------------------------------- host, OS, hardware

def _host(sections) -> dict[str, Any]:
    kv = _kv(_out(sections, "meta"))
    return {
        "hostname": kv.get("hostname") or None,
        "user": kv.get("user") or None,
        "uid": _int(kv.get("uid")),
        "date": kv.get("date") or None,
        "commands": kv.get("commands", "").split() if kv.get("commands") else [],
    }


def _os(sections) -> dict[str, Any]:
    rel = {}
    for line in (_out(sections, "os.release") or "").splitlines():
        k, sep, v = line.partition("=")
        if sep:
            rel[k.strip()] = v.strip().strip('"').strip("'")
    kernel = (_out(sections, "os.kernel") or "").strip().splitlines()
    parts = kernel[0].split() if kernel else []
    arch = next((p for p in parts if p in ("x86_64", "aarch64", "arm64", "ppc64le", "i686")), None)
    out = {
        "id": rel.get("ID") or None,
        "id_like": rel.get("ID_LIKE") or None,
        "version_id": rel.get("VERSION_ID") or None,
        "name": rel.get("NAME") or None,
        "pretty_name": rel.get("PRETTY_NAME") or None,
        "kernel": parts[1] if len(parts) > 1 else None,
        "arch": arch,
    }
    if not rel:  # /etc/redhat-release fallback: "CentOS Linux release 7.9.2009 (Core)"
        text = (_out(sections, "os.release") or "").strip()
        m = re.match(r"^(.*?) release (\d+(?:\.\d+)*)", text)
        if m:
            out["pretty_name"] = text.splitlines()[0]
            out["name"] = m.group(1)
            out["version_id"] = m.group(2)
            low = m.group(1).lower()
            out["id"] = next((k for k in ("centos", "rocky", "almalinux", "rhel", "fedora") if k in low),
                             "rhel" if "red hat" in low else None)
    return out


def _hardware(sections) -> dict[str, Any]:
    cpu = {}
    for line in (_out(sections, "hw.cpu") or "").splitlines():
        k, sep, v = line.partition(":")
        if sep:
            cpu[k.strip()] = v.strip()
    mem_kb = None
    for line in (_out(sections, "hw.memory") or "").splitlines():
        m = re.match(r"^MemTotal:\s+(\d+)\s*kB", line)
        if m:
            mem_kb = int(m.group(1))
    gpus: list[dict[str, Any]] = []
    nv = _out(sections, "hw.gpu_nvidia") if _ok(sections, "hw.gpu_nvidia") else None
    if nv:
        models: dict[str, dict[str, Any]] = {}
        for line in nv.splitlines():
            cols = [c.strip() for c in line.split(",")]
            if len(cols) >= 2 and cols[0].isdigit():
                g = models.setdefault(cols[1], {"model": cols[1], "count": 0, "memory_mb": None, "source": "nvidia-smi"})
                g["count"] += 1
                if len(cols) > 2:
                    mm = re.match(r"(\d+)\s*MiB", cols[2])
                    if mm:
                        g["memory_mb"] = int(mm.group(1))
        gpus = list(models.values())
    elif _out(sections, "hw.gpu_lspci"):
        models = {}
        for line in (_out(sections, "hw.gpu_lspci") or "").splitlines():
            m = re.search(r"(?:VGA compatible controller|3D controller|Display controller):\s*(.+)$", line)
            if m and re.search(r"nvidia|amd|advanced micro|radeon|instinct", m.group(1), re.I) and not re.search(
                    r"aspeed|matrox|cirrus|virtio|qxl|bochs", m.group(1), re.I):
                g = models.setdefault(m.group(1), {"model": m.group(1), "count": 0, "memory_mb": None, "source": "lspci"})
                g["count"] += 1
        gpus = list(models.values())
    return {
        "cpu_model": cpu.get("Model name") or None,
        "cpus": _int(cpu.get("CPU(s)")),
        "sockets": _int(cpu.get("Socket(s)")),
        "cores_per_socket": _int(cpu.get("Core(s) per socket")),
        "threads_per_core": _int(cpu.get("Thread(s) per core")),
        "arch": cpu.get("Architecture") or None,
        "memory_gib": round(mem_kb / 1024 / 1024, 1) if mem_kb else None,
        "gpus": gpus,
    }


# ---------------------------------------------------------------------------------------- modules

def _modules(sections) -> dict[str, Any]:
    from pctl.capture.parsers.modules import parse_listing

    env = _kv(_out(sections, "modules.env"))
    version = None
    vtext = _out(sections, "modules.version") or ""
    m = re.search(r"Version\s+(\d+(?:\.\d+)+)", vtext) or re.search(r"(?:Modules|VERSION)\D*(\d+(?:\.\d+)+)", vtext)
    if m:
        version = m.group(1)
    elif env.get("LMOD_VERSION"):
        version = env["LMOD_VERSION"]
    kind = env.get("kind") or ("none" if "modules.env" in sections else None)
    warnings: list[str] = []
    mods: list[dict[str, Any]] = []
    source = None
    spider = _out(sections, "modules.spider_json")
    if spider and spider.strip():
        span = _json_span(spider)
        if span is not None:
            listing = parse_listing(span, "lmod_spider_json")
            if listing.modules:
                source = "spider-json"
                warnings += listing.warnings
                mods = [_mod_dict(x) for x in listing.modules]
        if source is None:
            warnings.append("Lmod spider JSON could not be read; falling back to module avail")
    if source is None:
        for name, fmt in (("modules.avail_terse", None), ("modules.avail", None), ("modules.spider", None)):
            text = _out(sections, name)
            if not text or not text.strip():
                continue
            listing = parse_listing(text, fmt)
            if not listing.modules:
                continue
            warnings += listing.warnings
            if source is None:
                source = {"modules.avail_terse": "avail-terse", "modules.avail": "avail",
                          "modules.spider": "spider-terse"}[name]
                mods = [_mod_dict(x) for x in listing.modules]
            else:  # add what the first listing did not have (spider lists every level of a hierarchy)
                have = {(d["full_name"]) for d in mods}
                for x in listing.modules:
                    if x.full_name not in have:
                        mods.append(_mod_dict(x))
                        have.add(x.full_name)
    # defaults as the module system reports them (`module -t -d avail`)
    dtext = _out(sections, "modules.avail_default")
    if dtext and mods:
        dl = parse_listing(dtext, "lmod_terse")
        by_sec: dict[tuple[str | None, str], bool] = {}
        names_only: set[str] = set()
        for x in dl.modules:
            by_sec[(x.section, x.full_name)] = True
            names_only.add(x.full_name)
        for d in mods:
            if (d.get("mpath"), d["full_name"]) in by_sec or (d.get("mpath") is None and d["full_name"] in names_only):
                d["default"] = True
    modulepath = [p for p in (env.get("MODULEPATH") or "").split(":") if p]
    out = {
        "system": kind,
        "version": version,
        "source": source,
        "modulepath": modulepath,
        "count": len(mods),
        "modules": mods,
        "warnings": warnings,
    }
    loads = _shell_loads(_out(sections, "modules.shell_loads"))
    if loads is not None:
        out["shell_loads"] = loads
    return out


_LOAD_RE = re.compile(r"^\s*(\d+)\s+(site|login|user)\s+([A-Za-z0-9][A-Za-z0-9._+/-]{0,200})\s*$")


def _shell_loads(text: str | None) -> dict[str, dict[str, int]] | None:
    """`uniq -c` of "site|login|user MODULE" lines -> {"site": {module: n}, "user": {module: n}}; modules the
    site loads at login count as site loads."""
    if text is None:
        return None
    out: dict[str, dict[str, int]] = {"site": {}, "user": {}}
    for line in text.splitlines():
        m = _LOAD_RE.match(line)
        if not m:
            continue
        scope = "user" if m.group(2) == "user" else "site"
        out[scope][m.group(3)] = out[scope].get(m.group(3), 0) + int(m.group(1))
    return out


def _json_span(text: str) -> str | None:
    """The JSON document inside text (Lmod may print warnings before it: stderr is merged)."""
    s = text.strip()
    if s.startswith("{") and s.endswith("}"):
        return s
    i = s.find("{")
    while i != -1 and i <= 4096:
        try:
            _obj, end = json.JSONDecoder().raw_decode(s[i:])
            return s[i:i + end]
        except ValueError:
            i = s.find("{", i + 1)
    return None


def _json_object(text: str) -> Any:
    s = text.strip()
    try:
        return json.loads(s)
    except ValueError:
        pass
    i = s.find("{")
    while i != -1:  # warnings printed before the JSON (stderr is merged)
        try:
            obj, _end = json.JSONDecoder().raw_decode(s[i:])
            return obj
        except ValueError:
            i = s.find("{", i + 1)
            if i > 4096:
                break
    return None


def _mod_dict(m) -> dict[str, Any]:
    d: dict[str, Any] = {
        "name": m.name,
        "version": m.version,
        "full_name": m.full_name,
        "default": bool(m.default),
        "hidden": bool(m.hidden),
        "mpath": m.section,
    }
    if m.parents:
        d["parents"] = [list(p) for p in m.parents]
    props = [x for x in m.markers if ":" in x]
    if props:
        d["properties"] = props
    return d


# ---------------------------------------------------------------------------------------- users

def _users(sections) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    groups: list[dict[str, Any]] = []
    gid_name: dict[int, str] = {}
    for line in (_out(sections, "users.groups") or "").splitlines():
        parts = line.split(":")
        if len(parts) < 2:
            continue
        gid = _int(parts[1])
        if gid is None or not parts[0]:
            continue
        members = [x for x in (parts[2].split(",") if len(parts) > 2 else []) if x]
        groups.append({"name": parts[0], "gid": gid, "members": members})
        gid_name.setdefault(gid, parts[0])
    id_gids: dict[str, list[int]] = {}
    for line in (_out(sections, "users.id") or "").splitlines():
        name, sep, rest = line.partition(":")
        if sep and name:
            id_gids[name] = [g for g in (_int(x) for x in rest.split()) if g is not None]
    users: list[dict[str, Any]] = []
    for line in (_out(sections, "users.passwd") or "").splitlines():
        parts = line.split(":")
        if len(parts) < 3:
            continue
        uid, gid = _int(parts[1]), _int(parts[2])
        if uid is None or not parts[0]:
            continue
        u = {"name": parts[0], "uid": uid, "gid": gid,
             "home": parts[3] if len(parts) > 3 else None, "shell": parts[4] if len(parts) > 4 else None}
        if parts[0] in id_gids:
            sup = [g for g in id_gids[parts[0]] if g != gid]
            u["groups"] = [gid_name.get(g, str(g)) for g in sup]
        else:
            u["groups"] = [g["name"] for g in groups if parts[0] in g["members"] and g["gid"] != gid]
        u["primary_group"] = gid_name.get(gid) if gid is not None else None
        users.append(u)
    # keep the groups that matter for a migration: site groups (gid >= 1000) and those users belong to
    used = {u["gid"] for u in users} | {g for gs in id_gids.values() for g in gs}
    used_names = {n for u in users for n in u.get("groups", [])}
    groups = [g for g in groups if (g["gid"] >= 1000 and g["gid"] not in (65534, 65535, 4294967294, 4294967295))
              or g["gid"] in used or g["name"] in used_names]
    return users, groups


# ---------------------------------------------------------------------------------------- storage

_PSEUDO_FS = {
    "proc", "sysfs", "devtmpfs", "devpts", "tmpfs", "cgroup", "cgroup2", "securityfs", "pstore", "bpf", "debugfs",
    "tracefs", "configfs", "fusectl", "mqueue", "hugetlbfs", "binfmt_misc", "autofs", "rpc_pipefs", "nsfs",
    "overlay", "squashfs", "efivarfs", "selinuxfs", "ramfs", "fuse.gvfsd-fuse", "fuse.portal", "nfsd", "iso9660",
}


def _storage(sections) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    mounts: dict[str, dict[str, Any]] = {}
    fm = _out(sections, "storage.findmnt")
    if fm:
        data = _json_object(fm)
        if isinstance(data, dict):
            def walk(items):
                for it in items or []:
                    if isinstance(it, dict) and isinstance(it.get("target"), str):
                        mounts[it["target"]] = {"target": it["target"], "source": it.get("source"),
                                                "fstype": it.get("fstype"), "options": it.get("options")}
                        walk(it.get("children"))
            walk(data.get("filesystems"))
    pm = _out(sections, "storage.proc_mounts")
    if pm and not mounts:
        for line in pm.splitlines():
            p = line.split()
            if len(p) >= 4:
                t = p[1].replace("\\040", " ")
                mounts[t] = {"target": t, "source": p[0], "fstype": p[2], "options": p[3]}
    for line in (_out(sections, "storage.df") or "").splitlines()[1:]:
        p = line.split(None, 6)
        if len(p) < 7 or not p[2].isdigit():
            continue
        t = p[6]
        m = mounts.setdefault(t, {"target": t, "source": p[0], "fstype": p[1], "options": None})
        m["size_gib"] = round(int(p[2]) / 1024 / 1024, 2)
        m["used_gib"] = round(int(p[3]) / 1024 / 1024, 2) if p[3].isdigit() else None
        m["avail_gib"] = round(int(p[4]) / 1024 / 1024, 2) if p[4].isdigit() else None
    out = []
    for m in mounts.values():
        if (m.get("fstype") or "") in _PSEUDO_FS or (m.get("fstype") or "").startswith("fuse.lxcfs"):
            continue  # kernel and in-memory file systems: nothing to migrate (the raw output keeps them)
        m.setdefault("size_gib", None)
        out.append(m)
    out.sort(key=lambda m: m["target"])
    fstab = []
    for line in (_out(sections, "storage.fstab") or "").splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        p = s.split()
        if len(p) >= 3:
            fstab.append({"source": p[0], "target": p[1], "fstype": p[2], "options": p[3] if len(p) > 3 else None})
    return out, fstab


# ---------------------------------------------------------------------------------------- scheduler

def _scheduler(sections) -> dict[str, Any] | None:
    from pctl.capture.parsers import schedulers as sch
    from pctl.capture.parsers import slurm

    if any(k.startswith("slurm.") for k in sections):
        parts = slurm.parse_scontrol_partitions(_out(sections, "slurm.partitions"))
        nodes = slurm.parse_scontrol_nodes(_out(sections, "slurm.nodes"))
        rows = slurm.parse_sinfo(_out(sections, "slurm.sinfo"))
        queues = sch.summarize_queues(parts, nodes, rows)
        cfg = slurm.parse_scontrol_config(_out(sections, "slurm.config"))
        ver = None
        m = re.search(r"slurm\s+(\d+(?:\.\d+)+)", _out(sections, "slurm.version") or "", re.I)
        if m:
            ver = m.group(1)
        extra = {p.name: p for p in parts}
        qd = []
        for q in queues:
            d = _queue_dict(q)
            p = extra.get(q.name)
            if p is not None:
                d["hidden"] = bool(p.hidden)
                d["priority_tier"] = p.priority_tier
                d["allow_groups"] = p.allow_groups
            feats = sorted({f for n in nodes if q.name in n.partitions for f in n.features})
            if feats:
                d["features"] = feats
            qd.append(d)
        return {"type": "slurm", "version": ver or cfg.get("SLURM_VERSION"), "cluster_name": cfg.get("ClusterName"),
                "node_count": len(nodes) or None, "queues": qd,
                "warnings": list(getattr(parts, "warnings", [])) + list(getattr(nodes, "warnings", []))}
    if any(k.startswith("pbs.") for k in sections):
        q = sch.parse_pbs_qstat_q(_out(sections, "pbs.queues"))
        n = sch.parse_pbsnodes(_out(sections, "pbs.nodes"))
        return {"type": "pbs", "version": None, "cluster_name": None, "node_count": len(n) or None,
                "queues": [_queue_dict(x) for x in sch.summarize_queues(q, n)], "warnings": list(q.warnings)}
    if any(k.startswith("sge.") for k in sections):
        q = sch.parse_sge_queue(_out(sections, "sge.queues"))
        g = sch.parse_sge_hostgroup(_out(sections, "sge.hostgroups"))
        h = sch.parse_sge_qhost(_out(sections, "sge.qhost"))
        return {"type": "sge", "version": None, "cluster_name": None, "node_count": len(h) or None,
                "queues": [_queue_dict(x) for x in sch.summarize_queues(q, g, h)], "warnings": list(q.warnings)}
    if any(k.startswith("lsf.") for k in sections):
        q = sch.parse_lsf_bqueues(_out(sections, "lsf.queues"))
        h = sch.parse_lsf_hosts("\n".join(x for x in (_out(sections, "lsf.bhosts"), _out(sections, "lsf.lshosts")) if x))
        return {"type": "lsf", "version": None, "cluster_name": None, "node_count": len(h) or None,
                "queues": [_queue_dict(x) for x in sch.summarize_queues(q, h)], "warnings": list(q.warnings)}
    return None


def _queue_dict(q) -> dict[str, Any]:
    return {
        "name": q.name, "nodes": q.nodes, "cores_per_node": q.cores_per_node, "memory_mb": q.memory_mb,
        "gpus_per_node": q.gpus_per_node, "gpu_type": q.gpu_type, "max_walltime_min": q.max_walltime_min,
        "default_walltime_min": q.default_walltime_min, "default": bool(q.default), "state": q.state,
    }


# ---------------------------------------------------------------------------------------- software

_VER_RE = re.compile(r"(\d+\.\d+(?:\.\d+)*)")


def _compilers(sections) -> list[dict[str, Any]]:
    out = []
    for name in sorted(k for k in sections if k.startswith("compiler.")):
        text = _out(sections, name) or ""
        if not _ok(sections, name) or not text.strip():
            continue
        first = text.strip().splitlines()[0]
        m = _VER_RE.search(first)
        tool = name.split(".", 1)[1]
        vendor = tool
        if tool == "clang" and "aocc" in text.lower():
            vendor = "aocc"
        out.append({"name": vendor, "command": tool, "version": m.group(1) if m else None, "banner": first[:200]})
    return out


def _mpi(sections) -> list[dict[str, Any]]:
    out = []
    for name in ("mpi.mpirun", "mpi.ompi_info", "mpi.mpichversion"):
        text = _out(sections, name) or ""
        if not text.strip() or not _ok(sections, name):
            continue
        low = text.lower()
        impl = ("openmpi" if "open mpi" in low or "open-mpi" in low or "open rte" in low else
                "intel-mpi" if "intel(r) mpi" in low else "mvapich2" if "mvapich" in low else
                "mpich" if "mpich" in low or "hydra" in low else None)
        m = _VER_RE.search(text)
        item = {"name": impl, "version": m.group(1) if m else None, "banner": text.strip().splitlines()[0][:200]}
        if item not in out:
            out.append(item)
    return out


def _cuda(sections) -> dict[str, Any] | None:
    text = _out(sections, "cuda.nvcc") or ""
    m = re.search(r"release\s+(\d+\.\d+)(?:,\s*V(\d+\.\d+\.\d+))?", text)
    if not m:
        return None
    return {"version": m.group(2) or m.group(1)}


def _int(v: Any) -> int | None:
    try:
        return int(str(v).strip())
    except (TypeError, ValueError):
        return None
