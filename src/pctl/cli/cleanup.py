"""pctl cleanup: every pctl leftover in a region, found and (after a yes) removed."""

from __future__ import annotations

import click

from pctl.cli.aws_opts import aws_options, make_aws
from pctl.cli.common import confirm, emit_json, interactive, json_option, yes_option


def _duration(text: str):
    import datetime as dt
    import re

    m = re.fullmatch(r"\s*(\d+)\s*([mhd])\s*", text or "")
    if not m:
        raise click.BadParameter(f"{text!r}: use minutes, hours or days, e.g. 30m, 2h, 1d")
    n, unit = int(m.group(1)), m.group(2)
    return dt.timedelta(minutes=n) if unit == "m" else dt.timedelta(hours=n) if unit == "h" else dt.timedelta(days=n)


@click.command("cleanup")
@aws_options
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@click.option("--older-than", default="1h", show_default=True, metavar="AGE",
              help="Only a cluster stack without its cluster older than this (30m, 2h, 1d) counts as left over.")
@click.option("--keep-network", is_flag=True, help="Keep the region's network even when no cluster uses it.")
@click.option("--no-amis", is_flag=True, help="Leave AMI build leftovers alone (see pctl ami cleanup).")
@yes_option
@json_option
def cleanup(profile, region, dry_run, older_than, keep_network, no_amis, yes, as_json):
    """Find and remove every pctl leftover in a region: cluster stacks without a cluster, bootstrap files of
    deleted clusters, an unused network, and AMI build leftovers.

    \b
    Examples:
      pctl cleanup --dry-run                      # what is left over in your default region
      pctl cleanup --region us-west-2 --yes       # remove it all
      pctl cleanup --keep-network --older-than 2h --json
    """
    from pctl import cleanup as lib
    from pctl.errors import PctlError

    aws = make_aws(profile, region)
    found = lib.plan(aws, older_than=_duration(older_than), networks=not keep_network, amis=not no_amis)
    if dry_run or not found:
        if as_json:
            emit_json({"region": aws.region, "dry_run": dry_run, "leftovers": [x.to_dict() for x in found]})
        elif not found:
            click.echo(f"nothing left over in {aws.region}")
        else:
            for x in found:
                click.echo(f"{x.kind:<22} {x.target}  ({x.reason})")
        return
    if not as_json:
        for x in found:
            click.echo(f"{x.kind:<22} {x.target}  ({x.reason})", err=True)
    if not confirm(f"Remove these {len(found)} leftover(s) in {aws.region}?", yes=yes):
        raise PctlError("nothing removed" if interactive() else "refusing to remove without confirmation",
                        hint=None if interactive() else "pass --yes (-y), or look first with --dry-run")
    results = lib.run(aws, found, progress=None if as_json else (lambda m: click.echo(f"  {m}", err=True)))
    failed = [r for r in results if not r.get("ok")]
    if as_json:
        emit_json({"region": aws.region, "results": results})
    else:
        click.echo(f"removed {len(results) - len(failed)} of {len(results)} leftover(s) in {aws.region}")
        for r in failed:
            click.echo(f"  not removed: {r['target']}: {r.get('error')}", err=True)
    if failed:
        raise SystemExit(1)
