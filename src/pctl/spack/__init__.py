"""Spack support for pctl: spec parsing, version semantics, the package catalog, install-time
estimates and building the catalog from a spack-packages checkout.

Everything here uses only the standard library and imports lazily, so ``import pctl.spack``
costs next to nothing; the submodules are loaded on first attribute access.

Pinned releases
    ``PINNED_PACKAGES_RELEASE`` is the spack-packages (builtin repository) release the bundled
    catalog describes. ``PINNED_SPACK_RELEASE`` is the Spack tool release pctl installs on the
    cluster. Since Spack v1.0 the packages live in the separate spack-packages repository;
    spack-packages v2026.06.0 was released together with Spack v1.2 and its release notes
    state it was tested against Spack v1.2.0, which is therefore the pinned Spack release.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

PINNED_SPACK_RELEASE = "v1.2.0"
PINNED_PACKAGES_RELEASE = "v2026.06.0"

_EXPORTS = {
    # version.py
    "Version": "version",
    "VersionConstraint": "version",
    "VersionError": "version",
    "parse_version": "version",
    "parse_constraint": "version",
    "satisfiable": "version",
    "matching_versions": "version",
    "sort_versions": "version",
    # spec.py
    "Spec": "spec",
    "SpecSyntaxError": "spec",
    "parse_spec": "spec",
    # catalog.py
    "Catalog": "catalog",
    "CatalogError": "catalog",
    "Package": "catalog",
    "SpecProblem": "catalog",
    "check_spec": "catalog",
    "find_catalog": "catalog",
    "release_warning": "catalog",
    "default_cache_path": "catalog",
    # index_build.py
    "IndexBuildError": "index_build",
    "build_index": "index_build",
    "write_index": "index_build",
    # estimate.py
    "Estimate": "estimate",
    "PackageEstimate": "estimate",
    "estimate": "estimate",
    "likely_from_source": "estimate",
}

__all__ = ["PINNED_PACKAGES_RELEASE", "PINNED_SPACK_RELEASE", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # pragma: no cover
    from .catalog import (
        Catalog,
        CatalogError,
        Package,
        SpecProblem,
        check_spec,
        default_cache_path,
        find_catalog,
        release_warning,
    )
    from .estimate import Estimate, PackageEstimate, estimate, likely_from_source
    from .index_build import IndexBuildError, build_index, write_index
    from .spec import Spec, SpecSyntaxError, parse_spec
    from .version import (
        Version,
        VersionConstraint,
        VersionError,
        matching_versions,
        parse_constraint,
        parse_version,
        satisfiable,
        sort_versions,
    )
