"""Which packages a migrated template carries when the site has more than it may hold.

Order (each package once, with its chosen version), never alphabetical:

1. **toolchain**: compilers and MPI libraries (everything else is built with them);
2. **on-prem defaults**: a version the site marked as the default among several versions of the package,
   or a module the site loads for everyone at login (profile.d, ``LMOD_SYSTEM_DEFAULT_MODULES``);
3. **used by jobs**: modules the batch scripts load (``capture analyze --batch``), most used first;
4. **loaded in users' shells**: modules users load from their own shell start-up files (when captured);
5. **breadth**: the rest, one scientific domain at a time in turn (bioinformatics, chemistry, climate,
   engineering, math libraries, ...), within a domain the packages with the most on-prem versions first
   (a site keeps several versions of what people use).

Inside tiers 2-4 the same turn-taking across domains applies after the usage counts, so a limit never
fills up with one corner of the site. Every package that does not fit is returned with the tier it was in
and why, so the report can name each one.
"""

from __future__ import annotations

from dataclasses import dataclass

TOOLCHAIN, DEFAULT, JOBS, SHELLS, BREADTH = range(5)
TIER_NAMES = {
    TOOLCHAIN: "compiler or MPI",
    DEFAULT: "on-prem default",
    JOBS: "used by batch jobs",
    SHELLS: "loaded in users' shells",
    BREADTH: "breadth across domains",
}

#: domain -> words of the Spack package description (first match wins, in this order)
DOMAINS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("bioinformatics", ("genom", "sequenc", " dna", "rna-seq", " rna", "protein", "phylogen", "bioinform",
                        "metagenom", "fastq", "alignment of reads", "short read", "variant call", "biolog")),
    ("chemistry", ("molecul", "chemi", "density functional", "ab initio", "force field", "quantum chem")),
    ("physics and materials", ("physic", "materials", "particle", "plasma", "astro", "cosmolog", "lattice",
                               "electronic structure")),
    ("earth and climate", ("climate", "weather", "atmospher", "ocean", "earth", "geospatial", "geograph",
                           "hydrolog", "seism", "meteorolog", "geophys")),
    ("engineering and CFD", ("fluid", "cfd", "finite element", "finite volume", "mesh", "multiphysics",
                             "structural")),
    ("machine learning and statistics", ("machine learning", "deep learning", "neural", "tensor", "statistic",
                                         "data analy", "data science")),
    ("math libraries", ("linear algebra", "blas", "lapack", "eigenvalue", "fft", "fourier", "sparse", "solver",
                        "numerical", "mathemat", "optimization", "random number")),
    ("I/O and data formats", ("hdf5", "netcdf", "i/o", "file format", "compression", "compress", "serializ")),
    ("visualisation", ("visuali", "plot", "render", "graphic", "image")),
    ("developer tools", ("compiler", "debugg", "profil", "build system", "build tool", "version control",
                         "testing framework", "benchmark")),
)
ECOSYSTEMS = (("py-", "Python packages"), ("r-", "R packages"), ("perl-", "Perl modules"),
              ("julia-", "Julia packages"), ("lua-", "Lua modules"), ("rust-", "Rust crates"),
              ("go-", "Go modules"), ("ruby-", "Ruby gems"), ("node-", "Node.js packages"))


def domain_of(package: str, description: str = "") -> str:
    text = " " + (description or "").lower() + " " + package.replace("-", " ") + " "
    for domain, words in DOMAINS:
        if any(w in text for w in words):
            return domain
    for prefix, eco in ECOSYSTEMS:
        if package.startswith(prefix):
            return eco
    return "other software"


@dataclass
class Candidate:
    package: str
    best: object  # the Mapping of the version chosen for the package
    role: str
    site_default: bool  # the site chose this version (marked default among several, or loaded at login)
    jobs: int
    shells: int
    versions: int  # distinct on-prem versions of the package
    domain: str
    tier: int = BREADTH
    position: int = 0  # 1-based rank in the final order

    def why_kept(self) -> str:
        return TIER_NAMES[self.tier]


def tier_of(c: Candidate) -> int:
    if c.role in ("compiler", "mpi"):
        return TOOLCHAIN
    if c.site_default:
        return DEFAULT
    if c.jobs:
        return JOBS
    if c.shells:
        return SHELLS
    return BREADTH


def _interleave(cands: list[Candidate]) -> list[Candidate]:
    """One candidate per domain in turn; each domain's list keeps its own order."""
    by_domain: dict[str, list[Candidate]] = {}
    order: list[str] = []
    for c in cands:
        if c.domain not in by_domain:
            order.append(c.domain)
        by_domain.setdefault(c.domain, []).append(c)
    out: list[Candidate] = []
    i = 0
    while len(out) < len(cands):
        for d in order:
            if i < len(by_domain[d]):
                out.append(by_domain[d][i])
        i += 1
    return out


def rank(cands: list[Candidate]) -> list[Candidate]:
    """The candidates in the order the template takes them."""
    for c in cands:
        c.tier = tier_of(c)
    out: list[Candidate] = []
    for tier in (TOOLCHAIN, DEFAULT, JOBS, SHELLS, BREADTH):
        group = [c for c in cands if c.tier == tier]
        # the strongest evidence first; ties broken by the number of on-prem versions, then the name
        group.sort(key=lambda c: (-c.jobs, -c.shells, -c.versions, c.package))
        if tier == TOOLCHAIN:
            group.sort(key=lambda c: (0 if c.role == "compiler" else 1, -c.jobs, -c.versions, c.package))
            out += group
        else:
            # domains take turns inside each level of evidence (jobs count, then shells)
            levels: dict[tuple[int, int], list[Candidate]] = {}
            for c in group:
                levels.setdefault((c.jobs, c.shells), []).append(c)
            for key in sorted(levels, key=lambda k: (-k[0], -k[1])):
                out += _interleave(levels[key])
    for i, c in enumerate(out, 1):
        c.position = i
    return out


def choose(cands: list[Candidate], limit: int) -> tuple[list[Candidate], list[Candidate]]:
    ordered = rank(cands)
    return ordered[:limit], ordered[limit:]


def dropped_reason(c: Candidate, limit: int, kept: list[Candidate]) -> str:
    """One line per package left out; what was kept first and how to keep more is said once, in the report."""
    evidence = []
    if c.jobs:
        evidence.append(f"loaded by {c.jobs} job script(s)")
    if c.shells:
        evidence.append(f"loaded in {c.shells} shell start-up file(s)")
    if c.versions > 1:
        evidence.append(f"{c.versions} on-prem versions")
    return (f"left out (over the {limit}-package limit): ranked {c.position}, {TIER_NAMES[c.tier]}, {c.domain}"
            + (f"; {', '.join(evidence)}" if evidence else ""))


def kept_summary(kept: list[Candidate]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for k in kept:
        counts[TIER_NAMES[k.tier]] = counts.get(TIER_NAMES[k.tier], 0) + 1
    return counts
