"""Tables: aligned columns without borders when stdout is not a terminal (scripts use awk on them)."""

from __future__ import annotations

import sys

import click


def print_table(headers: list[str], rows: list[list], *, title: str | None = None) -> None:
    """Cells are data (cluster names, tags, AWS text): escape sequences and line breaks are removed and,
    on a terminal, Rich markup in them is shown as text, never interpreted."""
    from pctl.ui import safe_text

    rows = [[safe_text(c, single_line=True) for c in r] for r in rows]
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        t = Table(title=title, show_lines=False)
        for h in headers:
            t.add_column(h)
        for r in rows:
            t.add_row(*[Text(c) for c in r])
        Console().print(t)
        return
    cells = [headers] + rows
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for r in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
