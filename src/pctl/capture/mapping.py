"""On-prem module names -> Spack specs.

Rules, in order, for each module (``name/version`` as the module system lists it):

1. hidden modules (``.name`` or ``name/.version``) are skipped;
2. site/system modules (``StdEnv``, ``ncarenv``, ``DefaultModules``, ``lmod``, ``use.own`` ...) are not
   mappable: they set up the on-prem environment, ParallelCluster and pctl provide their own;
3. licensed software (``matlab``, ``ansys``, ``gaussian``, ``vasp`` ...) and conda distributions
   (``anaconda``, ``miniconda``) are not mappable, with the reason;
4. the name is normalised: lower case, ``_`` -> ``-``, Bright-style path qualifiers dropped
   (``fftw3/openmpi/gcc/64/3.3.8`` -> package ``fftw3``, version ``3.3.8``, qualifiers openmpi, gcc, 64),
   known suffixes dropped (``-mpi``, ``-cuda``, ``-gpu``, ``-serial``, ``-omp``, compiler names ...),
   then looked up in :data:`ALIASES` (``blast`` -> ``blast-plus``, ``impi`` -> ``intel-oneapi-mpi``,
   ``R`` -> ``r``, ``java`` -> ``openjdk``, ``python3`` -> ``python``, ``fftw3`` -> ``fftw`` ...);
5. with a Spack catalog, the first candidate the catalog has wins (also ``py-NAME`` / ``r-NAME``); the
   on-prem version is kept when a declared version matches it (Spack prefix semantics: ``@2.1`` matches
   ``2.1.5``), else the nearest declared version is used and the report says so. Without a catalog the
   name comes from the rules alone and the report says names and versions were not verified.

Modules of an MPI level of a hierarchy (or named ``-mpi``) get ``+mpi`` and ``-cuda``/``-gpu`` names get
``+cuda`` when the package has that variant.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

# --------------------------------------------------------------------------------------------- tables

#: lower-cased on-prem name -> Spack package (renames people meet when migrating)
ALIASES: dict[str, str] = {
    "blast": "blast-plus", "blast+": "blast-plus", "blastplus": "blast-plus", "ncbi-blast": "blast-plus",
    "ncbi-blast+": "blast-plus", "ncbi-blast-plus": "blast-plus",
    "intel-mpi": "intel-oneapi-mpi", "intelmpi": "intel-oneapi-mpi", "impi": "intel-oneapi-mpi",
    "intel-oneapi-mpi": "intel-oneapi-mpi", "oneapi-mpi": "intel-oneapi-mpi",
    "mkl": "intel-oneapi-mkl", "intel-mkl": "intel-oneapi-mkl", "imkl": "intel-oneapi-mkl",
    "oneapi-mkl": "intel-oneapi-mkl",
    "r": "r", "r-base": "r",
    "java": "openjdk", "jdk": "openjdk", "jre": "openjdk", "openjdk": "openjdk", "oracle-java": "openjdk",
    "python3": "python", "python2": "python", "cpython": "python",
    "tensorflow": "py-tensorflow", "tensorflow-gpu": "py-tensorflow", "tf": "py-tensorflow",
    "pytorch": "py-torch", "torch": "py-torch", "pytorch-gpu": "py-torch",
    "keras": "py-keras", "numpy": "py-numpy", "scipy": "py-scipy", "jupyter": "py-jupyterlab",
    "jupyterlab": "py-jupyterlab", "mpi4py": "py-mpi4py", "cutadapt": "py-cutadapt", "multiqc": "py-multiqc",
    "gnu": "gcc", "gcccore": "gcc", "gnu-compilers": "gcc", "gcc": "gcc",
    "intel": "intel-oneapi-compilers", "intel-compilers": "intel-oneapi-compilers", "icc": "intel-oneapi-compilers",
    "icx": "intel-oneapi-compilers", "oneapi": "intel-oneapi-compilers", "intel-oneapi": "intel-oneapi-compilers",
    "intel-oneapi-compilers": "intel-oneapi-compilers", "intel-compiler": "intel-oneapi-compilers",
    "intel-classic": "intel-oneapi-compilers-classic",
    "nvhpc": "nvhpc", "pgi": "nvhpc", "nvidia-hpc-sdk": "nvhpc", "hpc-sdk": "nvhpc",
    "aocc": "aocc", "clang": "llvm", "llvm": "llvm",
    "cuda": "cuda", "cudatoolkit": "cuda", "cuda-toolkit": "cuda", "nvidia-cuda": "cuda",
    "cudnn": "cudnn", "nccl": "nccl",
    "openmpi": "openmpi", "open-mpi": "openmpi", "ompi": "openmpi", "openmpi4": "openmpi", "openmpi3": "openmpi",
    "mpich": "mpich", "mpich2": "mpich", "mvapich2": "mvapich2", "mvapich": "mvapich2",
    "netcdf": "netcdf-c", "netcdf-c": "netcdf-c", "netcdf-fortran": "netcdf-fortran", "netcdf-cxx": "netcdf-cxx4",
    "netcdf-cxx4": "netcdf-cxx4", "pnetcdf": "parallel-netcdf", "parallel-netcdf": "parallel-netcdf",
    "hdf5": "hdf5", "phdf5": "hdf5", "hdf5-parallel": "hdf5", "hdf": "hdf",
    "fftw": "fftw", "fftw3": "fftw", "fftw2": "fftw",
    "lapack": "netlib-lapack", "scalapack": "netlib-scalapack", "blas": "openblas",
    "bowtie": "bowtie", "bowtie2": "bowtie2", "bedtools": "bedtools2",
    "singularity": "apptainer", "apptainer": "apptainer", "singularityce": "singularityce",
    "qe": "quantum-espresso", "espresso": "quantum-espresso", "quantumespresso": "quantum-espresso",
    "quantum-espresso": "quantum-espresso", "golang": "go", "nodejs": "node-js", "node": "node-js",
    "gmake": "gmake", "make": "gmake", "git-lfs": "git-lfs", "imagemagick": "imagemagick",
    "star": "star", "picard": "picard", "gatk": "gatk", "hisat2": "hisat2", "salmon": "salmon",
    "cp2k": "cp2k", "nwchem": "nwchem", "wrf": "wrf", "namd": "namd", "vmd": "vmd",
    "paraview": "paraview", "visit": "visit", "petsc": "petsc", "slepc": "slepc", "boost": "boost",
    "eigen": "eigen", "gsl": "gsl", "metis": "metis", "parmetis": "parmetis", "udunits2": "udunits",
}

#: Compilers and MPI libraries (by Spack package): they come first in the spec list.
COMPILERS = ("gcc", "intel-oneapi-compilers", "intel-oneapi-compilers-classic", "nvhpc", "aocc", "llvm")
MPIS = ("openmpi", "mpich", "mvapich2", "mvapich", "intel-oneapi-mpi", "mpt")

#: Site and environment modules: they configure the on-prem system itself.
SYSTEM_MODULES = frozenset({
    "ncarenv", "stdenv", "shared", "slurm", "defaultmodules", "null", "use.own", "dot", "module-git", "module-info",
    "modules", "lmod", "settarg", "default-environment", "defaults", "site", "local", "xalt", "sticky",
    "ncarcompilers", "craype", "cluster", "cpu", "gpu", "arch", "licenses", "torque", "pbs", "sge", "lsf",
    "gridengine", "use.local", "use.projects", "env", "environment", "core", "base", "tacc-base", "darshan-runtime",
    "mpi-selector", "nodes", "rc", "unload", "purge", "init", "system", "default", "modulerc", "ohpc",
})
_SYSTEM_RE = re.compile(r"^(?:craype-.*|cray-pals|cray-pmi.*|prgenv-.*|use\..*|module[-_].*|site[-_].*|.*-env|env-.*|"
                        r"cpe(?:-.*)?|perftools.*|atp|cce-mixed|stdenv.*|slurm-.*|pbs-.*|default.*modules?)$")

LICENSED = {
    "matlab": "MATLAB is licensed: install it from MathWorks (or use MATLAB on AWS) with your site license",
    "mathematica": "Mathematica is licensed", "ansys": "ANSYS is licensed", "fluent": "ANSYS Fluent is licensed",
    "cfx": "ANSYS CFX is licensed", "abaqus": "Abaqus is licensed", "comsol": "COMSOL is licensed",
    "gaussian": "Gaussian is licensed (site license, source or binary from Gaussian Inc.)",
    "g16": "Gaussian is licensed", "g09": "Gaussian is licensed", "vasp": "VASP is licensed (per research group)",
    "stata": "Stata is licensed", "sas": "SAS is licensed", "idl": "IDL is licensed", "maple": "Maple is licensed",
    "lsdyna": "LS-DYNA is licensed", "ls-dyna": "LS-DYNA is licensed", "starccm": "STAR-CCM+ is licensed",
    "starccm+": "STAR-CCM+ is licensed", "molpro": "Molpro is licensed", "turbomole": "TURBOMOLE is licensed",
    "schrodinger": "Schrödinger is licensed", "amber": "Amber is licensed (pmemd); AmberTools is in Spack as ambertools",
    "mathworks": "MATLAB is licensed", "totalview": "TotalView is licensed", "arm-forge": "Arm Forge is licensed",
    "ddt": "Arm DDT is licensed", "allinea": "Arm Forge is licensed", "tecplot": "Tecplot is licensed",
    "gurobi": "Gurobi is licensed (Spack needs your download and license)", "cplex": "CPLEX is licensed",
    "mosek": "MOSEK is licensed", "orca": "ORCA needs a registered download (not redistributable)",
}
CONDA = frozenset({"anaconda", "anaconda2", "anaconda3", "miniconda", "miniconda2", "miniconda3", "conda",
                   "miniforge", "miniforge3", "mambaforge", "mamba", "micromamba", "conda-forge", "python-anaconda"})

#: name suffix tokens dropped during normalisation (build flavours, not package names)
SUFFIX_TOKENS = frozenset({
    "mpi", "openmpi", "ompi", "impi", "intelmpi", "mpich", "mvapich2", "cuda", "gpu", "cpu", "serial", "seq",
    "omp", "openmp", "threaded", "parallel", "par", "double", "single", "float", "dp", "sp", "64", "32", "ilp64",
    "lp64", "gcc", "gnu", "intel", "icc", "aocc", "nvhpc", "pgi", "clang", "static", "shared", "avx2", "avx512",
    "x86", "x64", "bin", "binary", "mt", "st", "hybrid", "nompi", "nogpu", "cxx", "fortran-mpi",
})
_MPI_TOKENS = frozenset({"mpi", "openmpi", "ompi", "impi", "intelmpi", "mpich", "mvapich2", "parallel", "par",
                         "hybrid"})
_CUDA_TOKENS = frozenset({"cuda", "gpu"})
_COMPILER_TOKENS = frozenset({"gcc", "gnu", "intel", "icc", "aocc", "nvhpc", "pgi", "clang", "oneapi"})


# --------------------------------------------------------------------------------------------- result

@dataclass
class Mapping:
    full_name: str
    name: str  # on-prem name (module name without version)
    onprem_version: str | None
    status: str  # mapped | approximated | unverified | not_mappable | skipped | dropped (over the package limit)
    reason: str = ""
    package: str | None = None
    version: str | None = None  # Spack version in the spec (None: unpinned)
    variants: list[str] = field(default_factory=list)
    spec: str | None = None
    role: str = "package"  # compiler | mpi | package
    where: str | None = None  # hierarchy location (MPI/gcc/11.3.0/openmpi/4.1.4) or None
    parents: list[list[str]] | None = None
    default: bool = False
    also: list[str] = field(default_factory=list)  # other on-prem modules folded into this spec
    used_by_jobs: int = 0
    used_in_shells: int = 0  # users' shell start-up files that load it
    loaded_at_login: bool = False  # the site loads it for everyone (profile.d, LMOD_SYSTEM_DEFAULT_MODULES)
    marked_default: bool = False  # the module system marks this version as the default
    rank: int | None = None  # position in the selection order (kept or left out)
    kept_because: str | None = None  # the selection tier that kept it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------------------------- names

def _tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[-_]", name) if t]


def split_module(full_name: str, name: str | None = None, version: str | None = None) -> tuple[str, list[str], str | None]:
    """``fftw3/openmpi/gcc/64/3.3.8`` -> (``fftw3``, [``openmpi``, ``gcc``, ``64``], ``3.3.8``).

    The first path component is the package; the last is the version when it looks like one; the
    components in between are Bright/Easybuild-style qualifiers (compiler, MPI, bitness, precision).
    """
    parts = [p for p in full_name.strip().strip("/").split("/") if p]
    if not parts:
        return full_name, [], None
    if len(parts) == 1:
        return parts[0], [], None
    last = parts[-1]
    ver = last if (version is None or version == last) else version
    base = parts[0]
    quals = parts[1:-1]
    if len(parts) > 2 and (not _looks_like_version(ver.lstrip(".")) or ver in ("32", "64")):
        # no version at the end (``intel/compiler/64``, ``openmpi/gcc/64``): everything after the base qualifies
        quals = parts[1:]
        ver = None
    return base, quals, ver


def _looks_like_version(v: str) -> bool:
    return bool(re.match(r"^v?\d", v)) or bool(re.match(r"^[Rr]\d{4}[ab]?$", v))


def normalise_version(v: str | None) -> str | None:
    """On-prem version -> a Spack version, or None: ``.3.9.16`` -> 3.9.16, ``4.1.4-gcc-11.3.0`` -> 4.1.4,
    ``v2.1`` -> 2.1, ``2023.1-cuda`` -> 2023.1, ``R2023a``/``latest``/``default`` -> None."""
    if not v:
        return None
    s = v.strip().lstrip(".")
    s = re.sub(r"^[vV](?=\d)", "", s)
    m = re.match(r"^(\d+(?:[._]\d+)*(?:[a-z]\d*)?)(?:[-_+].*)?$", s)
    if not m:
        return None
    out = m.group(1)
    # a trailing '_NN' that was a separator of a build tag ("3.10_1") is kept: Spack accepts '_' in versions
    from pctl.spack.version import VersionError, parse_version

    try:
        parse_version(out)
    except VersionError:
        return None
    return out


def name_candidates(base: str, quals: Iterable[str] = ()) -> tuple[list[str], set[str]]:
    """Spack package names to try for an on-prem module base name, best first, and the flavour tokens
    found (``mpi``, ``cuda``, compiler names) from its suffixes and qualifiers."""
    low = base.strip().lower().lstrip(".")
    flavours: set[str] = set()
    for q in quals:
        for t in _tokens(q.lower()):
            flavours.add(t)
    cands: list[str] = []

    def add(n: str) -> None:
        n = n.strip("-")
        if n and n not in cands:
            cands.append(n)

    dashed = low.replace("_", "-")
    for n in (low, dashed):
        if n in ALIASES:
            add(ALIASES[n])
    add(dashed)
    toks = _tokens(dashed)
    while len(toks) > 1 and toks[-1] in SUFFIX_TOKENS:
        flavours.add(toks[-1])
        toks = toks[:-1]
        stem = "-".join(toks)
        if stem in ALIASES:
            add(ALIASES[stem])
        add(stem)
    # leading flavour token: cuda-gromacs, mpi-fftw (rare)
    # trailing digits that are a major version glued to the name: fftw3, python3, perl5, hdf5_18 -> hdf5
    stem = "-".join(toks)
    m = re.match(r"^([a-z][a-z-]*?[a-z])-?(\d{1,2})$", stem)
    if m and stem not in ("hdf5", "bowtie2", "hisat2", "bedtools2", "mvapich2", "udunits2", "samtools", "mpich2"):
        if m.group(1) in ALIASES:
            add(ALIASES[m.group(1)])
        add(m.group(1))
    m2 = re.match(r"^(hdf5|netcdf|python|perl)-\d+$", stem)
    if m2:
        add(ALIASES.get(m2.group(1), m2.group(1)))
    return cands, flavours


def normalise_name(base: str, quals: Iterable[str] = ()) -> str:
    """The Spack name pctl guesses without a catalog: an alias when one applies, else the name with its
    flavour suffixes and glued major version dropped (``gromacs-mpi`` -> gromacs, ``fftw3`` -> fftw)."""
    cands, _ = name_candidates(base, quals)
    for c in cands:
        if c in ALIASES.values():
            return c
    return cands[-1] if cands else base.lower()


def classify(base: str) -> tuple[str, str] | None:
    """('system'|'licensed'|'conda', reason) when the module cannot become a Spack package."""
    low = base.strip().lower()
    if low in SYSTEM_MODULES or _SYSTEM_RE.match(low):
        return "system", f"site/system module ({base}): it configures the on-prem environment; pctl and ParallelCluster set up their own"
    if low in CONDA:
        return "conda", (f"{base} is a conda distribution: its environments are not Spack packages; recreate them "
                         "with conda (environment.yml) on the cluster, or map their packages one by one")
    key = low.replace("_", "-")
    for k in (low, key, key.split("-")[0]):
        if k in LICENSED:
            return "licensed", LICENSED[k] + "; not installable from Spack"
    return None


def role_of(package: str | None) -> str:
    if package in COMPILERS:
        return "compiler"
    if package in MPIS:
        return "mpi"
    return "package"


# --------------------------------------------------------------------------------------------- versions

def choose_version(declared: Iterable[str], wanted: str) -> tuple[str | None, bool]:
    """(version, exact): the on-prem version when a declared version matches it (prefix semantics),
    else the nearest declared release: the longest common prefix of components, then the closest newer
    release, else the closest older one. (None, False) when nothing is declared."""
    from pctl.spack.version import Version, VersionError, matching_versions

    declared = [str(v) for v in declared]
    try:
        if matching_versions(wanted, declared):
            return wanted, True
        want = Version(wanted)
    except VersionError:
        return None, False
    parsed = []
    for d in declared:
        try:
            v = Version(d)
        except VersionError:
            continue
        if v.is_develop:
            continue
        parsed.append((d, v))
    if not parsed:
        return None, False

    def comps(s: str) -> list[str]:
        return [c for c in re.split(r"[._-]", s) if c]

    wc = comps(wanted)

    def common(d: str) -> int:
        n = 0
        for a, b in zip(wc, comps(d)):
            if a != b:
                break
            n += 1
        return n

    best = max(common(d) for d, _ in parsed)
    pool = [(d, v) for d, v in parsed if common(d) == best]
    newer = sorted((x for x in pool if x[1] > want), key=lambda x: x[1])
    if newer:
        return newer[0][0], False
    older = sorted((x for x in pool if x[1] < want), key=lambda x: x[1], reverse=True)
    return (older[0][0], False) if older else (pool[0][0], False)


def suggest(catalog, name: str, n: int = 3) -> list[str]:
    """Cheap suggestions for a name the catalog does not have: language prefixes (py-, r-, perl-) and
    name extensions (``blast`` -> ``blast-plus``). (Catalog.closest_names also tries similar spellings,
    but costs a tenth of a second per name: too slow for thousands of modules.)"""
    import bisect

    names = catalog.names()  # sorted (cached by the catalog)
    out = [p + name for p in ("py-", "r-", "perl-") if catalog.has(p + name)]
    i = bisect.bisect_left(names, name + "-")
    while i < len(names) and names[i].startswith(name + "-") and len(out) < n:
        out.append(names[i])
        i += 1
    return out[:n]


# --------------------------------------------------------------------------------------------- one module

def map_module(mod: dict[str, Any], catalog=None, *, where: str | None = None) -> Mapping:
    """Map one parsed module (the dict of the capture view) to a Spack spec."""
    full = str(mod.get("full_name") or mod.get("name") or "")
    base, quals, ver = split_module(full, mod.get("name"), mod.get("version"))
    res = Mapping(full_name=full, name=str(mod.get("name") or base), onprem_version=ver, status="not_mappable",
                  where=where, parents=mod.get("parents"), default=bool(mod.get("default")))
    if mod.get("hidden") or base.startswith(".") or (ver or "").startswith("."):
        res.status, res.reason = "skipped", "hidden module (not shown by module avail on-prem)"
        return res
    cls = classify(base)
    if cls is not None:
        res.reason = cls[1]
        return res
    cands, flavours = name_candidates(base, quals)
    # modules of an MPI level of a Lmod hierarchy are MPI builds
    mpi_parent = any(any(split_module(p)[0].lower() in ALIASES and ALIASES[split_module(p)[0].lower()] in MPIS
                         for p in row) for row in (mod.get("parents") or []))
    want_mpi = mpi_parent or bool(flavours & _MPI_TOKENS)
    want_cuda = bool(flavours & _CUDA_TOKENS)
    pkg_name = None
    pkg = None
    if catalog is not None:
        for c in cands:
            if catalog.has(c):
                pkg_name = c
                break
        if pkg_name is None:
            for c in cands[:2]:
                for pre in ("py-", "r-"):
                    if catalog.has(pre + c):
                        pkg_name = pre + c
                        break
                if pkg_name:
                    break
        if pkg_name is None:
            close = suggest(catalog, cands[0] if cands else base.lower())
            res.reason = f"no Spack package named {cands[0] if cands else base!r}" + (
                f" (closest: {', '.join(close)}; check and add by hand)" if close else "")
            return res
        pkg = catalog.package(pkg_name)
    else:
        pkg_name = normalise_name(base, quals)
        if not re.match(r"^[a-z0-9][a-z0-9-]*$", pkg_name):
            res.reason = f"{base!r} does not normalise to a Spack package name"
            return res
    res.package = pkg_name
    res.role = role_of(pkg_name)
    nv = normalise_version(ver)
    exact = None
    if nv is not None:
        if pkg is not None and pkg.versions and "versions" not in pkg.incomplete:
            chosen, exact = choose_version(pkg.versions, nv)
            res.version = chosen
        else:
            res.version = nv
    if pkg is not None and "variants" not in pkg.incomplete:
        if want_mpi and "mpi" in pkg.variants and res.role == "package":
            res.variants.append("+mpi")
        if want_cuda and "cuda" in pkg.variants:
            res.variants.append("+cuda")
    elif pkg is not None:  # variant list incomplete in the catalog (lammps): +mpi is safe for these
        if want_mpi and res.role == "package":
            res.variants.append("+mpi")
    res.spec = pkg_name + (f"@{res.version}" if res.version else "") + ("".join(" " + v for v in res.variants))
    renamed = pkg_name != base.lower()
    if catalog is None:
        res.status = "unverified"
        res.reason = ("mapped by name rules; no Spack catalog, so the package name and version were not checked"
                      + (f"; renamed {base} -> {pkg_name}" if renamed else ""))
    elif nv is None:
        res.status = "approximated" if ver else "mapped"
        res.reason = (f"version {ver!r} is not a Spack version; left unpinned (Spack picks its preferred version)"
                      if ver else "no version on-prem; unpinned")
    elif exact:
        res.status = "mapped"
        res.reason = "same version" + (f"; Spack name {pkg_name}" if renamed else "")
    elif res.version is None:
        res.status = "approximated"
        res.reason = f"{pkg_name} declares no usable versions; left unpinned"
    else:
        res.status = "approximated"
        res.reason = (f"{pkg_name}@{nv} is not in Spack; nearest declared version {res.version}"
                      + (f" (Spack name {pkg_name})" if renamed else ""))
    return res
