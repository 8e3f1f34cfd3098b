"""Options and output helpers shared by every command (the CLI conventions).

-t/--template FILE|NAME, -o/--output FILE, --json (stable JSON on stdout), -y/--yes,
no prompts when stdin is not a terminal, exit 0 success / 1 failure / 2 usage.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

JSON_SCHEMA_VERSION = 1


def json_option(f):
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout.")(f)


def yes_option(f):
    return click.option("-y", "--yes", is_flag=True, help="Answer yes to every question (no prompts).")(f)


def output_option(f):
    return click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help="Write the result to FILE instead of stdout.")(f)


def template_option(required: bool = True):
    return click.option("-t", "--template", "template", required=required, metavar="FILE|NAME",
                        help="Template file, or a library/registry name such as 'bioinformatics'.")


def emit_json(obj) -> None:
    from pctl.ui import json_terminal_safe

    click.echo(json_terminal_safe(json.dumps(obj, indent=2, sort_keys=False, ensure_ascii=False, default=str)))


def emit_error_json(message: str, *, hint: str | None = None, exit_code: int = 1, kind: str = "failure",
                    **extra) -> None:
    """The one JSON error object a failed `--json` command prints on stdout (stable keys)."""
    error = {"type": kind, "message": message, "hint": hint, "exit_code": exit_code}
    error.update({k: v for k, v in extra.items() if v is not None})
    emit_json({"ok": False, "error": error})


def write_output(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    try:
        from pctl.fsio import atomic_write

        atomic_write(output, text if text.endswith("\n") else text + "\n")
    except OSError as exc:
        from pctl.errors import PctlError

        raise PctlError(f"cannot write {output}: {exc.strerror or exc}") from None
    click.echo(f"wrote {output}", err=True)


def interactive() -> bool:
    try:
        return sys.stdin.isatty() and sys.stdout.isatty() and os.environ.get("CI", "").lower() not in ("1", "true")
    except (AttributeError, ValueError):
        return False


def confirm(question: str, *, yes: bool, default: bool = False) -> bool:
    """Ask only on a terminal. Without a terminal and without --yes, the answer is no."""
    if yes:
        return True
    if not interactive():
        return False
    return click.confirm(question, default=default)


def err(message: str, hint: str | None = None) -> None:
    from pctl.ui import safe_text  # messages quote git, ssh, AWS and template text

    click.secho("error: ", fg="red", bold=True, err=True, nl=False)
    click.echo(safe_text(message), err=True)
    if hint:
        click.echo(f"  hint: {safe_text(hint)}", err=True)


def warn(message: str) -> None:
    from pctl.ui import safe_text

    click.secho("warning: ", fg="yellow", bold=True, err=True, nl=False)
    click.echo(safe_text(message), err=True)


def load_catalog(explicit=None, no_catalog: bool = False):
    """The Spack catalog for a command: --catalog FILE, else PCTL_SPACK_INDEX / config / cache; None when
    --no-catalog or none is found. A broken or missing explicit catalog is an error."""
    if no_catalog:
        return None
    from pctl.errors import PctlError, UsageError
    from pctl.spack.catalog import CatalogError, find_catalog

    try:
        cat = find_catalog(explicit)
    except CatalogError as exc:
        raise PctlError(str(exc)) from None
    if explicit is not None and cat is None:
        raise UsageError(f"{explicit}: no such catalog file")
    return cat
