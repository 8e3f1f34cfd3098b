"""The Spack package catalog: which packages, versions and variants exist.

The catalog is a JSON file built from a spack-packages checkout (see
:mod:`pctl.spack.index_build`)::

    {"commit": "...", "release": "v2026.06.0", "source": "...", "fields": {...},
     "packages": {"samtools": {"build_systems": [...], "description": "...",
                               "variants": [...], "versions": ["1.23.1", ...]}, ...}}

Optional per package: ``"incomplete": ["versions", "variants"]`` when the index builder saw
``version()``/``variant()`` calls it could not resolve statically; such lists are not used
to reject a spec.

Names: spack-packages stores a package whose name starts with a digit or is a Python keyword
in a directory with a leading ``_`` (``_3dtk``); some catalogs therefore list it as ``-3dtk``.
The real Spack name has no leading hyphen, and :meth:`Catalog.load` normalises it.

Finding a catalog (:func:`find_catalog`), first match wins:

1. the explicit path passed by the caller;
2. ``$PCTL_SPACK_INDEX``;
3. ``spack_index = "..."`` under ``[spack]`` in pctl's config file
   (``$PCTL_HOME/config.toml``, else ``$XDG_CONFIG_HOME/pctl/config.toml``, else
   ``~/.config/pctl/config.toml``); a relative path is relative to the config file;
4. the cache ``$PCTL_HOME/cache/spack-index.json``, else
   ``$XDG_CACHE_HOME/pctl/spack-index.json``, else ``~/.cache/pctl/spack-index.json``
   (written by ``pctl spack index build``);
5. the catalog shipped with pctl (``data/spack-packages.json.gz``, the pinned spack-packages
   release in pctl's compact format, see :mod:`pctl.spack.compact`).

A path named by 1-3 that is missing or broken raises :class:`CatalogError` (a misconfigured
path should not be silently ignored); a missing cache falls through to the shipped catalog.
Both the full JSON form and the compact form load, gzip-compressed or not.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from . import PINNED_PACKAGES_RELEASE, PINNED_SPACK_RELEASE
from .compact import description_of
from .spec import ARCH_KEYS, FLAG_KEYS, Spec
from .version import Version, VersionError, parse_constraint, sort_versions

__all__ = [
    "ALIASES",
    "COMPILER_PACKAGES",
    "Catalog",
    "CatalogError",
    "KNOWN_VIRTUALS",
    "NON_VARIANT_KEYS",
    "Package",
    "SpecProblem",
    "catalog_search_paths",
    "check_spec",
    "config_path",
    "default_cache_path",
    "find_catalog",
    "release_warning",
]


class CatalogError(Exception):
    """The catalog file is missing, unreadable, not JSON, or not shaped like a catalog."""


#: ``key=value`` keys that are never package variants (architecture, flags, dev builds).
NON_VARIANT_KEYS = frozenset(ARCH_KEYS | FLAG_KEYS | {"dev_path", "patches", "build_system"})

#: Virtual packages (interfaces provided by several packages): not in the catalog as
#: packages, but valid after ``^`` (``^mpi``, ``^blas``). Versions/variants are not checked.
KNOWN_VIRTUALS = frozenset(
    {
        "awk", "blas", "c", "cuda-lang", "cxx", "daal", "egl", "elf", "fftw-api", "flame",
        "fortran", "fuse", "gl", "glu", "glx", "golang", "hip-lang", "iconv", "ipp", "java",
        "jpeg", "lapack", "libc", "libglx", "libllvm", "lua-lang", "mariadb-client", "mkl",
        "mpi", "mysql-client", "opencl", "osmesa", "pbs", "pil", "pkgconfig", "rpc", "scalapack",
        "sycl", "szip", "tbb", "tex", "unwind", "uuid", "xxd", "yacc", "zlib-api",
    }
)  # fmt: skip

#: Legacy compiler names accepted after ``%`` and the package that provides them.
COMPILER_PACKAGES = {
    "clang": "llvm",
    "oneapi": "intel-oneapi-compilers",
    "dpcpp": "intel-oneapi-compilers",
    "intel": "intel-oneapi-compilers-classic",
    "gfortran": "gcc",
    "rocmcc": "llvm-amdgpu",
    "cce": "cce",
}

#: Well-known names people type and the Spack package they mean.
ALIASES: dict[str, tuple[str, ...]] = {
    "pytorch": ("py-torch",),
    "torch": ("py-torch",),
    "pytorch-lightning": ("py-lightning",),
    "tensorflow": ("py-tensorflow",),
    "tf": ("py-tensorflow",),
    "sklearn": ("py-scikit-learn",),
    "scikit-learn": ("py-scikit-learn",),
    "jupyter": ("py-jupyterlab", "py-notebook"),
    "blast": ("blast-plus",),
    "ncbi-blast": ("blast-plus",),
    "intel-mpi": ("intel-oneapi-mpi",),
    "impi": ("intel-oneapi-mpi",),
    "mkl": ("intel-oneapi-mkl",),
    "intel-mkl": ("intel-oneapi-mkl",),
    "intel": ("intel-oneapi-compilers",),
    "oneapi": ("intel-oneapi-compilers",),
    "icc": ("intel-oneapi-compilers",),
    "icx": ("intel-oneapi-compilers",),
    "ifort": ("intel-oneapi-compilers",),
    "ifx": ("intel-oneapi-compilers",),
    "clang": ("llvm",),
    "gfortran": ("gcc",),
    "cudatoolkit": ("cuda",),
    "cuda-toolkit": ("cuda",),
    "nvcc": ("cuda",),
    "open-mpi": ("openmpi",),
    "ompi": ("openmpi",),
    "netcdf": ("netcdf-c", "netcdf-fortran"),
    "fftw3": ("fftw",),
    "lapack": ("openblas", "netlib-lapack"),
    "blas": ("openblas",),
    "scalapack": ("netlib-scalapack",),
    "golang": ("go",),
    "nodejs": ("node-js",),
    "node": ("node-js",),
    "java": ("openjdk",),
    "jdk": ("openjdk",),
    "make": ("gmake",),
    "bowtie": ("bowtie2", "bowtie"),
    "bedtools": ("bedtools2",),
    "singularity": ("apptainer", "singularityce"),
    "conda": ("miniconda3", "miniforge3"),
    "anaconda": ("anaconda3",),
    "miniconda": ("miniconda3",),
    "qe": ("quantum-espresso",),
    "espresso": ("quantum-espresso",),
    "mpas": ("mpas-model",),
    "pymol": ("py-pymol",),
}

#: Packages whose ``version()``/``variant()`` directives are generated in ways a static
#: index (including the v2026.06.0 catalog) does not capture: such lists are incomplete and
#: must not be used to reject a spec. Applied only when the catalog entry has no
#: ``incomplete`` field of its own.
KNOWN_INCOMPLETE: dict[str, frozenset[str]] = {
    # versions come from a module-level list of dicts (for v in versions: version(v[...]))
    "intel-oneapi-compilers": frozenset({"versions"}),
    "intel-oneapi-compilers-classic": frozenset({"versions"}),
    # one variant per LAMMPS package, from a dict (for name, opts in supported_packages...)
    "lammps": frozenset({"variants"}),
}

_EMPTY: list = []


@dataclass(frozen=True)
class Package:
    """One package of the catalog."""

    name: str
    description: str
    versions: tuple[str, ...]
    variants: tuple[str, ...]
    build_systems: tuple[str, ...]
    #: which of "versions"/"variants" are known to be incomplete in this catalog
    incomplete: frozenset[str] = frozenset()

    def newest_versions(self, n: int | None = None, *, include_develop: bool = False) -> list[str]:
        """Declared versions newest first (Spack order); develop-like ones left out unless
        ``include_develop``."""
        ordered = sort_versions(self.versions, newest_first=True)
        if not include_develop:
            ordered = [v for v in ordered if not Version(v).is_develop]
        return ordered if n is None else ordered[:n]


@dataclass(frozen=True)
class SpecProblem:
    """A problem found by :func:`check_spec`.

    ``kind`` is ``'unknown-package'``, ``'unknown-version'`` or ``'unknown-variant'``.
    ``package`` is the package name the problem is about (as written in the spec), ``node``
    says where it appeared: ``'root'``, ``'dependency'`` or ``'compiler'``.
    """

    kind: str
    message: str
    hint: str | None = None
    package: str | None = None
    node: str = "root"

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


def _normalise_name(name: str) -> str:
    return name[1:] if name.startswith("-") else name


class Catalog:
    """An in-memory package catalog. Build it with :meth:`load` or :meth:`from_dict`."""

    def __init__(
        self,
        packages: Mapping[str, Mapping[str, Any]],
        *,
        release: str = "unknown",
        commit: str = "unknown",
        source: str = "",
        source_path: Path | None = None,
    ):
        self._raw = dict(packages)
        self._cache: dict[str, Package] = {}
        self._names_sorted: list[str] | None = None
        self.release = release
        self.commit = commit
        self.source = source
        self.source_path = source_path
        #: where find_catalog found it: "explicit", "PCTL_SPACK_INDEX", "config ...", "cache" or "bundled"
        self.origin: str | None = None

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Catalog:
        """Load a catalog JSON file. Raises :class:`CatalogError` with a readable message."""
        p = Path(path).expanduser()
        try:
            with open(p, "rb") as fh:
                raw = fh.read()
            if raw[:2] == b"\x1f\x8b":  # gzip (the shipped catalog)
                import gzip

                raw = gzip.decompress(raw)
            data = json.loads(raw)
        except FileNotFoundError:
            raise CatalogError(f"Spack package catalog not found: {p}") from None
        except IsADirectoryError:
            raise CatalogError(f"Spack package catalog path is a directory: {p}") from None
        except PermissionError:
            raise CatalogError(f"cannot read the Spack package catalog {p}: permission denied") from None
        except UnicodeDecodeError as exc:
            raise CatalogError(f"Spack package catalog {p} is not UTF-8 text ({exc.reason})") from None
        except json.JSONDecodeError as exc:
            raise CatalogError(
                f"Spack package catalog {p} is not valid JSON (line {exc.lineno}, column "
                f"{exc.colno}: {exc.msg}); rebuild it or point pctl at a good copy"
            ) from None
        except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
            raise CatalogError(f"cannot read the Spack package catalog {p}: {getattr(exc, 'strerror', None) or exc}"
                               ) from None
        return cls.from_dict(data, source_path=p)

    @classmethod
    def from_dict(cls, data: Any, source_path: Path | None = None) -> Catalog:
        """Build a catalog from already-parsed JSON, validating its shape."""
        where = f" {source_path}" if source_path else ""
        if not isinstance(data, dict):
            raise CatalogError(
                f"Spack package catalog{where} has the wrong shape: expected a JSON object "
                f"with a 'packages' mapping, found {type(data).__name__}"
            )
        packages = data.get("packages")
        if not isinstance(packages, dict):
            raise CatalogError(
                f"Spack package catalog{where} has the wrong shape: no 'packages' mapping"
            )
        from pctl.spack import compact

        if compact.is_compact(data):
            problem = compact.check_shape(packages, where)
            if problem:
                raise CatalogError(problem)
            meta = {k: data.get(k) for k in ("release", "commit", "source")}
            return cls(packages, release=str(meta["release"] or "unknown"), commit=str(meta["commit"] or "unknown"),
                       source=str(meta["source"] or ""), source_path=source_path)
        list_keys = ("build_systems", "variants", "versions")
        for raw_name, entry in packages.items():
            if type(entry) is not dict:
                raise CatalogError(
                    f"Spack package catalog{where} has the wrong shape: entry "
                    f"{raw_name!r} is not an object"
                )
            get = entry.get
            for key in list_keys:
                if type(get(key, _EMPTY)) is not list:
                    raise CatalogError(
                        f"Spack package catalog{where} has the wrong shape: "
                        f"'{raw_name}.{key}' is not a list"
                    )
            if type(get("description", "")) is not str:
                raise CatalogError(
                    f"Spack package catalog{where} has the wrong shape: "
                    f"'{raw_name}.description' is not a string"
                )
        normalised = packages
        hyphenated = [name for name in packages if name.startswith("-")]
        if hyphenated:
            normalised = dict(packages)
            for name in hyphenated:
                real = _normalise_name(name)
                entry = normalised.pop(name)
                normalised.setdefault(real, entry)
        meta = {k: data.get(k) for k in ("release", "commit", "source")}
        return cls(
            normalised,
            release=str(meta["release"] or "unknown"),
            commit=str(meta["commit"] or "unknown"),
            source=str(meta["source"] or ""),
            source_path=source_path,
        )

    # -- lookups ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._raw)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._raw

    def names(self) -> list[str]:
        """All package names, sorted."""
        if self._names_sorted is None:
            self._names_sorted = sorted(self._raw)
        return list(self._names_sorted)

    def has(self, name: str) -> bool:
        return name in self._raw

    def package(self, name: str) -> Package | None:
        """The package called ``name`` (exact Spack name), or None."""
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        entry = self._raw.get(name)
        if entry is None:
            return None
        if type(entry) is list:  # the compact form
            from pctl.spack.compact import decode_entry

            entry = decode_entry(entry)
        incomplete = entry.get("incomplete")
        if isinstance(incomplete, list):
            flags = frozenset(str(x) for x in incomplete)
        else:
            flags = KNOWN_INCOMPLETE.get(name, frozenset())
        pkg = Package(
            name=name,
            description=str(entry.get("description", "") or ""),
            versions=tuple(str(v) for v in entry.get("versions", [])),
            variants=tuple(str(v) for v in entry.get("variants", [])),
            build_systems=tuple(str(v) for v in entry.get("build_systems", [])),
            incomplete=flags,
        )
        self._cache[name] = pkg
        return pkg

    def closest_names(self, name: str, n: int = 5) -> list[str]:
        """Up to ``n`` package names close to ``name``: aliases (pytorch -> py-torch),
        language prefixes (numpy -> py-numpy), name extensions (blast -> blast-plus),
        similar spellings (samtool -> samtools) and substrings, best first."""
        query = name.strip().lower().replace("_", "-").lstrip("-")
        found: list[str] = []

        def add(candidate: str) -> None:
            if candidate in self._raw and candidate not in found:
                found.append(candidate)

        if not query:
            return []
        if query != name:
            add(query)
        for target in ALIASES.get(query, ()):
            add(target)
        for prefix in ("py-", "r-", "perl-"):
            add(prefix + query)
        for prefix in ("python-", "py-", "r-", "perl-"):
            if query.startswith(prefix):
                add(query[len(prefix):])
                if prefix == "python-":
                    add("py-" + query[len(prefix):])
        names = self.names()
        extensions = sorted((c for c in names if c.startswith(query + "-")), key=len)
        for c in extensions[:3]:
            add(c)
        for c in difflib.get_close_matches(query, names, n=n, cutoff=0.75):
            add(c)
        if len(query) >= 3:
            contained = sorted((c for c in names if query in c), key=lambda c: (len(c), c))
            for c in contained[:n]:
                add(c)
            stems = sorted((c for c in names if len(c) >= 4 and query.startswith(c)), key=len)
            for c in reversed(stems):
                add(c)
        if len(found) < n:
            for c in difflib.get_close_matches(query, names, n=n, cutoff=0.6):
                add(c)
        return [c for c in found if c != name][:n]

    def search(self, query: str, limit: int = 20) -> list[Package]:
        """Packages whose name or description matches every word of ``query``.

        Ranked: exact name, name prefix, name contains the query, then description matches.
        """
        words = query.lower().split()
        if not words:
            return []
        q = " ".join(words)
        q_name = q.replace(" ", "-").replace("_", "-")
        scored: list[tuple[int, int, str]] = []
        for name, entry in self._raw.items():
            if name == q_name:
                rank = 0
            elif name.startswith(q_name):
                rank = 1
            elif q_name in name:
                rank = 2
            else:
                desc = description_of(entry).lower()
                haystack = f"{name} {desc}"
                if all(w in haystack for w in words):
                    rank = 3
                else:
                    continue
            scored.append((rank, len(name), name))
        scored.sort()
        out = []
        for _, _, name in scored[:limit]:
            pkg = self.package(name)
            if pkg is not None:
                out.append(pkg)
        return out

    def release_warning(self) -> str | None:
        return release_warning(self)

    def __repr__(self) -> str:
        return f"Catalog(release={self.release!r}, packages={len(self)}, path={self.source_path})"


# -- release pinning ---------------------------------------------------------------------
def release_warning(catalog: Catalog) -> str | None:
    """A warning when the catalog does not describe the pinned spack-packages release."""
    if catalog.release == PINNED_PACKAGES_RELEASE:
        return None
    where = f" ({catalog.source_path})" if catalog.source_path else ""
    return (
        f"the Spack package catalog{where} describes spack-packages {catalog.release}, but "
        f"pctl installs Spack {PINNED_SPACK_RELEASE} with spack-packages "
        f"{PINNED_PACKAGES_RELEASE}: versions and variants checked here may differ from what "
        f"the cluster will have. Rebuild the catalog from a {PINNED_PACKAGES_RELEASE} "
        "checkout of spack-packages."
    )


# -- spec checking ------------------------------------------------------------------------
def _list_preview(items: list[str], limit: int) -> str:
    shown = ", ".join(items[:limit])
    return shown + (", …" if len(items) > limit else "")


def _version_problem(pkg: Package, label: str, constraint_text: str, role: str) -> SpecProblem:
    releases = pkg.newest_versions()
    develop = [v for v in sort_versions(pkg.versions) if Version(v).is_develop]
    available = _list_preview(releases, 6) if releases else "none"
    message = f"{label} has no version matching @{constraint_text}; available: {available}"
    message += " (newest first"
    message += f"; also: {', '.join(develop)})" if develop else ")"
    hint = None
    try:
        bound = parse_constraint(constraint_text).lower_bound()
    except VersionError:  # pragma: no cover - the spec parser already validated it
        bound = None
    if bound is not None and releases:
        below = [v for v in releases if Version(v) < bound]
        above = [v for v in releases if Version(v) > bound]
        near = []
        if below:
            near.append(below[0])
        if above:
            near.append(above[-1])
        if near:
            hint = "nearest declared: " + ", ".join(sorted(set(near), key=Version, reverse=True))
    return SpecProblem("unknown-version", message, hint, pkg.name, role)


def _variant_problem(
    pkg: Package, label: str, variant: str, role: str, parent: Spec | None, catalog: Catalog
) -> SpecProblem:
    valid = sorted(pkg.variants)
    close = difflib.get_close_matches(variant, valid, n=3, cutoff=0.6)
    lowered = [v for v in valid if v.lower() == variant.lower() and v not in close]
    close = lowered + close
    if not valid:
        message = f"{label} has no variants, so '{variant}' cannot be set"
    else:
        message = f"{label} has no variant '{variant}'"
        if close:
            message += f"; did you mean {' or '.join(repr(c) for c in close)}?"
            message += f" Valid variants: {_list_preview(valid, 25)}"
        else:
            message += f". Valid variants: {_list_preview(valid, 25)}"
    hint = f"did you mean '{close[0]}'?" if close else None
    if role == "compiler" and parent is not None and parent.name:
        parent_pkg = catalog.package(parent.name)
        if parent_pkg is not None and variant in parent_pkg.variants:
            hint = (
                f"in Spack 1.x, options written after '%{pkg.name}' apply to the compiler; "
                f"move '{variant}' before the '%'"
            )
    return SpecProblem("unknown-variant", message, hint, pkg.name, role)


def _check_node(
    catalog: Catalog, node: Spec, role: str, parent: Spec | None, problems: list[SpecProblem]
) -> None:
    name = node.name
    if not name:
        return
    if name in KNOWN_VIRTUALS:
        return
    resolved = name
    if not catalog.has(name) and role == "compiler" and name in COMPILER_PACKAGES:
        resolved = COMPILER_PACKAGES[name]
    pkg = catalog.package(resolved)
    where = {"root": "", "dependency": f" (in '^{name}')", "compiler": f" (in '%{name}')"}[role]
    if pkg is None:
        close = catalog.closest_names(name)
        what = "compiler" if role == "compiler" else "package"
        if close:
            message = f"unknown Spack {what} '{name}'{where}; closest: {', '.join(close)}"
            hint = f"did you mean '{close[0]}'?"
        else:
            message = f"unknown Spack {what} '{name}'{where}; no similar package names"
            hint = "search the catalog for the software by keyword"
        problems.append(SpecProblem("unknown-package", message, hint, name, role))
        return
    label = pkg.name if resolved == name else f"{name} ({pkg.name})"
    if (
        node.version is not None
        and pkg.versions
        and "versions" not in pkg.incomplete
    ):
        try:
            constraint = parse_constraint(node.version)
        except VersionError:  # pragma: no cover - validated by the parser
            constraint = None
        if constraint is not None and not constraint.is_git:
            declared = []
            for v in pkg.versions:
                try:
                    declared.append(Version(v))
                except VersionError:
                    continue
            if not any(constraint.contains(v) for v in declared):
                problems.append(_version_problem(pkg, label, node.version, role))
    if "variants" not in pkg.incomplete:
        known = set(pkg.variants)
        for variant in node.variants:
            if variant in NON_VARIANT_KEYS or variant in known:
                continue
            problems.append(_variant_problem(pkg, label, variant, role, parent, catalog))


def check_spec(catalog: Catalog, spec: Spec) -> list[SpecProblem]:
    """Check a parsed spec against the catalog.

    For the root, every ``^dependency`` and every ``%compiler``: the package exists, its
    version constraint is satisfiable by a declared version, and every variant exists.
    Virtual packages (``^mpi``, ``^blas``) are accepted without checks; legacy compiler names
    (``%clang``, ``%oneapi``, ``%intel``) are checked as the package that provides them.
    Version/variant lists marked incomplete for a package are not used to reject.
    """
    problems: list[SpecProblem] = []
    _check_node(catalog, spec, "root", None, problems)
    if spec.compiler_spec is not None:
        _check_node(catalog, spec.compiler_spec, "compiler", spec, problems)
    for dep in spec.dependencies:
        _check_node(catalog, dep, "dependency", spec, problems)
        if dep.compiler_spec is not None:
            _check_node(catalog, dep.compiler_spec, "compiler", dep, problems)
    return problems


# -- locating the catalog -----------------------------------------------------------------
def config_path() -> Path:
    """pctl's config file: ``$PCTL_HOME/config.toml`` or the XDG config location."""
    from pctl.paths import config_path as _config_path

    return _config_path()


def default_cache_path() -> Path:
    """Where a downloaded/built catalog is cached (and where ``find_catalog`` looks last)."""
    from pctl.paths import cache_dir

    return cache_dir() / "spack-index.json"


def _config_index_path() -> Path | None:
    cfg = config_path()
    if not cfg.is_file():
        return None
    import tomllib

    try:
        with open(cfg, "rb") as fh:
            data = tomllib.load(fh)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CatalogError(f"pctl config file {cfg} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise CatalogError(f"cannot read pctl config file {cfg}: {exc.strerror or exc}") from None
    section = data.get("spack")
    if not isinstance(section, dict) or "spack_index" not in section:
        return None
    value = section["spack_index"]
    if not isinstance(value, str) or not value.strip():
        raise CatalogError(f"'spack_index' under [spack] in {cfg} must be a non-empty string")
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = cfg.parent / path
    return path


def catalog_search_paths(explicit_path: str | os.PathLike[str] | None = None) -> list[tuple[str, Path]]:
    """The (origin, path) candidates :func:`find_catalog` considers, in order."""
    out: list[tuple[str, Path]] = []
    if explicit_path:
        out.append(("explicit", Path(explicit_path).expanduser()))
    env = os.environ.get("PCTL_SPACK_INDEX")
    if env:
        out.append(("PCTL_SPACK_INDEX", Path(env).expanduser()))
    cfg = _config_index_path()
    if cfg is not None:
        out.append((f"config {config_path()}", cfg))
    out.append(("cache", default_cache_path()))
    from pctl.spack.compact import bundled_path

    out.append(("bundled", bundled_path()))
    return out


def find_catalog(explicit_path: str | os.PathLike[str] | None = None) -> Catalog | None:
    """Load the first catalog found (explicit > $PCTL_SPACK_INDEX > config > cache > bundled).

    Returns None only when nothing is configured, there is no cached catalog and the catalog
    shipped with pctl is missing (a broken installation). Raises :class:`CatalogError` when a
    configured path is missing or broken, or the cache is corrupt.
    """
    for origin, path in catalog_search_paths(explicit_path):
        if origin in ("cache", "bundled") and not path.exists():
            continue
        try:
            cat = Catalog.load(path)
        except CatalogError as exc:
            raise CatalogError(f"{exc} (from {origin})") from None
        cat.origin = origin
        return cat
    return None

