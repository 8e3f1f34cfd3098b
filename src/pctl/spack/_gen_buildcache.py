"""Developer script: derive ``data/buildcache.json`` from the AWS ParallelCluster Spack stacks.

The public Spack build caches (binaries.spack.io) hold what Spack's CI builds for the
``aws-pcluster-x86_64_v4`` and ``aws-pcluster-neoverse_v1`` stacks of spack-packages
(``stacks/<name>/spack.yaml``). This script reads those two ``spack.yaml`` files and writes a
small JSON summary that :mod:`pctl.spack.estimate` uses at run time (no network, no YAML).

Usage (from the repository root)::

    python src/pctl/spack/_gen_buildcache.py \\
        /path/to/aws-pcluster-x86_64_v4.spack.yaml /path/to/aws-pcluster-neoverse_v1.spack.yaml

What goes into the file, per architecture family:

* ``roots``: the stack's root specs (``definitions`` + ``specs`` groups, ``$apps`` expanded)
  with the versions/variants they were requested with;
* ``configured``: packages the stack configures (``packages:`` with variants/requirements),
  which are built whenever a root depends on them;
* ``dependencies``: a short, hand-maintained list (``LIKELY_DEPENDENCIES`` below) of
  packages that the roots certainly pull in per their recipes (build tools, I/O libraries,
  MPI support libraries). They are in the cache as part of the roots' DAGs;
* ``externals``: ``buildable: false`` / external packages (provided by the AMI, never built);
* ``not_distributed``: name patterns the stack's signing job deletes from the public mirror
  (Intel oneAPI and Arm Performance Libraries binaries are not redistributed);
* ``targets``: the microarchitectures the binaries are built for; ``os``/``image``: the build
  image (Amazon Linux 2, glibc 2.26).

Dependencies: ruamel.yaml (a pctl runtime dependency), and pctl itself for spec parsing.
"""

from __future__ import annotations

import fnmatch
import json
import re
import sys
from pathlib import Path

from ruamel.yaml import YAML

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # src/, so this runs without installing pctl

from pctl.spack import PINNED_PACKAGES_RELEASE  # noqa: E402
from pctl.spack.catalog import KNOWN_VIRTUALS  # noqa: E402
from pctl.spack.spec import SpecSyntaxError, parse_spec  # noqa: E402

OUTPUT = HERE / "data" / "buildcache.json"

#: Packages the stack roots pull in per their Spack recipes (certain, not exhaustive).
LIKELY_DEPENDENCIES = {
    "common": [
        # build tools and core libraries every DAG of these stacks contains
        "autoconf", "automake", "berkeley-db", "bison", "bzip2", "cmake", "curl",
        "diffutils", "findutils", "flex", "gdbm", "gettext", "gmake", "gmp", "hwloc",
        "libevent", "libiconv", "libpciaccess", "libsigsegv", "libtool", "libxml2", "m4",
        "mpc", "mpfr", "ncurses", "numactl", "openssl", "perl", "pigz", "pkgconf", "pmix",
        "python", "readline", "sqlite", "tar", "texinfo", "util-macros", "xz", "zlib-ng",
        "zstd", "gcc-runtime", "glibc", "binutils",
        # I/O libraries of wrf / mpas-model / openfoam / palace
        "hdf5", "netcdf-c", "netcdf-fortran", "parallel-netcdf", "parallelio", "jasper",
        "libpng", "libjpeg-turbo", "scotch", "metis", "parmetis", "boost", "eigen", "fmt",
        "hypre", "mfem", "superlu-dist", "arpack-ng", "nlohmann-json", "libtirpc",
    ],
    "x86_64": [],
    "aarch64": ["fftw", "openblas", "netlib-scalapack"],
}  # fmt: skip

STACKS = {
    "x86_64": "aws-pcluster-x86_64_v4",
    "aarch64": "aws-pcluster-neoverse_v1",
}

#: glibc of the stacks' build image; binaries run on systems with this glibc or newer.
BUILD_IMAGE_GLIBC = "2.26"


def _load(path: Path) -> dict:
    yaml = YAML(typ="safe")
    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh)["spack"]


def _parse(spec_text: str):
    try:
        return parse_spec(spec_text.strip())
    except SpecSyntaxError as exc:
        print(f"warning: skipping unparseable spec {spec_text!r}: {exc}", file=sys.stderr)
        return None


def _entry(spec) -> dict:
    variants = {k: v for k, v in spec.variants.items() if k not in ("target", "os", "arch")}
    entry = {"spec": str(spec), "version": spec.version, "variants": variants}
    entry["dependencies"] = [d.name for d in spec.dependencies if d.name]
    if spec.compiler:
        entry["compiler"] = spec.compiler + (f"@{spec.compiler_version}" if spec.compiler_version else "")
    return entry


def summarise(family: str, path: Path) -> dict:
    stack = _load(path)
    definitions: dict[str, list[str]] = {}
    for block in stack.get("definitions", []) or []:
        for key, values in block.items():
            definitions.setdefault(key, []).extend(str(v) for v in values)

    roots: dict[str, dict] = {}
    compilers: list[str] = []
    for group in stack.get("specs", []) or []:
        specs = group.get("specs", []) if isinstance(group, dict) else [group]
        for item in specs:
            texts = definitions.get(item[1:], []) if str(item).startswith("$") else [str(item)]
            for text in texts:
                spec = _parse(text)
                if spec is None or spec.name is None:
                    continue
                roots.setdefault(spec.name, _entry(spec))
                if spec.name in ("gcc", "intel-oneapi-compilers", "llvm", "acfl"):
                    version = f"@{spec.version}" if spec.version else ""
                    compilers.append(spec.name + version)
                for dep in spec.dependencies:
                    if dep.name and dep.name not in KNOWN_VIRTUALS:
                        roots.setdefault(dep.name, {**_entry(dep), "as_dependency_of": spec.name})

    configured: dict[str, dict] = {}
    externals: list[str] = []
    package_configs = list((stack.get("packages") or {}).items())
    for group in stack.get("specs", []) or []:
        override = group.get("override", {}) if isinstance(group, dict) else {}
        for name, cfg in ((override or {}).get("packages") or {}).items():
            if isinstance(cfg, dict) and (cfg.get("externals") or cfg.get("buildable") is False):
                package_configs.append((name, cfg))
    for name, cfg in package_configs:
        if name == "all" or name in KNOWN_VIRTUALS or not isinstance(cfg, dict):
            continue
        if cfg.get("buildable") is False or (cfg.get("externals") and name == "slurm"):
            externals.append(name)
            continue
        if cfg.get("externals"):
            externals.append(name)
        requirements = [str(r) for r in (cfg.get("require") or []) if isinstance(r, str)]
        meaningful = [r for r in requirements if not re.fullmatch(r"\s*target=\S+\s*", r)]
        if not cfg.get("variants") and not meaningful:
            continue  # only pins a target: not evidence that it is built
        if name in externals:
            continue
        configured[name] = {"variants": str(cfg.get("variants", "")).strip() or None,
                            "require": meaningful or None}

    not_distributed = []
    for job in (stack.get("ci", {}) or {}).get("pipeline-gen", []) or []:
        text = json.dumps(job)
        for token in ("intel-oneapi", "armpl"):
            if f"grep {token}" in text:
                not_distributed.append(f"{token}*")

    image = None
    for job in (stack.get("ci", {}) or {}).get("pipeline-gen", []) or []:
        build = job.get("build-job") if isinstance(job, dict) else None
        if build and isinstance(build.get("image"), dict):
            image = build["image"].get("name")
    date = None
    if image and (m := re.search(r":v(\d{4}-\d{2}-\d{2})", image)):
        date = m.group(1)

    targets = sorted(set(re.findall(r"target=(\w+)", json.dumps(stack))))
    deps = sorted(set(LIKELY_DEPENDENCIES["common"]) | set(LIKELY_DEPENDENCIES[family]))
    deps = [d for d in deps if d not in roots and d not in configured and d not in externals
            and not any(fnmatch.fnmatch(d, p) for p in not_distributed)]
    return {
        "stack": STACKS[family],
        "source_file": path.name,
        "targets": targets,
        "os": "amzn2",
        "image": image,
        "image_date": date,
        "build_glibc": BUILD_IMAGE_GLIBC,
        "compilers": sorted(set(compilers)),
        "roots": dict(sorted(roots.items())),
        "configured": dict(sorted(configured.items())),
        "dependencies": deps,
        "externals": sorted(set(externals)),
        "not_distributed": sorted(set(not_distributed)),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    x86, arm = (Path(a) for a in argv)
    data = {
        "about": (
            "Packages likely present in the public Spack build caches for AWS ParallelCluster "
            "(binaries.spack.io), derived from the spack-packages stacks aws-pcluster-x86_64_v4 "
            "and aws-pcluster-neoverse_v1 by src/pctl/spack/_gen_buildcache.py. Cached builds "
            "use the stack's versions, variants, compilers and targets; a spec that asks for "
            "something else is built from source."
        ),
        "packages_release": PINNED_PACKAGES_RELEASE,
        # Pattern from the spack-packages release notes ("spack mirror add ...
        # s3://spack-binaries/releases/vYYYY.MM/"); binaries.spack.io serves the same bucket.
        "release_mirror": "s3://spack-binaries/releases/"
        + PINNED_PACKAGES_RELEASE.rsplit(".", 1)[0]
        + "/",
        "stacks": {"x86_64": summarise("x86_64", x86), "aarch64": summarise("aarch64", arm)},
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
