"""`pctl keep`, `pctl start`, `pctl stop` and `pctl idle ...`: the idle timer and stopped clusters."""

from __future__ import annotations

import click

from pctl.cli.aws_opts import aws_options, make_aws
from pctl.cli.common import confirm, emit_json, interactive, json_option, template_option, yes_option


def _seconds(text: str, flag: str) -> int:
    from pctl.cost.duration import duration_problem, parse_duration
    from pctl.errors import UsageError

    problem = duration_problem(text, minimum=60, maximum=30 * 86400, what=flag)
    if problem:
        raise UsageError(problem)
    return parse_duration(text)


@click.command("keep")
@click.argument("name")
@click.option("--for", "for_", default="4h", show_default=True, metavar="DURATION",
              help="Do not stop or delete NAME before this much time has passed (2h, 90m, 1d).")
@click.option("--cancel", is_flag=True, help="Cancel an earlier keep: the idle countdown applies again.")
@aws_options
@json_option
def keep(name, for_, cancel, profile, region, as_json):
    """Postpone a cluster's idle timer (it still stops/deletes later, once idle).

    \b
    Examples:
      pctl keep my-cluster --for 4h
      pctl keep my-cluster --for 2d
      pctl keep my-cluster --cancel
    """
    from pctl.cost.idle import install

    seconds = None if cancel else _seconds(for_, "--for")
    aws = make_aws(profile, region)
    out = install.keep(aws, name, seconds)
    if as_json:
        emit_json(out)
    elif out["keep_until"]:
        click.echo(f"{name}: kept until {out['keep_until']} ({out['action'].replace('_', ' ')} waits until then "
                   "at least)")
    else:
        click.echo(f"{name}: keep cancelled; the idle countdown applies")


@click.command("start")
@click.argument("name")
@click.option("--no-wait", is_flag=True, help="Return once the head node is starting.")
@aws_options
@json_option
def start(name, no_wait, profile, region, as_json):
    """Start a stopped cluster (stopped by its idle timer or by pctl stop): head node, then compute fleet.

    \b
    Examples:
      pctl start my-cluster
    The head node gets a new public IP address: ~/.ssh/pctl/config is updated, so 'ssh my-cluster' works.
    """
    from pctl.cost.idle import install

    aws = make_aws(profile, region)
    out = install.start_cluster(aws, name, wait=not no_wait)
    addr = out.get("public_ip") or out.get("private_ip")
    if addr:
        from pctl.cluster import sshconfig
        from pctl.cluster.ops import _tags
        from pctl.template.rules import DEFAULT_USER

        try:
            from pctl.aws import pcluster

            info = pcluster.describe_cluster(aws, name) or {}
            user = DEFAULT_USER.get(_tags(info).get("pctl:os") or "alinux2023", "ec2-user")
            out["ssh_entry_updated"] = sshconfig.add_host(name, addr, user, consent=True).added
        except Exception:  # the cluster runs; the ssh entry is a convenience
            out["ssh_entry_updated"] = False
    if as_json:
        emit_json(out)
    else:
        click.echo(f"{name}: head node {out['head_node']} {out['state']}" + (f" at {addr}" if addr else "")
                   + "; compute fleet started" + ("; idle countdown restarted" if out["idle_timer"] else ""))


@click.command("stop")
@click.argument("name")
@aws_options
@yes_option
@json_option
def stop(name, profile, region, yes, as_json):
    """Stop a cluster now: compute nodes terminated, head node stopped; storage kept. pctl start resumes.

    \b
    Examples:
      pctl stop my-cluster --yes
    While stopped you pay for storage (EBS, EFS, FSx) and the network, not for instances.
    """
    from pctl.cost.idle import install
    from pctl.errors import PctlError

    if not confirm(f"Stop {name}? Running jobs are killed; files on shared storage stay.", yes=yes):
        raise PctlError("not stopped", hint=None if interactive() else "pass --yes (-y) in scripts and CI")
    aws = make_aws(profile, region)
    out = install.stop_cluster(aws, name)
    if as_json:
        emit_json(out)
    else:
        click.echo(f"{name}: head node {out['head_node']} stopping, {len(out['terminated'])} compute node(s) "
                   f"terminated; resume with: pctl start {name}")


@click.group("idle")
def idle():
    """The idle timer: install it again, show its exact IAM policy, remove it.

    \b
    Examples:
      pctl idle policy -t my-cluster.yaml            # the IAM policy the timer's function gets
      pctl idle arm my-cluster -t my-cluster.yaml    # (re)install after changing cluster.idle_timeout
      pctl idle remove my-cluster                    # the cluster then runs until deleted
    """


@idle.command("arm")
@click.argument("name")
@template_option()
@aws_options
@json_option
def arm(name, template, profile, region, as_json):
    """Install or update the idle timer of cluster NAME from its template's cluster.idle_timeout.

    \b
    Examples:
      pctl idle arm my-cluster -t my-cluster.yaml
    """
    from pctl.cost.idle import install
    from pctl.registry.templates import load_valid

    tref, result = load_valid(template, use_catalog=False)
    aws = make_aws(profile, region or result.template.cluster.region)
    out = install.arm(aws, result.template, cluster_name=name, bucket=None, template_name=tref.name,
                      progress=None if as_json else (lambda m: click.echo(m, err=True)))
    if as_json:
        emit_json(out)
    else:
        click.echo(f"{name}: {out['action'].replace('_', ' ')} after {out['timeout']} idle (function {out['function']}, "
                   f"role {out['role']})")


@idle.command("remove")
@click.argument("name")
@aws_options
@json_option
def remove(name, profile, region, as_json):
    """Remove the idle timer of cluster NAME (its rule, function, role and log group).

    \b
    Examples:
      pctl idle remove my-cluster
    """
    from pctl.cost.idle import install

    aws = make_aws(profile, region)
    removed = install.disarm(aws, name)
    if as_json:
        emit_json({"name": name, "removed": removed})
    else:
        click.echo(f"{name}: " + (", ".join(removed) + " removed" if removed else "no idle timer"))


@idle.command("policy")
@template_option()
@click.option("--name", default=None, help="Cluster name (default: cluster.name).")
@click.option("--account", default="123456789012", show_default=True, help="Account id to show in ARNs.")
@click.option("--region", default=None, help="Region (default: cluster.region or us-east-1).")
@click.option("--action", type=click.Choice(["auto_stop", "auto_delete"]), default=None,
              help="Show the policy for this action (default: cluster.idle_action).")
def policy(template, name, account, region, action):
    """Print the IAM policy the idle timer's function of a cluster gets (offline).

    \b
    Examples:
      pctl idle policy -t my-cluster.yaml
      pctl idle policy -t ml/pytorch-gpu --action auto_delete --account 111122223333 --region us-west-2
    Without the created stack, the cleanup functions and the hosted zone are not known yet: the policy
    pctl installs names them exactly.
    """
    import json

    from pctl.cost.idle.policy import function_policy
    from pctl.errors import PctlError
    from pctl.registry.templates import load_valid

    _, result = load_valid(template, use_catalog=False)
    t = result.template
    if not t.cluster.idle_timeout and action is None:
        raise PctlError(f"{template} has no cluster.idle_timeout",
                        hint="add cluster.idle_timeout: 2h, or pass --action auto_stop|auto_delete")
    reg = region or t.cluster.region or "us-east-1"
    doc = function_policy(cluster=name or t.cluster.name, region=reg, account=account,
                          bucket=f"pctl-{account}-{reg}", action=action or t.cluster.idle_action)
    click.echo(json.dumps(doc, indent=2))
