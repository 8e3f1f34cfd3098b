from __future__ import annotations

import click

from pctl.cli.aws_opts import aws_options
from pctl.cli.common import emit_json, json_option


@click.command()
@aws_options
@click.option("--key-name", default=None, help="Check that this EC2 key pair exists.")
@json_option
def doctor(profile, region, key_name, as_json):
    """Check that this machine and AWS account are ready for pctl.

    \b
    Checks: credentials and account, region, Node.js (ParallelCluster's CDK needs it), ParallelCluster
    version, VPC and Elastic IP quota headroom, the key pair. Each check says ok, warn or fail, with a fix.

    \b
    Examples:
      pctl doctor --region us-east-1 --key-name mykey
      pctl doctor --json | jq '.checks[] | select(.status != "ok")'
    """
    from pctl.doctor import run_checks

    checks = run_checks(profile=profile, region=region, key_name=key_name)
    failed = any(c["status"] == "fail" for c in checks)
    if as_json:
        emit_json({"ok": not failed, "checks": checks})
    else:
        colors = {"ok": "green", "warn": "yellow", "fail": "red"}
        for c in checks:
            click.secho(f"{c['status']:>4}", fg=colors[c["status"]], bold=True, nl=False)
            click.echo(f"  {c['name']}: {c['detail']}")
            if c.get("fix") and c["status"] != "ok":
                click.echo(f"        fix: {c['fix']}")
    raise SystemExit(1 if failed else 0)
