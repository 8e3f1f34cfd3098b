"""Where pctl keeps its files: one place for the config file and the cache directory.

``$PCTL_HOME`` (when set) holds both (``config.toml``, ``cache/``); otherwise the XDG locations:
``$XDG_CONFIG_HOME/pctl/config.toml`` (``~/.config``) and ``$XDG_CACHE_HOME/pctl/`` (``~/.cache``).
Local files are only a cache: AWS tags and the pctl bucket are the source of truth.
"""

from __future__ import annotations

import os
from pathlib import Path


def pctl_home() -> Path | None:
    home = os.environ.get("PCTL_HOME")
    return Path(home).expanduser() if home else None


def config_path() -> Path:
    home = pctl_home()
    if home is not None:
        return home / "config.toml"
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".config") / "pctl" / "config.toml"


def cache_dir() -> Path:
    home = pctl_home()
    if home is not None:
        return home / "cache"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "pctl"
