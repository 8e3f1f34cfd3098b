"""pctl's own ssh config file (one Host entry per cluster), included once from ~/.ssh/config."""

from __future__ import annotations

import os
import re
from pathlib import Path

INCLUDE_LINE = "Include ~/.ssh/pctl/config"


def ssh_dir() -> Path:
    return Path(os.environ.get("PCTL_SSH_DIR") or Path.home() / ".ssh")


def pctl_config() -> Path:
    return ssh_dir() / "pctl" / "config"


def _entries(text: str) -> dict[str, str]:
    out, cur, buf = {}, None, []
    for line in text.splitlines():
        m = re.match(r"^Host\s+(\S+)\s*$", line)
        if m:
            if cur:
                out[cur] = "\n".join(buf)
            cur, buf = m.group(1), [line]
        elif cur:
            buf.append(line)
    if cur:
        out[cur] = "\n".join(buf)
    return out


def _write(entries: dict[str, str]) -> None:
    p = pctl_config()
    p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = "# Managed by pctl: one Host per cluster. Edit with pctl create/delete.\n\n" + "\n\n".join(
        entries[k] for k in sorted(entries)) + ("\n" if entries else "")
    tmp = p.with_suffix(".tmp")
    tmp.write_text(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, p)


def add_host(name: str, address: str, user: str, *, identity: str | None = None, yes: bool = False) -> bool:
    """Add or replace the cluster's Host entry; include pctl's file from ~/.ssh/config (with consent)."""
    from pctl.cli.common import confirm

    if not re.fullmatch(r"^[A-Za-z][A-Za-z0-9-]{0,59}$", name) or not re.fullmatch(r"^[0-9A-Za-z.:-]+$", address):
        return False
    p = pctl_config()
    entries = _entries(p.read_text()) if p.exists() else {}
    lines = [f"Host {name}", f"    HostName {address}", f"    User {user}", "    StrictHostKeyChecking accept-new"]
    if identity:
        lines.append(f"    IdentityFile {identity}")
    entries[name] = "\n".join(lines)
    _write(entries)
    main = ssh_dir() / "config"
    text = main.read_text() if main.exists() else ""
    if INCLUDE_LINE in text:
        return True
    if not confirm(f"Add '{INCLUDE_LINE}' to {main} so 'ssh {name}' works?", yes=yes, default=True):
        return False
    main.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    main.write_text(f"{INCLUDE_LINE}\n\n{text}")  # Include must come before any Host block
    os.chmod(main, 0o600)
    return True


def remove_host(name: str) -> bool:
    p = pctl_config()
    if not p.exists():
        return False
    entries = _entries(p.read_text())
    if name not in entries:
        return False
    del entries[name]
    _write(entries)
    return True


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
        out[k] = v.strip()
    return out
