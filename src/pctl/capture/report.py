"""The migration report of `capture analyze`: a dict (the --json form) and its Markdown."""

from __future__ import annotations

import re
from typing import Any


def _clean_comment(text: Any, limit: int = 220) -> str:
    s = re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+", " ", str(text))
    s = " ".join(s.split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _report(doc, view, catalog, kept, allmaps, queues, qnotes, ug, st, os_name, os_why, profile,
            limit: int = 500) -> dict[str, Any]:
    meta = doc.get("meta") or {}
    host = view.get("host") or {}
    soft = [m.to_dict() for m in allmaps]
    for d in soft:
        d["kept"] = False
    kept_ids = {id(k) for k in kept}
    for d, m in zip(soft, allmaps):
        d["kept"] = id(m) in kept_ids
    counts = {k: sum(1 for d in soft if d["status"] == k) for k in ("mapped", "approximated", "unverified",
                                                                      "not_mappable", "skipped", "dropped")}
    dropped = sorted((d for d in soft if d["status"] == "dropped"), key=lambda d: d.get("rank") or 0)
    kept_by: dict[str, int] = {}
    for d in soft:
        if d["kept"] and d.get("kept_because"):
            kept_by[d["kept_because"]] = kept_by.get(d["kept_because"], 0) + 1
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
        "selection": {"limit": limit, "packages": len(kept) + len(dropped), "kept": len(kept), "kept_by": kept_by,
                      "dropped": [{"package": d["package"], "spec": d["spec"], "module": d["full_name"],
                                   "also": d.get("also") or [], "rank": d.get("rank"), "reason": d["reason"]}
                                  for d in dropped]},
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
                     ("software_skipped", "skipped (hidden, other versions, duplicates)"),
                     ("software_dropped", "packages left out (over the package limit)"), ("queues", "queues"),
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
    sel = rep.get("selection") or {}
    if sel.get("dropped"):
        add("")
        add(f"## Left out of the template: over the package limit ({len(sel['dropped'])})")
        add("")
        taken = ", ".join(f"{n} {k}" for k, n in sel.get("kept_by", {}).items())
        add(f"The site has {sel['packages']} Spack packages; the template holds {sel['limit']} (`--max-packages`). "
            f"Kept, in this order: {taken} (compilers and MPI, then the site's defaults, then what batch jobs load, "
            "then what users load in their shells, then one scientific domain at a time). Each package below is "
            "**not** in the template: raise `--max-packages`, or put them in a second template that `extends:` "
            "this one.")
        add("")
        add("| package | Spack spec | on-prem modules | rank | why |")
        add("|---|---|---|---|---|")
        for d in sel["dropped"]:
            mods = ", ".join([d["module"]] + list(d.get("also") or [])[:3]) + (" ..." if len(d.get("also") or []) > 3 else "")
            add(f"| {_md(d['package'])} | {_md(d['spec'])} | {_md(mods)} | {d.get('rank') or ''} | {_md(d['reason'])} |")
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
