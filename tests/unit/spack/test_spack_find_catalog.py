"""Where the catalog is looked for: explicit > $PCTL_SPACK_INDEX > config > cache > shipped with pctl."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pctl.spack import PINNED_PACKAGES_RELEASE
from pctl.spack.catalog import (
    CatalogError,
    catalog_search_paths,
    config_path,
    default_cache_path,
    find_catalog,
)
from pctl.spack.compact import bundled_path


def write_catalog(path: Path, release: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"release": release, "packages": {"foo": {"versions": ["1"]}}}))
    return path


def write_config(path: Path, index: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[spack]\nspack_index = "{index}"\n')
    return path


@pytest.fixture
def setup(clean_env, tmp_path, monkeypatch):
    pctl_home = tmp_path / "pctl-home"
    monkeypatch.setenv("PCTL_HOME", str(pctl_home))
    paths = {
        "explicit": write_catalog(tmp_path / "explicit.json", "explicit"),
        "env": write_catalog(tmp_path / "env.json", "env"),
        "config": write_catalog(tmp_path / "config.json", "config"),
        "cache": write_catalog(pctl_home / "cache" / "spack-index.json", "cache"),
    }
    write_config(pctl_home / "config.toml", str(paths["config"]))
    monkeypatch.setenv("PCTL_SPACK_INDEX", str(paths["env"]))
    return paths


def test_precedence(setup, monkeypatch):
    assert find_catalog(setup["explicit"]).release == "explicit"
    assert find_catalog().release == "env"
    monkeypatch.delenv("PCTL_SPACK_INDEX")
    assert find_catalog().release == "config"
    config_path().unlink()
    assert find_catalog().release == "cache"
    setup["cache"].unlink()
    shipped = find_catalog()
    assert shipped.origin == "bundled" and shipped.release == PINNED_PACKAGES_RELEASE
    assert shipped.source_path == bundled_path() and len(shipped) > 8000


def test_explicit_path_accepts_str_and_tilde(setup, clean_env):
    target = write_catalog(clean_env / "mine.json", "tilde")
    assert find_catalog("~/mine.json").release == "tilde"
    assert find_catalog(str(target)).source_path == target


def test_missing_configured_paths_raise(setup, monkeypatch, tmp_path):
    with pytest.raises(CatalogError, match=r"not found.*\(from explicit\)"):
        find_catalog(tmp_path / "missing.json")
    monkeypatch.setenv("PCTL_SPACK_INDEX", str(tmp_path / "missing.json"))
    with pytest.raises(CatalogError, match=r"\(from PCTL_SPACK_INDEX\)"):
        find_catalog()


def test_corrupt_cache_raises(setup, monkeypatch):
    monkeypatch.delenv("PCTL_SPACK_INDEX")
    config_path().unlink()
    setup["cache"].write_text("{broken")
    with pytest.raises(CatalogError, match=r"not valid JSON.*\(from cache\)"):
        find_catalog()


def test_config_relative_path_and_bad_toml(setup, monkeypatch):
    monkeypatch.delenv("PCTL_SPACK_INDEX")
    cfg = config_path()
    write_catalog(cfg.parent / "rel" / "idx.json", "relative")
    write_config(cfg, "rel/idx.json")
    assert find_catalog().release == "relative"
    cfg.write_text("[spack\nspack_index=")
    with pytest.raises(CatalogError, match="not valid TOML"):
        find_catalog()
    cfg.write_text("[spack]\nspack_index = 3\n")
    with pytest.raises(CatalogError, match="must be a non-empty string"):
        find_catalog()
    cfg.write_text("[other]\nx = 1\n")  # no [spack] section: falls through to the cache
    assert find_catalog().release == "cache"


def test_default_locations_without_pctl_home(clean_env, monkeypatch, tmp_path):
    assert config_path() == clean_env / ".config" / "pctl" / "config.toml"
    assert default_cache_path() == clean_env / ".cache" / "pctl" / "spack-index.json"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    assert config_path() == tmp_path / "xdg-config" / "pctl" / "config.toml"
    assert default_cache_path() == tmp_path / "xdg-cache" / "pctl" / "spack-index.json"
    assert find_catalog().origin == "bundled"
    write_catalog(default_cache_path(), "xdg")
    assert find_catalog().release == "xdg"
    write_config(config_path(), str(write_catalog(tmp_path / "c.json", "xdg-config")))
    assert find_catalog().release == "xdg-config"


def test_pctl_home_wins_over_xdg(clean_env, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("PCTL_HOME", str(tmp_path / "home2"))
    assert default_cache_path() == tmp_path / "home2" / "cache" / "spack-index.json"
    assert config_path() == tmp_path / "home2" / "config.toml"


def test_search_paths_listing(setup):
    origins = [origin for origin, _ in catalog_search_paths(setup["explicit"])]
    assert origins[0] == "explicit" and origins[1] == "PCTL_SPACK_INDEX"
    assert origins[2].startswith("config ") and origins[3] == "cache" and origins[4] == "bundled"
