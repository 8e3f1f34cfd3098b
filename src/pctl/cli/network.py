from __future__ import annotations

import click

from pctl.cli.aws_opts import aws_options, make_aws
from pctl.cli.common import confirm, emit_json, interactive, json_option, yes_option


@click.group()
def network():
    """The pctl network: one VPC per region, made on first use and reused by every cluster.

    \b
    Examples:
      pctl network create --region us-east-1
      pctl network create --public-only          # no NAT gateway: cheapest
      pctl network list
      pctl network delete --region us-east-1 --yes
    """


@network.command("create")
@aws_options
@click.option("--public-only", is_flag=True, help="No NAT gateway or private subnets (cheapest).")
@json_option
def create(profile, region, public_only, as_json):
    """Create the region's pctl network (a CloudFormation stack), or wait for and adopt the one there.

    \b
    Examples:
      pctl network create --region us-east-1
      pctl network create --public-only --json
    """
    from pctl.network.stack import ensure

    aws = make_aws(profile, region)
    net = ensure(aws, public_only=public_only, progress=None if as_json else (lambda m: click.echo(f"  {m}", err=True)))
    if as_json:
        emit_json(net.to_dict() | {"api_calls": len(aws.calls)})
    else:
        zones = ", ".join(z for _, z in net.public_subnets)
        click.echo(f"pctl network {net.vpc_id} in {aws.region} ({zones}): "
                   + ("created" if net.created else "already there")
                   + (" (public only)" if net.public_only else "") + (f", stack {net.stack}" if net.stack else ""))


@network.command("list")
@aws_options
@json_option
def list_(profile, region, as_json):
    """List the region's pctl network and the clusters that use it.

    \b
    Examples:
      pctl network list
      pctl network list --region us-west-2 --json
    """
    from pctl.network.stack import list_networks

    aws = make_aws(profile, region)
    rows = list_networks(aws)
    if as_json:
        emit_json({"region": aws.region, "networks": rows})
        return
    if not rows:
        click.echo(f"no pctl network in {aws.region}", err=True)
        return
    from pctl.ui.table import print_table

    print_table(["REGION", "VPC", "STACK", "STATUS", "ZONES", "NAT", "IN USE BY"],
                [[r["region"], r["vpc_id"], r["stack"] or "(earlier pctl)", r["status"],
                  ", ".join(s["zone"] for s in r["public_subnets"]), "no" if r["public_only"] else "yes",
                  ", ".join(r["in_use_by"][:3]) or "-"] for r in rows])


@network.command("delete")
@aws_options
@yes_option
@json_option
def delete(profile, region, yes, as_json):
    """Delete the region's pctl network (refused while a cluster uses it).

    \b
    Examples:
      pctl network delete --region us-east-1 --yes
    """
    from pctl.errors import PctlError
    from pctl.network.stack import delete as delete_network, describe

    aws = make_aws(profile, region)
    if describe(aws) is None:
        raise PctlError(f"no pctl network in {aws.region}")
    if not confirm(f"Delete the pctl network in {aws.region}?", yes=yes):
        raise PctlError("not deleted" if interactive() else "refusing to delete without confirmation",
                        hint=None if interactive() else "pass --yes (-y)")
    report = delete_network(aws, progress=None if as_json else (lambda m: click.echo(f"  {m}", err=True)))
    if as_json:
        emit_json(report)
    else:
        click.echo(f"deleted the pctl network in {aws.region} ({', '.join(report['deleted'])})")
