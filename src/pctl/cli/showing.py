"""`pctl registry show` and `pctl template show`: one description of a template, trust included.

Everything printed from the template (title, description, tags, names) may come from someone else's
registry: it goes through pctl.ui.safe_text, and what the template asks you to trust (sudo users,
their SSH keys, Spack mirrors) is always listed and, for registry templates, flagged on stderr.
"""

from __future__ import annotations

import shutil
import textwrap

import click

from pctl.cli.common import emit_json, warn


def _width() -> int:
    return max(60, min(shutil.get_terminal_size((100, 24)).columns, 160))


def flag_trust(display: str, trust: dict) -> None:
    """A warning per sudo user and per extra mirror: visible even when stdout goes to a file."""
    for flag in trust.get("flags") or []:
        warn(f"{display}: {flag}")
    if trust.get("flags"):
        warn(f"{display}: review these before you create a cluster from it (pctl create -t ... --dry-run shows them)")


def show_template(name: str, as_json: bool) -> None:
    from pctl.registry import store
    from pctl.registry.templates import resolve_template
    from pctl.template.trust import summary
    from pctl.template.validate import validate_loaded
    from pctl.ui import safe_data, safe_text
    from pctl.ui.trust import print_trust

    tref, loaded = resolve_template(name)
    data = loaded.data
    result = validate_loaded(loaded, use_catalog=False)
    trust = summary(result.template if result.template is not None else data)
    meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    compute = data.get("compute") if isinstance(data.get("compute"), dict) else {}
    queues = [q for q in compute.get("queues") or [] if isinstance(q, dict)] if isinstance(compute.get("queues"), list) else []
    software = data.get("software") if isinstance(data.get("software"), dict) else {}
    specs = [s for s in software.get("spack_packages") or [] if isinstance(s, str)] \
        if isinstance(software.get("spack_packages"), list) else []
    est = None
    if result.template is not None and specs:  # the same answer validate and the create plan give
        from pctl.spack.buildplan import assess
        from pctl.spack.catalog import CatalogError, find_catalog

        try:
            cat = find_catalog()
        except CatalogError:
            cat = None
        est = assess(result.template, catalog=cat).estimate
    state = None
    if tref.origin == "registry":
        state = next((s for s in store.states(include_library=False) if s.name == tref.source), None)
    chain = list(getattr(loaded, "chain", []) or [])[1:]
    if as_json:
        emit_json({
            "schema_version": 1, "name": tref.name, "display": tref.display, "origin": tref.origin,
            "source": tref.source, "path": str(tref.path), "title": meta.get("title"),
            "description": meta.get("description"), "tags": meta.get("tags") or [], "version": meta.get("version"),
            "extends": chain, "head_node": compute.get("head_node"),
            "queues": [{k: q.get(k) for k in ("name", "instance_types", "min_count", "max_count", "capacity", "efa")
                        if k in q} for q in queues],
            "packages": specs,
            "estimate": None if est is None else {"total_minutes": round(est.total_minutes, 1), "summary": est.summary(),
                                                  "from_source": est.from_source, "prebuilt": est.prebuilt,
                                                  "arch": est.arch, "os": est.os},
            "trust": trust,
            "valid": result.ok, "errors": [d.to_dict() for d in result.errors],
            "cache": state.to_dict() if state else None,
        })
        if tref.origin == "registry":
            flag_trust(tref.display, trust)
        return
    meta, compute, queues, specs, chain = safe_data((meta, compute, queues, specs, chain))
    w = min(_width(), 100)
    title = safe_text(meta.get("title") or "", single_line=True)
    click.secho(safe_text(tref.name if tref.origin != "file" else tref.display, single_line=True), bold=True, nl=False)
    click.echo(f" — {title}" if title else "")
    where = {"library": "bundled library", "registry": f"source {tref.source}"}.get(tref.origin, str(tref.path))
    if state is not None:
        where += f", {state.age()}"
    click.echo(f"  {safe_text(where, single_line=True)}")
    if isinstance(meta.get("description"), str):
        click.echo()
        click.echo(textwrap.fill(" ".join(meta["description"].split()), width=w, initial_indent="  ",
                                 subsequent_indent="  "))
    bits = []
    if meta.get("tags"):
        bits.append("tags: " + ", ".join(str(t) for t in meta["tags"]))
    if meta.get("version"):
        bits.append(f"version {meta['version']}")
    if chain:
        bits.append("extends: " + " -> ".join(chain))
    if bits:
        click.echo()
        for b in bits:
            click.echo(f"  {safe_text(b, single_line=True)}")
    click.echo()
    click.echo(f"  head node: {safe_text(compute.get('head_node', '?'), single_line=True)}")
    click.echo(f"  queues ({len(queues)}):")
    for q in queues:
        types = q.get("instance_types") if isinstance(q.get("instance_types"), list) else []
        cap = q.get("capacity", "ondemand")
        click.echo(safe_text(f"    {str(q.get('name', '?')):<12} {', '.join(map(str, types))}   "
                             f"{q.get('min_count', 0)}-{q.get('max_count', 10)} nodes, {cap}"
                             + (", EFA" if q.get("efa") else ""), single_line=True))
    click.echo(f"  packages ({len(specs)}):")
    if specs:
        click.echo(textwrap.fill(safe_text(", ".join(specs), single_line=True), width=w, initial_indent="    ",
                                 subsequent_indent="    "))
    if est is not None:
        click.echo(f"  estimated software install: {est.summary()} ({est.os}, {est.arch})")
        if est.from_source:
            click.echo(textwrap.fill("builds from source: " + ", ".join(est.from_source[:12])
                                     + (" ..." if len(est.from_source) > 12 else ""), width=w,
                                     initial_indent="    ", subsequent_indent="      "))
    click.echo()
    click.echo(f"  trust ({len(trust['sudo_users'])} sudo user{'s' if len(trust['sudo_users']) != 1 else ''}, "
               f"{len(trust['mirrors'])} Spack mirrors in the order the node tries them):")
    print_trust(trust, indent="    ")
    if not result.ok:
        click.secho(f"\n  this template is not valid ({len(result.errors)} error"
                    f"{'s' if len(result.errors) != 1 else ''}): pctl validate {safe_text(name, single_line=True)}",
                    fg="red")
    if tref.origin != "file":
        click.echo(f"\n  copy it: pctl registry get {safe_text(tref.name, single_line=True)} > my-cluster.yaml")
    if tref.origin == "registry":
        flag_trust(tref.display, trust)
