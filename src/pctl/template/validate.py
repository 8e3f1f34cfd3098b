"""Validate a template: model grammar (pydantic), cross-field rules, and the Spack catalog.

All problems are collected at once, each with file:line:column and the field path. Rules that
span several fields run on the raw data, so they still report while other sections are broken.
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

from pctl.template import rules
from pctl.template.diagnostics import Diagnostic, error, sort_key, warning
from pctl.template.load import LoadedTemplate, LoadFailed


@dataclass
class ValidationResult:
    source: str
    template: "object | None" = None  # pctl.template.model.Template when valid
    diagnostics: list[Diagnostic] = field(default_factory=list)
    loaded: LoadedTemplate | None = None
    catalog_release: str | None = None

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "valid": self.ok,
            "errors": [d.to_dict() for d in self.errors],
            "warnings": [d.to_dict() for d in self.warnings],
        }


# ---------------------------------------------------------------- pydantic errors -> diagnostics

_TYPE_WORDS = {
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list (YAML '- item' lines or [a, b])",
    "dict_type": "must be a mapping (key: value lines)",
    "model_type": "must be a mapping (key: value lines)",
    "model_attributes_type": "must be a mapping (key: value lines)",
    "none_required": "must be empty",
}


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _unwrap_model(annotation):
    """Find the BaseModel class inside Optional[...] / list[...] / Annotated[...] / dict[..., ...]."""
    from pydantic import BaseModel

    seen = 0
    stack = [annotation]
    while stack and seen < 50:
        seen += 1
        ann = stack.pop()
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            return ann
        for arg in typing.get_args(ann):
            stack.append(arg)
    return None


def _model_at(loc: tuple):
    """The pydantic model class that owns the last key of loc (for 'did you mean')."""
    from pctl.template.model import Template

    model = Template
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        f = model.model_fields.get(part)
        if f is None:
            return None
        sub = _unwrap_model(f.annotation)
        if sub is None:
            return None
        model = sub
    return model


def _pydantic_diagnostics(exc) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err.get("loc", ()) if not (isinstance(p, str) and p.startswith(("[", "function-"))))
        typ = err.get("type", "")
        inp = err.get("input")
        ctx = err.get("ctx") or {}
        msg = err.get("msg", "invalid value")
        hint = None
        code = typ
        if typ == "extra_forbidden":
            key = loc[-1] if loc else "?"
            model = _model_at(loc)
            valid = sorted(model.model_fields) if model is not None else []
            guess = rules.did_you_mean(str(key), valid) if valid else None
            msg = f"unknown key {key!r}" + (f"; did you mean {guess!r}?" if guess else "")
            if valid:
                hint = "valid keys here: " + ", ".join(valid)
            code = "unknown-key"
        elif typ == "missing":
            msg = f"missing required key {loc[-1]!r}" if loc else "missing value"
            code = "missing"
        elif typ in _TYPE_WORDS:
            msg = f"{_TYPE_WORDS[typ]}, got {_short(inp)}" if inp is not None else f"{_TYPE_WORDS[typ]}, got nothing (empty value)"
            code = "type"
        elif typ == "literal_error":
            expected = ctx.get("expected", "")
            msg = f"{_short(inp)} is not allowed; choose one of {expected}"
            if isinstance(inp, str):
                import re

                choices = re.findall(r"'([^']*)'", expected)
                guess = rules.choice_suggestion(inp, choices)
                if guess:
                    msg += f" (did you mean {guess!r}?)"
            code = "choice"
        elif typ in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
            bound = ctx.get("ge", ctx.get("le", ctx.get("gt", ctx.get("lt"))))
            word = {"greater_than_equal": "at least", "less_than_equal": "at most",
                    "greater_than": "more than", "less_than": "less than"}[typ]
            msg = f"must be {word} {bound}, got {_short(inp)}"
            code = "range"
        elif typ == "too_short":
            n = ctx.get("min_length", 1)
            msg = f"needs at least {n} item{'s' if n != 1 else ''}" if isinstance(inp, list) else f"must be at least {n} characters"
            code = "length"
        elif typ == "too_long":
            n = ctx.get("max_length")
            msg = f"has too many items (at most {n})" if isinstance(inp, list) else f"is too long (at most {n} characters)"
            code = "length"
        elif typ in ("pctl", "spack_spec"):
            code = "spack-syntax" if typ == "spack_spec" else "invalid"
        out.append(error(msg, loc, code=code, hint=hint))
    return out


# ---------------------------------------------------------------- cross-field rules on raw data

def _items(data, *path):
    cur = data
    for p in path:
        if not isinstance(cur, dict):
            return []
        cur = cur.get(p)
    return cur if isinstance(cur, list) else []


def _get(data, *path, default=None):
    cur = data
    for p in path:
        if isinstance(p, int):
            if not isinstance(cur, list) or p >= len(cur):
                return default
        elif not isinstance(cur, dict):
            return default
        cur = cur[p] if isinstance(p, int) else cur.get(p, default)
        if cur is default:
            return default
    return cur


def _valid_type(t) -> bool:
    return isinstance(t, str) and rules.instance_type_problem(t) is None


def cross_field(data: dict) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    out += _check_compute(data)
    out += _check_users(data)
    out += _check_data(data)
    out += _check_mount_groups(data)
    out += _check_misc(data)
    from pctl.template.targets import target_diagnostics

    out += target_diagnostics(data)
    return out


def _check_compute(data) -> list[Diagnostic]:
    out = []
    queues = _items(data, "compute", "queues")
    seen: dict[str, int] = {}
    archs: dict[str, tuple] = {}
    head = _get(data, "compute", "head_node")
    if _valid_type(head):
        archs.setdefault(rules.instance_arch(head), ("compute", "head_node"))
        unknown = rules.unknown_instance_type(head)
        if unknown:
            out.append(warning(unknown, ("compute", "head_node"), code="unknown-instance-type"))
    for i, q in enumerate(queues):
        if not isinstance(q, dict):
            continue
        name = q.get("name")
        if isinstance(name, str):
            if name in seen:
                out.append(error(f"queue name {name!r} is used twice (first at compute.queues[{seen[name]}])",
                                 ("compute", "queues", i, "name"), code="duplicate"))
            else:
                seen[name] = i
        from pctl.template.model import _queue_from_resources

        out += _check_queue_extras(q, i)
        q = _queue_from_resources(q)  # compute_resources: the queue's types and counts follow from them
        mn, mx = q.get("min_count", 0), q.get("max_count", 10)
        if isinstance(mn, int) and isinstance(mx, int) and not isinstance(mn, bool) and not isinstance(mx, bool) and mn > mx:
            out.append(error(f"min_count ({mn}) is greater than max_count ({mx})", ("compute", "queues", i, "min_count"),
                             code="range", hint="min_count nodes always run; max_count is the most the queue scales to"))
        types = q.get("instance_types")
        if isinstance(types, list):
            dup = set()
            for j, t in enumerate(types):
                if isinstance(t, str) and t in dup:
                    out.append(error(f"instance type {t!r} is listed twice in this queue",
                                     ("compute", "queues", i, "instance_types", j), code="duplicate"))
                dup.add(t)
                if _valid_type(t):
                    unknown = rules.unknown_instance_type(t)
                    if unknown:
                        out.append(warning(unknown, ("compute", "queues", i, "instance_types", j),
                                           code="unknown-instance-type"))
                    arch = rules.instance_arch(t)
                    if archs and arch not in archs:
                        other_arch, other_path = next(iter(archs.items()))
                        from pctl.template.diagnostics import format_path
                        out.append(error(
                            f"{t} is {arch} but {format_path(other_path)} is {other_arch}; every node of a cluster "
                            "runs one image, so all instance types must share one CPU architecture",
                            ("compute", "queues", i, "instance_types", j), code="architecture",
                            hint="use Graviton types everywhere (c7g, m7g, hpc7g ...) or x86_64 types everywhere"))
                    archs.setdefault(arch, ("compute", "queues", i, "instance_types", j))
            valid = [t for t in types if _valid_type(t)]
            if valid and isinstance(mn, int) and not isinstance(mn, bool) and mn > 0:
                big = [t for t in valid if rules.size_rank(t) >= 32 or rules.is_gpu(t)]
                if len(big) == len(valid):
                    out.append(warning(
                        f"min_count {mn} keeps {mn} large instance{'s' if mn != 1 else ''} ({', '.join(valid)}) running "
                        "and billed even when no job needs them",
                        ("compute", "queues", i, "min_count"), code="cost",
                        hint="set min_count: 0 to scale to zero when idle"))
            if q.get("efa") is True:
                small = [t for t in valid if rules.size_rank(t) < 32 or rules.instance_family(t).startswith("t")]
                if small:
                    out.append(warning(
                        f"EFA is offered only on large sizes of some families; {', '.join(small)} most likely has no EFA",
                        ("compute", "queues", i, "efa"), code="efa",
                        hint="EFA types include c5n.18xlarge, c6in.32xlarge, hpc6a.48xlarge, hpc7a.96xlarge, p4d.24xlarge"))
    total = max_compute_nodes(queues)
    if _valid_type(head) and total:
        need = rules.head_node_memory_needed(total)
        have = rules.memory_gib(head)
        if have is not None and have < need:
            out.append(error(
                f"head node {head} has about {have:g} GiB of memory; ParallelCluster requires at least {need:.1f} GiB "
                f"to manage {total} compute nodes (max_count of every instance type of every queue)",
                ("compute", "head_node"), code="head-node-memory",
                hint="choose a larger head node (c6i.2xlarge or m6i.xlarge have 16 GiB) or lower max_count"))
    return out


def max_compute_nodes(queues) -> int:
    """How many compute nodes the queues (raw template data) can run at once: max_count is per instance type (per
    compute resource), so a queue's total is max_count x its resources. 0 when a count is not usable yet."""
    if not isinstance(queues, list):
        return 0
    maxes = [q.get("max_count", 10) if isinstance(q, dict) else None for q in queues]
    if not all(isinstance(m, int) and not isinstance(m, bool) and 1 <= m <= 1000 for m in maxes):
        return 0
    return sum(m * _resources(q) for m, q in zip(maxes, queues))


def _resources(queue) -> int:
    """How many compute resources a queue gets (instance types that stand in for each other share one)."""
    from pctl.render.pcluster import group_instance_types

    types = queue.get("instance_types") if isinstance(queue, dict) else None
    valid = [t for t in types if _valid_type(t)] if isinstance(types, list) else []
    return max(1, len(group_instance_types(list(dict.fromkeys(valid)))))


def _int(v):
    return v if isinstance(v, int) and not isinstance(v, bool) else None


_ONDEMAND_STRATEGIES = ("lowest-price", "prioritized")


def _check_queue_extras(q: dict, i: int) -> list[Diagnostic]:
    """allocation_strategy against the capacity; explicit compute_resources against the queue's own
    instance_types/min_count/max_count."""
    out = []
    p = ("compute", "queues", i)
    strategy = q.get("allocation_strategy")
    capacity = q.get("capacity", q.get("capacity_type", "ondemand"))  # capacity_type: the earlier format
    if isinstance(strategy, str) and isinstance(capacity, str):
        strategy = strategy.strip().lower().replace("_", "-")
        spot = capacity.strip().lower().replace("-", "").replace("_", "") == "spot"
        if not spot and strategy not in _ONDEMAND_STRATEGIES and strategy in (
                "capacity-optimized", "price-capacity-optimized", "capacity-optimized-prioritized"):
            out.append(error(f"allocation_strategy {strategy} applies to spot capacity only; an ondemand queue "
                             "uses lowest-price or prioritized", p + ("allocation_strategy",), code="conflict",
                             hint="set capacity: spot, or allocation_strategy: lowest-price"))
        if spot and strategy == "prioritized":
            out.append(error("allocation_strategy prioritized applies to ondemand capacity only; a spot queue uses "
                             "capacity-optimized-prioritized", p + ("allocation_strategy",), code="conflict"))
    crs = q.get("compute_resources")
    if not isinstance(crs, list):
        return out
    names: dict[str, int] = {}
    union: list[str] = []
    for j, c in enumerate(crs):
        if not isinstance(c, dict):
            continue
        name = c.get("name")
        if isinstance(name, str):
            if name in names:
                out.append(error(f"compute resource name {name!r} is used twice in this queue",
                                 p + ("compute_resources", j, "name"), code="duplicate"))
            names[name] = j
        mn, mx = _int(c.get("min_count", 0)), _int(c.get("max_count", 10))
        if mn is not None and mx is not None and mn > mx:
            out.append(error(f"min_count ({mn}) is greater than max_count ({mx})",
                             p + ("compute_resources", j, "min_count"), code="range"))
        types = c.get("instance_types")
        if isinstance(types, list):
            seen = set()
            for k, t in enumerate(types):
                if isinstance(t, str) and t in seen:
                    out.append(error(f"instance type {t!r} is listed twice in this compute resource",
                                     p + ("compute_resources", j, "instance_types", k), code="duplicate"))
                seen.add(t)
                if isinstance(t, str) and t not in union:
                    union.append(t)
    given = q.get("instance_types")
    if isinstance(given, list) and union and set(x for x in given if isinstance(x, str)) != set(union):
        out.append(error("instance_types " + ", ".join(map(str, given)) + " differ from the compute resources' "
                         + ", ".join(union), p + ("instance_types",), code="conflict",
                         hint="with compute_resources, leave instance_types out (it follows from them)"))
    for key, default in (("min_count", 0), ("max_count", 10)):
        vals = [_int(c.get(key, default)) if isinstance(c, dict) else None for c in crs]
        if key in q and _int(q.get(key)) is not None and None not in vals and sum(vals) != q[key]:
            out.append(error(f"{key} {q[key]} is not the sum of the compute resources' {key} ({sum(vals)})",
                             p + (key,), code="conflict",
                             hint=f"with compute_resources, leave {key} out (it is their sum)"))
        elif key not in q and None not in vals and sum(vals) > 1000:
            out.append(error(f"the compute resources' {key} add up to {sum(vals)}; a queue has at most 1000 nodes",
                             p + ("compute_resources",), code="range"))
    return out


def _check_users(data) -> list[Diagnostic]:
    out = []
    groups = _items(data, "groups")
    group_gid: dict[str, int] = {}
    gid_name: dict[int, str] = {}
    for i, g in enumerate(groups):
        if not isinstance(g, dict):
            continue
        name, gid = g.get("name"), _int(g.get("gid"))
        if isinstance(name, str):
            if name in group_gid:
                out.append(error(f"group {name!r} is defined twice", ("groups", i, "name"), code="duplicate"))
            elif name in rules.RESERVED_USERS or name in rules.OS_GROUPS:
                out.append(error(f"group name {name!r} is a system group on the node images", ("groups", i, "name"),
                                 code="reserved"))
            elif gid is not None:
                group_gid[name] = gid
        if gid is not None:
            if gid in gid_name and isinstance(name, str) and gid_name[gid] != name:
                out.append(error(f"gid {gid} is already used by group {gid_name[gid]!r}", ("groups", i, "gid"), code="duplicate"))
            elif isinstance(name, str):
                gid_name[gid] = name
            if gid == rules.OS_DEFAULT_UID:
                out.append(warning(f"gid {gid} is in the range the OS reserves for its default user's group on ParallelCluster images",
                                   ("groups", i, "gid"), code="system-range"))
    users = _items(data, "users")
    names: dict[str, int] = {}
    uids: dict[int, int] = {}
    for i, u in enumerate(users):
        if not isinstance(u, dict):
            continue
        name, uid = u.get("name"), _int(u.get("uid"))
        gid = _int(u.get("gid")) if u.get("gid") is not None else uid
        if isinstance(name, str):
            if name in names:
                out.append(error(f"user {name!r} is listed twice (first at users[{names[name]}])", ("users", i, "name"),
                                 code="duplicate"))
            else:
                names[name] = i
            if name in rules.RESERVED_USERS:
                out.append(error(f"user name {name!r} is reserved for a system or service account on the node images",
                                 ("users", i, "name"), code="reserved"))
            elif name in rules.OS_GROUPS:
                out.append(error(f"user name {name!r} is a system group on the node images (the user's own group "
                                 "would clash with it)", ("users", i, "name"), code="reserved"))
        if uid is not None:
            if uid in uids:
                other = _get(data, "users", uids[uid], "name")
                out.append(error(f"uid {uid} is already used by user {other!r}", ("users", i, "uid"), code="duplicate",
                                 hint="every user needs a unique uid; users may share a gid"))
            else:
                uids[uid] = i
            if uid == rules.OS_DEFAULT_UID:
                out.append(warning(
                    f"uid {uid} is the system range's default login user (ec2-user, ubuntu or rocky) on ParallelCluster "
                    "images; the account would clash", ("users", i, "uid"), code="system-range",
                    hint="choose a uid of 2000 or more"))
        if gid is not None and u.get("gid") is not None and gid == rules.OS_DEFAULT_UID:
            out.append(warning(f"gid {gid} is the default login user's group on ParallelCluster images",
                               ("users", i, "gid"), code="system-range"))
        if isinstance(name, str) and gid is not None and name in group_gid and group_gid[name] != gid:
            out.append(error(f"group {name!r} has gid {group_gid[name]}, but user {name!r} has primary gid {gid}",
                             ("users", i, "gid"), code="conflict"))
        sup = u.get("groups")
        if isinstance(sup, list):
            for j, gname in enumerate(sup):
                if isinstance(gname, str) and gname not in group_gid and gname not in rules.OS_GROUPS and not any(
                        isinstance(x, dict) and x.get("name") == gname for x in groups):
                    out.append(error(
                        f"group {gname!r} is not defined; add it under groups: with a gid so it is the same on every node",
                        ("users", i, "groups", j), code="undefined-group"))
        if isinstance(u.get("shell"), str) and rules.SHELL_RE.fullmatch(u["shell"]) and u["shell"] not in (
                "/bin/bash", "/usr/bin/bash", "/bin/sh", "/usr/bin/sh", "/bin/zsh", "/usr/bin/zsh", "/bin/tcsh",
                "/usr/bin/tcsh", "/bin/csh", "/usr/bin/csh", "/usr/bin/fish", "/bin/ksh", "/usr/bin/ksh",
                "/sbin/nologin", "/usr/sbin/nologin", "/bin/false", "/usr/bin/false"):
            out.append(warning(f"shell {u['shell']} is unusual; the node images may not have it", ("users", i, "shell"),
                               code="shell"))
    return out


def _storage_rules(s: dict, i: int) -> list[Diagnostic]:
    out = []
    typ = s.get("type")
    typ = {"fsx": "fsx_lustre", "lustre": "fsx_lustre"}.get(str(typ).lower().replace("-", "_"), str(typ).lower().replace("-", "_")) if isinstance(typ, str) else None
    size, sid = _int(s.get("size_gb")), s.get("id")
    p = ("data", "shared_storage", i)
    if sid is not None and s.get("size_gb") is not None:
        out.append(error("give either id (use an existing file system) or size_gb (create a new one), not both",
                         p + ("size_gb",), code="conflict"))
    if isinstance(sid, str):
        ok = rules.VOL_ID_RE.fullmatch(sid) if typ == "ebs" else rules.FS_ID_RE.fullmatch(sid)
        if typ == "fsx_lustre" and ok and len(sid) != 20:
            ok = None
        if typ in ("ebs", "efs", "fsx_lustre") and not ok:
            want = {"ebs": "vol-0123456789abcdef0", "efs": "fs-0123abcd or fs-0123456789abcdef0"}.get(typ, "fs-0123456789abcdef0")
            out.append(error(f"{sid!r} is not a valid {typ} id (expected {want})", p + ("id",), code="invalid"))
    if typ == "efs" and s.get("size_gb") is not None:
        out.append(error("EFS grows automatically; remove size_gb", p + ("size_gb",), code="invalid"))
    if typ == "ebs" and size is not None and not (1 <= size <= 16384):
        out.append(error(f"an EBS volume is 1 to 16384 GB, got {size}", p + ("size_gb",), code="range"))
    scratch1 = str(s.get("deployment_type") or "").upper() == "SCRATCH_1"
    if typ == "fsx_lustre" and size is not None and scratch1 and not (
            size in (1200, 2400) or (size >= 3600 and size % 3600 == 0)):
        out.append(error(f"FSx for Lustre SCRATCH_1 capacity is 1200, 2400 or a multiple of 3600 GB, got {size}",
                         p + ("size_gb",), code="range"))
    elif typ == "fsx_lustre" and size is not None and not scratch1 and not (
            size == 1200 or (size >= 2400 and size % 2400 == 0)):
        lower = max(1200, (size // 2400) * 2400)
        out.append(error(f"FSx for Lustre capacity is 1200, 2400 or a multiple of 2400 GB, got {size} "
                         f"(try {lower} or {lower + 2400 if lower >= 2400 else 2400})", p + ("size_gb",), code="range"))
    if typ != "fsx_lustre" and s.get("deployment_type") is not None:
        out.append(error("deployment_type applies only to fsx_lustre", p + ("deployment_type",), code="invalid"))
    if typ != "ebs" and isinstance(s.get("deletion_policy"), str) and s["deletion_policy"].lower() == "snapshot":
        out.append(error("deletion_policy snapshot applies only to ebs (use retain or delete)", p + ("deletion_policy",),
                         code="invalid"))
    if typ != "ebs" and s.get("volume_type") is not None:
        out.append(error("volume_type applies only to ebs", p + ("volume_type",), code="invalid"))
    return out


def _check_data(data) -> list[Diagnostic]:
    out = []
    mounts: list[tuple[str, tuple, str]] = []  # (normalized mount, path, kind)
    for i, m in enumerate(_items(data, "data", "s3_mounts")):
        if isinstance(m, dict) and isinstance(m.get("mount_point"), str) and rules.mount_point_problem(m["mount_point"]) is None:
            mounts.append((rules.normalize_mount(m["mount_point"]), ("data", "s3_mounts", i, "mount_point"), "s3"))
            if "read_only" not in m and rules.looks_like_output(m["mount_point"]):
                out.append(warning(
                    f"{m['mount_point']} looks like a place for output, but an S3 mount is read-only unless it says "
                    "read_only: false: jobs cannot write there",
                    ("data", "s3_mounts", i, "mount_point"), code="s3-read-only",
                    hint="add 'read_only: false' to this mount if jobs write to it (new files, overwrites and deletes "
                         "go to the bucket), or 'read_only: true' to keep it read-only and silence this"))
    counts = {"new": {"efs": 0, "fsx_lustre": 0, "ebs": 0}, "existing": {"efs": 0, "fsx_lustre": 0, "ebs": 0}}
    names: dict[str, int] = {}
    for i, s in enumerate(_items(data, "data", "shared_storage")):
        if not isinstance(s, dict):
            continue
        out += _storage_rules(s, i)
        if isinstance(s.get("mount_point"), str) and rules.mount_point_problem(s["mount_point"]) is None:
            mounts.append((rules.normalize_mount(s["mount_point"]), ("data", "shared_storage", i, "mount_point"), "storage"))
        typ = s.get("type")
        typ = {"fsx": "fsx_lustre", "lustre": "fsx_lustre"}.get(str(typ).lower(), str(typ).lower()) if isinstance(typ, str) else None
        if typ in counts["new"]:
            counts["existing" if s.get("id") else "new"][typ] += 1
            n = counts["existing" if s.get("id") else "new"][typ]
            limit = {"new": {"efs": 1, "fsx_lustre": 1, "ebs": 5}, "existing": {"efs": 20, "fsx_lustre": 20, "ebs": 5}}
            kind = "existing" if s.get("id") else "new"
            total_ebs = counts["new"]["ebs"] + counts["existing"]["ebs"]
            if (typ == "ebs" and total_ebs > 5) or (typ != "ebs" and n > limit[kind][typ]):
                out.append(error(f"too many {kind} {typ} storages (ParallelCluster allows {5 if typ == 'ebs' else limit[kind][typ]})",
                                 ("data", "shared_storage", i), code="limit"))
        name = s.get("name")
        if isinstance(name, str):
            if name in names:
                out.append(error(f"storage name {name!r} is used twice", ("data", "shared_storage", i, "name"), code="duplicate"))
            names[name] = i
    for a in range(len(mounts)):
        for b in range(len(mounts)):
            if a == b:
                continue
            ma, pa, ka = mounts[a]
            mb, pb, kb = mounts[b]
            if ma == mb and a > b:
                from pctl.template.diagnostics import format_path
                out.append(error(f"mount point {ma} is already used by {format_path(pb[:-1])}", pa, code="duplicate"))
            elif ma.startswith(mb + "/") and kb == "s3":
                out.append(error(f"mount point {ma} is inside the S3 mount {mb}; mounts cannot nest inside an S3 mount",
                                 pa, code="nested"))
    return out


def _check_mount_groups(data) -> list[Diagnostic]:
    """data.s3_mounts[].group names a group with the same gid on every node (see pctl.template.mount_access)."""
    from pctl.template.mount_access import DEFAULT_GROUP

    groups: dict[str, int | None] = {}
    for g in _items(data, "groups"):
        if isinstance(g, dict) and isinstance(g.get("name"), str):
            groups.setdefault(g["name"], _int(g.get("gid")))
    users: dict[str, tuple[int | None, list]] = {}
    for u in _items(data, "users"):
        if isinstance(u, dict) and isinstance(u.get("name"), str):
            uid = _int(u.get("uid"))
            gid = _int(u.get("gid")) if u.get("gid") is not None else uid
            sup = u.get("groups") if isinstance(u.get("groups"), list) else []
            users.setdefault(u["name"], (gid, sup))
    known = list(dict.fromkeys([DEFAULT_GROUP, *groups, *users]))
    out = []
    for i, m in enumerate(_items(data, "data", "s3_mounts")):
        if not isinstance(m, dict):
            continue
        name = m.get("group")
        if not isinstance(name, str) or rules.posix_name_problem(name, "group name"):
            continue  # missing, or a grammar error pydantic reports
        path = ("data", "s3_mounts", i, "group")
        point = m.get("mount_point") if isinstance(m.get("mount_point"), str) else "this mount"
        if name not in known:
            if name in rules.OS_GROUPS or name in rules.RESERVED_USERS:
                msg = (f"group {name!r} is a system group, and its gid differs between the node images; an S3 "
                       "mount needs a group with the same gid on every node")
            else:
                guess = rules.did_you_mean(name, known)
                msg = f"group {name!r} is not defined" + (f"; did you mean {guess!r}?" if guess else "")
            out.append(error(msg, path, code="undefined-group",
                             hint="name a group of groups: (with a gid), a template user (their primary group) or "
                                  f"{DEFAULT_GROUP} (gid 100: every template user; the default of read-write mounts)"))
            continue
        if name == DEFAULT_GROUP or name in users:
            continue
        gid = groups.get(name)
        if not any(name in sup or (gid is not None and ugid == gid) for ugid, sup in users.values()):
            what = "use" if m.get("read_only") is not False else "write"
            out.append(warning(
                f"no template user is a member of group {name!r}: only root and the default OS user can {what} "
                f"{point}", path, code="empty-group",
                hint=f"add {name!r} to the groups: of the users who need it"))
    return out


PRIVATE_OSES = ("rocky8", "rocky9")  # ParallelCluster publishes no official AMIs for these (OsCustomAmiValidator)


def _check_os(data) -> list[Diagnostic]:
    os_name = _get(data, "cluster", "os")
    if isinstance(os_name, str) and os_name.strip().lower() in PRIVATE_OSES and not _get(data, "cluster", "custom_ami"):
        alt = "rhel8" if os_name.strip().lower() == "rocky8" else "rhel9"
        return [error(f"ParallelCluster publishes no official {os_name} AMI: a {os_name} cluster needs a custom AMI",
                      ("cluster", "os"), code="os-needs-ami",
                      hint=f"build one with ParallelCluster ('pcluster build-image' from a Rocky Linux base image) and "
                           f"set cluster.custom_ami (or pass --custom-ami AMI to pctl create); or use os: {alt}, "
                           "which ParallelCluster publishes and which runs the same software")]
    return []


def _check_misc(data) -> list[Diagnostic]:
    out = _check_os(data)
    tags = _get(data, "cluster", "tags")
    if isinstance(tags, dict):
        from pctl.cost.tags import MAX_USER_TAGS, PCLUSTER_MAX_TAGS, PCTL_CONFIG_TAG_KEYS

        if len(tags) > MAX_USER_TAGS:
            out.append(error(f"{len(tags)} tags; at most {MAX_USER_TAGS} are allowed (ParallelCluster takes "
                             f"{PCLUSTER_MAX_TAGS} and pctl adds {len(PCTL_CONFIG_TAG_KEYS)} of its own: "
                             "pctl:cluster, pctl:project, ...)", ("cluster", "tags"), code="limit"))
        for k, v in tags.items():
            if isinstance(v, str):
                problem = rules.tag_problem(k, v)
                if problem:
                    out.append(error(problem, ("cluster", "tags", k), code="invalid"))
    cidr = _get(data, "networking", "ssh_allowed_cidr")
    if isinstance(cidr, str) and cidr in ("0.0.0.0/0", "::/0"):
        out.append(warning("SSH is open to the whole internet", ("networking", "ssh_allowed_cidr"), code="security",
                           hint="restrict it to your site's address range, e.g. 203.0.113.0/24"))
    specs = _items(data, "software", "spack_packages")
    seen: dict[str, int] = {}
    for i, s in enumerate(specs):
        if isinstance(s, str):
            key = " ".join(s.split())
            if key in seen:
                out.append(warning(f"spec {s!r} is listed twice", ("software", "spack_packages", i), code="duplicate"))
            seen[key] = i
    return out


# ---------------------------------------------------------------- Spack catalog

def catalog_checks(data: dict, catalog, *, arch: str | None = None) -> list[Diagnostic]:
    """Every spec against the catalog (packages, versions, variants) and packages listed twice. Whether the
    install builds from source and finishes in time is :func:`software_checks` (one answer with the plan)."""
    from pctl.spack.catalog import check_spec
    from pctl.spack.spec import SpecSyntaxError, parse_spec

    out = []
    parsed = []
    unknown: set[int] = set()
    names: dict[str, list[int]] = {}
    for i, text in enumerate(_items(data, "software", "spack_packages")):
        if not isinstance(text, str):
            continue
        try:
            spec = parse_spec(text)
        except SpecSyntaxError:
            continue  # reported by the model
        parsed.append((i, spec))
        names.setdefault(spec.name, []).append(i)
        if catalog is None:
            continue
        for problem in check_spec(catalog, spec):
            out.append(error(problem.message, ("software", "spack_packages", i), code=f"spack-{problem.kind}",
                             hint=getattr(problem, "hint", None)))
            if problem.kind == "unknown-package" and problem.node == "root":
                unknown.add(i)  # no estimate for a package that does not exist
    for name, idx in names.items():
        if len(idx) > 1:
            out.append(warning(f"{name} is listed {len(idx)} times; one Spack environment concretizes one {name} unless "
                               "the versions are meant to coexist", ("software", "spack_packages", idx[-1]), code="duplicate-package"))
    return out


AMI_SOURCE_HINT = "they build once, in the AMI (pctl ami build)"
BOOT_SOURCE_HINT = "bake them into a custom AMI once (pctl ami build) instead of installing at every boot"
UNKNOWN_AMI_SOURCE_HINT = ("if the AMI was built from this template (pctl ami build), they are in it and nothing "
                           "builds at boot")


def warnings_for(warnings: list[Diagnostic], software_mode: str, *, ami_unknown: bool = False) -> list[Diagnostic]:
    """The validation warnings that still apply once create knows how software is delivered: with a custom
    AMI nothing is installed at boot, so the advice to bake slow packages into an AMI is moot."""
    from dataclasses import replace

    if software_mode == "ami":
        return [w for w in warnings if w.code != "build-from-source"]
    # validated for an AMI (a custom AMI was named) but installed at boot after all: the AMI holds none or only
    # part of the software (the boot advice), or the dry run could not read it (ami_unknown: create will, and
    # installs only what it lacks)
    hint = UNKNOWN_AMI_SOURCE_HINT if ami_unknown else BOOT_SOURCE_HINT
    return [replace(w, hint=hint) if w.code == "build-from-source" and w.hint == AMI_SOURCE_HINT else w
            for w in warnings]


# ---------------------------------------------------------------- entry points

def software_checks(data: dict, template, catalog, purpose: str | None = None, source: str = "FILE", *,
                    name_source_builds: bool = True) -> list[Diagnostic]:
    """What the install takes, from :func:`pctl.spack.buildplan.assess` (the same answer `create --dry-run` and
    `pctl ami build` give): packages that build from source (a warning naming each with its minutes), and an
    install that cannot finish within its limit (an error with the numbers and the fix)."""
    from pctl.spack.buildplan import assess

    if template is None or not template.software.spack_packages:
        return []
    try:
        verdict = assess(template, catalog=catalog, purpose=purpose)
    except Exception as exc:  # an estimate never breaks validation
        return [warning(f"could not estimate the software install: {exc}", ("software",), code="estimate")]
    out: list[Diagnostic] = []
    specs = _items(data, "software", "spack_packages")
    first = 0
    if verdict.from_source and name_source_builds:
        names = {p.name for p in verdict.from_source}
        for i, s in enumerate(specs):
            if isinstance(s, str) and re.split(r"[@%+~^ =]", s.strip(), maxsplit=1)[0] in names:
                first = i
                break
        n = len(verdict.from_source)
        out.append(warning(
            f"{n} package{'s' if n != 1 else ''} will build from source on {template.arch} (not in the public "
            f"ParallelCluster build caches): {verdict.source_text(12)}; the whole install takes about "
            f"{verdict.estimate.summary().removeprefix('about ')}",
            ("software", "spack_packages", first), code="build-from-source",
            hint=AMI_SOURCE_HINT if verdict.purpose == "ami" else BOOT_SOURCE_HINT))
    # at boot the head-node limit is fixed: an install that cannot fit fails here; an AMI build has its own
    # limit (--max-hours), checked by `pctl ami build` with the same numbers
    problem = verdict.problem() if verdict.purpose == "boot" else None
    if problem:
        out.append(error(problem, ("software", "spack_packages"), code="install-time",
                         hint=verdict.fix(source)))
    elif verdict.tight:
        out.append(warning(
            f"the software install is estimated at {verdict.install_text()}; it fits the head node's 4 h bootstrap "
            "limit only without pctl's usual 50% margin",
            ("software", "spack_packages"), code="install-time", hint=verdict.fix(source)))
    return out


def _merge(data, over: dict):
    """Overrides into the template's data (nested mappings merged, other values replaced)."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for k, v in over.items():
        out[k] = _merge(out.get(k) if isinstance(out.get(k), dict) else {}, v) if isinstance(v, dict) else v
    return out


def validate_loaded(loaded: LoadedTemplate, *, catalog=None, use_catalog: bool = True, finder=None,
                    overrides: dict | None = None, purpose: str | None = None) -> ValidationResult:
    """Check one loaded template (its extends: merged first, parent names found by ``finder``; ``overrides``, a
    partial template such as command-line flags, merged in before validation). ``purpose``: 'boot' or 'ami'
    judges the software install against that limit instead of the one the template implies (`pctl ami build`
    passes 'ami')."""
    from pydantic import ValidationError

    from pctl.template.model import Template

    diags: list[Diagnostic] = []
    from pctl.adopt.detect import looks_like_parallelcluster

    if looks_like_parallelcluster(loaded.data):
        name = loaded.source
        d = loaded.locate(error(
            "this is an AWS ParallelCluster configuration (HeadNode, Scheduling, ...), not a pctl template",
            (), code="parallelcluster-config",
            hint=f"turn it into a pctl template: pctl template import {name} -o template.yaml"))
        return ValidationResult(source=loaded.source, loaded=loaded, diagnostics=[d])
    if isinstance(loaded.data, dict) and ("extends" in loaded.data or "remove" in loaded.data):
        from pctl.template.extends import ExtendsFailed, resolve_extends

        try:
            loaded = resolve_extends(loaded, finder=finder)  # merged data; positions point into each parent file
        except ExtendsFailed as exc:
            return ValidationResult(source=loaded.source, loaded=loaded, diagnostics=list(exc.diagnostics))
    if overrides:
        import copy

        loaded = copy.copy(loaded)  # the caller's object keeps the file's own data
        loaded.data = _merge(loaded.data, overrides)
    diags += list(getattr(loaded, "diagnostics", None) or [])  # remove: problems found while merging
    result = ValidationResult(source=loaded.source, loaded=loaded)
    try:
        result.template = Template.model_validate(loaded.data)
    except ValidationError as exc:
        diags += _pydantic_diagnostics(exc)
    diags += cross_field(loaded.data)
    if result.template is not None:  # issue 15: cost rules (budget vs the idle month, idle timer)
        from pctl.cost.rules import cost_diagnostics

        diags += cost_diagnostics(result.template)
    if use_catalog:
        if catalog is None:
            from pctl.spack.catalog import find_catalog

            try:
                catalog = find_catalog()
            except Exception as exc:  # a broken configured catalog is a warning, not a crash
                diags.append(warning(f"Spack catalog could not be loaded: {exc}", ("software",), code="catalog"))
                catalog = None
        arch = result.template.arch if result.template is not None else None
        if catalog is None:
            if _items(loaded.data, "software", "spack_packages"):
                diags.append(warning(
                    "no Spack package catalog found: package names, versions and variants were not checked",
                    ("software", "spack_packages"), code="no-catalog",
                    hint="set PCTL_SPACK_INDEX=/path/to/spack-packages.json, or build one with "
                         "'pctl spack index build DIR' from a spack-packages checkout"))
        else:
            result.catalog_release = getattr(catalog, "release", None)
            try:
                from pctl.spack.catalog import release_warning
                rw = release_warning(catalog)
            except ImportError:  # pragma: no cover
                rw = None
            if rw:
                diags.append(warning(rw, ("software",), code="catalog-release"))
        diags += catalog_checks(loaded.data, catalog, arch=arch)
    # --no-catalog: specs are not checked, so neither are the build caches (the install limit still is)
    diags += software_checks(loaded.data, result.template, catalog if use_catalog else None, purpose, loaded.source,
                             name_source_builds=use_catalog)
    diags = _point_at_upgrade(diags, loaded)
    # locate, de-duplicate, sort
    seen = set()
    located = []
    for d in diags:
        d = loaded.locate(d)
        key = (d.severity, d.path, d.message)
        if key in seen:
            continue
        seen.add(key)
        located.append(d)
    # an error from the model and from the cross rules on the same path: keep both only if different
    result.diagnostics = sorted(located, key=sort_key)
    return result


def _point_at_upgrade(diags: list[Diagnostic], loaded: LoadedTemplate) -> list[Diagnostic]:
    """Errors an earlier-format template typically has (its queue fields, Spack versions and packages that
    moved on) name the command that fixes a whole file."""
    from dataclasses import replace

    from pctl.adopt.detect import LEGACY_QUEUE_KEYS, legacy_markers

    fix = f"pctl template upgrade {loaded.source} -o upgraded.yaml"
    legacy = legacy_markers(loaded.data)
    out = []
    for d in diags:
        if d.code == "unknown-key" and d.path and d.path[-1] in LEGACY_QUEUE_KEYS:
            new = LEGACY_QUEUE_KEYS[d.path[-1]]
            d = replace(d, message=f"unknown key {d.path[-1]!r}: the earlier pctl format's {d.path[-1]} is {new} now",
                        hint=f"{fix} rewrites it (and older Spack versions)")
        elif d.is_error and (d.code in ("spack-unknown-version", "spack-unknown-package", "spack-unknown-variant")
                             or (legacy and d.code == "unknown-key")):
            d = replace(d, hint=(f"{d.hint}; " if d.hint else "") + f"for a whole file: {fix}")
        out.append(d)
    return out


def validate_file(path: Path, source: str | None = None, **kw) -> ValidationResult:  # kw: validate_loaded's
    from pctl.template.load import load_file

    try:
        loaded = load_file(path, source)
    except LoadFailed as exc:
        return ValidationResult(source=source or str(path), diagnostics=[exc.diagnostic])
    return validate_loaded(loaded, **kw)


def validate_text(text: str, source: str = "<template>", **kw) -> ValidationResult:
    from pctl.template.load import load_text

    try:
        loaded = load_text(text, source)
    except LoadFailed as exc:
        return ValidationResult(source=source, diagnostics=[exc.diagnostic])
    return validate_loaded(loaded, **kw)
