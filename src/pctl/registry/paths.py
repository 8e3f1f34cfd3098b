"""Where the registry keeps its configuration and its cache (same rules as the Spack catalog)."""

from __future__ import annotations

import os
from pathlib import Path


def _pctl_home() -> Path | None:
    home = os.environ.get("PCTL_HOME")
    return Path(home).expanduser() if home else None


def config_path() -> Path:
    """pctl's config file: ``$PCTL_HOME/config.toml``, else ``$XDG_CONFIG_HOME/pctl/config.toml``,
    else ``~/.config/pctl/config.toml``."""
    home = _pctl_home()
    if home is not None:
        return home / "config.toml"
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".config"
    return base / "pctl" / "config.toml"


def cache_root() -> Path:
    """``$PCTL_HOME/cache/registry``, else ``$XDG_CACHE_HOME/pctl/registry``, else ``~/.cache/pctl/registry``."""
    home = _pctl_home()
    if home is not None:
        return home / "cache" / "registry"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "pctl" / "registry"


def source_dir(name: str) -> Path:
    """One source's cache: ``meta.json``, ``entries.json`` and ``tree/`` (the templates)."""
    return cache_root() / name
