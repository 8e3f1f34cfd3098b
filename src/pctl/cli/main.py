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
    """--json on the command line (before a `--`): failures then also print one JSON error object on stdout."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--" in args:
        args = args[: args.index("--")]
    return "--json" in args


def _fail(as_json: bool, message: str, hint: str | None, exit_code: int, kind: str, **extra) -> None:
    """Report a failure: the human message on stderr; with --json also {"ok": false, "error": {...}} on stdout."""
    from pctl.cli.common import emit_error_json, err

    err(message, hint)
    if as_json:
        emit_error_json(message, hint=hint, exit_code=exit_code, kind=kind, **extra)
    sys.exit(exit_code)


def main(argv=None) -> None:
    from pctl.errors import PctlError

    # pydantic scans every installed distribution for plugins at first use (~60 ms); pctl uses none.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    as_json = _wants_json(argv)
    try:
        rv = cli.main(args=argv, prog_name="pctl", standalone_mode=False)
    except PctlError as exc:
        extra = {k: getattr(exc, k) for k in ("code", "operation") if getattr(exc, k, None)}
        if callable(getattr(exc, "to_dict", None)):  # e.g. ParallelCluster's messages as pctl diagnostics
            extra.update(exc.to_dict())
        kind = getattr(exc, "kind", None) or ("usage" if exc.exit_code == 2 else "failure")
        _fail(as_json, exc.message, exc.hint, exc.exit_code, kind, **extra)
    except click.exceptions.Abort:
        _fail(as_json, "aborted", None, 1, "aborted")
    except click.ClickException as exc:
        if as_json:
            from pctl.cli.common import emit_error_json

            emit_error_json(exc.format_message(), hint=_usage_hint(exc), exit_code=exc.exit_code, kind="usage")
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("", err=True)
        _fail(as_json, "interrupted", None, 130, "interrupted")
    except BrokenPipeError:
        # e.g. `pctl registry list | head`: not an error
        try:
            sys.stdout = open(os.devnull, "w")
        finally:
            sys.exit(0)
    except Exception as exc:  # last line of defence: a message, never a traceback
        if os.environ.get("PCTL_DEBUG"):
            raise
        _fail(as_json, f"internal error: {type(exc).__name__}: {exc}",
              "this is a bug in pctl; re-run with PCTL_DEBUG=1 for details and report it", 1, "internal")
    sys.exit(rv if isinstance(rv, int) else 0)


def _usage_hint(exc) -> str | None:
    ctx = getattr(exc, "ctx", None)
    if ctx is None:
        return None
    return f"see '{ctx.command_path} --help'"
