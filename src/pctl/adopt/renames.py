"""Spack package and variant names the earlier pctl format used that Spack spells differently now.

Reviewed by hand against spack-packages v2026.06.0 (tests/unit/test_template_upgrade.py checks that every
target exists in the catalog). Renames the catalog can find on its own (its alias table: blast ->
blast-plus, impi -> intel-oneapi-mpi; a Python package without its py- prefix) need no entry here.
"""

from __future__ import annotations

#: old name -> (Spack package, variant to add or None, why)
PACKAGE_RENAMES: dict[str, tuple[str, str | None, str]] = {
    "pymol": ("py-pymol", None, "PyMOL is packaged as the Python package py-pymol"),
    "multiqc": ("py-multiqc", None, "MultiQC is packaged as the Python package py-multiqc"),
    "bonnie++": ("bonniepp", None, "Spack names Bonnie++ bonniepp ('+' is spec syntax)"),
    "perf": ("linux-perf", None, "the Linux perf tools are packaged as linux-perf"),
    "pnetcdf": ("parallel-netcdf", None, "PnetCDF is packaged as parallel-netcdf"),
    "sphinx": ("py-sphinx", None, "Sphinx is packaged as the Python package py-sphinx"),
    "cclib": ("py-cclib", None, "cclib is packaged as the Python package py-cclib"),
    "lldb": ("llvm", "lldb", "LLDB is built as part of LLVM (llvm +lldb)"),
    "clang-format": ("llvm", "clang", "clang-format is part of LLVM's clang (llvm +clang)"),
    "clang": ("llvm", "clang", "clang is built as part of LLVM (llvm +clang)"),
    "netcdf": ("netcdf-c", None, "Spack's old netcdf package is the netCDF C library, netcdf-c since 2017"),
}

#: variant names that were renamed: old -> new, tried only when the package has the new one
VARIANT_RENAMES: dict[str, str] = {
    "python3": "python",
    "py": "python",
}
