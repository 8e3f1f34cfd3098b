"""Print what a template asks you to trust (pctl.template.trust.summary): sudo users with their keys'
fingerprints, and every Spack mirror in the order the node tries it, signed or not."""

from __future__ import annotations

import click

from pctl.ui import safe_text


def trust_rows(trust: dict) -> list[tuple[str, str]]:
    """(label, text) rows; the label is set on the first row of each group only."""
    rows: list[tuple[str, str]] = []
    sudo = trust.get("sudo_users") or []
    if not sudo:
        rows.append(("Sudo users", "none"))
    for i, u in enumerate(sudo):
        who = f"{u['name']} (uid {u['uid']})" if u.get("uid") is not None else u["name"]
        keys = u.get("keys") or []
        first = keys[0]["line"] if keys else "no SSH key (sudo through another login only)"
        rows.append(("Sudo users" if i == 0 else "", f"{who}: {first}"))
        for k in keys[1:]:
            rows.append(("", f"{' ' * len(who)}  {k['line']}"))
    for i, m in enumerate(trust.get("mirrors") or [], start=1):
        if m["official"]:
            how = "signed, Spack's official cache"
        elif m["signed"]:
            how = "signed; the signing keys this mirror serves are trusted"
        else:
            how = "UNSIGNED (allow_unsigned: true): binaries are installed without a signature check"
        rows.append(("Mirrors" if i == 1 else "", f"{i}. {m['url']}  {how}"))
    return [(label, safe_text(text, single_line=True)) for label, text in rows]


def print_trust(trust: dict | None, *, indent: str = "  ", width: int = 11) -> None:
    """The trust rows as the plan prints its rows (bold label column)."""
    if not trust:
        return
    for label, text in trust_rows(trust):
        click.echo(f"{indent}{click.style(label.ljust(width), bold=True)} {text}")

