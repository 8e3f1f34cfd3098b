"""`pctl template ...`: work with one template (inheritance)."""

from __future__ import annotations

import click

from pctl.cli.common import emit_json, json_option, output_option, write_output


@click.group()
def template():
    """Work with one template.

    \b
    Examples:
      pctl template resolve project-a.yaml              # the template with its extends: merged
      pctl template resolve team/projects/genomics -o resolved.yaml
    """


@template.command("resolve")
@click.argument("ref", metavar="FILE|NAME")
@output_option
@json_option
def resolve_cmd(ref, output, as_json):
    """Print the template with every extends: parent merged in (YAML; --json adds the chain).

    The merge rules are in the README ("Template inheritance"). The result is checked (without the
    Spack catalog); problems are printed on stderr and make the exit code 1, the merged template is
    printed anyway so you can see what went wrong.

    \b
    Examples:
      pctl template resolve projects/genomics.yaml
      pctl template resolve team/projects/genomics -o resolved.yaml
      pctl template resolve projects/genomics.yaml --json | jq .chain
    """
    from pctl.template.api import resolve_template
    from pctl.template.extends import dump_yaml
    from pctl.template.validate import validate_loaded

    tref, loaded = resolve_template(ref)
    chain = list(getattr(loaded, "chain", []) or [tref.display])
    result = validate_loaded(loaded, use_catalog=False)
    fp = None
    if result.template is not None:
        from pctl.template.fingerprint import fingerprint

        fp = fingerprint(result.template)
    if as_json:
        emit_json({"schema_version": 1, "source": tref.display, "chain": chain, "valid": result.ok,
                   "fingerprint": fp, "errors": [d.to_dict() for d in result.errors], "template": loaded.data})
    else:
        write_output(dump_yaml(loaded.data, header=f"{tref.display} resolved (extends: {' -> '.join(chain)})"
                               if len(chain) > 1 else f"{tref.display} (no extends)"), output)
        for d in result.errors:
            click.echo(d.format(), err=True)
    raise SystemExit(0 if result.ok else 1)
