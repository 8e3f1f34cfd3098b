from __future__ import annotations

from pathlib import Path

import click

from pctl.cli.common import emit_json, json_option


@click.command()
@click.argument("templates", nargs=-1, metavar="FILE|NAME...")
@json_option
@click.option("--catalog", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Spack catalog JSON to check specs against (default: PCTL_SPACK_INDEX, config, cache).")
@click.option("--no-catalog", is_flag=True, help="Do not check Spack specs against a catalog.")
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit 1).")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors and warnings, no summary.")
@click.option("--show-resolved", is_flag=True,
              help="Also print each template with its extends: parents merged in (YAML; --json: 'resolved').")
def validate(templates, as_json, catalog, no_catalog, strict, quiet, show_resolved):
    """Validate templates: schema, cross-field rules and Spack specs against the catalog.

    Every problem is reported at once with file:line:column and the field path.

    \b
    Examples:
      pctl validate my-cluster.yaml
      pctl validate bioinformatics chemistry/gromacs
      pctl validate my-cluster.yaml --json | jq '.results[0].errors'

    Exit codes: 0 valid, 1 invalid, 2 usage error (no template given, unknown name).
    """
    from pctl.errors import UsageError
    from pctl.registry.templates import validate_refs

    if not templates:
        raise UsageError("give at least one template file or library name", hint="pctl validate my-cluster.yaml")
    from pctl.cli.common import load_catalog

    cat = load_catalog(catalog, no_catalog)
    outcomes = validate_refs(list(templates), catalog=cat, use_catalog=not no_catalog)
    unresolved = any(o.not_found for o in outcomes)
    invalid = any(not o.result.ok or (strict and o.result.warnings) for o in outcomes if o.result is not None)
    code = 2 if unresolved else 1 if invalid else 0
    if as_json:
        emit_json({
            "schema_version": 1,
            "valid": code == 0,
            "catalog": {"release": cat.release, "path": str(getattr(cat, "source_path", "") or "")} if cat is not None else None,
            "results": [o.to_dict(resolved=show_resolved) for o in outcomes],
        })
        raise SystemExit(code)
    for o in outcomes:
        if o.not_found:
            from pctl.cli.common import err

            err(o.not_found, o.hint)
            continue
        r = o.result
        if show_resolved and r.loaded is not None:
            from pctl.template.extends import dump_yaml

            chain = list(getattr(r.loaded, "chain", None) or [o.display])
            click.echo(dump_yaml(r.loaded.data, header=f"{o.display} resolved: " + " -> ".join(chain)), nl=False)
        for d in r.diagnostics:
            color = "red" if d.is_error else "yellow"
            head = f"{d.where()}: "
            click.echo(head, nl=False, err=False)
            click.secho(d.severity, fg=color, bold=True, nl=False)
            click.echo(": " + (f"{d.path_str}: " if d.path else "") + d.message)
            if d.hint:
                click.echo(f"    hint: {d.hint}")
        if not quiet:
            n_e, n_w = len(r.errors), len(r.warnings)
            if r.ok:
                extra = f" ({n_w} warning{'s' if n_w != 1 else ''})" if n_w else ""
                click.secho(f"✓ {o.display}: valid{extra}", fg="green")
            else:
                click.secho(f"✗ {o.display}: {n_e} error{'s' if n_e != 1 else ''}"
                            + (f", {n_w} warning{'s' if n_w != 1 else ''}" if n_w else ""), fg="red")
    raise SystemExit(code)
