"""delete, list, status, ssh: thin commands over pctl.cluster."""

from __future__ import annotations

import click

from pctl.cli.aws_opts import aws_options, make_aws
from pctl.cli.common import emit_json, json_option, yes_option


@click.command("delete")
@click.argument("name")
@aws_options
@yes_option
@click.option("--no-wait", is_flag=True, help="Return once deletion has started.")
@click.option("--delete-network", is_flag=True, help="Also delete the region's pctl network (refused while in use).")
@json_option
def delete(name, profile, region, yes, no_wait, delete_network, as_json):
    """Delete a cluster, then its bootstrap files, its ssh entry and (when unused) the pctl network.

    \b
    Examples:
      pctl delete my-cluster
      pctl delete my-cluster --yes --delete-network
    Interrupted? Run it again: it finishes what is left.
    """
    from pctl.cluster import pcluster_api
    from pctl.cluster.ops import delete_cluster

    aws = make_aws(profile, region)
    report = delete_cluster(aws, pcluster_api.backend, name, yes=yes, wait=not no_wait, delete_network=delete_network,
                            quiet=as_json)
    if as_json:
        emit_json(report)
    else:
        click.echo(f"{name}: {report['cluster'] or 'already gone'}; removed {report['objects_deleted']} bootstrap "
                   f"object(s)" + ("; ssh entry removed" if report["ssh_entry_removed"] else "")
                   + ("; pctl network deleted" if report["network_deleted"] else ""))


@click.command("list")
@aws_options
@json_option
def list_(profile, region, as_json):
    """List clusters in a region (from AWS: works from any machine).

    \b
    Examples:
      pctl list
      pctl list --region us-west-2 --json
    """
    from pctl.cluster import pcluster_api
    from pctl.cluster.ops import list_clusters

    aws = make_aws(profile, region)
    rows = list_clusters(aws, pcluster_api.backend)
    if as_json:
        emit_json({"region": aws.region, "clusters": rows})
        return
    if not rows:
        click.echo(f"no clusters in {aws.region}", err=True)
        return
    from pctl.ui.table import print_table

    print_table(["NAME", "STATUS", "TEMPLATE", "AGE", "HEAD NODE"],
                [[r["name"], r["status"], r["template"] or "-", r["age"], r["head_node"] or "-"] for r in rows])


@click.command("status")
@click.argument("name")
@aws_options
@json_option
def status(name, profile, region, as_json):
    """Show a cluster: status, head node, queues with running nodes, software install progress.

    \b
    Example:
      pctl status my-cluster
    """
    from pctl.cluster import pcluster_api
    from pctl.cluster.ops import cluster_status

    aws = make_aws(profile, region)
    s = cluster_status(aws, pcluster_api.backend, name)
    if as_json:
        emit_json(s)
        return
    click.echo(f"{s['name']} ({s['region']}): {s['status']}  stack {s['stack_status']}  fleet {s['compute_fleet']}")
    h = s["head_node"]
    click.echo(f"  head node  {h['instance_type']} {h['state']}  {h['public_ip'] or h['private_ip'] or '-'}")
    for q in s["queues"]:
        limit = f" of at most {q['max']} ({q.get('capacity')})" if q.get("max") is not None else ""
        click.echo(f"  queue      {q['name']}: {q['running']} node(s) running{limit}")
    for m in s.get("s3_mounts", []):
        click.echo(f"  s3 mount   {m['mount_point']} <- s3://{m['bucket']}/{m.get('prefix') or ''} "
                   f"({'read-only' if m.get('read_only', True) else 'read-write'})")
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
    if s.get("failure"):
        click.echo(f"  failure    {s['failure']}")


@click.command("ssh", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@aws_options
@click.option("-i", "--identity", default=None, help="Private key file (default: from ~/.ssh for the key pair).")
@click.option("-u", "--user", default=None, help="Login user (default: the OS's default user).")
def ssh(name, command, profile, region, identity, user):
    """Open an SSH session to a cluster's head node (the system OpenSSH client).

    \b
    Examples:
      pctl ssh my-cluster
      pctl ssh my-cluster -- sinfo
    Host keys are checked (accept-new); ProxyJump and other settings in ~/.ssh/config apply.
    """
    import os

    from pctl.cluster import pcluster_api
    from pctl.cluster.ops import ssh_command

    aws = make_aws(profile, region)
    info = pcluster_api.backend.describe_cluster(name, aws.region)
    args = ssh_command(name, info, region=aws.region, user=user, identity=identity, command=command)
    os.execv(args[0], args)
