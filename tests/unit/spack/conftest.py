"""Fixtures for the pctl.spack tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[3]
try:  # run from a checkout without installing the package
    import pctl.spack  # noqa: F401
except ImportError:  # pragma: no cover
    sys.path.insert(0, str(_ROOT / "src"))

FIXTURES = _ROOT / "tests" / "fixtures" / "spack"


def _real_catalog_path() -> Path | None:
    """$PCTL_TEST_SPACK_INDEX, else shared/ beside the checkout, else /work/shared."""
    env = os.environ.get("PCTL_TEST_SPACK_INDEX")
    candidates = [Path(env)] if env else []
    candidates += [
        _ROOT.parent / "shared" / "data" / "spack-packages.json",
        Path("/work/shared/data/spack-packages.json"),
        _ROOT / "src" / "pctl" / "spack" / "data" / "spack-packages.json.gz",  # the same data, shipped with pctl
    ]
    return next((p for p in candidates if p.is_file()), None)


@pytest.fixture(scope="session")
def mini_catalog_path() -> Path:
    return FIXTURES / "mini-catalog.json"


@pytest.fixture(scope="session")
def mini_catalog(mini_catalog_path):
    from pctl.spack.catalog import Catalog

    return Catalog.load(mini_catalog_path)


@pytest.fixture(scope="session")
def real_catalog():
    """The full v2026.06.0 catalog (shared/data, else the compact copy pctl ships)."""
    path = _real_catalog_path()
    if path is None:
        pytest.skip("the real Spack catalog (shared/data/spack-packages.json) is not available")
    from pctl.spack.catalog import Catalog

    return Catalog.load(path)


@pytest.fixture(params=["mini", "real"])
def any_catalog(request):
    """Run a test against the fixture catalog and (when present) the real one."""
    if request.param == "mini":
        return request.getfixturevalue("mini_catalog")
    return request.getfixturevalue("real_catalog")


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No pctl/XDG environment leaking in; HOME is a temp dir."""
    for var in ("PCTL_HOME", "PCTL_SPACK_INDEX", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home
