"""Optional parts of pctl and the exact command that installs them into this Python.

`pip install .` (or `pip install pctl`) gives validate, the dry run, the registry and capture; talking to AWS
needs the `aws` extra (boto3 and aws-parallelcluster). The command names this interpreter's pip, so it installs
into the environment pctl runs from, and `pctl[aws]` keeps the installed pctl (from a checkout or a wheel)
and adds only the extra's requirements.
"""

from __future__ import annotations

import shlex
import sys

from pctl.errors import PctlError


def install_command(extra: str = "aws") -> str:
    return f"{shlex.quote(sys.executable or 'python3')} -m pip install 'pctl[{extra}]'"


def _running_command() -> str | None:
    try:
        import click

        ctx = click.get_current_context(silent=True)
    except Exception:  # pragma: no cover - click is a dependency
        return None
    return ctx.command_path if ctx is not None else None


def missing_aws(what: str, module: str) -> PctlError:
    """The error for a command that needs AWS support when `module` (boto3, pcluster) cannot be imported."""
    running = _running_command()
    if running and what == "this command":
        what = f"'{running}'"
    return PctlError(f"{what} needs pctl's AWS support, which is not installed ({module} is missing)",
                     hint=f"install it into this Python: {install_command('aws')}")
