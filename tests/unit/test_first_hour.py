"""A newcomer's first hour: `pip install .` alone gives a pctl that checks Spack specs (the catalog ships as
package data), and a real create without the aws extra names the exact command that adds it.

The installed copy is built from pyproject.toml's own package-data patterns (what the wheel holds), into a
folder outside the checkout, and run with an empty home: nothing from ../shared or the checkout can help."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TYPO = """\
cluster:
  name: first-hour
compute:
  head_node: t3.large
  queues:
    - name: compute
      instance_types: [c6i.xlarge]
software:
  spack_packages: [samtols@1.21, gatk@99]
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """src/pctl as the wheel installs it: every .py plus the package-data pyproject.toml declares."""
    site = tmp_path_factory.mktemp("site-packages")
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = cfg["tool"]["setuptools"]["package-data"]["pctl"]
    src = ROOT / "src" / "pctl"
    files = {p for p in src.rglob("*.py")}
    for pat in patterns:
        files |= {p for p in src.glob(pat) if p.is_file()}
    for f in files:
        if "__pycache__" in f.parts:
            continue
        dest = site / "pctl" / f.relative_to(src)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dest)
    return site


def run(installed, tmp_path, *args, input=None, code=None):
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PCTL_", "XDG_", "AWS_"))}
    env.update(HOME=str(home), PYTHONPATH=str(installed), AWS_CONFIG_FILE="/nonexistent",
               AWS_SHARED_CREDENTIALS_FILE="/nonexistent", AWS_EC2_METADATA_DISABLED="true")
    prog = code or "import sys; from pctl.cli.main import main; main(sys.argv[1:])"
    return subprocess.run([sys.executable, "-c", prog, *args], capture_output=True, text=True, env=env,
                          input=input, cwd=tmp_path, timeout=120)


def test_the_installed_copy_is_the_one_running(installed, tmp_path):
    r = run(installed, tmp_path, code="import pctl; print(pctl.__file__)")
    assert r.stdout.strip() == str(installed / "pctl" / "__init__.py")


def test_readme_first_command_prints_no_catalog_warning(installed, tmp_path):
    r = run(installed, tmp_path, "create", "-t", "bioinformatics", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "catalog" not in (r.stdout + r.stderr).lower(), "no 'no Spack package catalog found' warning"
    r = run(installed, tmp_path, "spack", "info", "--json")
    assert '"origin": "bundled"' in r.stdout and str(installed) in r.stdout and '"release": "v2026.06.0"' in r.stdout


def test_a_typo_in_a_package_name_fails_validate_with_a_suggestion(installed, tmp_path):
    (tmp_path / "typo.yaml").write_text(TYPO)
    r = run(installed, tmp_path, "validate", "typo.yaml")
    assert r.returncode == 1
    assert "unknown Spack package 'samtols'" in r.stdout and "did you mean 'samtools'?" in r.stdout
    assert "gatk has no version matching @99" in r.stdout


def test_a_real_create_without_the_aws_extra_names_the_install_command(installed, tmp_path):
    block = "import sys; sys.modules['boto3'] = None; sys.modules['botocore'] = None; sys.modules['pcluster'] = None\n"
    prog = block + "from pctl.cli.main import main; main(sys.argv[1:])"
    for args in (["create", "-t", "bioinformatics", "--key-name", "mykey", "--region", "us-east-1"],
                 ["ami", "list-builds", "--region", "us-east-1"], ["list", "--region", "us-east-1", "--json"]):
        r = run(installed, tmp_path, *args, code=prog)
        assert r.returncode == 1, (args, r.stderr)
        assert "needs pctl's AWS support, which is not installed" in r.stderr, r.stderr
        assert f"{sys.executable} -m pip install 'pctl[aws]'" in r.stderr and "Traceback" not in r.stderr
    assert '"hint": "install it into this Python:' in r.stdout  # --json: one error object on stdout
