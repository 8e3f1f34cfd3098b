from __future__ import annotations

from pathlib import Path

import click

from pctl.cli.common import emit_json, json_option, template_option, yes_option


@click.command()
@template_option()
@click.option("--name", default=None, help="Cluster name (overrides cluster.name in the template).")
@click.option("--custom-ami", default=None, metavar="AMI",
              help="AMI id, or the name given to 'pctl ami build --name'. The packages it holds are used; only "
                   "the template's other packages are installed at boot, on top of the AMI's Spack.")
@click.option("--key-name", default=None, help="EC2 key pair for SSH (overrides cluster.key_name).")
@click.option("--subnet-id", default=None, help="Use an existing subnet instead of the pctl network.")
@click.option("--region", default=None, help="AWS region (overrides cluster.region and AWS_REGION).")
@click.option("--public-only", is_flag=True, help="Cheapest network: no NAT gateway, compute nodes in public subnets.")
@click.option("--dry-run", is_flag=True, help="Show the plan and the ParallelCluster config; create nothing.")
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With --dry-run: write the config, node scripts and plan to DIR.")
@click.option("--no-catalog", is_flag=True, help="Do not check Spack specs against a catalog.")
@click.option("--no-wait", is_flag=True, help="Return as soon as ParallelCluster has started the create.")
@click.option("--rollback/--no-rollback", default=True, show_default=True,
              help="Let ParallelCluster roll back a failed stack (--no-rollback keeps it for debugging).")
@click.option("--ssh-cidr", default=None, help="Allow SSH from this CIDR (default: your public IP /32).")
@click.option("--ssh-from-anywhere", is_flag=True, help="Allow SSH from 0.0.0.0/0 (not recommended).")
@click.option("--suppress-validators", "suppress", multiple=True, metavar="ALL|type:NAME",
              help="Skip a ParallelCluster validator (as 'pcluster create-cluster --suppress-validators'); repeatable.")
@click.option("--lookup", is_flag=True,
              help="With --dry-run: look up in AWS what create would use (network, AMI, account, your address).")
@click.option("--profile", default=None, envvar="AWS_PROFILE", help="AWS profile.")
@click.option("--check", "check", is_flag=True,
              help="Once created, run 'pctl check' on it: modules, users, mounts, a job on every queue (exit 1 if "
                   "a check fails; the cluster is kept).")
@json_option
@yes_option
def create(template, name, custom_ami, key_name, subnet_id, region, public_only, dry_run, output_dir, no_catalog,
           no_wait, rollback, ssh_cidr, ssh_from_anywhere, suppress, lookup, profile, check, as_json, yes):
    """Create a cluster from a template.

    \b
    Examples:
      pctl create -t bioinformatics --dry-run             # the plan, no AWS credentials needed
      pctl create -t bioinformatics --dry-run --lookup    # ... with what AWS says now (network, AMI)
      pctl create -t my-cluster.yaml --dry-run --output-dir out/
      pctl create -t gatk-cluster.yaml --key-name mykey --custom-ami ami-genomics-v1
      pctl create -t chemistry/gromacs --name my-experiment --key-name mykey --yes --json
      pctl create -t bioinformatics --key-name mykey --check   # then prove it works (pctl check)
    """
    import re

    from pctl.cluster.plan import CreateOptions
    from pctl.errors import PctlError, UsageError

    for v in suppress:
        if not re.fullmatch(r"ALL|type:[A-Za-z][A-Za-z0-9]{0,99}", v):
            raise UsageError(f"--suppress-validators: {v!r} is neither ALL nor type:NAME (e.g. type:KeyPairValidator)")
    if lookup and not dry_run:
        raise UsageError("--lookup goes with --dry-run")
    opts = CreateOptions(template=template, name=name, custom_ami=custom_ami, key_name=key_name,
                         subnet_id=subnet_id, region=region, public_only=public_only, ssh_cidr=ssh_cidr,
                         ssh_from_anywhere=ssh_from_anywhere, suppress_validators=tuple(suppress))
    catalog = None
    if not no_catalog:
        from pctl.spack.catalog import CatalogError, find_catalog

        try:
            catalog = find_catalog()
        except CatalogError as exc:
            raise PctlError(str(exc)) from None
    if output_dir is not None and not dry_run:
        raise UsageError("--output-dir goes with --dry-run")
    if check and (dry_run or no_wait):
        raise UsageError("--check needs the cluster: it cannot go with --dry-run or --no-wait",
                         hint="see what would be checked with: pctl check -t TEMPLATE --dry-run")
    if dry_run:
        from pctl.cluster.plan import dry_run as run_dry

        result = run_dry(opts, catalog=catalog, use_catalog=not no_catalog, lookup=lookup, profile=profile)
        if output_dir is not None:
            _write_output_dir(output_dir, result)
        if as_json:
            emit_json({"dry_run": True, "plan": result["plan"], "config": result["config"],
                       "cluster_stack": result["cluster_stack"],
                       "scripts": {k: {"bytes": len(v.encode())} for k, v in result["scripts"].items()},
                       "output_dir": str(output_dir) if output_dir else None})
        else:
            from pctl.render.pcluster import to_yaml
            from pctl.ui.plan import print_plan

            print_plan(result["plan"], looked_up=lookup)
            click.secho("\n# ParallelCluster configuration (pcluster 3.x)", bold=True)
            click.echo(to_yaml(result["config"]), nl=False)
            if output_dir is not None:
                click.echo(f"\nwrote {output_dir}/: cluster-config.yaml, cluster-stack.json, plan.json, "
                           + ", ".join(sorted(result["scripts"])),
                           err=True)
        return
    from pctl.cli.common import confirm, interactive
    from pctl.cluster.create import create_cluster

    def say(msg: str) -> None:
        if not as_json:
            click.echo(msg, err=True)

    record = create_cluster(opts, catalog=catalog, use_catalog=not no_catalog, profile=profile,
                            wait=not no_wait or check, rollback=rollback, say=say, yes=yes,
                            confirm=(lambda q: confirm(q, yes=False, default=True)) if interactive() else None)
    public = {k: v for k, v in record.items() if k not in ("config",)}
    if check:  # pctl check's hook: with --json one document {"create": ..., "check": ...}
        from pctl.cli.check import after_create

        return after_create(public, template, profile=profile, region=region, as_json=as_json)
    if as_json:
        emit_json(public)
    else:
        for m in record.get("validation", []):
            if m["level"] == "WARNING":
                click.echo(f"warning: {m['path'] + ': ' if m['path'] else ''}{m['message']} [{m['validator']}]", err=True)
        click.echo(f"cluster {record['name']}: {record['status']}"
                   + (f"  — connect with: {record['ssh']}" if record.get("ssh") else ""))


def _write_output_dir(out: Path, result: dict) -> None:
    import json
    import os

    from pctl.errors import PctlError
    from pctl.render.pcluster import to_yaml

    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "cluster-config.yaml").write_text(to_yaml(result["config"]), encoding="utf-8")
        (out / "plan.json").write_text(json.dumps(result["plan"], indent=2) + "\n", encoding="utf-8")
        (out / "cluster-stack.json").write_text(json.dumps(result["cluster_stack"], indent=2) + "\n", encoding="utf-8")
        for name, text in result["scripts"].items():
            p = out / name
            p.write_text(text, encoding="utf-8")
            if name.endswith(".sh"):
                os.chmod(p, 0o755)
    except OSError as exc:
        raise PctlError(f"cannot write {out}: {exc.strerror or exc}") from None
