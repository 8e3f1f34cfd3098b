"""Install-time estimates and build-cache likelihood."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pctl.spack.estimate import (
    BOOTSTRAP_MINUTES,
    SOURCE_MINUTES,
    arch_family,
    buildcache_data,
    estimate,
    likely_from_source,
    likely_prebuilt,
    source_build_minutes,
)
from pctl.spack.spec import parse_spec as p


def by_name(est):
    return {pkg.name: pkg for pkg in est.packages}


def test_buildcache_data_is_small_and_complete():
    import pctl.spack.estimate as module

    path = Path(module.__file__).resolve().parent / "data" / "buildcache.json"
    assert path.stat().st_size < 50_000
    data = buildcache_data()
    assert data["packages_release"] == "v2026.06.0"
    x86, arm = data["stacks"]["x86_64"], data["stacks"]["aarch64"]
    assert x86["stack"] == "aws-pcluster-x86_64_v4" and arm["stack"] == "aws-pcluster-neoverse_v1"
    assert {"gromacs", "lammps", "wrf", "palace", "openmpi"} <= set(x86["roots"])
    assert {"gromacs", "openfoam", "quantum-espresso", "mpas-model", "wrf"} <= set(arm["roots"])
    assert "slurm" in x86["externals"] and "libfabric" in arm["externals"]
    assert json.dumps(data)  # plain JSON


@pytest.mark.parametrize(
    "arch, family",
    [
        ("x86_64", "x86_64"), ("x86_64_v4", "x86_64"), ("zen4", "x86_64"),
        ("arm64", "aarch64"), ("aarch64", "aarch64"), ("neoverse_v1", "aarch64"),
        ("graviton3", "aarch64"), ("graviton4", "aarch64"),
        ("graviton2", None), ("neoverse_n1", None), ("power9le", None),
    ],
)  # fmt: skip
def test_arch_family(arch, family):
    assert arch_family(arch)[0] == family


def test_prebuilt_vs_source_x86():
    est = estimate([p("gromacs"), p("py-torch +cuda"), p("samtools")], "alinux2023", "x86_64")
    pk = by_name(est)
    assert pk["gromacs"].prebuilt and pk["gromacs"].how == "prebuilt"
    assert pk["gromacs"].minutes <= 3
    assert not pk["py-torch"].prebuilt and pk["py-torch"].minutes == SOURCE_MINUTES["py-torch"]
    assert pk["samtools"].how == "source" and pk["samtools"].minutes == 4
    assert est.from_source == ["py-torch", "samtools"]
    assert est.prebuilt == ["gromacs"]
    assert est.bootstrap_minutes == BOOTSTRAP_MINUTES + 1.5
    # two lanes: py-torch (120) on one, the rest on the other
    assert est.build_minutes == pytest.approx(120)
    assert est.total_minutes == pytest.approx(est.bootstrap_minutes + 120)
    assert "h" in est.summary()


def test_arm_vs_x86_stacks_differ():
    specs = [p("quantum-espresso@6.6"), p("lammps +kspace")]
    arm = by_name(estimate(specs, "alinux2023", "arm64"))
    x86 = by_name(estimate(specs, "alinux2023", "x86_64"))
    assert arm["quantum-espresso"].prebuilt and not x86["quantum-espresso"].prebuilt
    assert x86["lammps"].prebuilt and not arm["lammps"].prebuilt


def test_graviton2_has_no_cache():
    est = estimate([p("gromacs")], "alinux2023", "graviton2")
    assert not est.packages[0].prebuilt
    assert est.packages[0].minutes == SOURCE_MINUTES["gromacs"]
    assert any("Graviton2" in n for n in est.notes)


def test_spec_details_break_cache_hits():
    cases = {
        "lammps ~molecule": "the cache has lammps +molecule",
        "gromacs %gcc@13": "the cache is built with",
        "wrf@4 build_type=serial": "the cache has wrf build_type=dm+sm",
        "gromacs target=zen4": "not zen4",
        "gromacs cflags=-O3": "custom compiler flags",
    }
    for text, reason in cases.items():
        (pkg, *_) = estimate([p(text)], "alinux2023", "x86_64").packages
        assert not pkg.prebuilt, text
        assert reason in pkg.reason, (text, pkg.reason)


def test_versions_against_cache(mini_catalog):
    pk = by_name(estimate([p("openmpi@4.1")], "alinux2023", "x86_64", catalog=mini_catalog))
    assert not pk["openmpi"].prebuilt  # the stack's openmpi@4: concretizes to 5.0.x
    assert "openmpi@5.0.10" in pk["openmpi"].reason
    pk = by_name(estimate([p("openmpi@5")], "alinux2023", "x86_64", catalog=mini_catalog))
    assert pk["openmpi"].prebuilt
    pk = by_name(estimate([p("gromacs@2024.3")], "alinux2023", "arm64"))
    assert pk["gromacs"].prebuilt  # the arm stack pins gromacs@2024.3
    pk = by_name(estimate([p("gromacs@2023")], "alinux2023", "arm64"))
    assert not pk["gromacs"].prebuilt


def test_externals_vendor_binaries_and_system_compilers():
    est = estimate(
        [p("hdf5 %gcc@11 ^slurm ^intel-oneapi-mkl ^cuda"), p("wrf %gcc@13")],
        "alinux2023",
        "x86_64",
    )
    pk = by_name(est)
    assert pk["slurm"].how == "external" and pk["slurm"].minutes == 0
    assert pk["gcc"].how == "external"  # alinux2023 ships gcc 11
    assert pk["intel-oneapi-mkl"].how == "binary"  # not redistributed, vendor installer
    assert pk["cuda"].how == "binary" and pk["cuda"].minutes == 5
    est2 = estimate([p("wrf %gcc@13")], "alinux2", "x86_64")
    assert by_name(est2)["gcc"].how == "source" and by_name(est2)["gcc"].minutes == 60


def test_each_package_counted_once():
    est = estimate([p("gromacs ^openmpi"), p("lammps ^openmpi"), p("openmpi")], "rhel9", "x86_64")
    assert [x.name for x in est.packages].count("openmpi") == 1


def test_likely_from_source():
    assert likely_from_source(p("py-torch"), "x86_64")
    assert not likely_from_source(p("gromacs"), "x86_64")
    assert likely_from_source(p("gromacs"), "graviton2")
    assert not likely_from_source(p("cuda@12"), "x86_64")  # binary download
    assert not likely_from_source(p("intel-oneapi-mkl"), "x86_64")
    assert likely_prebuilt(p("slurm"), "arm64")  # external
    assert likely_from_source(p("samtools"), "arm64")


def test_source_build_minutes():
    assert source_build_minutes("gcc") == 60
    assert source_build_minutes("llvm") == 90
    assert source_build_minutes("some-small-lib") == 4
    assert source_build_minutes("intel-oneapi-dal") == 3  # vendor binary pattern


def test_empty_estimate():
    est = estimate([], "alinux2023", "x86_64")
    assert est.packages == [] and est.total_minutes == BOOTSTRAP_MINUTES
