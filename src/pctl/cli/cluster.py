"""delete, list, status, ssh: thin commands over pctl.cluster."""

from __future__ import annotations

import click

from pctl.cli.aws_opts import aws_options
from pctl.cli.common import emit_json, json_option, yes_option


def _cluster_aws(profile, region, name):
    """Aws in the cluster's region: --region, else the pctl region whose bucket holds the cluster's record."""
    from pctl import regions

    aws = regions.session(profile, region)
    where = regions.cluster_location(aws, name, explicit_region=bool(region))
    if where.note:
        click.echo(f"note: {where.note}", err=True)
    return where.aws


@click.command("delete")
@click.argument("name")
@aws_options
@yes_option
@click.option("--no-wait", is_flag=True, help="Return once deletion has started.")
@click.option("--delete-network", is_flag=True, help="Also delete the region's pctl network (refused while in use).")
@json_option
def delete(name, profile, region, yes, no_wait, delete_network, as_json):
    """Delete a cluster, then its bootstrap files, its ssh entry and (when unused) the pctl network.

    The cluster is found in whichever region pctl made it (--region to choose).

    \b
    Examples:
      pctl delete my-cluster
      pctl delete my-cluster --yes --delete-network
    Interrupted? Run it again: it finishes what is left.
    """
    from pctl.cli.common import confirm, interactive
    from pctl.cluster.ops import delete_cluster

    aws = _cluster_aws(profile, region, name)
    report = delete_cluster(aws, name, yes=yes, wait=not no_wait, delete_network=delete_network,
                            say=None if as_json else (lambda m: click.echo(m, err=True)),
                            confirm=(lambda q: confirm(q, yes=False)) if interactive() else None)
    if as_json:
        emit_json(report)
    else:
        from pctl.ui import safe_data

        report = safe_data(report)
        click.echo(f"{name}: {report['cluster'] or 'already gone'}; removed {report['objects_deleted']} bootstrap "
                   f"object(s)" + ("; its pctl stack deleted" if report["stack"] else "")
                   + ("; ssh entry removed" if report["ssh_entry_removed"] else "")
                   + ("; pctl network deleted" if report["network"] else ""))


@click.command("list")
@click.option("--all-regions", is_flag=True, help="Every region with a pctl bucket in this account, and the default.")
@aws_options
@json_option
def list_(all_regions, profile, region, as_json):
    """List clusters in a region (from AWS: works from any machine).

    \b
    Examples:
      pctl list
      pctl list --all-regions
      pctl list --region us-west-2 --json
    """
    from pctl import regions as rg
    from pctl.cluster.ops import list_clusters

    aws = rg.session(profile, region)
    all_regions = all_regions or getattr(aws, "no_default_region", False)  # no region set: look everywhere
    where, note = rg.all_regions(aws) if all_regions else ([aws.region], None)
    rows = []
    for r in where:
        rows += [dict(row, region=row.get("region") or r) for row in list_clusters(aws.in_region(r))]
    if as_json:
        emit_json({"region": aws.region, "regions": where, "clusters": rows})
        return
    if note:
        click.echo(f"note: {note}", err=True)
    if not rows:
        msg = f"no clusters in {', '.join(where)}"
        if not all_regions:
            others = [r for r in (rg.pctl_regions(aws) or []) if r not in where]
            elsewhere = rg.clusters_elsewhere(aws, others)
            if elsewhere:
                click.echo(msg + "; pctl clusters in " + ", ".join(f"{r} ({', '.join(n)})" for r, n in
                                                                    elsewhere.items()), err=True)
                click.echo("next: pctl list --all-regions", err=True)
                return
        click.echo(msg, err=True)
        return
    from pctl.ui.table import print_table

    from pctl.cost.estimate import money  # issue 15: running nodes and estimated spend so far

    headers = ["NAME", "STATUS", "TEMPLATE", "AGE", "NODES", "SPEND SO FAR", "HEAD NODE"] + (
        ["REGION"] if all_regions else [])
    print_table(headers,
                [[r["name"], r["status"], r["template"] or "-", r["age"], str(r.get("running_nodes", 0)),
                  ("~" + money(r["spend_so_far"])) if r.get("spend_so_far") is not None else "-",
                  r["head_node"] or "-"] + ([r["region"]] if all_regions else []) for r in rows])


@click.command("status")
@click.argument("name")
@aws_options
@json_option
def status(name, profile, region, as_json):
    """Show a cluster: status, head node, queues, software progress, node/GPU-hours, idle countdown, cost.

    The cluster is found in whichever region pctl made it (--region to choose).

    \b
    Examples:
      pctl status my-cluster
      pctl status my-cluster --json | jq .software
    """
    from pctl.cluster.ops import cluster_status

    aws = _cluster_aws(profile, region, name)
    s = cluster_status(aws, name)
    if as_json:
        emit_json(s)
        return
    from pctl.ui import safe_data

    s = safe_data(s)  # tags, the head node's software.json and failure reasons are not pctl's own text
    click.echo(f"{s['name']} ({s['region']}): {s['status']}  stack {s['stack_status']}  fleet {s['compute_fleet']}")
    h = s["head_node"]
    if h.get("instance_type"):
        click.echo(f"  head node  {h['instance_type']} {h['state']}  {h['public_ip'] or h['private_ip'] or '-'}")
    else:
        click.echo("  head node  not running (yet)")
    for q in s["queues"]:
        limit = f" of at most {q['max']} ({q.get('capacity')})" if q.get("max") is not None else ""
        zones = f", zones {', '.join(q['zones'])}" if q.get("zones") else ""
        click.echo(f"  queue      {q['name']}: {q['running']} node(s) running{limit}{zones}")
    for m in s.get("s3_mounts", []):
        access = f"; {m['access']}" if m.get("access") else ""
        click.echo(f"  s3 mount   {m['mount_point']} <- s3://{m['bucket']}/{m.get('prefix') or ''} "
                   f"({'read-only' if m.get('read_only', True) else 'read-write'}{access})")
    for st in s.get("shared_storage", []):
        click.echo(f"  storage    {st['mount_point']} ({st['type']}, {st['name']})")
    if s.get("users"):
        click.echo(f"  users      {', '.join(u['name'] for u in s['users'][:10])}"
                   + (f" and {len(s['users']) - 10} more" if len(s["users"]) > 10 else ""))
    plan = s.get("software_plan") or {}
    if plan.get("summary"):
        click.echo(f"  packages   {plan['summary']} (CPU target {plan.get('target')})")
        if plan.get("at_boot") and plan.get("mode") == "layer":
            click.echo(f"             installed at boot: {', '.join(plan['at_boot'])}")
    sw = s["software"]
    if sw:
        click.echo(f"  software   {sw.get('step', '?')} ({sw.get('status', '?')}): {sw.get('packages_done', '?')} of "
                   f"{sw.get('packages_total', '?')} packages, updated {sw.get('updated', '?')}")
    elif s["software_mode"]:
        click.echo(f"  software   {s['software_mode']}")
    from pctl.ui.cost import print_status_cost  # issue 15: usage of the last day, idle countdown, spend

    print_status_cost(s)
    if s.get("failure"):
        click.echo(f"  failure    {s['failure']}")


@click.command("ssh", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@aws_options
@click.option("-i", "--identity", default=None, help="Private key file (default: from ~/.ssh for the key pair).")
@click.option("-u", "--user", default=None, help="Login user (default: the OS's default user).")
def ssh(name, command, profile, region, identity, user):
    """Open an SSH session to a cluster's head node (the system OpenSSH client), in any region pctl uses.

    \b
    Examples:
      pctl ssh my-cluster
      pctl ssh my-cluster -- sinfo
    Host keys are checked (accept-new); ProxyJump and other settings in ~/.ssh/config apply.
    """
    import os

    from pctl.aws import pcluster
    from pctl.cluster.ops import ssh_command

    aws = _cluster_aws(profile, region, name)
    info = pcluster.describe_cluster(aws, name)
    args = ssh_command(name, info, region=aws.region, user=user, identity=identity, command=command)
    os.execv(args[0], args)
