"""`pctl template ...`: work with one template (show it, resolve its inheritance)."""

from __future__ import annotations

from pathlib import Path

import click

from pctl.cli.common import emit_json, json_option, output_option, write_output


@click.group()
def template():
    """Work with one template: import a ParallelCluster config, upgrade an older template, resolve extends:.

    \b
    Examples:
      pctl template show my-cluster.yaml                # what it builds and what it asks you to trust
      pctl template import cluster-config.yaml -o my-cluster.yaml   # a ParallelCluster 3.x config -> template
      pctl template upgrade old-template.yaml --in-place            # earlier format and Spack -> current
      pctl template resolve project-a.yaml              # the template with its extends: merged
      pctl template resolve team/projects/genomics -o resolved.yaml
    """


@template.command("show")
@click.argument("ref", metavar="FILE|NAME")
@json_option
def show_cmd(ref, as_json):
    """Describe a template (file, library or registry name): queues, packages, an install-time estimate
    and what it asks you to trust: sudo users with their SSH keys' fingerprints (as ssh-keygen -lf prints
    them) and every Spack mirror in the order the node tries it, signed or not.

    \b
    Examples:
      pctl template show my-cluster.yaml
      pctl template show team/projects/genomics --json | jq .trust
    """
    from pctl.cli.showing import show_template

    show_template(ref, as_json)


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


@template.command("upgrade")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path), metavar="FILE|DIR...")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Write the result here: a file (one template) or a folder (the tree of templates).")
@click.option("--in-place", is_flag=True, help="Rewrite each template in place (only files that change).")
@click.option("--diff", "show_diff", is_flag=True, help="Also print a unified diff of each file on stderr.")
@click.option("--catalog", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Spack catalog JSON (default: PCTL_SPACK_INDEX, config, cache).")
@json_option
def upgrade_cmd(paths, output, in_place, show_diff, catalog, as_json):
    """Bring older templates to the current format and Spack catalog.

    Earlier-format fields become current ones (capacity_type: SPOT -> capacity: spot); Spack packages
    that were renamed get their current name (pymol -> py-pymol, bonnie++ -> bonniepp); versions Spack
    no longer declares become the nearest version of the same release series (python@3.10.8 ->
    python@3.10.16), or the newest release when the series is gone; variants that no longer exist are
    dropped. Comments and layout are kept. Each change is listed (~ changed, * worth reading,
    ! needs a person); anything a rule cannot decide is left out of the file, named in its header and
    in the report.

    With one FILE and no -o, the upgraded template goes to stdout. A folder needs -o DIR or --in-place
    (without them the report is printed and nothing is written).

    \b
    Examples:
      pctl template upgrade old.yaml -o new.yaml
      pctl template upgrade seeds/ --in-place
      pctl template upgrade seeds/ -o upgraded/ --json | jq '.results[] | select(.needs_person)'

    Exit codes: 0 every template upgraded by the rules and valid, 1 something needs a person (or
    could not be read), 2 usage error.
    """
    from pctl.adopt.upgrade import upgrade_file
    from pctl.cli.common import load_catalog
    from pctl.errors import UsageError
    from pctl.registry.store import template_files

    if output is not None and in_place:
        raise UsageError("give -o OUT or --in-place, not both")
    files: list[tuple[Path, Path, str]] = []  # (file, root, relative name)
    for p in paths:
        if p.is_dir():
            files += [(f, p, f.relative_to(p).as_posix()) for f in template_files(p)]
        else:
            files.append((p, p.parent, p.name))
    single = len(paths) == 1 and not paths[0].is_dir()
    if output is not None and not single and output.exists() and not output.is_dir():
        raise UsageError(f"-o {output}: several templates need a folder to go to")
    if not files:
        raise UsageError("no *.yaml templates found in " + ", ".join(map(str, paths)))
    cat = load_catalog(catalog)
    results = []
    for f, root, rel in files:
        r = upgrade_file(f, source=str(f), catalog=cat)
        target = None
        if r.text is not None:
            if in_place and r.changed:
                target = f
            elif output is not None:
                target = output if single else output / rel
            if target is not None:
                from pctl.fsio import atomic_write

                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    atomic_write(target, r.text)
                except OSError as exc:
                    from pctl.errors import PctlError

                    raise PctlError(f"cannot write {target}: {exc.strerror or exc}") from None
        results.append((r, target))
    person = sum(1 for r, _ in results if r.needs_person)
    code = 1 if person else 0
    if as_json:
        emit_json({"schema_version": 1, "catalog": getattr(cat, "release", None),
                   "results": [dict(r.to_dict(), written=str(t) if t else None) for r, t in results],
                   "summary": {"templates": len(results), "valid": sum(r.valid for r, _ in results),
                               "changed": sum(r.changed for r, _ in results), "needs_person": person}})
        raise SystemExit(code)
    if single and output is None and not in_place and results[0][0].text is not None:
        click.echo(results[0][0].text, nl=False)
    marks = {"changed": ("~", None), "note": ("*", "yellow"), "review": ("!", "red")}
    for r, target in results:
        state = ("needs a person" if r.needs_person else "upgraded" if r.changed else "already current")
        click.secho(f"{r.source}: {state}" + (f" -> {target}" if target and target != Path(r.source) else
                                              " (rewritten)" if target else ""),
                    fg="red" if r.needs_person else "green", bold=True, err=True)
        for fd in r.findings:
            mark, color = marks.get(fd.status, ("-", None))
            click.secho(f"  {mark} {fd.line()}", fg=color, err=True)
        if show_diff and r.changed:
            import difflib

            click.echo("".join(difflib.unified_diff(r.original.splitlines(True), r.text.splitlines(True),
                                                    f"a/{r.source}", f"b/{r.source}")), err=True)
    valid = sum(r.valid for r, _ in results)
    changed = sum(r.changed for r, _ in results)
    written = sum(1 for _, t in results if t)
    click.echo(f"{len(results)} template(s): {changed} changed, {valid} valid, {person} need a person"
               + (f"; {written} written" if written else "" if single and output is None and not in_place
                  else "; nothing written (use -o or --in-place)"), err=True)
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

    \b
    Examples:
      pctl template resolve projects/genomics.yaml
      pctl template resolve team/projects/genomics -o resolved.yaml
      pctl template resolve projects/genomics.yaml --json | jq .chain
    """
    from pctl.registry.templates import resolve_template
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
