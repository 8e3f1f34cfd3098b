"""capture analyze at site scale: a synthetic 10,000-module site (Lmod, `module -t avail` / `module -t -d avail`
as the capture script records them, a batch profile, users' shell loads) keeps every on-prem default package
the catalog knows, fills the rest by evidence and breadth (never alphabetically), and names every package it
leaves out."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from pctl.capture import selection
from pctl.capture.analyze import analyze
from pctl.spack.catalog import Catalog
from pctl.template.validate import validate_text

TOOLCHAIN = {"gcc": ["10.5.0", "11.4.0", "12.3.0", "13.2.0", "14.2.0"], "openmpi": ["4.1.4", "4.1.6", "5.0.3"],
             "mpich": ["4.1.2", "4.2.0"]}
MUST = ["python", "samtools", "gromacs", "lammps", "bwa", "hdf5", "netcdf-c", "fftw", "r", "cmake"]


def _site(catalog: Catalog, *, seed: int = 13):
    """(capture document, batch profile, the on-prem default packages, every module count)."""
    rnd = random.Random(seed)
    names = [n for n in catalog.names() if re.fullmatch(r"[a-z][a-z0-9-]*", n) and n not in TOOLCHAIN]
    pool = [n for n in names if catalog.package(n).newest_versions()]
    rnd.shuffle(pool)
    must = [n for n in MUST if n in pool]
    defaults = must + [n for n in pool if n not in must][:290]  # several versions, one the site's default
    rest = [n for n in sorted(pool) if n not in set(defaults)]  # alphabetical, as `module avail` lists them
    lines_all, lines_default = ["/apps/modules/Core:"], ["/apps/modules/Core:"]
    count = 0
    for pkg, versions in TOOLCHAIN.items():
        for v in versions:
            lines_all.append(f"{pkg}/{v}")
            count += 1
        lines_default.append(f"{pkg}/{versions[-2]}")
    for pkg in defaults:
        vs = catalog.package(pkg).newest_versions()[:6]
        vs = vs if len(vs) >= 2 else vs + [vs[0] + ".1"]
        for v in vs:
            lines_all.append(f"{pkg}/{v}")
            count += 1
        lines_default.append(f"{pkg}/{vs[len(vs) // 2]}")  # not the newest: the site's own choice
    singles = []
    i = 0
    while count < 10_000 - 250 and i < len(rest):
        pkg = rest[i]
        v = catalog.package(pkg).newest_versions()[0]
        lines_all.append(f"{pkg}/{v}")
        lines_default.append(f"{pkg}/{v}")  # `module -t -d avail` names the only version too
        singles.append(pkg)
        count += 1
        i += 1
    while count < 10_000 - 50:  # more builds of single packages (another path of the tree)
        pkg = singles[count % len(singles)]
        lines_all.append(f"{pkg}/{catalog.package(pkg).newest_versions()[0]}-gcc-12.3.0")
        count += 1
    for j in range(50):  # hidden modules and site modules
        lines_all.append(f".hidden-tool{j}/1.0")
        count += 1
    lines_all += ["StdEnv/2023", "matlab/R2023a", "ansys/2023R1"]
    count += 3
    used_by_jobs = rnd.sample(singles, 40)
    used_in_shells = rnd.sample([s for s in singles if s not in used_by_jobs], 30)
    loads = "\n".join(f"      {rnd.randint(1, 9)} user {p}" for p in used_in_shells) + "\n      1 login StdEnv\n"
    sections = {
        "meta": {"output": "hostname=bigsite\nuser=admin\n", "rc": 0},
        "os.release": {"output": "ID=rocky\nVERSION_ID=8.9\nPRETTY_NAME=\"Rocky Linux 8.9\"\n", "rc": 0},
        "modules.env": {"output": "kind=lmod\nmodule_type=function\nLMOD_VERSION=8.7.32\n", "rc": 0},
        "modules.avail_terse": {"output": "\n".join(lines_all) + "\n", "rc": 0},
        "modules.avail_default": {"output": "\n".join(lines_default) + "\n", "rc": 0},
        "modules.shell_loads": {"output": loads, "rc": 0},
        "slurm.partitions": {"output": "PartitionName=batch\n   Nodes=n[001-400] TotalNodes=400 TotalCPUs=25600 "
                                       "State=UP Default=YES\n", "rc": 0},
    }
    doc = {"pctl_capture": 1, "meta": {"target": "bigsite"}, "sections": sections}
    profile = {"job_count": 5000, "modules": {p: rnd.randint(1, 300) for p in used_by_jobs}}
    return doc, profile, defaults, used_by_jobs, used_in_shells, count


@pytest.fixture(scope="module")
def site_catalog():
    """The real catalog when available; else a catalog of 9,000 made-up packages in the same shape."""
    import os
    from pathlib import Path

    env = os.environ.get("PCTL_TEST_SPACK_INDEX")
    real = Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data" / "spack-packages.json"
    if real.is_file() and not os.environ.get("PCTL_TEST_SYNTHETIC_CATALOG"):
        return Catalog.load(real)
    rnd = random.Random(7)
    words = ["genome", "molecular dynamics", "climate", "fluid", "linear algebra", "hdf5", "plot", "compiler",
             "neural", "statistics", "library"]
    pkgs = {n: {"versions": ["3.2.1", "3.1.0", "2.9.4", "2.0.0"], "variants": ["mpi"], "build_systems": [],
                "description": f"a tool for {rnd.choice(words)}"} for n in
            [f"{a}{b}{c}-tool" for a in "abcdefghijklmnopqrstuvwxyz" for b in "abcdefghijklmnopqrstu" for c in "abcdefghijklmnop"]}
    for n in MUST + list(TOOLCHAIN):
        pkgs[n] = {"versions": ["14.2.0", "13.2.0", "12.3.0", "11.4.0", "10.5.0", "5.0.3", "4.2.0", "4.1.6", "4.1.4",
                                "4.1.2", "3.12.1", "2.0"], "variants": ["mpi"], "build_systems": [], "description": ""}
    return Catalog.from_dict({"release": "v2026.06.0", "packages": pkgs})


@pytest.fixture(scope="module")
def result(site_catalog):
    doc, profile, defaults, jobs, shells, count = _site(site_catalog)
    return analyze(doc, site_catalog, profile), defaults, jobs, shells, count


def _packages(template_text: str) -> set[str]:
    res = validate_text(template_text, "t.yaml", use_catalog=False)
    assert res.ok, [e.format() for e in res.errors]
    return {re.split(r"[@%+~^ ]", s, maxsplit=1)[0] for s in res.template.software.spack_packages}


def test_the_site_has_ten_thousand_modules(result):
    a, _, _, _, count = result
    assert count >= 10_000
    assert a.report["summary"]["modules"] >= 10_000


def test_every_on_prem_default_the_catalog_knows_is_kept(result):
    a, defaults, _, _, _ = result
    assert a.valid, a.errors
    kept = _packages(a.template)
    assert len(kept) == 500
    known = {d["package"] for d in a.report["software"] if d["status"] in ("mapped", "approximated", "dropped")}
    wanted = [p for p in defaults if p in known]
    assert len(wanted) >= 250
    assert [p for p in wanted if p not in kept] == []
    for p in MUST:
        assert p in kept


def test_the_sites_default_version_is_the_one_kept(result, site_catalog):
    a, _, _, _, _ = result
    soft = {d["full_name"]: d for d in a.report["software"]}
    gromacs = [d for d in a.report["software"] if d["package"] == "gromacs" and d["kept"]]
    assert len(gromacs) == 1 and gromacs[0]["marked_default"]


def test_jobs_and_shells_count_before_breadth(result):
    a, _, jobs, shells, _ = result
    kept = _packages(a.template)
    assert set(jobs) <= kept and set(shells) <= kept
    by = a.report["selection"]["kept_by"]
    assert by["on-prem default"] >= 250 and by["used by batch jobs"] == 40 and by["loaded in users' shells"] == 30


def test_the_rest_is_chosen_across_domains_not_alphabetically(result, site_catalog):
    a, defaults, jobs, shells, _ = result
    breadth = [d["package"] for d in a.report["software"] if d["kept"] and d.get("kept_because") == "breadth across domains"]
    assert len(breadth) > 50
    first_alphabetical = sorted(d["package"] for d in a.report["software"]
                                if d["status"] in ("mapped", "approximated", "dropped") and d["package"] not in
                                set(defaults) | set(jobs) | set(shells) and d["package"] not in TOOLCHAIN)[:len(breadth)]
    assert set(breadth) != set(first_alphabetical)
    domains = Counter(selection.domain_of(p, (site_catalog.package(p).description if site_catalog.package(p) else ""))
                      for p in breadth)
    assert len(domains) >= 6
    assert domains.most_common(1)[0][1] <= len(breadth) // 2 + 1  # no single domain takes the rest


def test_every_left_out_package_is_named(result):
    a, _, _, _, _ = result
    kept = _packages(a.template)
    mapped = {d["package"] for d in a.report["software"] if d["status"] in ("mapped", "approximated", "dropped")}
    dropped = {d["package"] for d in a.report["selection"]["dropped"]}
    assert dropped == mapped - kept and len(dropped) > 1000
    assert a.report["summary"]["software_dropped"] == len(dropped)
    section = a.markdown.split("## Left out of the template: over the package limit")[1].split("\n## ")[0]
    for p in dropped:
        assert f"| {p} |" in section
    assert "over the package limit" not in a.report["summary"]  # counted in its own line, not as "skipped"


def test_nothing_is_reported_as_kept_that_is_not_in_the_template(result):
    a, _, _, _, _ = result
    kept_specs = set(validate_text(a.template, "t.yaml", use_catalog=False).template.software.spack_packages)
    kept = _packages(a.template)
    for d in a.report["software"]:
        m = re.search(r"kept (\S+) \(", d.get("reason") or "")
        if m:
            assert m.group(1) in kept_specs, d
        if d["kept"]:
            assert d["package"] in kept
        if d["status"] == "dropped":
            assert d["package"] not in kept and not d["kept"]


def test_a_smaller_limit_is_an_option(site_catalog, pctl, tmp_path):
    doc, profile, defaults, jobs, shells, _ = _site(site_catalog)
    a = analyze(doc, site_catalog, profile, max_packages=120)
    kept = _packages(a.template)
    assert len(kept) == 120
    assert {"gcc", "openmpi", "mpich"} <= kept  # the toolchain first
    assert all(d["rank"] > 120 for d in a.report["selection"]["dropped"])
    left = {d["package"] for d in a.report["selection"]["dropped"]}
    assert any(p in left for p in defaults)  # defaults beyond the limit are named too, never silently cut
    with pytest.raises(Exception, match="max-packages"):
        analyze(doc, site_catalog, profile, max_packages=501)
