"""Where the registry keeps its configuration and its cache (same rules as the Spack catalog)."""

from __future__ import annotations

from pathlib import Path

def config_path() -> Path:
    """pctl's config file (see pctl.paths)."""
    from pctl.paths import config_path as _config_path

    return _config_path()


def cache_root() -> Path:
    """``<pctl cache>/registry``: ``$PCTL_HOME/cache/registry`` or ``~/.cache/pctl/registry``."""
    from pctl.paths import cache_dir

    return cache_dir() / "registry"


def source_dir(name: str) -> Path:
    """One source's cache: ``meta.json``, ``entries.json`` and ``tree/`` (the templates)."""
    return cache_root() / name
