"""Rough install-time estimates for a cluster's Spack environment.

Honest and simple by design; the numbers are for planning ("minutes or hours?"), not promises.

Build-cache model (``data/buildcache.json``, made by ``_gen_buildcache.py`` from Spack's
``aws-pcluster-x86_64_v4`` and ``aws-pcluster-neoverse_v1`` stacks)
    A package is *likely prebuilt* when the stack for the cluster's architecture builds it
    (as a root, a configured package or a certain dependency of the roots), it is not one of
    the vendor binaries the public mirror does not redistribute (Intel oneAPI, Arm PL), and
    the user's spec does not ask for something the stack did not build: a version the stack
    did not pin, a variant value different from the stack's, another compiler, or another
    target. Variants the stack leaves at their default are assumed to be at their default.
    x86_64 clusters use the x86 stack (targets x86_64_v3/x86_64_v4). Graviton3/Graviton4
    (neoverse_v1/v2, ``arm64``/``aarch64``) use the neoverse_v1 stack; Graviton2
    (neoverse_n1) cannot run those binaries. The binaries were built on Amazon Linux 2
    (glibc 2.26) and run on every ParallelCluster OS.

Time model
    * prebuilt package: 1.5 min (download + relocate; 3 min for very large ones);
    * external package (``slurm``, EFA ``libfabric``) or a compiler the OS already has: 0;
    * vendor binary installers (cuda, intel-oneapi-*, nvhpc, armpl-gcc, ...): table value;
    * from source: :data:`SOURCE_MINUTES` (measured-ballpark figures for a 16-32 core build
      node, including the package's usual uncached dependencies), else 4 min;
    * Spack bootstrap: 4 min (clone, clingo/gnupg from binaries, mirror keys and indexes)
      plus 0.5 min of concretization per root spec;
    * packages are scheduled longest-first on :data:`PARALLEL_BUILDS` (2) lanes: Spack
      installs independent packages concurrently, but each source build already uses all
      cores, so more concurrency rarely helps. Total = bootstrap + the longest lane.
"""

from __future__ import annotations

import fnmatch
import heapq
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .spec import Spec, parse_spec
from .version import Version, VersionError, parse_constraint

__all__ = [
    "DEFAULT_SOURCE_MINUTES",
    "Estimate",
    "PARALLEL_BUILDS",
    "PackageEstimate",
    "SOURCE_MINUTES",
    "arch_family",
    "buildcache_data",
    "estimate",
    "likely_from_source",
    "likely_prebuilt",
    "source_build_minutes",
]

#: From-source build minutes for heavy or common packages (16-32 cores).
SOURCE_MINUTES: dict[str, float] = {
    # compilers and toolchains
    "gcc": 60, "llvm": 90, "llvm-amdgpu": 90, "rust": 45, "go": 10, "julia": 40,
    "node-js": 25, "binutils": 8, "cmake": 8, "perl": 6, "python": 15, "r": 20,
    # ML frameworks
    "py-torch": 120, "py-tensorflow": 150, "py-jaxlib": 90, "py-numpy": 5, "py-scipy": 12,
    "nccl": 20, "aws-ofi-nccl": 3,
    # visualisation / big frameworks
    "paraview": 90, "visit": 90, "qt": 90, "qt-base": 45, "vtk": 45, "root": 60,
    "trilinos": 60, "opencv": 30, "gdal": 15,
    # CFD / MD / weather / chemistry applications
    "openfoam": 75, "openfoam-org": 75, "gromacs": 25, "lammps": 20, "wrf": 45,
    "mpas-model": 20, "quantum-espresso": 25, "palace": 30, "cp2k": 40, "nwchem": 60,
    "namd": 20, "amrex": 15, "kokkos": 10,
    # libraries
    "boost": 25, "openmpi": 15, "mpich": 12, "ucx": 8, "libfabric": 5, "hdf5": 10,
    "netcdf-c": 8, "netcdf-fortran": 5, "parallel-netcdf": 6, "petsc": 20, "hypre": 8,
    "mfem": 10, "openblas": 10, "fftw": 8,
    # vendor binary installers (download, no compile)
    "cuda": 5, "cudnn": 3, "nvhpc": 10, "intel-oneapi-compilers": 5,
    "intel-oneapi-compilers-classic": 5, "intel-oneapi-mkl": 5, "intel-oneapi-mpi": 3,
    "intel-oneapi-tbb": 2, "armpl-gcc": 3, "acfl": 5, "aocc": 5, "openjdk": 2,
    "miniconda3": 2, "miniforge3": 2, "anaconda3": 5,
}  # fmt: skip

DEFAULT_SOURCE_MINUTES = 4.0
PREBUILT_MINUTES = 1.5
PREBUILT_LARGE_MINUTES = 3.0
BOOTSTRAP_MINUTES = 4.0
CONCRETIZE_MINUTES_PER_ROOT = 0.5
PARALLEL_BUILDS = 2

#: Packages installed from vendor binaries: never "compiled from source".
VENDOR_BINARY_PATTERNS = (
    "cuda", "cudnn", "nvhpc", "intel-oneapi-*", "armpl-gcc", "acfl", "aocc", "openjdk",
    "miniconda3", "miniforge3", "anaconda3", "tensorrt", "cutensor", "cusparselt",
)  # fmt: skip

#: System GCC of each ParallelCluster OS (used when a spec asks for %gcc@X).
SYSTEM_GCC = {
    "alinux2": "7.3.1",
    "alinux2023": "11.4.1",
    "ubuntu2004": "9.4.0",
    "ubuntu2204": "11.4.0",
    "ubuntu2404": "13.2.0",
    "rhel8": "8.5.0",
    "rocky8": "8.5.0",
    "rhel9": "11.4.1",
    "rocky9": "11.4.1",
}

_X86_WORDS = ("x86_64", "amd64", "x86", "zen", "skylake", "cascadelake", "icelake",
              "sapphirerapids", "haswell", "broadwell", "cooperlake")  # fmt: skip
_ARM_OK = ("aarch64", "arm64", "neoverse_v1", "neoverse_v2", "graviton3", "graviton3e",
           "graviton4")  # fmt: skip
_ARM_NO_CACHE = ("neoverse_n1", "graviton2", "graviton")


@dataclass(frozen=True)
class PackageEstimate:
    """One package of the estimate."""

    name: str
    minutes: float
    prebuilt: bool
    how: str  # 'prebuilt' | 'source' | 'binary' (vendor installer) | 'external'
    reason: str
    spec: str = ""


@dataclass
class Estimate:
    """Result of :func:`estimate`. All times in minutes."""

    os: str
    arch: str
    packages: list[PackageEstimate] = field(default_factory=list)
    bootstrap_minutes: float = 0.0
    build_minutes: float = 0.0
    total_minutes: float = 0.0
    parallel_builds: int = PARALLEL_BUILDS
    notes: list[str] = field(default_factory=list)

    @property
    def from_source(self) -> list[str]:
        return [p.name for p in self.packages if p.how == "source"]

    @property
    def prebuilt(self) -> list[str]:
        return [p.name for p in self.packages if p.prebuilt]

    def summary(self) -> str:
        hours, minutes = divmod(round(self.total_minutes), 60)
        span = f"{hours} h {minutes} min" if hours else f"{minutes} min"
        return (
            f"about {span}: {len(self.prebuilt)} prebuilt, {len(self.from_source)} from source"
        )


_DATA: dict[str, Any] | None = None


def buildcache_data() -> dict[str, Any]:
    """The bundled build-cache summary (``data/buildcache.json``)."""
    global _DATA
    if _DATA is None:
        path = Path(__file__).resolve().parent / "data" / "buildcache.json"
        try:
            _DATA = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            _DATA = {"stacks": {}, "missing": True}
    return _DATA


def arch_family(arch: str) -> tuple[str | None, str | None]:
    """(stack family, note) for an architecture or target name.

    Returns ``("x86_64", None)``, ``("aarch64", None)`` or ``(None, reason)`` when no public
    cache applies.
    """
    a = (arch or "").strip().lower().replace("-", "_")
    if a.startswith(_ARM_NO_CACHE) and not a.startswith(("graviton3", "graviton4")):
        return None, (
            f"{arch}: the public ParallelCluster Arm cache is built for neoverse_v1 "
            "(Graviton3) and its binaries do not run on Graviton2 (neoverse_n1)"
        )
    if a.startswith(_ARM_OK) or a.startswith("neoverse"):
        return "aarch64", None
    if a.startswith(_X86_WORDS):
        return "x86_64", None
    return None, f"no public ParallelCluster build cache is known for architecture {arch!r}"


def _stack(family: str | None) -> dict[str, Any] | None:
    if family is None:
        return None
    return buildcache_data().get("stacks", {}).get(family)


def source_build_minutes(name: str) -> float:
    """From-source (or vendor-installer) minutes for one package."""
    if name in SOURCE_MINUTES:
        return float(SOURCE_MINUTES[name])
    if _is_vendor_binary(name):
        return 3.0
    return DEFAULT_SOURCE_MINUTES


def _is_vendor_binary(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in VENDOR_BINARY_PATTERNS)


def _constraints_overlap(a: str, b: str) -> bool:
    """Rough overlap test for two version constraints (each contains the other's bound)."""
    try:
        ca, cb = parse_constraint(a), parse_constraint(b)
    except VersionError:
        return False
    if ca.is_git or cb.is_git:
        return False
    for x, y in ((ca, cb), (cb, ca)):
        bound = y.lower_bound()
        if bound is not None and x.contains(bound):
            return True
    return str(ca) == str(cb)


def _contains(constraint: str, version: str) -> bool:
    try:
        return parse_constraint(constraint).contains(Version(version))
    except VersionError:
        return False


def _newest_matching(catalog: Any, name: str, pinned: str | None) -> str | None:
    """The newest declared release of ``name`` within the stack's pin (None if unknown)."""
    if catalog is None:
        return None
    pkg = catalog.package(name)
    if pkg is None or "versions" in getattr(pkg, "incomplete", ()):
        return None
    for version in pkg.newest_versions():
        if pinned is None or _contains(pinned, version):
            return version
    return None


def _stack_variants(stack: dict[str, Any], name: str) -> dict[str, bool | str]:
    pinned: dict[str, bool | str] = {}
    cfg = stack.get("configured", {}).get(name) or {}
    texts = [cfg.get("variants") or ""] + [r for r in (cfg.get("require") or [])]
    for text in texts:
        if not text:
            continue
        try:
            spec = parse_spec(text, allow_anonymous=True)
        except ValueError:
            continue
        if spec.name in (None, name):
            pinned.update(spec.variants)
    root = stack.get("roots", {}).get(name) or {}
    pinned.update(root.get("variants") or {})
    return pinned


def _cache_status(
    node: Spec, family: str | None, family_note: str | None, catalog: Any = None
) -> tuple[str, str]:
    """('prebuilt'|'external'|'miss', reason) for one spec node."""
    name = node.name or ""
    stack = _stack(family)
    if stack is None:
        return "miss", "no public build cache for this architecture"
    if name in stack.get("externals", []):
        return "external", f"provided by the ParallelCluster AMI ({name} is external in the stack)"
    if any(fnmatch.fnmatchcase(name, p) for p in stack.get("not_distributed", [])):
        return "miss", "vendor binaries are not redistributed in the public cache"
    roots = stack.get("roots", {})
    in_stack = (
        name in roots or name in stack.get("configured", {}) or name in stack.get("dependencies", [])
    )
    if not in_stack:
        return "miss", f"not built by the {stack.get('stack', family)} stack"
    # version
    if node.version is not None:
        pinned = (roots.get(name) or {}).get("version")
        newest = _newest_matching(catalog, name, pinned)
        if newest is not None:
            # Spack concretizes to the newest version the stack allows: that is what is cached
            if not _contains(node.version, newest):
                return "miss", f"the cache has {name}@{newest}, not @{node.version}"
        elif pinned:
            if not _constraints_overlap(node.version, pinned):
                return "miss", f"the cache has {name}@{pinned}, not @{node.version}"
        else:
            return "miss", (
                f"the cache holds the {name} version that was newest when the stack was built; "
                f"@{node.version} may differ"
            )
    # variants
    pinned_variants = _stack_variants(stack, name)
    for key, value in node.variants.items():
        if key in ("target", "os", "platform", "arch"):
            continue
        if key in pinned_variants and pinned_variants[key] != value:
            cached = pinned_variants[key]
            shown = ("+" if cached else "~") + key if isinstance(cached, bool) else f"{key}={cached}"
            return "miss", f"the cache has {name} {shown}"
    target = node.variants.get("target")
    if isinstance(target, str) and target not in stack.get("targets", []) and target not in (
        "x86_64", "aarch64"
    ):
        return "miss", f"the cache is built for {', '.join(stack.get('targets', []))}, not {target}"
    if node.flags:
        return "miss", "custom compiler flags always mean a source build"
    # compiler
    if node.compiler_spec is not None and node.compiler:
        if not _compiler_in_stack(node.compiler_spec, stack):
            return "miss", f"the cache is built with {', '.join(stack.get('compilers', []))}"
    return "prebuilt", f"in the public {stack.get('stack', family)} build cache"


_COMPILER_ALIASES = {"oneapi": "intel-oneapi-compilers", "clang": "llvm"}


def _compiler_in_stack(comp: Spec, stack: dict[str, Any]) -> bool:
    name = _COMPILER_ALIASES.get(comp.name or "", comp.name or "")
    for entry in stack.get("compilers", []):
        cname, _, cversion = entry.partition("@")
        if cname != name:
            continue
        if comp.version is None or not cversion or _constraints_overlap(comp.version, cversion):
            return True
    return False


def _system_compiler(comp: Spec, os_name: str) -> bool:
    if comp.name not in ("gcc", "gfortran"):
        return False
    system = SYSTEM_GCC.get((os_name or "").lower().replace("-", "").replace("_", ""))
    if system is None:
        return False
    if comp.version is None:
        return True
    try:
        return parse_constraint(comp.version).contains(Version(system))
    except VersionError:
        return False


def _prebuilt_minutes(name: str) -> float:
    return PREBUILT_LARGE_MINUTES if source_build_minutes(name) >= 45 else PREBUILT_MINUTES


def _estimate_node(
    node: Spec, family: str | None, note: str | None, os_name: str, catalog: Any, is_compiler: bool
) -> PackageEstimate:
    name = node.name or "?"
    if is_compiler and _system_compiler(node, os_name):
        return PackageEstimate(name, 0.0, False, "external", f"the {os_name} system compiler", str(node))
    status, reason = _cache_status(node, family, note, catalog)
    if status == "external":
        return PackageEstimate(name, 0.0, False, "external", reason, str(node))
    if status == "prebuilt":
        return PackageEstimate(name, _prebuilt_minutes(name), True, "prebuilt", reason, str(node))
    minutes = source_build_minutes(name)
    if _is_vendor_binary(name):
        return PackageEstimate(name, minutes, False, "binary", f"vendor installer; {reason}", str(node))
    return PackageEstimate(name, minutes, False, "source", reason, str(node))


def likely_prebuilt(spec: Spec, arch: str, *, catalog: Any = None) -> bool:
    """Whether the root of ``spec`` is likely in the public build cache for ``arch``."""
    family, note = arch_family(arch)
    status, _ = _cache_status(spec, family, note, catalog)
    return status in ("prebuilt", "external")


def likely_from_source(spec: Spec, arch: str, *, catalog: Any = None) -> bool:
    """Whether the root of ``spec`` will probably be compiled from source on ``arch``.

    False for prebuilt and external packages and for vendor binary installers (cuda,
    intel-oneapi-*, ...), which download rather than compile. Pair it with
    :func:`source_build_minutes` to decide whether a warning is worth showing.
    """
    if not spec.name or _is_vendor_binary(spec.name):
        return False
    return not likely_prebuilt(spec, arch, catalog=catalog)


def _schedule(minutes: list[float], lanes: int) -> float:
    heap = [0.0] * max(1, lanes)
    for m in sorted(minutes, reverse=True):
        lightest = heapq.heappop(heap)
        heapq.heappush(heap, lightest + m)
    return max(heap)


def estimate(
    specs: list[Spec], os: str, arch: str, *, catalog: Any = None, parallel: int = PARALLEL_BUILDS
) -> Estimate:
    """Estimate installing ``specs`` (root specs of one Spack environment).

    Every root, ``^dependency`` and ``%compiler`` named in the specs is estimated once (the
    first mention wins). ``os`` is a ParallelCluster OS name (``alinux2023``, ``ubuntu2204``,
    ``rhel9``...), ``arch`` an architecture or target (``x86_64``, ``arm64``,
    ``neoverse_v1``...). ``catalog`` (optional) lets unpinned stack packages match a version
    constraint that includes the newest release.
    """
    family, note = arch_family(arch)
    result = Estimate(os=os, arch=arch, parallel_builds=parallel)
    if note:
        result.notes.append(note)
    if buildcache_data().get("missing"):
        result.notes.append("build-cache data file is missing from this installation")
    seen: set[str] = set()
    for spec in specs:
        nodes: list[tuple[Spec, bool]] = [(spec, False)]
        if spec.compiler_spec is not None:
            nodes.append((spec.compiler_spec, True))
        for dep in spec.dependencies:
            nodes.append((dep, False))
            if dep.compiler_spec is not None:
                nodes.append((dep.compiler_spec, True))
        for node, is_compiler in nodes:
            if not node.name or node.name in seen:
                continue
            seen.add(node.name)
            result.packages.append(
                _estimate_node(node, family, note, os, catalog, is_compiler)
            )
    roots = sum(1 for s in specs if s.name)
    result.bootstrap_minutes = BOOTSTRAP_MINUTES + CONCRETIZE_MINUTES_PER_ROOT * roots
    result.build_minutes = _schedule([p.minutes for p in result.packages], parallel)
    result.total_minutes = result.bootstrap_minutes + result.build_minutes
    if result.from_source:
        result.notes.append(
            "from-source figures include each package's usual uncached dependencies and are "
            "ballpark values for a 16-32 core build node"
        )
    return result
