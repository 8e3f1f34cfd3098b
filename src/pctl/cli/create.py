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
@click.option("--profile", default=None, envvar="AWS_PROFILE", help="AWS profile.")
@json_option
@yes_option
def create(template, name, custom_ami, key_name, subnet_id, region, public_only, dry_run, output_dir, no_catalog,
           no_wait, rollback, ssh_cidr, ssh_from_anywhere, profile, as_json, yes):
    """Create a cluster from a template.

    \b
    Examples:
      pctl create -t bioinformatics --dry-run             # the plan, no AWS credentials needed
      pctl create -t my-cluster.yaml --dry-run --output-dir out/
      pctl create -t gatk-cluster.yaml --custom-ami ami-genomics-v1
      pctl create -t chemistry/gromacs --name my-experiment --key-name mykey
    """
    from pctl.cluster.plan import CreateOptions
    from pctl.errors import PctlError, UsageError

    opts = CreateOptions(template=template, name=name, custom_ami=custom_ami, key_name=key_name,
                         subnet_id=subnet_id, region=region, public_only=public_only)
    catalog = None
    if not no_catalog:
        from pctl.spack.catalog import CatalogError, find_catalog

        try:
            catalog = find_catalog()
        except CatalogError as exc:
            raise PctlError(str(exc)) from None
    if output_dir is not None and not dry_run:
        raise UsageError("--output-dir goes with --dry-run")
    if dry_run:
        from pctl.cluster.plan import dry_run as run_dry

        result = run_dry(opts, catalog=catalog, use_catalog=not no_catalog, profile=profile)
        if output_dir is not None:
            _write_output_dir(output_dir, result)
        if as_json:
            emit_json({"dry_run": True, "plan": result["plan"], "config": result["config"],
                       "scripts": {k: {"bytes": len(v.encode())} for k, v in result["scripts"].items()},
                       "output_dir": str(output_dir) if output_dir else None})
        else:
            from pctl.render.pcluster import to_yaml
            from pctl.ui.plan import print_plan

            print_plan(result["plan"])
            click.secho("\n# ParallelCluster configuration (pcluster 3.x)", bold=True)
            click.echo(to_yaml(result["config"]), nl=False)
            if output_dir is not None:
                click.echo(f"\nwrote {output_dir}/: cluster-config.yaml, plan.json, " + ", ".join(sorted(result["scripts"])),
                           err=True)
        return
    from pctl.cluster.create import create_cluster

    if ssh_cidr:
        from pctl.template.rules import cidr_problem

        if cidr_problem(ssh_cidr):
            raise UsageError(f"--ssh-cidr: {cidr_problem(ssh_cidr)}")
    create_cluster(opts, catalog=catalog, use_catalog=not no_catalog, as_json=as_json, yes=yes, profile=profile,
                   wait=not no_wait, rollback=rollback, ssh_cidr=ssh_cidr, ssh_from_anywhere=ssh_from_anywhere)


def _write_output_dir(out: Path, result: dict) -> None:
    import json
    import os

    from pctl.errors import PctlError
    from pctl.render.pcluster import to_yaml

    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "cluster-config.yaml").write_text(to_yaml(result["config"]), encoding="utf-8")
        (out / "plan.json").write_text(json.dumps(result["plan"], indent=2) + "\n", encoding="utf-8")
        for name, text in result["scripts"].items():
            p = out / name
            p.write_text(text, encoding="utf-8")
            if name.endswith(".sh"):
                os.chmod(p, 0o755)
    except OSError as exc:
        raise PctlError(f"cannot write {out}: {exc.strerror or exc}") from None
