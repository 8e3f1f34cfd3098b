"""Validate a template: model grammar (pydantic), cross-field rules, and the Spack catalog.

All problems are collected at once, each with file:line:column and the field path. Rules that
span several fields run on the raw data, so they still report while other sections are broken.
"""

from __future__ import annotations

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
                guess = rules.did_you_mean(inp, choices)
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
    maxes = [q.get("max_count", 10) if isinstance(q, dict) else None for q in queues]
    valid_maxes = all(isinstance(m, int) and not isinstance(m, bool) and 1 <= m <= 1000 for m in maxes)
    total = sum(maxes) if valid_maxes else 0
    if _valid_type(head) and total:
        need = rules.head_node_memory_needed(total)
        have = rules.memory_gib(head)
        if have is not None and have < need:
            out.append(error(
                f"head node {head} has about {have:g} GiB of memory; ParallelCluster requires at least {need:.1f} GiB "
                f"to manage {total} compute nodes (the sum of the queues' max_count)",
                ("compute", "head_node"), code="head-node-memory",
                hint="choose a larger head node (c6i.2xlarge or m6i.xlarge have 16 GiB) or lower max_count"))
    return out


def _int(v):
    return v if isinstance(v, int) and not isinstance(v, bool) else None


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
    if typ == "fsx_lustre" and size is not None and not (size == 1200 or (size >= 2400 and size % 2400 == 0)):
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


def _check_misc(data) -> list[Diagnostic]:
    out = []
    tags = _get(data, "cluster", "tags")
    if isinstance(tags, dict):
        if len(tags) > 40:
            out.append(error(f"{len(tags)} tags; at most 40 are allowed (ParallelCluster reserves the rest)",
                             ("cluster", "tags"), code="limit"))
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
    from pctl.spack.catalog import check_spec
    from pctl.spack.spec import SpecSyntaxError, parse_spec

    out = []
    parsed = []
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
    for name, idx in names.items():
        if len(idx) > 1:
            out.append(warning(f"{name} is listed {len(idx)} times; one Spack environment concretizes one {name} unless "
                               "the versions are meant to coexist", ("software", "spack_packages", idx[-1]), code="duplicate-package"))
    if parsed and arch:
        try:
            from pctl.spack.estimate import likely_from_source
        except ImportError:  # pragma: no cover
            likely_from_source = None
        if likely_from_source is not None:
            slow = [(i, s) for i, s in parsed if likely_from_source(s, arch)]
            if slow:
                names_txt = ", ".join(str(s.name) for _, s in slow[:12]) + (" ..." if len(slow) > 12 else "")
                out.append(warning(
                    f"{len(slow)} package{'s' if len(slow) != 1 else ''} will likely build from source on {arch} "
                    f"(not in the public ParallelCluster build caches): {names_txt}",
                    ("software", "spack_packages", slow[0][0]), code="build-from-source",
                    hint="bake them into a custom AMI once (pctl ami build) instead of installing at every boot"))
    return out


# ---------------------------------------------------------------- entry points

def validate_loaded(loaded: LoadedTemplate, *, catalog=None, use_catalog: bool = True) -> ValidationResult:
    from pydantic import ValidationError

    from pctl.template.model import Template

    diags: list[Diagnostic] = []
    if isinstance(loaded.data, dict) and ("extends" in loaded.data or "remove" in loaded.data):
        from pctl.template.extends import ExtendsFailed, resolve_extends

        try:
            loaded = resolve_extends(loaded)  # merged data; positions point into each parent file
        except ExtendsFailed as exc:
            return ValidationResult(source=loaded.source, loaded=loaded, diagnostics=list(exc.diagnostics))
    diags += list(getattr(loaded, "diagnostics", None) or [])  # remove: problems found while merging
    result = ValidationResult(source=loaded.source, loaded=loaded)
    try:
        result.template = Template.model_validate(loaded.data)
    except ValidationError as exc:
        diags += _pydantic_diagnostics(exc)
    diags += cross_field(loaded.data)
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


def validate_file(path: Path, source: str | None = None, **kw) -> ValidationResult:
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
