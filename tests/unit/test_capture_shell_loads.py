"""Modules loaded at login and in users' shell start-up files: what the capture script extracts (module names
only, counted) and how the view reads it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from pctl.capture import collect
from pctl.capture.view import build_view

BASHRC = """# lab setup
module load gcc/12.2.0 openmpi   # compilers
ml samtools/1.21 bwa
ml purge; ml load python/3.11
if [ -n "$PS1" ]; then module add R/4.3.1; fi
module avail
ml -gcc
echo "module load notreal"  ; module try-load gromacs/2023.1
export SECRET=hunter2; ml $(cat /etc/passwd)
"""


def _awk_program() -> str:
    m = re.search(r"_pctl_loads_awk='(.*?)'\n", collect.script_text(), re.S)
    assert m
    return m.group(1)


@pytest.mark.skipif(shutil.which("awk") is None, reason="awk is not installed")
def test_only_module_names_are_extracted(tmp_path):
    f = tmp_path / ".bashrc"
    f.write_text(BASHRC)
    r = subprocess.run(["awk", "-v", "scope=user", _awk_program(), str(f)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:-1] == [
        "user gcc/12.2.0", "user openmpi", "user samtools/1.21", "user bwa", "user python/3.11", "user R/4.3.1",
        "user gromacs/2023.1"]
    assert "hunter2" not in r.stdout and "passwd" not in r.stdout and "notreal" not in r.stdout


def test_login_defaults_reach_the_capture(tmp_path):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "LC_ALL": "C",
           "LMOD_CMD": "/bin/true", "LMOD_DIR": str(tmp_path / "nolmod"),
           "LMOD_SYSTEM_DEFAULT_MODULES": "StdEnv:gcc/12.2.0",
           "BASH_FUNC_module%%": "() { echo '/opt/mods/Core:' >&2; echo 'gcc/12.2.0' >&2; }"}
    b = collect.make_boundary()
    r = subprocess.run(["bash", "-s"], input=collect.build_script(b, 5, 100000), capture_output=True, env=env,
                       timeout=60, cwd=tmp_path)
    secs, done = collect.split_sections(r.stdout, b)
    by = {s.name: s for s in secs}
    assert done and "modules.shell_loads" in by
    view = build_view({n: {"output": s.output, "rc": s.rc} for n, s in by.items()})
    loads = view["modules"]["shell_loads"]
    assert loads["site"].get("gcc/12.2.0") == 1 and loads["site"].get("StdEnv") == 1


def test_view_reads_counts():
    out = "      3 user gromacs/2023.1\n      1 site StdEnv\n      2 login gcc/12.2.0\n   bad line\n"
    view = build_view({"modules.env": {"output": "kind=lmod\n", "rc": 0},
                       "modules.shell_loads": {"output": out, "rc": 0}})
    assert view["modules"]["shell_loads"] == {"site": {"StdEnv": 1, "gcc/12.2.0": 2}, "user": {"gromacs/2023.1": 3}}
