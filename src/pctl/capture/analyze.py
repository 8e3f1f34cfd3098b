"""A capture (and optionally a batch profile) -> a commented pctl template and a migration report.

:func:`analyze` is pure apart from validating its own output: it takes the capture document, the
Spack catalog (or None) and the batch profile (or None), and returns an :class:`Analysis` with the
template text, the report as a dict (the ``--json`` form) and as Markdown.

The parts live in their own modules: :mod:`.software` (modules -> Spack specs, with :mod:`.mapping` and
:mod:`.selection`), :mod:`.queues` (partitions -> queues, with :mod:`.instances`), :mod:`.users` (accounts,
UIDs/GIDs), :mod:`.mounts` (file systems -> FSx/EFS/S3) and :mod:`.report` (the migration report). This
module writes the commented template and puts the parts together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pctl.capture import instances  # noqa: F401  (tests and callers use an.instances)
from pctl.capture.mapping import Mapping
from pctl.capture.mounts import map_storage  # noqa: F401  (part of this module's interface)
from pctl.capture.queues import SPOT_RE, map_queues, queue_name  # noqa: F401
from pctl.capture.report import _clean_comment, _report, render_markdown  # noqa: F401
from pctl.capture.software import MAX_SPECS, map_software  # noqa: F401
from pctl.capture.users import MAX_GROUPS, map_users  # noqa: F401
from pctl.template import rules


@dataclass
class Analysis:
    template: str
    report: dict[str, Any]
    markdown: str
    valid: bool = True
    errors: list[str] = field(default_factory=list)


# ============================================================================================ helpers

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
    # ParallelCluster publishes RHEL images but no Rocky ones (Rocky needs a custom AMI): RHEL-compatible sites
    # go to the RHEL image of their release, which runs the same binaries
    if oid in ("rocky", "almalinux", "ol", "centos", "rhel", "scientific", "fedora") or "rhel" in like:
        if major in ("8", "9"):
            return f"rhel{major}", (f"{pretty} -> rhel{major} (binary compatible; ParallelCluster publishes no "
                                    f"{oid} AMI: for {oid}{major} itself, build one and set cluster.custom_ami)")
        if major and major.isdigit() and int(major) >= 10:
            return "rhel9", f"{pretty} -> rhel9 (newest RHEL-compatible image ParallelCluster offers)"
        return "rhel8", f"{pretty} -> rhel8 (RHEL/CentOS {major or '?'} is past end of life; rhel8 is the closest supported)"
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
    if ctx.get("install_note"):
        add(f"  install: ami              # {_clean_comment(ctx['install_note'], 300)}")
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

def _install_at_boot_problem(text: str, catalog) -> str | None:
    """When the generated software cannot be installed at boot (the head node's 4 h limit), why, with the
    numbers: the template then says software.install: ami."""
    from pctl.template.validate import validate_text

    res = validate_text(text, "<generated template>", catalog=catalog, use_catalog=catalog is not None)
    if res.template is None or not res.template.software.spack_packages:
        return None
    from pctl.spack.buildplan import assess

    verdict = assess(res.template, catalog=catalog, purpose="boot")
    if verdict.fits:
        return None
    return (f"the software install is estimated at {verdict.install_text()} ({len(verdict.from_source)} packages "
            "build from source): more than a head node may take at boot (4 h). Build the AMI once with "
            "'pctl ami build -t FILE'; pctl create then uses it")


def analyze(doc: dict[str, Any], catalog=None, profile: dict[str, Any] | None = None, *,
            remap_ids_from: int | None = None, cluster_name: str | None = None, region: str | None = None,
            validate: bool = True, max_packages: int = MAX_SPECS) -> Analysis:
    from pctl.capture.document import reparse

    doc = reparse(doc)
    view = doc.get("parsed") or {}
    meta = doc.get("meta") or {}
    host = view.get("host") or {}
    sched = view.get("scheduler") or {}
    usage = {str(k): int(v) for k, v in ((profile or {}).get("modules") or {}).items() if isinstance(v, int)}
    kept, allmaps = map_software(view, catalog, usage, limit=max_packages)
    queues, qnotes = map_queues(view, profile)
    ug = map_users(view, remap_ids_from)
    st = map_storage(view)
    os_name, os_why = map_os(view.get("os"))
    total_nodes = sched.get("node_count") or sum((q["onprem"]["nodes"] or 0) for q in queues) or None
    hier = any(m.get("parents") for m in ((view.get("modules") or {}).get("modules") or []) if isinstance(m, dict))
    where = meta.get("target") or host.get("hostname") or "an on-prem cluster"
    cname = cluster_name or _cluster_name(sched.get("cluster_name") or host.get("hostname") or meta.get("target"))
    if not 1 <= max_packages <= MAX_SPECS:
        from pctl.errors import UsageError

        raise UsageError(f"--max-packages must be 1 to {MAX_SPECS} (the template's limit), got {max_packages}")
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
    install_note = _install_at_boot_problem(text, catalog)
    if install_note:  # a site's worth of software cannot install at boot: the template is meant for an AMI
        ctx["install_note"] = install_note
        text = render_template(ctx)
    report = _report(doc, view, catalog, kept, allmaps, queues, qnotes, ug, st, os_name, os_why, profile,
                     limit=max_packages)
    if install_note:
        report["notes"].insert(0, install_note)
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
