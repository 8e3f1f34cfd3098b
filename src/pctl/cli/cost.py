"""`pctl cost ...`: spend from Cost Explorer, the price table, cost allocation tags, budgets."""

from __future__ import annotations

import click

from pctl.cli.aws_opts import aws_options, make_aws
from pctl.cli.common import emit_json, json_option, template_option


class DefaultGroup(click.Group):
    """`pctl cost NAME` runs `pctl cost report NAME`: a first word that is not a subcommand is the cluster."""

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["report", *args]
        return super().parse_args(ctx, args)


@click.group(cls=DefaultGroup)
def cost():
    """What clusters cost: spend by cluster or project, prices, cost allocation tags, budgets.

    \b
    Examples:
      pctl cost                                  # this month, every pctl cluster (Cost Explorer)
      pctl cost my-cluster --since 2026-11-01    # one cluster
      pctl cost --project genomics --since 3m    # one project, the last 3 months
      pctl cost prices -t ml/pytorch-gpu         # the prices an estimate uses, and their date
      pctl cost prices --refresh --region us-east-1   # fetch current prices (Price List API)
      pctl cost activate-tags                    # let Cost Explorer group by pctl:cluster/pctl:project
    """


@cost.command("report")
@click.argument("name", required=False)
@click.option("--project", default=None, help="Every cluster of this project (cluster.project / tag pctl:project).")
@click.option("--since", default=None, metavar="DATE", help="First day: 2026-11-01, or 7d / 4w / 3m ago (default: "
                                                             "the first of this month).")
@click.option("--until", default=None, metavar="DATE", help="Last day (default: today).")
@click.option("--group-by", type=click.Choice(["cluster", "project"]), default="cluster", show_default=True,
              help="Group spend by cluster or by project.")
@aws_options
@json_option
def report(name, project, since, until, group_by, profile, region, as_json):
    """Spend per cluster (or project) from Cost Explorer, grouped by pctl's cost allocation tags.

    \b
    Examples:
      pctl cost my-cluster
      pctl cost --project genomics --since 2026-10-01 --until 2026-10-31
      pctl cost --group-by project --since 3m --json
      pctl cost report my-cluster --json            # the same as "pctl cost my-cluster"
    Billed amounts appear in Cost Explorer within about a day; 'pctl list' shows an estimate until then.
    Each report is one Cost Explorer request (AWS charges $0.01 per request).
    """
    from pctl.cost.explorer import period
    from pctl.cost.explorer import report as run
    from pctl.errors import UsageError

    if name and project:
        raise UsageError("give a cluster NAME or --project, not both")
    period(since, until)  # bad dates are usage errors, before any AWS call
    aws = make_aws(profile, region)
    out = run(aws, name=name, project=project, since=since, until=until, group_by=group_by)
    if as_json:
        emit_json(out)
        return
    from pctl.ui.cost import print_spend

    print_spend(out)


@cost.command("prices")
@template_option(required=False)
@click.option("--refresh", is_flag=True, help="Fetch current prices from the AWS Price List API and EC2 spot "
                                              "price history into pctl's cache.")
@click.option("--instance-type", "instance_types", multiple=True, metavar="TYPE", help="Also these instance types.")
@aws_options
@json_option
def prices(template, refresh, instance_types, profile, region, as_json):
    """The prices estimates use (cache or shipped snapshot, with their date); --refresh fetches them.

    \b
    Examples:
      pctl cost prices -t bioinformatics               # prices of the template's instance types
      pctl cost prices --refresh --region us-east-2    # every type pctl knows, from the Price List API
      pctl cost prices --refresh -t ml/pytorch-gpu --json
    Refresh needs pricing:GetProducts and ec2:DescribeSpotPriceHistory.
    """
    import datetime as dt

    from pctl.cost.prices import PriceTable, cache_file
    from pctl.cost.prices import refresh as do_refresh

    types = list(instance_types)
    t = None
    if template:
        from pctl.cost.lifecycle import needed_instance_types
        from pctl.registry.templates import load_valid

        _, result = load_valid(template, use_catalog=False)
        t = result.template
        types += needed_instance_types(t)
    reg = region or (t.cluster.region if t is not None else None)
    if not reg:
        import os

        reg = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    report = None
    if refresh:
        aws = make_aws(profile, reg)
        reg = aws.region
        table = PriceTable.load(reg)
        wanted = sorted(set(types or table.known_instance_types()))
        say = (lambda m: None) if as_json else (lambda m: click.echo(f"  {m}", err=True))
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        report = do_refresh(aws, reg, wanted, now=now, progress=say)
    if not reg:
        reg = "us-east-1"
        if not as_json:
            click.echo("no region in --region, the template or AWS_REGION: showing us-east-1", err=True)
    table = PriceTable.load(reg)
    shown = sorted(set(types)) if types else table.known_instance_types()
    rows = []
    for it in shown:
        od, sp = table.instance(it, "ondemand"), table.instance(it, "spot")
        rows.append({"instance_type": it, "ondemand": od.value if od else None, "spot": sp.value if sp else None,
                     "source": (od or sp).source.describe() if (od or sp) else None})
    storage = {}
    for label, p in (("ebs_gp3_gb_month", table.ebs_gb_month("gp3")), ("efs_gb_month", table.efs_gb_month()),
                     ("fsx_lustre_scratch2_gb_month", table.fsx_lustre_gb_month("SCRATCH_2", None)),
                     ("nat_gateway_hour", table.nat_gateway_hour()), ("public_ipv4_hour", table.public_ipv4_hour())):
        storage[label] = {"usd": p.value if p else None, "source": p.source.describe() if p else None}
    out = {"region": reg, "cache": str(cache_file(reg)), "snapshot_date": table.snapshot.get("date"),
           "instances": rows, "other": storage}
    if report:
        out["refresh"] = {"instance_types": report["instance_types"], "missing": report["missing"],
                          "cache": report["path"]}
    if as_json:
        emit_json(out)
        return
    from pctl.ui.cost import print_prices

    print_prices(out)


@cost.command("activate-tags")
@aws_options
@json_option
def activate_tags(profile, region, as_json):
    """Activate pctl:cluster, pctl:project and pctl:template as cost allocation tags (once per account).

    \b
    Examples:
      pctl cost activate-tags
    Needs ce:UpdateCostAllocationTagsStatus (the management account of an organization). AWS groups
    spend by them from then on, within 24 hours; earlier spend stays untagged.
    """
    from pctl.aws import ce
    from pctl.cost.tags import COST_TAGS
    from pctl.errors import PctlError

    aws = make_aws(profile, region)
    errors = ce.activate_cost_allocation_tags(aws, list(COST_TAGS))
    out = {"activated": [k for k in COST_TAGS if k not in {e.get("TagKey") for e in errors}], "errors": errors}
    if as_json:
        emit_json(out)
    else:
        for k in out["activated"]:
            click.echo(f"{k}: active")
        for e in errors:
            click.echo(f"{e.get('TagKey')}: {e.get('Code')}: {e.get('Message')}", err=True)
    if errors:
        raise PctlError("some tags were not activated",
                        hint="AWS lists a tag only after a resource with it has been billed; try again a day after "
                             "your first cluster")


@cost.command("budget")
@click.argument("name")
@template_option()
@aws_options
@json_option
def budget(name, template, profile, region, as_json):
    """Create or update the AWS Budget of cluster NAME from its template's budget: section.

    \b
    Examples:
      pctl cost budget my-cluster -t my-cluster.yaml
    pctl create does this itself; use it to change the amount or the alerts of a running cluster.
    """
    from pctl.cost import budgets
    from pctl.errors import PctlError
    from pctl.registry.templates import load_valid

    _, result = load_valid(template, use_catalog=False)
    t = result.template
    if t.budget is None:
        raise PctlError(f"{template} has no budget: section", hint="add budget: {monthly_usd: 500, notify: [you@example.org]}")
    aws = make_aws(profile, region or t.cluster.region)
    out = budgets.ensure_budget(aws, t, cluster_name=name)
    if as_json:
        emit_json(out)
    else:
        click.echo(f"budget {out['name']} {out['action']}: ${out['monthly_usd']:,.2f}/month ({out['scope']}), alerts at "
                   + ", ".join(f"{a:g} %" for a in out["alerts"]) + (f" to {', '.join(out['notify'])}" if out["notify"]
                                                                    else " (no one to notify)"))
