"""pctl capture against a real on-prem simulation (sshd + Lmod hierarchy + munge + Slurm + users + mounts).

The simulation is the session fixture `onprem` (tests/conftest.py, tests/support/onprem.py), shared with
tests/integration/test_check_onprem.py: one simulation per session.
Every command goes through the real CLI (`python -m pctl ...` in a subprocess).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.onprem import Sim, free_port as _free_port

pytestmark = pytest.mark.slow

# every module file the simulation installs (Lua and Tcl), plus Lmod's own two
SIM_MODULES = {
    "gcc/11.3.0", "gcc/12.2.0", "python/3.10.8", "python/3.11.4", "python/.3.9.16", "cmake/3.26.3", "samtools/1.17",
    "bwa/0.7.17", "R/4.3.1", "cuda/11.8.0", "cuda/12.1.1", "openmpi/4.1.4", "hdf5/1.14.0", "openblas/0.3.21",
    "openmpi/4.1.5", "openblas/0.3.23", "gromacs/2023.1", "lammps/20230802", "fftw/3.3.10", "gromacs/2023.2",
    "java/11.0.19", "java/17.0.7", "matlab/R2023a", "lmod", "settarg",
}


def pctl_run(*args, timeout=300, env=None, cwd=None):
    e = dict(os.environ)
    e.pop("PCTL_DEBUG", None)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "pctl", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=e, cwd=cwd)


def _wait_log_settled(sim: Sim, before: tuple[int, int], timeout: float = 5.0) -> tuple[int, int]:
    deadline = time.monotonic() + timeout
    counts = sim.log_counts()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        again = sim.log_counts()
        if again == counts and counts != before:
            break
        counts = again
    return counts


@pytest.fixture(scope="session")
def captured(onprem, tmp_path_factory):
    """One `pctl capture ssh` of the simulation, with the sshd log lines it produced."""
    out = tmp_path_factory.mktemp("capture") / "onprem-config.yaml"
    before = onprem.log_counts()
    t0 = time.monotonic()
    r = pctl_run("capture", "ssh", "onprem", "-F", onprem.ssh_config, "--output", out)
    wall = time.monotonic() - t0
    after = _wait_log_settled(onprem, before)
    from pctl.capture.document import load_document

    assert r.returncode == 0, r.stderr
    return {"result": r, "path": out, "doc": load_document(out), "before": before, "after": after, "wall": wall}


# ------------------------------------------------------------------------------------------- capture ssh

def test_capture_ssh_uses_exactly_one_connection(captured):
    accepted = captured["after"][0] - captured["before"][0]
    connections = captured["after"][1] - captured["before"][1]
    assert (accepted, connections) == (1, 1), f"sshd saw {connections} connections, {accepted} logins"


def test_capture_ssh_records_every_module_of_the_hierarchy(captured):
    doc = captured["doc"]
    assert doc["meta"]["complete"] is True
    mods = doc["parsed"]["modules"]
    assert mods["system"] == "lmod" and mods["source"] == "spider-json"
    by = {m["full_name"]: m for m in mods["modules"]}
    assert SIM_MODULES <= set(by), sorted(SIM_MODULES - set(by))
    # MPI level of the hierarchy: reachable only after gcc + openmpi
    assert by["gromacs/2023.1"]["parents"] == [["gcc/11.3.0", "openmpi/4.1.4"]]
    assert by["openmpi/4.1.5"]["parents"] == [["gcc/12.2.0"]]
    assert any(m["full_name"] == "lammps/20230802" and m.get("parents") == [["gcc/12.2.0", "openmpi/4.1.5"]]
               for m in mods["modules"])
    # hidden and defaults (symlink default for gcc, Tcl .version for java)
    assert by["python/.3.9.16"]["hidden"] is True
    assert by["python/3.11.4"]["hidden"] is False
    assert by["gcc/11.3.0"]["default"] is True and by["gcc/12.2.0"]["default"] is False
    assert by["java/11.0.19"]["default"] is True and by["java/17.0.7"]["default"] is False
    # Tcl modulefiles are in the same listing
    assert "matlab/R2023a" in by and "java/17.0.7" in by
    # the raw outputs are kept beside the parsed view (so the file can be re-parsed)
    secs = doc["sections"]
    assert secs["modules.spider_json"]["rc"] == 0 and '"fullName"' in secs["modules.spider_json"]["output"]
    assert "gcc/11.3.0" in secs["modules.avail_default"]["output"]


def test_capture_ssh_records_users_mounts_and_partitions(captured, onprem):
    p = captured["doc"]["parsed"]
    users = {u["name"]: u for u in p["users"]}
    assert (users["alice"]["uid"], users["alice"]["gid"]) == (5001, 5000)
    assert (users["bob"]["uid"], users["bob"]["gid"]) == (5002, 5000)
    assert {"name": "lab", "gid": 5000} in [{"name": g["name"], "gid": g["gid"]} for g in p["groups"]]
    targets = {m["target"]: m for m in p["mounts"]}
    for m in onprem.mounts:  # /scratch and /projects when the host could loop-mount them
        assert m in targets and targets[m]["size_gib"], m
    sched = p["scheduler"]
    assert sched["type"] == "slurm" and sched["cluster_name"] == "labcluster"
    qs = {q["name"]: q for q in sched["queues"]}
    assert set(qs) == {"compute", "debug"}
    assert qs["compute"]["default"] is True and qs["debug"]["max_walltime_min"] == 30
    assert p["os"]["id"] and p["hardware"]["cpus"]


def test_capture_file_has_no_secrets(captured):
    text = captured["path"].read_text()
    assert "PRIVATE KEY" not in text
    assert "/etc/shadow" not in text
    for u in captured["doc"]["sections"]["users.passwd"]["output"].splitlines():
        assert len(u.split(":")) == 5 and u.split(":")[1].isdigit()  # name:uid:gid:home:shell, no password field


def test_capture_sections_have_metadata(captured):
    doc = captured["doc"]
    for name, s in doc["sections"].items():
        assert isinstance(s["rc"], int), name
        assert s["timed_out"] is False and s["incomplete"] is False and s["truncated"] is False, name
    assert doc["meta"]["pctl_version"] and doc["meta"]["captured_at"] and doc["meta"]["user"] == "alice"


# ------------------------------------------------------------------------------------------- analyze

def test_capture_analyze_produces_a_valid_template(captured, catalog_path, catalog, tmp_path):
    r = pctl_run("capture", "analyze", captured["path"], "--catalog", catalog_path)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert "# Migration report" in r.stderr  # the report goes to stderr, the template to stdout
    from pctl.template.validate import validate_text

    res = validate_text(r.stdout, "generated.yaml", catalog=catalog)
    assert res.ok, [d.message for d in res.errors]
    t = res.template
    assert [q.name for q in t.compute.queues] == ["compute", "debug"]
    assert t.compute.queues[1].capacity == "spot"
    assert {(u.name, u.uid, u.gid) for u in t.users} == {("alice", 5001, 5000), ("bob", 5002, 5000)}
    assert [(g.name, g.gid) for g in t.groups] == [("lab", 5000)]
    assert t.software.modules == "hierarchical"
    targets = {m["target"] for m in captured["doc"]["parsed"]["mounts"]}
    if "/scratch" in targets:
        assert any(s.type == "fsx_lustre" and s.mount_point == "/scratch" for s in t.data.shared_storage)
    if "/projects" in targets:
        assert any(s.type == "efs" and s.mount_point == "/projects" for s in t.data.shared_storage)
    # every mapping is explained next to its spec; compilers and MPI first
    assert "# on-prem: gromacs/2023.1 (MPI/gcc/11.3.0/openmpi/4.1.4) -> gromacs@" in r.stdout
    specs = t.software.spack_packages
    assert specs[0].startswith("gcc@") and specs[1].startswith("openmpi@")
    assert any(x.startswith("gromacs@") and "+mpi" in x for x in specs)
    # -o and --report
    out, rep = tmp_path / "aws-template.yaml", tmp_path / "report.md"
    r2 = pctl_run("capture", "analyze", captured["path"], "--catalog", catalog_path, "-o", out, "--report", rep)
    assert r2.returncode == 0, r2.stderr
    assert out.read_text() == r.stdout and "## Software" in rep.read_text()
    v = pctl_run("validate", out, "--catalog", catalog_path)
    assert v.returncode == 0, v.stdout + v.stderr


def test_capture_analyze_json(captured, catalog_path):
    r = pctl_run("capture", "analyze", captured["path"], "--catalog", catalog_path, "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["valid"] is True and data["template"].startswith("# pctl template")
    rep = data["report"]
    by = {d["full_name"]: d for d in rep["software"]}
    assert by["python/.3.9.16"]["status"] == "skipped"
    assert by["matlab/R2023a"]["status"] == "not_mappable"
    assert by["lmod"]["status"] == "not_mappable"
    assert rep["validation"]["valid"] is True


def test_capture_analyze_without_catalog_still_validates(captured):
    r = pctl_run("capture", "analyze", captured["path"], "--no-catalog")
    assert r.returncode == 0, r.stderr
    assert "not verified" in r.stderr
    from pctl.template.validate import validate_text

    assert validate_text(r.stdout, use_catalog=False).ok


# ------------------------------------------------------------------------------------------- capture local

def test_capture_local_on_this_machine(onprem, tmp_path):
    out = tmp_path / "local.yaml"
    r = pctl_run("capture", "local", "-o", out)
    assert r.returncode == 0, r.stderr
    from pctl.capture.document import load_document

    doc = load_document(out)
    p = doc["parsed"]
    assert doc["meta"]["method"] == "local" and doc["meta"]["complete"] is True
    names = {m["full_name"] for m in p["modules"]["modules"]}
    assert {"gcc/11.3.0", "gromacs/2023.1", "java/11.0.19"} <= names
    assert {"alice", "bob"} <= {u["name"] for u in p["users"]}
    assert {q["name"] for q in p["scheduler"]["queues"]} == {"compute", "debug"}


def test_capture_reparse_roundtrip(captured, tmp_path):
    out = tmp_path / "re.yaml"
    r = pctl_run("capture", "reparse", captured["path"], "-o", out)
    assert r.returncode == 0, r.stderr
    from pctl.capture.document import load_document

    assert load_document(out)["parsed"] == captured["doc"]["parsed"]
    assert load_document(out)["sections"] == captured["doc"]["sections"]


def test_capture_modules_from_capture_file(captured):
    r = pctl_run("capture", "modules", "--from", captured["path"], "--json")
    assert r.returncode == 0, r.stderr
    rows = {m["full_name"]: m for m in json.loads(r.stdout)["modules"]}
    assert rows["gromacs/2023.1"]["parents"] == [["gcc/11.3.0", "openmpi/4.1.4"]]
    assert rows["python/.3.9.16"]["hidden"] is True


# ------------------------------------------------------------------------------------------- failures

def test_unreachable_host_is_a_clear_error(onprem):
    port = _free_port()
    r = pctl_run("capture", "ssh", "alice@127.0.0.1", "-p", port, "-i", onprem.key, "--connect-timeout", "5")
    assert r.returncode == 1
    assert "connection refused" in r.stderr and "Traceback" not in r.stderr
    assert r.stdout == ""


def test_bad_key_is_a_clear_error(onprem):
    before = onprem.log_counts()
    r = pctl_run("capture", "ssh", "alice@127.0.0.1", "-p", onprem.port, "-i", onprem.wrong_key,
                 "--ssh-option", f"UserKnownHostsFile={onprem.known_hosts}", "--ssh-option", "IdentitiesOnly=yes")
    assert r.returncode == 1
    assert "authentication to alice@127.0.0.1" in r.stderr and "hint:" in r.stderr
    assert "Traceback" not in r.stderr
    assert onprem.log_counts()[0] == before[0]  # nobody logged in


def test_unknown_host_key_is_a_clear_error(onprem):
    r = pctl_run("capture", "ssh", "alice@127.0.0.1", "-p", onprem.port, "-i", onprem.key,
                 "--ssh-option", "UserKnownHostsFile=/dev/null", "--ssh-option", "StrictHostKeyChecking=yes")
    assert r.returncode == 1
    assert "host key" in r.stderr and "Traceback" not in r.stderr


@pytest.fixture
def bob_bin(onprem):
    """A private ~/bin for bob (first on PATH in his login shell); removed afterwards."""
    home = Path(os.path.expanduser("~bob"))
    b = home / "bin"
    existed = b.exists()
    b.mkdir(exist_ok=True)
    shutil.chown(b, "bob", "lab")
    try:
        yield b
    finally:
        if not existed:
            shutil.rmtree(b, ignore_errors=True)


def _install(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)
    shutil.chown(path, "bob", "lab")


def test_a_section_that_times_out_is_kept_and_marked(onprem, bob_bin, tmp_path):
    _install(bob_bin / "lscpu", "#!/bin/sh\nsleep 30\necho never\n")
    out = tmp_path / "slow.yaml"
    t0 = time.monotonic()
    r = pctl_run("capture", "ssh", "bob@onprem", "-F", onprem.ssh_config, "--timeout", "2", "-o", out)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert "hw.cpu timed out" in r.stderr
    from pctl.capture.document import load_document

    doc = load_document(out)
    cpu = doc["sections"]["hw.cpu"]
    assert cpu["timed_out"] is True and cpu["rc"] in (124, 137)
    assert doc["meta"]["complete"] is True  # the other sections still ran
    assert doc["sections"]["slurm.partitions"]["rc"] == 0
    assert "gromacs/2023.1" in {m["full_name"] for m in doc["parsed"]["modules"]["modules"]}
    assert took < 25
    assert any("hw.cpu timed out" in w for w in doc["parsed"]["warnings"])


def test_a_dropped_connection_keeps_the_partial_capture(onprem, bob_bin, tmp_path):
    # lscpu kills bob's sshd session process: the connection drops in the middle of the capture
    _install(bob_bin / "lscpu", """#!/bin/sh
p=$$
while [ "$p" -gt 1 ]; do
  p=$(awk '{print $4}' /proc/$p/stat)
  case "$(cat /proc/$p/comm)" in sshd*) kill -9 "$p"; exit 0;; esac
done
""")
    out = tmp_path / "partial.yaml"
    r = pctl_run("capture", "ssh", "bob@onprem", "-F", onprem.ssh_config, "-o", out)
    assert r.returncode == 1
    assert "partial capture" in r.stderr and "Traceback" not in r.stderr
    from pctl.capture.document import load_document

    doc = load_document(out)
    assert doc["meta"]["complete"] is False
    assert doc["sections"]["os.release"]["rc"] == 0  # what came before the drop is kept
    assert "slurm.partitions" not in doc["sections"]
    cpu = doc["sections"].get("hw.cpu")
    assert cpu is None or cpu["incomplete"] is True
