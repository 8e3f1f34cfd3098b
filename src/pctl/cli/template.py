"""`pctl template ...`: work with one template (inheritance)."""

from __future__ import annotations

from pathlib import Path

import click

from pctl.cli.common import emit_json, json_option, output_option, write_output


@click.group()
def template():
    """Work with one template: import a ParallelCluster config, upgrade an older template, resolve extends:.

    \b
    Examples:
      pctl template import cluster-config.yaml -o my-cluster.yaml   # a ParallelCluster 3.x config -> template
      pctl template upgrade old-template.yaml --in-place            # earlier format and Spack -> current
      pctl template resolve project-a.yaml              # the template with its extends: merged
      pctl template resolve team/projects/genomics -o resolved.yaml
    """


def _print_findings(findings, order) -> None:
    from pctl.adopt.findings import TITLES, by_status

    colors = {"mapped": "green", "changed": "green", "pctl": "cyan", "approximated": "yellow", "note": "yellow",
              "not_mapped": "red", "review": "red"}
    for status, items in by_status(findings, order):
        click.secho(f"{TITLES[status]} ({len(items)}):", fg=colors.get(status), bold=True, err=True)
        for f in items:
            click.echo(f"  {f.line()}", err=True)


@template.command("import")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path), metavar="CLUSTER-CONFIG.yaml")
@output_option
@click.option("--name", default=None, help="Cluster name (default: from the file name).")
@click.option("--keep-network", is_flag=True,
              help="Keep the config's subnets (networking.subnet_id, queues[].subnet) instead of the pctl network.")
@click.option("--strict", is_flag=True, help="Exit 1 when anything could not be mapped.")
@json_option
def import_cmd(config, output, name, keep_network, strict, as_json):
    """Turn a ParallelCluster 3.x cluster configuration into a pctl template.

    Maps the head node, queues and their compute resources (instance types, counts, capacity type,
    allocation strategy, EFA, placement groups), shared storage (EBS, EFS, FSx for Lustre, new or
    existing), S3 access (mounted on every node), the custom AMI, key pair, SSH CIDR, tags and your
    custom actions (pctl runs its own setup next to them). The network is left to pctl unless
    --keep-network. The report on stderr says what mapped, what pctl does itself and what has no
    pctl field; the template is validated before it is written.

    \b
    Examples:
      pctl template import cluster-config.yaml -o my-cluster.yaml
      pctl template import cluster-config.yaml --keep-network --name genomics -o genomics.yaml
      pctl template import cluster-config.yaml --json | jq '.report.findings[] | select(.status=="not_mapped")'

    Exit codes: 0 imported (valid template), 1 not a usable ParallelCluster config, an invalid result,
    or (--strict) something could not be mapped; 2 usage error.
    """
    from pctl.adopt.findings import APPROXIMATED, MAPPED, NOT_MAPPED, PCTL
    from pctl.adopt.pcluster_import import import_file

    result = import_file(config, source=str(config), name=name, keep_network=keep_network)
    code = 0 if result.valid and not (strict and result.not_mapped) else 1
    if as_json:
        emit_json({"schema_version": 1, "source": str(config), "valid": result.valid, "template": result.template,
                   "text": result.text, "report": result.to_dict()})
        raise SystemExit(code)
    if result.valid:
        write_output(result.text, output)
    _print_findings(result.findings, (MAPPED, APPROXIMATED, PCTL, NOT_MAPPED))
    s = result.to_dict()["summary"]
    click.echo(f"{s['mapped']} mapped, {s['approximated']} mapped with a change, {s['pctl']} done by pctl, "
               f"{s['not_mapped']} left out", err=True)
    for w in result.warnings:
        click.secho(f"warning: {w}", fg="yellow", err=True)
    if not result.valid:
        from pctl.cli.common import err

        err("the imported template does not validate (nothing written):\n  " + "\n  ".join(result.errors),
            "this is a gap in pctl template import: please report it with the configuration")
    raise SystemExit(code)


@template.command("resolve")
@click.argument("ref", metavar="FILE|NAME")
@output_option
@json_option
def resolve_cmd(ref, output, as_json):
    """Print the template with every extends: parent merged in (YAML; --json adds the chain).

    The merge rules are in the README ("Template inheritance"). The result is checked (without the
    Spack catalog); problems are printed on stderr and make the exit code 1, the merged template is
    printed anyway so you can see what went wrong.
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
