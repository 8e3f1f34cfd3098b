from __future__ import annotations

import click


@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]), required=False)
def completion(shell):
    """Print a shell completion script.

    \b
    Examples:
      eval "$(pctl completion bash)"          # bash, add to ~/.bashrc
      pctl completion zsh > ~/.zfunc/_pctl    # zsh
      pctl completion fish > ~/.config/fish/completions/pctl.fish
    """
    import os

    from click.shell_completion import get_completion_class

    from pctl.cli.main import cli

    if shell is None:
        shell = os.path.basename(os.environ.get("SHELL", "bash")) or "bash"
        if shell not in ("bash", "zsh", "fish"):
            shell = "bash"
    cls = get_completion_class(shell)
    comp = cls(cli, {}, "pctl", "_PCTL_COMPLETE")
    click.echo(comp.source())
