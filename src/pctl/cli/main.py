"""pctl's entry point: a thin click group; each command lives in its own module, loaded lazily."""

from __future__ import annotations

import os
import sys

import click

from pctl import __version__
from pctl.cli.lazy import LazyGroup

COMMANDS = {
    "validate": ("pctl.cli.validate:validate", "Check templates: schema, rules and Spack specs (file:line:col errors)."),
    "schema": ("pctl.cli.schema:schema", "Print the template JSON Schema (for editor completion)."),
    "spack": ("pctl.cli.spack:spack", "Spack helpers: build or inspect the package catalog, check specs."),
    "create": ("pctl.cli.create:create", "Create a cluster from a template (--dry-run shows the plan, creates nothing)."),
    "delete": ("pctl.cli.cluster:delete", "Delete a cluster and everything pctl made for it."),
    "list": ("pctl.cli.cluster:list_", "List clusters in a region (from AWS, any machine)."),
    "status": ("pctl.cli.cluster:status", "Show a cluster's status, queues and software install progress."),
    "ssh": ("pctl.cli.cluster:ssh", "SSH to a cluster's head node."),
    "cost": ("pctl.cli.cost:cost", "Spend by cluster or project (Cost Explorer), prices, budgets, cost tags."),
    "keep": ("pctl.cli.idle:keep", "Postpone a cluster's idle timer: pctl keep NAME --for 4h."),
    "start": ("pctl.cli.idle:start", "Start a stopped cluster (stopped by its idle timer or pctl stop)."),
    "stop": ("pctl.cli.idle:stop", "Stop a cluster now (instances off, storage kept); pctl start resumes."),
    "idle": ("pctl.cli.idle:idle", "The idle timer: show its IAM policy, install it again, remove it."),
    "network": ("pctl.cli.network:network", "Create, list or delete the per-region pctl network."),
    "doctor": ("pctl.cli.doctor:doctor", "Check credentials, region, Node.js, ParallelCluster, quotas, key pair."),
    "registry": ("pctl.cli.registry:registry", "Find, share and publish templates (search, get, add sources, index)."),
    "ami": ("pctl.cli.ami:ami", "Bake a template's software into a custom AMI once; list, watch and clean up builds."),
    "template": ("pctl.cli.template:template", "One template: show it (trust included), import a ParallelCluster config, upgrade an older template, resolve extends:."),
    "check": ("pctl.cli.check:check", "Prove that a live cluster works: modules, users, mounts and queues, with real jobs."),
    "capture": ("pctl.cli.capture:capture", "Capture an on-prem cluster over SSH and turn it into a template + migration report."),
    "cleanup": ("pctl.cli.cleanup:cleanup", "Find and remove every pctl leftover in a region (stacks, files, network, builds)."),
    "completion": ("pctl.cli.completion:completion", "Print a shell completion script (bash, zsh, fish)."),
}

EPILOG = """\b
Examples:
  pctl create -t bioinformatics --dry-run # the plan and ParallelCluster config, nothing created
  pctl validate bioinformatics            # check a library template
  pctl validate my-cluster.yaml --json    # every error with file, line, column
  pctl schema -o pctl.schema.json         # JSON Schema for yaml-language-server
  pctl spack index build ./spack-packages # build the Spack catalog pctl checks specs against

Exit codes: 0 success, 1 failure, 2 usage error.
"""


@click.group(cls=LazyGroup, lazy=COMMANDS, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"],
                                                                          "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="pctl", message="%(prog)s %(version)s")
def cli():
    """pctl turns a short YAML template into a ready-to-use AWS ParallelCluster HPC cluster:
    networking, Slurm queues, Spack software as modules, users and S3 mounts on every node."""


def _wants_json(argv) -> bool:
    args = sys.argv[1:] if argv is None else list(argv)
    return "--json" in args[: args.index("--")] if "--" in args else "--json" in args


def _json_error(exc) -> None:
    """With --json, a failure is one JSON object on stdout too (the message stays on stderr for people)."""
    import json

    body = {"error": {"message": exc.message, "hint": exc.hint, "exit_code": exc.exit_code,
                      "type": type(exc).__name__}}
    extra = getattr(exc, "to_dict", None)
    if callable(extra):
        body["error"].update(extra())
    click.echo(json.dumps(body, indent=2, default=str))


def main(argv=None) -> None:
    from pctl.errors import PctlError

    # pydantic scans every installed distribution for plugins at first use (~60 ms); pctl uses none.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        rv = cli.main(args=argv, prog_name="pctl", standalone_mode=False)
    except PctlError as exc:
        from pctl.cli.common import err

        err(exc.message, exc.hint)
        if _wants_json(argv):
            _json_error(exc)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("\ninterrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        # e.g. `pctl registry list | head`: not an error
        try:
            sys.stdout = open(os.devnull, "w")
        finally:
            sys.exit(0)
    except Exception as exc:  # last line of defence: a message, never a traceback
        if os.environ.get("PCTL_DEBUG"):
            raise
        from pctl.cli.common import err

        err(f"internal error: {type(exc).__name__}: {exc}",
            "this is a bug in pctl; re-run with PCTL_DEBUG=1 for details and report it")
        sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)
