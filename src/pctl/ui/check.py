"""The `pctl check` table: check × (head node / each queue), then every failure with its evidence and
every skip with its reason.

Cells hold only pctl's own words (pass / FAIL / skip / -); cluster text appears below the table, already
cleaned (pctl.check.protocol.clean) and printed as plain text (never as Rich markup).
"""

from __future__ import annotations

import sys

import click

from pctl.check.plan import HEAD
from pctl.check.protocol import clean_one

_LABEL = {"pass": "pass", "fail": "FAIL", "skip": "skip"}
_STYLE = {"pass": "green", "fail": "bold red", "skip": "yellow"}


def _header(col: str) -> str:
    return "head node" if col == HEAD else col.split(":", 1)[1]


def _cell_text(report, check, col) -> tuple[str, str | None]:
    if col not in check.columns:
        return "-", None
    cell = report.cells.get((check.id, col))
    if cell is None:
        return "?", None
    text = _LABEL[cell.status]
    if cell.status == "pass" and cell.seconds is not None:
        text += f" {cell.seconds:.0f}s" if cell.seconds >= 10 else f" {cell.seconds:.1f}s"
    return text, _STYLE[cell.status]


def print_report(report, *, file=None, verbose: bool = False) -> None:
    """The table and details, on stdout (or FILE); ``verbose`` also shows what each passed check saw."""
    out = file or sys.stdout
    plan = report.plan
    cols = plan.columns
    headers = ["CHECK"] + [_header(c) for c in cols]
    rows = []
    for check in plan.checks:
        rows.append([clean_one(check.title, 70)] + [_cell_text(report, check, c) for c in cols])
    tty = out.isatty() if hasattr(out, "isatty") else False
    target = clean_one(report.target, 200)
    title = f"pctl check {clean_one(report.cluster or '', 60) or target} ({target}, run {plan.nonce})"
    if tty:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        t = Table(title=Text(title), title_justify="left")
        for h in headers:
            t.add_column(Text(h))
        for r in rows:
            t.add_row(Text(r[0]), *[Text(txt, style=style or "") for txt, style in r[1:]])
        Console(file=out, markup=False, highlight=False, emoji=False).print(t)
    else:
        click.echo(title, file=out)
        cells = [headers] + [[r[0]] + [txt for txt, _ in r[1:]] for r in rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
        for r in cells:
            click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip(), file=out)
    _details(report, out, tty, verbose)


def _where(col: str) -> str:
    return "head node" if col == HEAD else "queue " + col.split(":", 1)[1]


def _details(report, out, tty: bool, verbose: bool = False) -> None:
    def echo(text: str, **style) -> None:
        click.secho(text, file=out, **(style if tty else {}))

    plan = report.plan
    fails = []
    skips: dict[str, list[tuple[str, str]]] = {}
    for check in plan.checks:
        for col in check.columns:
            cell = report.cells.get((check.id, col))
            if cell is None:
                continue
            if cell.status == "fail":
                fails.append((check, col, cell))
            elif cell.status == "skip":
                why = cell.evidence[0] if cell.evidence else "skipped"
                skips.setdefault(why, []).append((check.title, _where(col)))
    if verbose:
        passed = [(check, col, report.cells[(check.id, col)]) for check in plan.checks for col in check.columns
                  if report.cells.get((check.id, col)) is not None and report.cells[(check.id, col)].status == "pass"]
        if passed:
            echo("")
            echo("Passed:", bold=True)
            for check, col, cell in passed:
                echo(f"  pass  {clean_one(check.title, 120)}  [{_where(col)}]", fg="green")
                for line in cell.evidence:
                    echo(f"        {line}")
    if fails:
        echo("")
        echo("Failures:", bold=True)
        for check, col, cell in fails:
            echo(f"  FAIL  {clean_one(check.title, 120)}  [{_where(col)}]", fg="red", bold=True)
            for line in cell.evidence or ["(no evidence)"]:
                echo(f"        {line}")
    if skips:
        echo("")
        echo("Skipped:", bold=True)
        for why, items in skips.items():
            titles = list(dict.fromkeys(clean_one(t, 80) for t, _ in items))
            wheres = list(dict.fromkeys(w for _, w in items))
            what = titles[0] if len(titles) == 1 else f"{len(titles)} checks"
            echo(f"  skip  {what}  [{', '.join(wheres)}]: {why}", fg="yellow")
    notes = list(report.notes)
    if report.cancelled_jobs:
        notes.insert(0, f"cancelled job(s) {' '.join(report.cancelled_jobs)}")
    if report.removed_files:
        notes.insert(0, f"removed {len(report.removed_files)} leftover probe file(s)")
    if notes:
        echo("")
        for n in notes:
            echo(f"note: {n}")
    n = report.counts()
    verdict = ("interrupted" if report.interrupted else "OK" if report.ok else "FAILED")
    echo("")
    echo(f"{verdict}: {n['pass']} passed, {n['fail']} failed, {n['skip']} skipped in {report.duration_s:.1f} s",
         fg="green" if report.ok else "red", bold=True)
