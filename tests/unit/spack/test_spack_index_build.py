"""Building the catalog from a (fake) spack-packages checkout."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from pctl.spack.catalog import Catalog, check_spec
from pctl.spack.index_build import IndexBuildError, build_index, write_index
from pctl.spack.spec import parse_spec

PACKAGES = {
    "samtools": '''
        from spack_repo.builtin.build_systems.generic import Package
        from spack.package import *


        class Samtools(Package):
            """SAM Tools provide various utilities for manipulating alignments in the SAM
            format."""

            homepage = "https://www.htslib.org"
            version("1.21", sha256="00")
            version("1.19.2", sha256="00")
            version("1.19", sha256="00", deprecated=True)

            def install(self, spec, prefix):
                version("999")  # not a directive: inside a method
    ''',
    "py_torch": '''
        from spack_repo.builtin.build_systems.python import PythonPackage
        from spack_repo.builtin.build_systems.cuda import CudaPackage
        from spack.package import *


        class PyTorch(PythonPackage, CudaPackage):
            """Tensors and Dynamic neural networks in Python."""

            version("main", branch="main")
            version("2.9.1", sha256="00")

            variant("mpi", default=False, description="MPI")
            with when("@2.0:"):
                variant("distributed", default=True, description="dist")
                with when("+distributed"):
                    variant("gloo", default=True, description="gloo")
            with default_args(deprecated=True):
                version("1.13.1", sha256="00")
            if True:
                variant("numa", default=True, description="numa")
    ''',
    "lammps": '''
        from spack_repo.builtin.build_systems.cmake import CMakePackage
        from spack.package import *

        supported_versions = [
            {"version": "20240829.4", "sha": "aa"},
            {"version": "20230802.4", "sha": "bb"},
        ]


        class Lammps(CMakePackage):
            """LAMMPS."""

            version("develop", branch="develop")
            for v in supported_versions:
                version(v["version"], sha256=v["sha"])

            for pkg in ["asphere", "kspace", "molecule"]:
                variant(pkg, default=False, description=f"{pkg} package")

            supported_packages = {"rigid": {}, "openmp-package": {"when": "@2021:"}}
            for pkg_name, pkg_options in supported_packages.items():
                variant(pkg_name, default=False, when=pkg_options.get("when", None))

            for cond in ("cuda", "rocm"):
                variant(f"{cond}_aware", default=False, description="x")

            for opt in some_function():
                variant(opt, default=False, description="cannot be resolved statically")
    ''',
    "broken": '''
        class Broken(Package:
            version("1.0")
    ''',
    "_7zip": '''
        from spack.package import *


        class _7zip(Package):
            """7-Zip is a file archiver."""

            version("23.01", sha256="00")
    ''',
}


def make_tree(root: Path, layout: str = "repos/spack_repo/builtin/packages") -> Path:
    base = root / layout
    for dirname, source in PACKAGES.items():
        d = base / dirname
        d.mkdir(parents=True)
        (d / "package.py").write_text(textwrap.dedent(source).lstrip())
    (base / "not_a_package").mkdir()
    (base / "__init__.py").write_text("")
    return root


def test_build_index(tmp_path):
    data = build_index(make_tree(tmp_path / "checkout"))
    pkgs = data["packages"]
    assert sorted(pkgs) == ["7zip", "lammps", "py-torch", "samtools"]
    assert data["release"] == "unknown" and data["commit"] == "unknown"
    assert set(data) >= {"commit", "release", "source", "fields", "packages", "skipped"}

    sam = pkgs["samtools"]
    assert sam["versions"] == ["1.21", "1.19.2", "1.19"]
    assert sam["variants"] == []
    assert sam["build_systems"] == ["Package"]
    assert sam["description"].startswith("SAM Tools provide various utilities for manipulating")
    assert "  " not in sam["description"] and "\n" not in sam["description"]
    assert "incomplete" not in sam

    torch = pkgs["py-torch"]
    assert torch["versions"] == ["main", "2.9.1", "1.13.1"]
    assert torch["build_systems"] == ["PythonPackage", "CudaPackage"]
    assert torch["variants"] == ["cuda", "cuda_arch", "distributed", "gloo", "mpi", "numa"]

    lammps = pkgs["lammps"]
    assert lammps["versions"] == ["develop", "20240829.4", "20230802.4"]
    for v in ("asphere", "kspace", "molecule", "rigid", "openmp-package", "cuda_aware",
              "rocm_aware", "build_type", "ipo"):
        assert v in lammps["variants"], v
    assert lammps["incomplete"] == ["variants"]  # the some_function() loop

    assert pkgs["7zip"]["versions"] == ["23.01"]

    (skipped,) = data["skipped"]
    assert skipped["package"] == "broken"
    assert skipped["reason"].startswith("syntax error at line 1")


def test_description_is_truncated(tmp_path):
    tree = tmp_path / "c" / "repos/spack_repo/builtin/packages/long"
    tree.mkdir(parents=True)
    doc = "word " * 100
    (tree / "package.py").write_text(f'class Long(Package):\n    """{doc}"""\n    version("1")\n')
    data = build_index(tmp_path / "c")
    assert len(data["packages"]["long"]["description"]) == 200


def test_old_layout(tmp_path):
    root = tmp_path / "spack"
    base = root / "var/spack/repos/builtin/packages/py-numpy"
    base.mkdir(parents=True)
    (base / "package.py").write_text(
        'class PyNumpy(PythonPackage):\n    """NumPy."""\n    version("1.26.4")\n'
    )
    data = build_index(root)
    assert list(data["packages"]) == ["py-numpy"]
    assert data["source"].startswith("spack/spack")


def test_packages_dir_given_directly(tmp_path):
    make_tree(tmp_path / "c")
    data = build_index(tmp_path / "c" / "repos/spack_repo/builtin/packages")
    assert "py-torch" in data["packages"] and "7zip" in data["packages"]


def test_not_a_checkout(tmp_path):
    with pytest.raises(IndexBuildError, match="no Spack packages found"):
        build_index(tmp_path)


def test_git_metadata(tmp_path):
    root = make_tree(tmp_path / "checkout")
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    try:
        subprocess.run([*git, "init", "-q"], check=True)
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-qm", "init"], check=True)
        subprocess.run([*git, "tag", "v2026.06.0"], check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("git not available")
    data = build_index(root)
    assert data["release"] == "v2026.06.0"
    assert len(data["commit"]) == 40


def test_write_index_round_trip(tmp_path):
    data = build_index(make_tree(tmp_path / "checkout"))
    out = write_index(data, tmp_path / "cache" / "deep" / "spack-index.json")
    assert out.is_file()
    assert not list(out.parent.glob(".*.tmp"))
    assert json.loads(out.read_text())["packages"]["samtools"]["versions"][0] == "1.21"
    catalog = Catalog.load(out)
    assert catalog.has("7zip")
    assert check_spec(catalog, parse_spec("lammps +kspace +whatever")) == []  # incomplete
    assert [p.kind for p in check_spec(catalog, parse_spec("py-torch +cudaa"))] == [
        "unknown-variant"
    ]
    # overwriting is atomic and leaves no temp files
    write_index(data, out)
    assert sorted(p.name for p in out.parent.iterdir()) == ["spack-index.json"]
