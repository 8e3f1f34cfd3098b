"""The package catalog: loading, lookups, suggestions and spec checking."""

from __future__ import annotations

import json
import time

import pytest

from pctl.spack import PINNED_PACKAGES_RELEASE, PINNED_SPACK_RELEASE
from pctl.spack.catalog import Catalog, CatalogError, check_spec, release_warning
from pctl.spack.spec import parse_spec


def problems(catalog, text):
    return check_spec(catalog, parse_spec(text))


# -- loading ----------------------------------------------------------------------------
def test_mini_catalog_metadata(mini_catalog, mini_catalog_path):
    assert mini_catalog.release == "v2026.06.0"
    assert mini_catalog.commit.startswith("d4f7c71")
    assert mini_catalog.source_path == mini_catalog_path
    assert len(mini_catalog) >= 15


def test_real_catalog_loads_fast(real_catalog):
    assert len(real_catalog) == 8917
    assert real_catalog.release == PINNED_PACKAGES_RELEASE
    start = time.perf_counter()
    Catalog.load(real_catalog.source_path)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0  # ~30 ms on a developer machine; generous for slow CI


def test_leading_hyphen_names_are_normalised(any_catalog):
    assert any_catalog.has("3dtk")
    assert not any_catalog.has("-3dtk")
    pkg = any_catalog.package("3dtk")
    assert pkg.name == "3dtk"
    assert "1.2" in pkg.versions
    assert problems(any_catalog, "3dtk@1.2 +openmp") == []


def test_real_catalog_underscore_dirs(real_catalog):
    for name in ("3dtk", "3proxy", "4ti2", "7zip", "global", "pass"):
        assert real_catalog.has(name), name
    assert not any(n.startswith("-") for n in real_catalog.names())


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("{not json", "is not valid JSON (line 1, column 2"),
        ("", "is not valid JSON"),
        ("[]", "expected a JSON object with a 'packages' mapping, found list"),
        ('{"release": "x"}', "no 'packages' mapping"),
        ('{"packages": []}', "no 'packages' mapping"),
        ('{"packages": {"a": 1}}', "entry 'a' is not an object"),
        ('{"packages": {"a": {"versions": "1.0"}}}', "'a.versions' is not a list"),
        ('{"packages": {"a": {"description": 3}}}', "'a.description' is not a string"),
    ],
)
def test_corrupt_catalog(tmp_path, content, fragment):
    path = tmp_path / "catalog.json"
    path.write_text(content)
    with pytest.raises(CatalogError) as info:
        Catalog.load(path)
    assert fragment in str(info.value)
    assert str(path) in str(info.value)


def test_missing_catalog_and_directory(tmp_path):
    with pytest.raises(CatalogError, match="not found"):
        Catalog.load(tmp_path / "nope.json")
    with pytest.raises(CatalogError, match="is a directory"):
        Catalog.load(tmp_path)


def test_binary_garbage(tmp_path):
    path = tmp_path / "catalog.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CatalogError):
        Catalog.load(path)


def test_minimal_shape_defaults(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"packages": {"foo": {}}}))
    cat = Catalog.load(path)
    assert cat.release == "unknown" and cat.commit == "unknown"
    pkg = cat.package("foo")
    assert pkg.versions == () and pkg.variants == () and pkg.description == ""
    assert cat.package("bar") is None


# -- release pinning --------------------------------------------------------------------
def test_release_warning(mini_catalog):
    assert release_warning(mini_catalog) is None
    assert mini_catalog.release_warning() is None
    other = Catalog({"foo": {}}, release="v2025.11.0")
    warning = release_warning(other)
    assert "v2025.11.0" in warning
    assert PINNED_PACKAGES_RELEASE in warning and PINNED_SPACK_RELEASE in warning


def test_pins():
    assert PINNED_PACKAGES_RELEASE == "v2026.06.0"
    assert PINNED_SPACK_RELEASE.startswith("v1.")


# -- suggestions ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "query, expected_first",
    [
        ("samtool", "samtools"),
        ("Samtools", "samtools"),
        ("blast", "blast-plus"),
        ("pytorch", "py-torch"),
        ("torch", "py-torch"),
        ("tensorflow", "py-tensorflow"),
        ("numpy", "py-numpy"),
        ("intel-mpi", "intel-oneapi-mpi"),
        ("mkl", "intel-oneapi-mkl"),
        ("py_torch", "py-torch"),
        ("gromac", "gromacs"),
        ("openmpi4", "openmpi"),
    ],
)
def test_closest_names(any_catalog, query, expected_first):
    names = any_catalog.closest_names(query)
    assert names and names[0] == expected_first, names
    assert len(names) <= 5
    assert query not in names


def test_closest_names_nothing_close(mini_catalog):
    assert mini_catalog.closest_names("qqqqqqqqqq") == []
    assert mini_catalog.closest_names("") == []


def test_search(any_catalog):
    results = any_catalog.search("samtools")
    assert results[0].name == "samtools"
    assert "py-torch" in [p.name for p in any_catalog.search("torch")]
    assert any_catalog.search("   ") == []


def test_search_by_description(real_catalog):
    names = [p.name for p in real_catalog.search("molecular dynamics", limit=200)]
    assert "gromacs" in names


# -- check_spec -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "samtools@1.21",
        "samtools",
        "cudnn@8.7.0",
        "python@3.10",
        "python@3.10:3.12 +ssl",
        "py-torch@2.9: +cuda cuda_arch=80",
        "py-torch@main",
        "gromacs@2025 +mpi ~cuda ^openmpi@4.1 %gcc@14",
        "openmpi@4: fabrics=ofi,ucx target=x86_64_v4",
        "hdf5+mpi ^mpich",
        "hdf5@1.14 +mpi build_type=Release cflags=-O2 os=amzn2",
        "wrf@4 %gcc",
        "samtools@git.main=1.0 ^mpi",
        "py-torch ^blas ^lapack",
        "llvm@22 %clang@21",
        "3dtk",
        "samtools dev_path=/src patches=abc build_system=generic",
    ],
)
def test_valid_specs_have_no_problems(any_catalog, text):
    assert problems(any_catalog, text) == []


def test_unknown_version(any_catalog):
    (p,) = problems(any_catalog, "samtools@9.9")
    assert p.kind == "unknown-version"
    assert p.package == "samtools"
    assert p.message.startswith(
        "samtools has no version matching @9.9; available: 1.23.1, 1.21, 1.19.2, "
    )
    assert p.message.endswith("(newest first)")
    assert p.hint == "nearest declared: 1.23.1"


def test_unknown_version_lists_develop_separately(any_catalog):
    (p,) = problems(any_catalog, "py-torch@0.1")
    assert "available: 2.12.0, 2.11.0" in p.message
    assert p.message.endswith("(newest first; also: main)")


def test_exact_version_is_not_prefix(any_catalog):
    (p,) = problems(any_catalog, "cudnn@=8.7.0")
    assert p.kind == "unknown-version"


def test_unknown_package(any_catalog):
    (p,) = problems(any_catalog, "samtool@1.21")
    assert p.kind == "unknown-package"
    assert p.message.startswith("unknown Spack package 'samtool'; closest: samtools")
    assert p.hint == "did you mean 'samtools'?"


def test_unknown_dependency_and_compiler(any_catalog):
    ps = problems(any_catalog, "gromacs ^openmpii %gcc@14 ^hdf5 %gccc")
    kinds = {(p.kind, p.package, p.node) for p in ps}
    assert ("unknown-package", "openmpii", "dependency") in kinds
    assert ("unknown-package", "gccc", "compiler") in kinds
    msg = next(p.message for p in ps if p.package == "gccc")
    assert msg.startswith("unknown Spack compiler 'gccc' (in '%gccc'); closest: gcc")


def test_unknown_variant(any_catalog):
    (p,) = problems(any_catalog, "py-torch+cudaa")
    assert p.kind == "unknown-variant"
    assert p.message.startswith("py-torch has no variant 'cudaa'; did you mean 'cuda'")
    assert "Valid variants: amdgpu_target, " in p.message
    assert p.hint == "did you mean 'cuda'?"


def test_variant_on_package_without_variants(any_catalog):
    (p,) = problems(any_catalog, "samtools+mpi")
    assert p.message == "samtools has no variants, so 'mpi' cannot be set"


def test_variant_after_compiler_hint(any_catalog):
    (p,) = problems(any_catalog, "hdf5 %gcc +mpi")
    assert p.kind == "unknown-variant" and p.package == "gcc" and p.node == "compiler"
    assert "apply to the compiler" in p.hint


def test_dependency_version_and_variant(any_catalog):
    ps = problems(any_catalog, "gromacs ^openmpi@9 +fancy")
    assert [p.kind for p in ps] == ["unknown-version", "unknown-variant"]
    assert all(p.node == "dependency" for p in ps)


def test_known_incomplete_lists_are_not_used_to_reject(any_catalog):
    # lammps' package variants and intel-oneapi-compilers' versions are generated in loops
    assert problems(any_catalog, "lammps +molecule +kspace lammps_sizes=bigbig") == []
    assert problems(any_catalog, "intel-oneapi-compilers@2024.1.0") == [] or not any_catalog.has(
        "intel-oneapi-compilers"
    )


def test_incomplete_field_from_index(tmp_path):
    cat = Catalog(
        {
            "foo": {"versions": ["1.0"], "variants": ["a"], "incomplete": ["variants"]},
            "bar": {"versions": [], "variants": []},
        }
    )
    assert check_spec(cat, parse_spec("foo@1.0 +zzz")) == []
    assert check_spec(cat, parse_spec("bar@7")) == []  # no declared versions: cannot check
    assert [p.kind for p in check_spec(cat, parse_spec("foo@2"))] == ["unknown-version"]


def test_stack_specs_validate_cleanly(real_catalog):
    """The specs of Spack's own ParallelCluster stacks must all pass."""
    specs = [
        "gromacs +intel_provided_gcc ^intel-oneapi-mkl",
        "lammps lammps_sizes=bigbig +molecule +kspace +rigid +asphere +opt +openmp "
        "+openmp-package fft=mkl ^intel-oneapi-mkl",
        "palace",
        "openmpi@4:",
        "wrf@4 build_type=dm+sm",
        "gcc@12 +strip +binutils ^binutils@2.37",
        "intel-oneapi-compilers@2024.1.0 %gcc@12",
        "gromacs@2024.3 ^armpl-gcc ^openmpi",
        "mpas-model precision=single ^parallelio+pnetcdf",
        "openfoam ^scotch@6.0.9",
        "quantum-espresso@6.6 ^armpl-gcc",
        "mpich pmi=pmi2 device=ch4 netmod=ofi +slurm",
        "intel-oneapi-mpi +external-libfabric generic-names=True",
        "openmpi ~atomics ~cuda ~cxx ~cxx_exceptions ~internal-hwloc ~java +legacylaunchers "
        "~lustre ~memchecker +pmi +romio +vt +wrapper-rpath fabrics=ofi schedulers=slurm",
        "slurm@22.05.8 +pmix",
        "libfabric@1.17.0 fabrics:=shm,efa target=x86_64_v3",
        "pmix@3:",
        "gettext@:0.20 %gcc",
        "wrf %c,fortran=oneapi",
    ]
    for text in specs:
        assert problems(real_catalog, text) == [], text
