"""pctl's own ssh config file (one Host entry per cluster), included once from the end of ~/.ssh/config.

Every change is a read-modify-write under a lock with an atomic replace (`pctl.fsio`), so concurrent
pctl processes never lose or tear entries. The Include sits at the end of ~/.ssh/config behind a
`Match all` line: an Include below a `Host` block would belong to that block, and at the end the user's
own entries win (ssh takes the first value it finds). A cluster whose name a user entry also matches is
reported by `shadowed_by`.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pctl.fsio import atomic_write, locked, update

INCLUDE_LINE = "Include ~/.ssh/pctl/config"
MARK = "# Added by pctl: cluster hosts (kept last so your own entries win)"
INCLUDE_BLOCK = f"{MARK}\nMatch all\n{INCLUDE_LINE}\n"
HEADER = "# Managed by pctl: one Host per cluster. Edit with pctl create/delete.\n"
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,59}$")
ADDRESS_RE = re.compile(r"^[0-9A-Za-z.:-]+$")


def ssh_dir() -> Path:
    return Path(os.environ.get("PCTL_SSH_DIR") or Path.home() / ".ssh")


def pctl_config() -> Path:
    return ssh_dir() / "pctl" / "config"


def user_config() -> Path:
    return ssh_dir() / "config"


def _entries(text: str) -> dict[str, str]:
    out, cur, buf = {}, None, []
    for line in text.splitlines():
        m = re.match(r"^Host\s+(\S+)\s*$", line)
        if m:
            if cur:
                out[cur] = "\n".join(buf).rstrip()
            cur, buf = m.group(1), [line]
        elif cur:
            buf.append(line)
    if cur:
        out[cur] = "\n".join(buf).rstrip()
    return out


def _render(entries: dict[str, str]) -> str:
    return HEADER + "\n" + "\n\n".join(entries[k] for k in sorted(entries)) + ("\n" if entries else "")


@dataclass
class HostResult:
    added: bool  # the Host entry is in pctl's file
    included: bool  # ~/.ssh/config includes pctl's file, so `ssh NAME` uses it
    shadowed_by: list[str]  # the user's own Host patterns that also match NAME (they win)


def add_host(name: str, address: str, user: str, *, identity: str | None = None,
             consent: bool | Callable[[str], bool] = False) -> HostResult:
    """Add or replace the cluster's Host entry. `consent` (True, or a function asked the question) allows
    adding the Include to ~/.ssh/config when it is not there yet."""
    if not NAME_RE.fullmatch(name) or not ADDRESS_RE.fullmatch(address) or not NAME_RE.fullmatch(user):
        return HostResult(False, False, [])
    lines = [f"Host {name}", f"    HostName {address}", f"    User {user}", "    StrictHostKeyChecking accept-new"]
    if identity:
        if any(c in identity for c in "\n\r\"") or not identity.strip():
            identity = None
        else:
            lines.append(f'    IdentityFile "{identity}"')

    def change(old: str | None) -> str:
        entries = _entries(old or "")
        entries[name] = "\n".join(lines)
        return _render(entries)

    cfg = pctl_config()
    cfg.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    update(cfg, change, mode=0o600)
    included = ensure_include(consent)
    return HostResult(True, included, shadowed_by(name))


def ensure_include(consent: bool | Callable[[str], bool] = False) -> bool:
    """The Include block at the end of ~/.ssh/config (an old top-of-file Include from earlier pctl versions
    is moved there). True when the file includes pctl's file afterwards."""
    main = user_config()
    main.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with locked(main):
        text = main.read_text(encoding="utf-8") if main.exists() else ""
        if text.endswith(INCLUDE_BLOCK) or text.rstrip("\n").endswith(INCLUDE_BLOCK.rstrip("\n")):
            return True
        old_style = INCLUDE_LINE in text
        question = (f"Move pctl's '{INCLUDE_LINE}' to the end of {main}, so your own entries win?" if old_style
                    else f"Add '{INCLUDE_LINE}' at the end of {main} so 'ssh CLUSTER' works?")
        ok = consent(question) if callable(consent) else bool(consent)
        if not ok:
            return old_style
        body = _without_include(text).rstrip("\n")
        atomic_write(main, (body + "\n\n" if body else "") + INCLUDE_BLOCK, mode=0o600)
        return True


def _without_include(text: str) -> str:
    """The user's config without pctl's include (either form)."""
    out = text.replace(INCLUDE_BLOCK, "")
    lines = [ln for ln in out.splitlines(keepends=True) if ln.strip() != INCLUDE_LINE]
    return "".join(lines).lstrip("\n") if text.startswith(INCLUDE_LINE) else "".join(lines)


def shadowed_by(name: str) -> list[str]:
    """`Host` patterns of the user's own config (before pctl's include) that match NAME, other than a lone
    `*` (global defaults are expected). Those entries win over pctl's."""
    main = user_config()
    try:
        text = main.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    out = []
    for line in _without_include(text).splitlines():
        m = re.match(r"^\s*Host\s+(.+?)\s*$", line, re.IGNORECASE)
        if not m:
            continue
        patterns = m.group(1).split()
        if patterns == ["*"]:
            continue
        negated = any(p.startswith("!") and fnmatch.fnmatchcase(name, p[1:]) for p in patterns)
        if not negated and any(not p.startswith("!") and fnmatch.fnmatchcase(name, p) for p in patterns):
            out.append(" ".join(patterns))
    return out


def remove_host(name: str) -> bool:
    p = pctl_config()
    if not p.exists():
        return False
    removed = []

    def change(old: str | None) -> str | None:
        entries = _entries(old or "")
        if name not in entries:
            return None
        del entries[name]
        removed.append(name)
        return _render(entries)

    update(p, change, mode=0o600)
    return bool(removed)


def host_entry(name: str) -> dict | None:
    p = pctl_config()
    if not p.exists():
        return None
    text = _entries(p.read_text()).get(name)
    if not text:
        return None
    out = {}
    for line in text.splitlines()[1:]:
        k, _, v = line.strip().partition(" ")
        out[k] = v.strip().strip('"')
    return out
