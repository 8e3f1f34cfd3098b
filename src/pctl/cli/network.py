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
@click.option("--ssh-cidr", default=None, help="Allow SSH from this CIDR (default: your public IP /32).")
@json_option
def create(profile, region, public_only, ssh_cidr, as_json):
    """Create (or complete and adopt) the region's pctl network.

    \b
    Examples:
      pctl network create --region us-east-1
      pctl network create --region us-west-2 --public-only   # no NAT gateway (cheapest)
    """
    from pctl.errors import UsageError
    from pctl.network.ensure import ensure_network
    from pctl.template.rules import cidr_problem

    if ssh_cidr and cidr_problem(ssh_cidr):
        raise UsageError(f"--ssh-cidr: {cidr_problem(ssh_cidr)}")
    aws = make_aws(profile, region)
    net = ensure_network(aws, public_only=public_only, ssh_cidr=ssh_cidr,
                         progress=None if as_json else (lambda m: click.echo(f"  {m}", err=True)))
    if as_json:
        emit_json(net.to_dict() | {"api_calls": len(aws.calls)})
    else:
        click.echo(f"pctl network {net.vpc_id} in {aws.region}: {len(net.created)} resource(s) created, "
                   f"{len(net.adopted)} reused" + (" (public only)" if net.public_only else ""))


@network.command("list")
@aws_options
@json_option
def list_(profile, region, as_json):
    """List pctl networks in a region.

    \b
    Examples:
      pctl network list
      pctl network list --region us-west-2 --json
    """
    from pctl.network.delete import list_networks

    aws = make_aws(profile, region)
    rows = list_networks(aws)
    if as_json:
        emit_json({"region": aws.region, "networks": rows})
        return
    if not rows:
        click.echo(f"no pctl network in {aws.region}", err=True)
        return
    from pctl.ui.table import print_table

    print_table(["REGION", "VPC", "CIDR", "SUBNETS", "NAT", "IN USE BY"],
                [[r["region"], r["vpc_id"], r["cidr"], r["subnets"], "yes" if r["nat"] else "no",
                  ", ".join(r["in_use_by"][:3]) or "-"] for r in rows])


@network.command("delete")
@aws_options
@yes_option
@json_option
def delete(profile, region, yes, as_json):
    """Delete the region's pctl network (refused while clusters use it).

    \b
    Examples:
      pctl network delete --region us-east-1 --yes
    """
    from pctl.errors import PctlError
    from pctl.network.delete import delete_network, tagged_resources

    aws = make_aws(profile, region)
    if not tagged_resources(aws):
        raise PctlError(f"no pctl network in {aws.region}")
    if not confirm(f"Delete the pctl network in {aws.region}?", yes=yes):
        raise PctlError("not deleted" if interactive() else "refusing to delete without confirmation",
                        hint=None if interactive() else "pass --yes (-y)")
    deleted = delete_network(aws, progress=None if as_json else (lambda m: click.echo(f"  {m}", err=True)))
    if as_json:
        emit_json({"region": aws.region, "deleted": [f"{k} {i}" for k, i in deleted]})
    else:
        click.echo(f"deleted the pctl network in {aws.region} ({len(deleted)} resources)")
