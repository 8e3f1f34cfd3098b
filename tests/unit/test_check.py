"""pctl check without a cluster: the plan, the probe scripts (shellcheck, quoting, and run for real with
bash on this machine against recording stand-ins for Slurm, nvidia-smi and an MPI toolchain), the
protocol reader, the report and its JSON Schema, the table with hostile text, the CLI's dry run.

The end-to-end runs against a real sshd + Lmod + Slurm are in tests/integration/test_check_onprem.py.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pctl.check import new_plan
from pctl.check.plan import HEAD, Check, CheckOptions, build_plan, static_skips
from pctl.check.probes import render_all, render_ami, render_head, render_job, render_mpi, render_submit
from pctl.check.protocol import Stream, clean, parse
from pctl.check.report import Cell, Report, json_schema
from pctl.template.validate import validate_text
from support.cli import run_pctl

NONCE = "0123456789ab"
MARKER = "@@PCTL-CHECK-" + "cd" * 12 + "@@"

GPU_MPI = """\
cluster:
  name: big
compute:
  head_node: c6i.xlarge
  queues:
    - name: cpu
      instance_types: [c6i.xlarge]
      max_count: 1
    - name: gpu
      instance_types: [g5.xlarge, g5.2xlarge]
      max_count: 4
    - name: hpc
      instance_types: [hpc7a.96xlarge]
      max_count: 8
      efa: true
software:
  modules: hierarchical
  spack_packages:
    - samtools@1.21
    - bwa
    - openmpi@4.1.7
    - gromacs@2024.3 +mpi
    - python@3.11:3.12
users:
  - name: alice
    uid: 5001
    gid: 5000
    groups: [lab]
groups:
  - name: lab
    gid: 5000
data:
  s3_mounts:
    - bucket: my-lab-data
      mount_point: /data/lab
    - bucket: my-lab-out
      mount_point: /data/out/
      read_only: false
  shared_storage:
    - type: efs
      mount_point: /shared
"""


def template_of(text: str):
    res = validate_text(text, "t.yaml", catalog=None, use_catalog=False)
    assert res.ok, [d.format() for d in res.errors]
    return res.template


@pytest.fixture(scope="module")
def big():
    return template_of(GPU_MPI)


def plan_of(template, **opts):
    return build_plan(template, CheckOptions(**opts), nonce=NONCE, marker=MARKER)


# ------------------------------------------------------------------------------------------------- plan

def test_plan_rows_and_columns(big):
    p = plan_of(big)
    assert p.columns == ["head", "queue:cpu", "queue:gpu", "queue:hpc"]
    ids = [c.id for c in p.checks]
    assert ids == ["scheduler", "job", "lmod", "module:samtools@1.21", "module:bwa", "module:openmpi@4.1.7",
                   "module:gromacs@2024.3", "module:python", "group:lab", "user:alice", "s3:/data/lab", "s3:/data/out",
                   "storage:/shared", "gpu", "mpi"]
    by = {c.id: c for c in p.checks}
    assert by["scheduler"].columns == ("head",)
    assert by["job"].columns == ("queue:cpu", "queue:gpu", "queue:hpc")
    assert by["module:bwa"].columns == ("head", "queue:cpu", "queue:gpu", "queue:hpc")
    # Spack's @1.21 names a release line; a range names none
    assert by["module:samtools@1.21"].params["version"] == "1.21"
    assert by["module:python"].params["version"] == ""
    assert by["module:samtools@1.21"].params["command"] == ["samtools", "--version"]
    assert by["module:bwa"].params["any_rc"] == 1  # bwa prints its usage and exits 1
    # hierarchical modules: MPI-built packages appear once the template's MPI is loaded
    assert by["module:gromacs@2024.3"].params["after"] == "openmpi"
    assert by["module:openmpi@4.1.7"].params["after"] == ""
    # a read-write mount without a group: the group users (gid 100), 0770; a read-only one: not checked
    assert by["s3:/data/out"].params == {"mount": "/data/out", "read_only": 0, "bucket": "my-lab-out",
                                         "gid": 100, "group": "users", "dir_mode": "0770"}
    assert by["s3:/data/lab"].params["group"] == ""
    assert by["s3:/data/lab"].params["read_only"] == 1
    assert by["user:alice"].params == {"name": "alice", "uid": 5001, "gid": 5000, "shell": "/bin/bash",
                                       "groups": "lab"}


def test_gpu_and_mpi_queues(big):
    p = plan_of(big)
    q = {x.name: x for x in p.queues}
    assert (q["cpu"].gpu, q["gpu"].gpu, q["hpc"].gpu) == (False, True, False)
    assert (q["cpu"].mpi, q["gpu"].mpi, q["hpc"].mpi) == (False, True, True)
    assert q["cpu"].mpi_reason == "max_count is 1: a 2-node hello needs 2 nodes"
    assert q["hpc"].mpi_reason == "EFA queue"
    assert p.mpi_modules == ("openmpi",)
    assert p.job_names == ["pctl-check-0123456789ab-cpu", "pctl-check-0123456789ab-gpu",
                           "pctl-check-0123456789ab-gpu-mpi", "pctl-check-0123456789ab-hpc",
                           "pctl-check-0123456789ab-hpc-mpi"]
    assert static_skips(p) == {("gpu", "queue:cpu"): "no GPU instance type in cpu (c6i.xlarge)",
                               ("mpi", "queue:cpu"): "max_count is 1: a 2-node hello needs 2 nodes",
                               ("gpu", "queue:hpc"): "no GPU instance type in hpc (hpc7a.96xlarge)"}


def test_queue_selection_and_options(big):
    p = plan_of(big, queues=("gpu",), ssh_between_nodes=True)
    assert p.columns == ["head", "queue:gpu"]
    assert "ssh" in [c.id for c in p.checks]
    from pctl.errors import UsageError

    with pytest.raises(UsageError, match="--queue nope: the template has no such queue"):
        plan_of(big, queues=("nope",))
    with pytest.raises(ValueError):
        CheckOptions(wait_seconds=5)
    with pytest.raises(ValueError):
        build_plan(big, CheckOptions(), nonce="x; rm", marker=MARKER)


def test_every_run_has_its_own_names_and_marker(big):
    a, b = new_plan(big, CheckOptions()), new_plan(big, CheckOptions())
    assert a.nonce != b.nonce and a.marker != b.marker
    assert a.nonce not in a.marker  # job names are public (squeue); the marker is not


# ------------------------------------------------------------------------------------------------- scripts

def _shellcheck(paths):
    exe = shutil.which("shellcheck")
    if exe is None:
        pytest.skip("shellcheck is not installed")
    return subprocess.run([exe, "-s", "bash", *map(str, paths)], capture_output=True, text=True)


def test_every_probe_script_passes_shellcheck_and_bash_n(big, tmp_path):
    p = plan_of(big, ssh_between_nodes=True)
    scripts = render_all(p)
    # the GPU and MPI probes are rendered even though nothing here can run them
    assert {"check-head.sh", "check-cleanup.sh", "check-job-gpu.sh", "check-mpi-gpu.sh", "check-mpi-hpc.sh",
            "check-submit-cpu.sh", "check-submit-gpu.sh", "check-submit-hpc.sh"} <= set(scripts)
    assert "nvidia-smi -L" in scripts["check-job-gpu.sh"] and "nvidia-smi" not in scripts["check-job-cpu.sh"]
    assert "MPI_Init" in scripts["check-mpi-hpc.sh"] and "--nodes=2" in scripts["check-submit-hpc.sh"]
    assert "--gpus-per-node" in scripts["check-submit-gpu.sh"]
    from pctl.render.scripts import ScriptOptions, _profiles

    scripts["check-ami.sh"] = render_ami(p, _profiles(ScriptOptions("ami"))["sh"], ScriptOptions("ami").modules_core)
    files = []
    for name, text in scripts.items():
        f = tmp_path / name
        f.write_text(text)
        files.append(f)
        r = subprocess.run(["bash", "-n", str(f)], capture_output=True, text=True)
        assert r.returncode == 0, f"{name}: {r.stderr}"
    r = _shellcheck(files)  # every severity, style included
    assert r.returncode == 0, r.stdout
    # the embedded job and MPI probes are the scripts shellchecked above, byte for byte
    import base64

    sub = scripts["check-submit-hpc.sh"]
    embedded = re.search(r"^PCTL_CK_MPI_PROBE=(\S+)$", sub, re.M).group(1)
    assert base64.b64decode(embedded).decode() == scripts["check-mpi-hpc.sh"]


def test_rendering_is_pure(big):
    assert render_all(plan_of(big)) == render_all(plan_of(big))


def test_hostile_values_stay_data(tmp_path):
    """Values are validated by the template model; even a value that got past it is one quoted word."""
    evil = "x'; touch PWNED; echo '$(touch PWNED2)`touch PWNED3`"
    p = plan_of(template_of(GPU_MPI))
    checks = (Check("module:evil", "module", "t", (HEAD,), {"name": evil, "version": evil, "after": evil,
                                                               "any_rc": 0, "command": [evil, evil]}),
              Check("user:evil", "user", "t", (HEAD,), {"name": evil, "uid": 5001, "gid": 5000, "shell": evil,
                                                          "groups": evil}),
              Check("s3:/evil", "s3", "t", (HEAD,), {"mount": evil, "read_only": 0, "gid": 5000, "group": evil,
                                                      "dir_mode": "0770"}))
    from dataclasses import replace

    script = render_head(replace(p, checks=checks))
    r = subprocess.run(["bash", "-s"], input=script, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert not list(tmp_path.iterdir()), "nothing ran"
    s = parse(r.stdout.encode(), MARKER)
    assert s.done and set(s.results) == {"module:evil", "user:evil", "s3:/evil"}
    assert all(x.status == "fail" for x in s.results.values())


# ------------------------------------------------------------------------------------------------- probes run

def _standins(tmp_path, files: dict[str, str]) -> dict:
    d = tmp_path / "bin"
    d.mkdir(exist_ok=True)
    for name, body in files.items():
        f = d / name
        f.write_text("#!/bin/bash\n" + body)
        f.chmod(0o755)
    return dict(os.environ, PATH=f"{d}:{os.environ['PATH']}", STANDIN_LOG=str(tmp_path / "calls.log"))


def _run(script: str, env: dict, cwd) -> Stream:
    r = subprocess.run(["bash", "-s"], input=script, capture_output=True, text=True, env=env, cwd=cwd, timeout=120)
    return parse(r.stdout.encode(), MARKER)


def test_gpu_probe_sees_gpus_or_says_why(big, tmp_path):
    p = plan_of(big)
    gpu = next(q for q in p.queues if q.name == "gpu")
    job = render_job(p, gpu)
    env = _standins(tmp_path, {"nvidia-smi": 'echo "GPU 0: NVIDIA A10G (UUID: GPU-1234)"\n'})
    env["SLURM_JOB_ID"] = "42"
    s = _run(job, env, tmp_path)
    assert s.facts["job"] == "42" and "job_done" in s.facts
    assert s.results["gpu"].status == "pass"
    assert s.results["gpu"].evidence == ["1 GPU(s) visible in the job", "GPU 0: NVIDIA A10G (UUID: GPU-1234)"]
    env = _standins(tmp_path, {"nvidia-smi": 'echo "NVIDIA-SMI has failed: no driver" >&2; exit 9\n'})
    s = _run(job, env, tmp_path)
    assert s.results["gpu"].status == "fail"
    assert s.results["gpu"].evidence[:2] == ["nvidia-smi -L found no GPU (exit status 9)",
                                             "NVIDIA-SMI has failed: no driver"]


MPI_STANDINS = {
    # srun: --mpi=list; one task (runs the command); two tasks (runs it as two ranks on two "nodes")
    "srun": r"""
printf 'srun %s\n' "$*" >>"$STANDIN_LOG"
if [ "$1" = --mpi=list ]; then printf 'MPI plugin types are...\n\tpmix\n\tnone\n'; exit 0; fi
n=1; args=()
for a in "$@"; do case $a in --ntasks=2) n=2 ;; --*) ;; *) args+=("$a") ;; esac; done
if [ "$n" = 1 ]; then exec "${args[@]}"; fi
for r in 0 1; do PMIX_RANK=$r NODE=node$r "${args[@]}" || exit $?; done
""",
    # mpicc: "compiles" a hello that prints what a real one prints (rank/size from PMIx, unless told not to)
    "mpicc": r"""
out=""; while [ "$#" -gt 0 ]; do case $1 in -o) out=$2; shift 2 ;; *) shift ;; esac; done
grep -q MPI_Init "${out}.c" || exit 1
cat >"$out" <<'EOF'
#!/bin/bash
if [ -n "${NO_PMI:-}" ]; then echo "pctl-mpi-hello rank 0 of 1 on $NODE"; else echo "pctl-mpi-hello rank $PMIX_RANK of 2 on $NODE"; fi
EOF
chmod +x "$out"
""",
}


def test_mpi_probe_runs_two_ranks_on_two_nodes_or_says_why(big, tmp_path):
    p = plan_of(big)
    hpc = next(q for q in p.queues if q.name == "hpc")
    mpi = render_mpi(p, hpc)
    env = _standins(tmp_path, MPI_STANDINS)
    env["HOME"] = str(tmp_path)
    s = _run(mpi, env, tmp_path)
    assert s.results["mpi"].status == "pass", s.results["mpi"]
    assert s.results["mpi"].evidence[0].startswith("2 ranks on 2 nodes (") and "srun --mpi=pmix" in \
        s.results["mpi"].evidence[0]
    assert "pctl-mpi-hello rank 1 of 2 on node1" in s.results["mpi"].evidence
    assert not list(tmp_path.glob(".pctl-check-*")), "the hello's directory is removed"
    calls = (tmp_path / "calls.log").read_text()
    assert "--nodes=2 --ntasks=2 --ntasks-per-node=1 --mpi=pmix" in calls
    # ranks that do not see each other: the PMI hint
    env["NO_PMI"] = "1"
    s = _run(mpi, env, tmp_path)
    assert s.results["mpi"].status == "fail"
    assert s.results["mpi"].evidence[0].startswith("each process thinks it is rank 0 of 1")
    # no MPI compiler at all
    env = _standins(tmp_path / "x" if (tmp_path / "x").mkdir() is None else tmp_path, {"srun": MPI_STANDINS["srun"]})
    env["PATH"] = f"{tmp_path / 'x' / 'bin'}:/usr/bin:/bin"
    s = _run(mpi, env, tmp_path)
    assert s.results["mpi"].status == "fail" and "no MPI compiler (mpicc)" in s.results["mpi"].evidence[0]


SLURM_STANDINS = {
    "sinfo": 'printf "sinfo %s\\n" "$*" >>"$STANDIN_LOG"; out=${SINFO_OUT-up|idle|1}; [ -z "$out" ] || printf "%s\\n" "$out"\n',
    "srun": 'printf "srun %s\\n" "$*" >>"$STANDIN_LOG"; exec bash -s\n',
    "salloc": 'printf "salloc %s\\n" "$*" >>"$STANDIN_LOG"; exec bash -s\n',
    "squeue": 'printf "squeue %s\\n" "$*" >>"$STANDIN_LOG"; echo RUNNING\n',
    "scancel": 'printf "scancel %s\\n" "$*" >>"$STANDIN_LOG"\n',
    "scontrol": 'echo "PartitionName=x State=${PART_STATE:-UP}"\n',
}


@pytest.mark.parametrize("sinfo,no_scale,expect", [
    ("up|idle~|4", True, ("skip", "queue cpu has no running node and --no-scale launches none")),
    ("up|idle~|4", False, ("ran", None)),
    ("up|mixed|1\nup|idle~|3", True, ("ran", None)),
    ("drain|idle|2", False, ("fail", "partition cpu is drain: it accepts no jobs")),
    ("up|drained|1\nup|down~|3", False, ("fail", "no usable node in partition cpu (4 node(s), all down, drained or failed)")),
    ("", False, ("fail", "Slurm has no partition cpu")),
])
def test_submit_script_looks_at_the_partition_first(big, tmp_path, sinfo, no_scale, expect):
    p = plan_of(big, no_scale=no_scale, queues=("cpu",))
    q = p.queues[0]
    env = _standins(tmp_path, SLURM_STANDINS)
    env.update(SINFO_OUT=sinfo, PART_STATE="DRAIN")
    s = _run(render_submit(p, q), env, tmp_path)
    assert s.done
    calls = (tmp_path / "calls.log").read_text()
    status, first = expect
    if status == "ran":
        assert "job_done" in s.facts and "job" not in s.results
        assert f"--partition=cpu --nodes=1 --ntasks=1 --job-name={q.job_name} --time=15 bash -s" in calls
        assert s.facts["scale"] == ("0" if "mixed" in sinfo else "1")
        assert s.results["user:alice"]  # the job probe ran, its results came back in the same stream
    else:
        assert s.results["job"].status == status and s.results["job"].evidence[0] == first
        assert "srun " not in calls, "nothing was submitted"
    if status == "fail" and sinfo.startswith("drain"):
        assert "State=DRAIN" in s.results["job"].evidence


def test_cleanup_script_cancels_by_name_and_removes_probe_files(big, tmp_path):
    from dataclasses import replace

    p = plan_of(big)
    mount = tmp_path / "out"
    mount.mkdir()
    (mount / f".pctl-check-{NONCE}-q-gpu").write_text("left")
    (mount / ".pctl-check-ffffffffffff-q-gpu").write_text("another run's")
    (mount / "data.txt").write_text("user data")
    checks = tuple(replace(c, params=dict(c.params, mount=str(mount))) if c.id == "s3:/data/out" else c
                   for c in p.checks)
    p = replace(p, checks=checks)
    env = _standins(tmp_path, {"squeue": 'printf "squeue %s\\n" "$*" >>"$STANDIN_LOG"; echo 77\n',
                               "scancel": SLURM_STANDINS["scancel"]})
    env["HOME"] = str(tmp_path)
    (tmp_path / f".pctl-check-{NONCE}-mpi.abc").mkdir()
    from pctl.check.probes import render_cleanup

    s = _run(render_cleanup(p), env, tmp_path)
    assert s.done
    calls = (tmp_path / "calls.log").read_text()
    for name in p.job_names:
        assert f"scancel --name={name} --user=" in calls
    assert sorted(os.listdir(mount)) == [".pctl-check-ffffffffffff-q-gpu", "data.txt"]
    assert not (tmp_path / f".pctl-check-{NONCE}-mpi.abc").exists()
    assert s.facts["cancelled"].split() == ["77"] * len(p.job_names)


def test_head_probe_on_this_machine(tmp_path):
    """The head probe run with bash here: no Slurm, no users of the template, no mounts: each check fails
    with its own evidence, and the probe still reaches its end."""
    t = template_of(GPU_MPI)
    p = plan_of(t)
    env = dict(os.environ, PATH="/usr/bin:/bin")
    s = _run(render_head(p), env, tmp_path)
    assert s.done and s.facts["host"]
    assert set(s.results) == {c.id for c in p.checks_for(HEAD)}
    assert s.results["storage:/shared"].evidence[0] == "/shared is not mounted on this node (shared storage, efs)"
    if subprocess.run(["getent", "passwd", "alice"], capture_output=True).returncode != 0:
        assert s.results["user:alice"].evidence == ["no user alice on this node (getent passwd alice finds nothing)"]


# ------------------------------------------------------------------------------------------------- protocol

def test_only_lines_with_the_runs_marker_count():
    import base64

    def b64(t):
        return base64.b64encode(t.encode()).decode()

    data = "\n".join([
        "Welcome to the cluster!",
        f"{MARKER} R module:bwa pass {b64('loaded bwa/0.7.17')}",
        f"@@PCTL-CHECK-{'00' * 12}@@ R module:bwa fail {b64('forged')}",  # another marker
        f" {MARKER} R user:alice fail {b64('not at the start of a line')}",
        f"{MARKER} R user:bob maybe {b64('unknown status')}",
        f"{MARKER} R user bad id with spaces",
        f"{MARKER} R s3:/data pass !!!notbase64",
        f"{MARKER} F home:alice {b64('/home/alice')}",
        f"{MARKER} R group:lab pass -",
        f"{MARKER} D",
    ]).encode()
    s = parse(data, MARKER)
    assert set(s.results) == {"module:bwa", "s3:/data", "group:lab"}
    assert s.results["module:bwa"].evidence == ["loaded bwa/0.7.17"]
    assert s.results["s3:/data"].evidence == ["(undecodable evidence)"]
    assert s.results["group:lab"].evidence == []
    assert s.facts == {"home:alice": "/home/alice"} and s.done
    assert "Welcome to the cluster!" in s.other


def test_a_check_reported_twice_differently_is_not_trusted():
    import base64

    ok = base64.b64encode(b"fine").decode()
    s = parse(f"{MARKER} R user:alice fail {ok}\n{MARKER} R user:alice pass {ok}\n".encode(), MARKER)
    assert "user:alice" in s.conflicts and s.results["user:alice"].status == "fail"


def test_clean_removes_escapes_and_bounds_size():
    text = ("\x1b[2J\x1b[Hclear\x1b]0;title\x07 \x1b[31mred\x1b[0m \x9b1m c1 \x07bell\rcr \u202eevil\u202c "
            "tab\there\n" + "A" * 10_000 + "\n" + "\n".join(f"line {i}" for i in range(40)))
    lines = clean(text)
    joined = "\n".join(lines)
    assert "\x1b" not in joined and "\x9b" not in joined and "\x07" not in joined and "\u202e" not in joined
    assert lines[0].startswith("clear red") and "tab    here" in lines[1]
    assert len(lines) == 13 and lines[-1] == "… (31 more line(s))"
    assert all(len(x) <= 300 for x in lines)


# ------------------------------------------------------------------------------------------------- report

def _report(plan, cells, **kw):
    return Report(plan=plan, cells=cells, columns=[], target="alice@h:22", cluster="c", template="t.yaml",
                  started_at="2026-01-01T00:00:00Z", duration_s=1.0, **kw)


def test_exit_code_rules(big):
    p = plan_of(big, queues=("cpu",))
    cells = {("scheduler", HEAD): Cell("pass"), ("gpu", "queue:cpu"): Cell("skip", ["no GPU"])}
    assert _report(p, cells).exit_code == 0
    assert _report(p, cells, strict=True).exit_code == 1  # a skip is never a pass
    assert _report(p, cells, interrupted=True).exit_code == 1
    cells[("job", "queue:cpu")] = Cell("fail", ["x"])
    assert _report(p, cells).exit_code == 1 and _report(p, cells).counts() == {"pass": 1, "fail": 1, "skip": 1}


def test_report_json_matches_its_schema(big):
    jsonschema = pytest.importorskip("jsonschema")
    from pctl.check.report import Column

    p = plan_of(big)
    cells = {(c.id, col): Cell("pass", ["ok"]) for c in p.checks for col in c.columns}
    rep = _report(p, cells)
    rep.columns = [Column(id="head", kind="head", host="ip-10-0-0-1"),
                   Column(id="queue:cpu", kind="queue", queue="cpu", host="cpu-dy-1", job_id="12", start_seconds=301.5,
                          scaled_up=True)]
    data = json.loads(json.dumps(rep.to_json()))
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(data, schema)
    assert data["results"][0] == {"check": "scheduler", "kind": "scheduler", "column": "head", "queue": None,
                                  "status": "pass", "evidence": ["ok"], "seconds": None}
    bad = dict(data, results=[dict(data["results"][0], status="ok")])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


class _Tty(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("tty", [False, True])
def test_table_shows_markup_and_escapes_as_plain_text(big, tty):
    from pctl.ui.check import print_report

    p = plan_of(big, queues=("cpu",))
    hostile = clean("[bold red]not markup[/] \x1b[2Jgone\n| pass | pass |")
    cells = {(c.id, col): Cell("pass") for c in p.checks for col in c.columns}
    cells[("module:bwa", "queue:cpu")] = Cell("fail", hostile)
    out = _Tty() if tty else io.StringIO()
    print_report(_report(p, cells), file=out)
    text = out.getvalue()
    assert "[bold red]not markup[/] gone" in text
    if not tty:
        assert "\x1b" not in text
        rows = [ln for ln in text.splitlines() if ln.startswith("module bwa")]
        assert len(rows) == 1 and re.fullmatch(r"module bwa: bwa +pass +FAIL", rows[0]), rows
    assert "FAILED: " in text and "  FAIL  module bwa: bwa  [queue cpu]" in text


# ------------------------------------------------------------------------------------------------- CLI

def test_cli_dry_run_writes_the_probes(tmp_path):
    t = tmp_path / "t.yaml"
    t.write_text(GPU_MPI)
    out = tmp_path / "probes"
    r = run_pctl("check", "-t", str(t), "--dry-run", "--output-dir", str(out))
    assert r.returncode == 0, r.stderr
    assert "skip  gpu [queue:cpu]: no GPU instance type in cpu (c6i.xlarge)" in r.stdout
    assert (out / "check-mpi-hpc.sh").exists() and os.access(out / "check-head.sh", os.X_OK)
    r = run_pctl("check", "-t", str(t), "--dry-run", "--json")
    data = json.loads(r.stdout)
    assert data["dry_run"] and data["columns"] == ["head", "queue:cpu", "queue:gpu", "queue:hpc"]
    gpu = next(c for c in data["checks"] if c["id"] == "gpu")
    assert gpu["skipped"] == {"queue:cpu": "no GPU instance type in cpu (c6i.xlarge)",
                              "queue:hpc": "no GPU instance type in hpc (hpc7a.96xlarge)"}


def test_cli_usage_errors(tmp_path):
    t = tmp_path / "t.yaml"
    t.write_text(GPU_MPI)
    r = run_pctl("check")
    assert r.returncode == 2 and "give a cluster NAME" in r.stderr
    r = run_pctl("check", "-t", str(t), "--output-dir", str(tmp_path / "x"), "--host", "h")
    assert r.returncode == 2 and "--output-dir goes with --dry-run" in r.stderr
    r = run_pctl("check", "c", "-t", str(t), "--host", "-oProxyCommand=touch x")
    assert r.returncode == 2 and "is not a host name" in r.stderr
    r = run_pctl("check", "c", "-t", str(t), "--host", "h", "--ssh-option", "ProxyCommand=touch x")
    assert r.returncode == 2 and "ProxyCommand" in r.stderr
    r = run_pctl("check", "c", "-t", str(t), "--host", "h", "--queue", "nope")
    assert r.returncode == 2 and "no such queue" in r.stderr
    r = run_pctl("check", "c", "-t", str(t), "--host", "h", "-i", str(tmp_path / "missing"))
    assert r.returncode == 2 and "does not exist" in r.stderr


def test_cli_connection_refused_is_a_clear_error(tmp_path):
    from support.onprem import free_port

    t = tmp_path / "t.yaml"
    t.write_text(GPU_MPI)
    r = run_pctl("check", "c", "-t", str(t), "--host", "nobody@127.0.0.1", "-p", str(free_port()),
                 "--connect-timeout", "5")
    assert r.returncode == 1 and "connection refused" in r.stderr and "Traceback" not in r.stderr


def test_help_and_schema():
    r = run_pctl("check", "--help")
    assert r.returncode == 0 and "Examples:" in r.stdout and "--no-scale" in r.stdout
    r = run_pctl("schema", "check")
    assert r.returncode == 0 and json.loads(r.stdout)["title"] == "pctl check report"
    r = run_pctl("schema")
    assert json.loads(r.stdout)["title"] == "pctl template"


def test_cluster_target_follows_pctl_ssh_rules(tmp_path):
    from pctl.check.target import cluster_target, template_ref
    from pctl.errors import PctlError

    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "lab-key.pem").write_text("key")
    info = {"clusterStatus": "CREATE_COMPLETE", "headNode": {"publicIpAddress": "203.0.113.7"},
            "tags": [{"key": "pctl:os", "value": "ubuntu2204"}, {"key": "pctl:key-name", "value": "lab-key"},
                     {"key": "pctl:template", "value": "bioinformatics"}]}
    t = cluster_target("lab", info, home=tmp_path)
    assert (t.host, t.user, t.identity, t.host_key_policy) == ("203.0.113.7", "ubuntu",
                                                               str(tmp_path / ".ssh" / "lab-key.pem"), "accept-new")
    assert template_ref(info) == "bioinformatics"
    with pytest.raises(PctlError, match="no head node address yet"):
        cluster_target("lab", {"clusterStatus": "CREATE_IN_PROGRESS", "headNode": {}})


def test_unknown_cluster_name_is_a_clear_error(aws_env, tmp_path):
    r = run_pctl("check", "nope", env=aws_env)
    assert r.returncode == 1 and "no cluster named 'nope'" in r.stderr and "Traceback" not in r.stderr


def test_verbose_table_shows_what_passed_checks_saw(big):
    from pctl.ui.check import print_report

    p = plan_of(big, queues=("cpu",))
    cells = {(c.id, col): Cell("pass", [f"saw {c.id}"]) for c in p.checks for col in c.columns}
    cells[("gpu", "queue:cpu")] = Cell("skip", ["no GPU instance type in cpu (c6i.xlarge)"])
    out = io.StringIO()
    print_report(_report(p, cells), file=out)
    assert "Passed:" not in out.getvalue() and "saw module:bwa" not in out.getvalue()
    out = io.StringIO()
    print_report(_report(p, cells), file=out, verbose=True)
    text = out.getvalue()
    assert "Passed:" in text and "  pass  module bwa: bwa  [queue cpu]\n        saw module:bwa\n" in text
    assert "skip  GPUs visible in a job (nvidia-smi -L)  [queue cpu]: no GPU instance type in cpu" in text
