"""pctl check against the on-prem simulation, treated as a cluster whose head node and single compute node
are the same machine (sshd + Lmod + munge + Slurm with partitions compute and debug, users alice/bob in
group lab, loop-mounted /scratch and /projects; fixture `onprem`, one per session).

The template's two S3 mounts are stand-ins made by this module (no S3 here): a read-only and a read-write
tmpfs. The check does not care which file system is mounted; what it proves on them (mounted, readable,
write refused / write-read-delete) is the same.

A matching template passes; then, one at a time, a missing module, a user with a wrong UID, an absent
mount and a drained partition each make exactly the expected check fail, with the evidence shown. Hostile
output on the cluster cannot break the table; Ctrl-C and time limits cancel the jobs and remove probe
files. Every command goes through the real CLI (`python -m pctl check ...` in a subprocess).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

QUEUES = ("compute", "debug")
COLUMNS = ("head", "queue:compute", "queue:debug")


def pctl(*args, timeout=300, env=None):
    e = dict(os.environ)
    e.pop("PCTL_DEBUG", None)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "pctl", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=e)


def sh(*cmd, check=True):
    return subprocess.run(list(cmd), capture_output=True, text=True, check=check)


def as_alice(command: str) -> str:
    r = sh("runuser", "-u", "alice", "--", "bash", "-lc", command)
    return r.stdout


def pctl_jobs() -> list[str]:
    out = sh("squeue", "-h", "-o", "%i %j %T").stdout
    return [ln for ln in out.splitlines() if "pctl-check-" in ln]


TEMPLATE = """\
cluster:
  name: onprem-sim
compute:
  head_node: t3.large
  queues:
    - name: compute
      instance_types: [c6i.xlarge]
      max_count: 1
    - name: debug
      instance_types: [c6i.large]
      max_count: 1
software:
  spack_packages:
    - samtools@1.17
    - bwa
    - python@3.11
    - cmake
users:
  - name: alice
    uid: 5001
    gid: 5000
    groups: [lab]
  - name: bob
    uid: {bob_uid}
    gid: 5000
    groups: [lab]
groups:
  - name: lab
    gid: 5000
data:
  s3_mounts:
    - bucket: lab-reference
      mount_point: {root}/reference
    - bucket: lab-results
      mount_point: {root}/results
      read_only: false
      group: lab
  shared_storage:
    - type: ebs
      mount_point: /scratch
    - type: efs
      mount_point: /projects
"""


class Lab:
    """The simulation plus this module's stand-in S3 mounts, and helpers to run pctl check on it."""

    def __init__(self, sim, root: Path, tmp: Path):
        self.sim = sim
        self.root = root
        self.ro = root / "reference"
        self.rw = root / "results"
        self.tmp = tmp

    def template(self, **kw) -> Path:
        vals = {"bob_uid": 5002, "root": str(self.root)}
        vals.update(kw)
        p = self.tmp / f"template-{secrets.token_hex(4)}.yaml"
        p.write_text(TEMPLATE.format(**vals))
        return p

    def check(self, *extra, template: Path | None = None, timeout=300):
        """`pctl check` with the table on stdout and the JSON report written with -o."""
        out = self.tmp / f"report-{secrets.token_hex(4)}.json"
        r = pctl("check", "sim", "-t", template or self.template(), "--host", "onprem", "-F", self.sim.ssh_config,
                 "-o", out, *extra, timeout=timeout)
        report = json.loads(out.read_text()) if out.exists() else None
        return r, report


#: the read-write stand-in as the node mounts it for `group: lab` (Mountpoint's --gid 5000 --dir-mode 0770)
RW_OWNER = "mode=0770,gid=5000"


def mount_tmpfs(path: Path, options: str, *, read_only: bool = False, files: dict | None = None) -> None:
    path.mkdir(parents=True, exist_ok=True)
    sh("mount", "-t", "tmpfs", "-o", f"size=4m,{options}", "pctl-check-test", str(path))
    for name, text in (files or {}).items():
        (path / name).write_text(text)
    if read_only:
        sh("mount", "-o", "remount,ro", str(path))


@pytest.fixture(scope="module")
def lab(onprem, tmp_path_factory):
    root = Path(f"/pctltest-{secrets.token_hex(3)}")
    ro, rw = root / "reference", root / "results"
    try:
        mount_tmpfs(ro, "mode=1777", read_only=True, files={"GRCh38.fa": ">chr1\nACGT\n"})
        mount_tmpfs(rw, RW_OWNER)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"cannot mount tmpfs here: {exc.stderr.strip()}")
    try:
        yield Lab(onprem, root, tmp_path_factory.mktemp("check"))
    finally:
        for p in (rw, ro):
            subprocess.run(["umount", str(p)], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
        subprocess.run(["scancel", "-u", "alice"], capture_output=True)


def failing(report) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in report["results"]:
        if r["status"] == "fail":
            out.setdefault(r["check"], set()).add(r["column"])
    return out


def result(report, check, column):
    for r in report["results"]:
        if r["check"] == check and r["column"] == column:
            return r
    raise AssertionError(f"no result for {check} on {column}")


def probe_files(lab: Lab) -> list[Path]:
    return [p for d in (lab.ro, lab.rw) for p in d.iterdir() if p.name.startswith(".pctl-check-")]


# ------------------------------------------------------------------------------------ the matching template

@pytest.fixture(scope="module")
def passing(lab):
    before = lab.sim.log_counts()
    t0 = time.monotonic()
    r, report = lab.check()
    wall = time.monotonic() - t0
    time.sleep(0.5)
    return {"r": r, "report": report, "wall": wall, "logins": lab.sim.log_counts()[0] - before[0],
            "connections": lab.sim.log_counts()[1] - before[1]}


def test_a_matching_template_passes(passing, lab):
    r, report = passing["r"], passing["report"]
    assert r.returncode == 0, r.stdout + r.stderr
    assert report["ok"] is True and report["counts"]["fail"] == 0
    ids = {c["id"] for c in report["checks"]}
    assert {"scheduler", "job", "lmod", "module:samtools@1.17", "module:bwa", "module:python@3.11", "module:cmake",
            "user:alice", "user:bob", "group:lab", f"s3:{lab.ro}", f"s3:{lab.rw}", "storage:/scratch",
            "storage:/projects", "gpu", "mpi"} == ids
    for res in report["results"]:
        if res["check"] in ("gpu", "mpi"):
            assert res["status"] == "skip", res
        else:
            assert res["status"] == "pass", res
    # every check ran where it belongs: the head node in a login shell, each queue inside a Slurm job
    assert {r["column"] for r in report["results"] if r["check"] == "module:samtools@1.17"} == set(COLUMNS)
    assert {r["column"] for r in report["results"] if r["check"] == "job"} == {"queue:compute", "queue:debug"}
    cols = {c["id"]: c for c in report["columns"]}
    for q in QUEUES:
        col = cols[f"queue:{q}"]
        assert col["host"] == "localhost" and col["job_id"] and col["job_id"].isdigit()
        assert col["scaled_up"] is False and col["start_seconds"] is not None
    # evidence says what was proven
    ev = result(report, "module:samtools@1.17", "queue:compute")["evidence"]
    assert ev[0] == "loaded samtools/1.17" and "samtools 1.17 (stub)" in ev[1] and "/software/samtools/1.17/bin" in ev[1]
    assert result(report, "module:bwa", "head")["evidence"][0] == "loaded bwa/0.7.17"
    assert result(report, "module:python@3.11", "head")["evidence"][0] == "loaded python/3.11.4"
    assert "uid 5001 gid 5000 home /home/alice" in result(report, "user:alice", "queue:debug")["evidence"][0]
    assert "read-only as the template says" in result(report, f"s3:{lab.ro}", "head")["evidence"][0]
    assert "read GRCh38.fa" in " ".join(result(report, f"s3:{lab.ro}", "head")["evidence"])
    assert "wrote, read back and deleted" in result(report, f"s3:{lab.rw}", "queue:compute")["evidence"][0]
    assert "group lab (gid 5000), mode 0770" in result(report, f"s3:{lab.rw}", "queue:compute")["evidence"]
    assert "compute: up" in " ".join(result(report, "scheduler", "head")["evidence"])
    assert result(report, "gpu", "queue:compute")["evidence"] == ["no GPU instance type in compute (c6i.xlarge)"]
    assert "not an MPI queue" in result(report, "mpi", "queue:debug")["evidence"][0]
    # nothing left behind: no job, no probe file
    assert pctl_jobs() == []
    assert probe_files(lab) == []
    # the table: check x (head / each queue)
    out = r.stdout
    assert re.search(r"^CHECK\s+head node\s+compute\s+debug$", out, re.M), out
    assert re.search(r"^module samtools/1\.17: samtools --version\s+pass\s+pass\s+pass$", out, re.M), out
    assert re.search(r"^a job runs on the queue .*\s+-\s+pass [0-9.]+s\s+pass [0-9.]+s$", out, re.M), out
    assert "OK: 39 passed, 0 failed, 4 skipped" in out


def test_one_ssh_connection_for_the_whole_run(passing):
    assert (passing["logins"], passing["connections"]) == (1, 1), passing


def test_the_json_report_follows_its_published_schema(passing, tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    r = pctl("schema", "check")
    assert r.returncode == 0, r.stderr
    schema = json.loads(r.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(passing["report"], schema)
    assert passing["report"]["schema"] == "pctl-check/1"


def test_json_on_stdout_is_the_same_report(lab):
    r = pctl("check", "sim", "-t", lab.template(), "--host", "onprem", "-F", lab.sim.ssh_config, "--json",
             "--queue", "debug")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["ok"] and [c["id"] for c in data["columns"]] == ["head", "queue:debug"]
    assert r.stderr == "" or "connected" not in r.stderr  # --json: no progress chatter


# ------------------------------------------------------------------------------------ one fault at a time

@contextlib.contextmanager
def module_removed(lab, name):
    core = lab.sim.apps / "modulefiles" / "Core"
    src, aside = core / name, lab.sim.apps / f".{name}-hidden-by-test"
    src.rename(aside)
    try:
        yield
    finally:
        aside.rename(src)


@contextlib.contextmanager
def unmounted(path: Path):
    sh("umount", str(path))
    try:
        yield
    finally:
        mount_tmpfs(path, RW_OWNER)


@contextlib.contextmanager
def open_to_all(path: Path):
    """The mount as Mountpoint makes it without --gid/--dir-mode: root's, every account may write."""
    # (tmpfs ignores mode= and gid= on remount: its root directory is changed as any directory)
    sh("chgrp", "0", str(path))
    sh("chmod", "1777", str(path))
    try:
        yield
    finally:
        sh("chgrp", "5000", str(path))
        sh("chmod", "0770", str(path))


@contextlib.contextmanager
def drained(partition):
    sh("scontrol", "update", f"PartitionName={partition}", "State=DRAIN")
    try:
        yield
    finally:
        sh("scontrol", "update", f"PartitionName={partition}", "State=UP")


FAULTS = {
    # fault: (what it does to the cluster or template, failing check, where, evidence on its first line)
    "missing module": ("module", "module:bwa", set(COLUMNS), "module load bwa failed"),
    "wrong uid": ("uid", "user:bob", set(COLUMNS), "bob has uid 5002; the template says 5012"),
    "absent mount": ("mount", "s3:RW", set(COLUMNS), "RW is not mounted on this node"),
    "mount open to all": ("owner", "s3:RW", set(COLUMNS), "but owned by gid 0 with mode 1777: the template gives "
                                                          "it group lab (gid 5000), mode 0770"),
    "drained partition": ("drain", "job", {"queue:debug"}, "partition debug is drain: it accepts no jobs"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_fault_fails_exactly_one_check_with_its_evidence(lab, fault):
    kind, check_id, where, first = FAULTS[fault]
    check_id = check_id.replace("RW", str(lab.rw))
    first = first.replace("RW", str(lab.rw))
    template = lab.template(bob_uid=5012 if kind == "uid" else 5002)
    ctx = {"module": lambda: module_removed(lab, "bwa"), "uid": contextlib.nullcontext,
           "mount": lambda: unmounted(lab.rw), "drain": lambda: drained("debug"),
           "owner": lambda: open_to_all(lab.rw)}[kind]()
    with ctx:
        r, report = lab.check(template=template)
    assert r.returncode == 1, r.stdout + r.stderr
    assert report["ok"] is False
    assert failing(report) == {check_id: where}, json.dumps(failing(report), default=sorted)
    for col in where:
        ev = result(report, check_id, col)["evidence"][0]
        # (the owner fault's line starts with what findmnt says the mount is)
        assert ev.endswith(first) and ev.startswith("mounted (") if kind == "owner" else ev == first, ev
    # the table shows the failure with its evidence line
    assert re.search(rf"^  FAIL  .*\[(head node|queue \w+)\]$", r.stdout, re.M), r.stdout
    assert f"{first}\n" in r.stdout if kind == "owner" else f"        {first}" in r.stdout
    if fault == "missing module":
        assert "no module named bwa is installed" in " ".join(result(report, check_id, "head")["evidence"])
    if fault == "absent mount":
        assert result(report, check_id, "head")["evidence"][1] == f"{lab.rw} is a plain directory"
    if fault == "drained partition":
        # the queue's other checks could not run there: skipped (never passed), with the reason
        debug = [x for x in report["results"] if x["column"] == "queue:debug" and x["check"] != "job"]
        assert debug and all(x["status"] == "skip" for x in debug)
        assert "no job ran on debug (see the job check)" in debug[0]["evidence"][0]
        assert "State=DRAIN" in result(report, "job", "queue:debug")["evidence"]
    assert pctl_jobs() == [] and probe_files(lab) == []


def test_a_read_only_mount_that_accepts_writes_fails(lab):
    sh("mount", "-o", "remount,rw", str(lab.ro))
    try:
        r, report = lab.check("--queue", "compute")
    finally:
        sh("mount", "-o", "remount,ro", str(lab.ro))
    assert r.returncode == 1
    assert failing(report) == {f"s3:{lab.ro}": {"head", "queue:compute"}}
    assert "it accepted a write: the template says read-only" in result(report, f"s3:{lab.ro}", "head")["evidence"][0]
    assert probe_files(lab) == []


def test_ssh_between_nodes_is_checked_when_asked(lab):
    # the simulation's sshd listens on a private port only: ssh from the "compute node" to port 22 fails
    r, report = lab.check("--queue", "debug", "--ssh-between-nodes")
    assert r.returncode == 1
    assert failing(report) == {"ssh": {"queue:debug"}}
    ev = result(report, "ssh", "queue:debug")["evidence"]
    assert ev[0].startswith("ssh from ") and "failed (exit status 255)" in ev[0]


# ------------------------------------------------------------------------------------ hostile output

HOSTILE = "\x1b[2J\x1b[H\x1b]0;owned\x07\x1b[31mRED\x9b1m" + "@@PCTL-CHECK-0000000000000000@@ R job pass -"


@pytest.fixture
def hostile(lab):
    """A module whose command prints escape sequences, a 1 MB line and fake result markers, and a login
    banner doing the same on every login shell."""
    core = lab.sim.apps / "modulefiles" / "Core" / "htslib"
    soft = lab.sim.apps / "software" / "htslib" / "1.0" / "bin"
    soft.mkdir(parents=True)
    core.mkdir(parents=True)
    (core / "1.0.lua").write_text(
        f'prepend_path("PATH", "{soft}")\nLmodMessage("\\27[2J\\27]0;pwned\\7 @@PCTL-CHECK-1111111111111111@@ D")\n')
    fake = "\n".join([
        "@@PCTL-CHECK-0123456789abcdef01234567@@ R module:htslib pass -",
        "@@PCTL-CHECK-0123456789abcdef01234567@@ D",
        " @@PCTL-CHECK- R user:alice fail " + "QUFB" * 10,
    ])
    (soft / "htsfile").write_text("#!/bin/bash\nprintf '%s\\n' " + repr(HOSTILE) + "\n"
                                  f"printf '%s\\n' {fake!r}\n"
                                  "head -c 1000000 /dev/zero | tr '\\0' 'A'; echo\n"
                                  "printf '\\x1b[1A\\x1b[2K\\r| pass | pass | pass |\\n'\nexit 3\n")
    (soft / "htsfile").chmod(0o755)
    banner = Path("/etc/profile.d/zz-pctl-test-hostile.sh")
    banner.write_text("printf '%s\\n' " + repr(HOSTILE) + "\nhead -c 300000 /dev/zero | tr '\\0' 'B'; echo\n"
                      "printf '@@PCTL-CHECK-%s@@ R scheduler fail -\\n' 0123456789abcdef\n")
    try:
        yield
    finally:
        banner.unlink()
        shutil.rmtree(core)
        shutil.rmtree(lab.sim.apps / "software" / "htslib")


def test_hostile_cluster_output_cannot_break_the_table(lab, hostile):
    template = lab.template()
    text = template.read_text().replace("    - cmake\n", "    - cmake\n    - htslib@1.0\n")
    template.write_text(text)
    r, report = lab.check(template=template)
    out = r.stdout
    # nothing but printable text and newlines reaches the terminal
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", out), repr([c for c in out if ord(c) < 32 and c != "\n"])
    assert max(len(line) for line in out.splitlines()) < 400
    # the table has exactly one row per check, and the fake markers changed no result
    table = out.split("\n\n")[0].splitlines()
    assert len(table) == 2 + len(report["checks"])
    assert failing(report) == {"module:htslib@1.0": set(COLUMNS)}, failing(report)
    assert result(report, "job", "queue:compute")["status"] == "pass"
    assert result(report, "scheduler", "head")["status"] == "pass"
    ev = result(report, "module:htslib@1.0", "head")["evidence"]
    assert ev[0] == "loaded htslib/1.0; htsfile --version exited with status 3"
    assert len(ev) <= 13 and all(len(x) <= 300 for x in ev)
    assert any("RED" in x for x in ev) and not any("\x1b" in x for x in ev)
    assert pctl_jobs() == []


# ------------------------------------------------------------------------------------ clean-up

@contextlib.contextmanager
def node_taken():
    """alice's own job holds the whole node: a check job has to wait."""
    jid = as_alice("cd && sbatch --parsable --exclusive -p compute -J blocker -o /dev/null --wrap 'sleep 300'").strip()
    try:
        for _ in range(100):
            if "RUNNING" in sh("squeue", "-h", "-j", jid, "-o", "%T", check=False).stdout:
                break
            time.sleep(0.1)
        yield jid
    finally:
        sh("scancel", jid, check=False)
        for _ in range(100):
            if not sh("squeue", "-h", "-j", jid, check=False).stdout.strip():
                break
            time.sleep(0.1)


def test_ctrl_c_cancels_the_jobs_and_removes_probe_files(lab):
    out = lab.tmp / "interrupted.json"
    with node_taken():
        proc = subprocess.Popen([sys.executable, "-m", "pctl", "check", "sim", "-t", str(lab.template()), "--host",
                                 "onprem", "-F", str(lab.sim.ssh_config), "-o", str(out)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        jobs = []
        for _ in range(200):
            jobs = pctl_jobs()
            if len(jobs) == 2:
                break
            time.sleep(0.1)
        assert len(jobs) == 2 and all("PENDING" in j for j in jobs), jobs
        run_id = re.search(r"pctl-check-([0-9a-f]+)-", jobs[0]).group(1)
        # a probe file a job would have left had it been killed mid-write
        leftover = lab.rw / f".pctl-check-{run_id}-q-compute"
        as_alice(f"echo half written > {leftover}")
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 130, stdout + stderr
        assert pctl_jobs() == [], "the check's jobs were cancelled"
        assert not leftover.exists() and probe_files(lab) == []
    assert "interrupted: cancelling the check's jobs" in stderr
    assert re.search(r"note: cancelled job\(s\) \d+ \d+", stdout), stdout
    assert "interrupted:" in stdout.splitlines()[-1]
    report = json.loads(out.read_text())
    assert report["interrupted"] is True and report["ok"] is False
    assert sorted(report["cleanup"]["jobs_cancelled"]) == sorted(j.split()[0] for j in jobs)
    assert str(leftover) in report["cleanup"]["files_removed"]


def test_a_job_that_cannot_start_in_time_is_cancelled_and_fails(lab):
    with node_taken():
        r, report = lab.check("--queue", "compute", "--wait", "30", timeout=200)
        assert pctl_jobs() == []
    assert r.returncode == 1
    assert failing(report) == {"job": {"queue:compute"}}
    ev = result(report, "job", "queue:compute")["evidence"]
    assert ev[0] == "no node started within 30 s; the job was cancelled"
    assert "squeue: job " in ev[1] and "PENDING (Resources)" in ev[1], ev


# ------------------------------------------------------------------------------------ connecting

def test_explicit_host_port_and_key(lab):
    s = lab.sim
    r = pctl("check", "lab", "-t", lab.template(), "--host", "alice@127.0.0.1", "-p", s.port, "-i", s.key,
             "--ssh-option", f"UserKnownHostsFile={s.known_hosts}", "--queue", "debug")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "pctl check lab (alice@127.0.0.1:" in r.stdout


def test_unknown_host_key_is_refused_with_a_clear_error(lab, tmp_path):
    s = lab.sim
    r = pctl("check", "lab", "-t", lab.template(), "--host", "alice@127.0.0.1", "-p", s.port, "-i", s.key,
             "--ssh-option", f"UserKnownHostsFile={tmp_path / 'empty'}")
    assert r.returncode == 1
    assert "host key" in r.stderr and "Traceback" not in r.stderr
    assert pctl_jobs() == []


def test_a_wrong_key_is_a_clear_error(lab):
    s = lab.sim
    before = s.log_counts()[0]
    r = pctl("check", "lab", "-t", lab.template(), "--host", "alice@127.0.0.1", "-p", s.port, "-i", s.wrong_key,
             "--ssh-option", f"UserKnownHostsFile={s.known_hosts}")
    assert r.returncode == 1
    assert "authentication" in r.stderr and "Traceback" not in r.stderr
    assert s.log_counts()[0] == before


# ------------------------------------------------------------------------------------ pctl create --check

def test_create_check_hook_checks_the_new_cluster(lab, monkeypatch, capsys):
    """The hook `pctl create --check` calls once the cluster is CREATE_COMPLETE (ParallelCluster's answer
    and the head node's address stand in for a real cluster: the simulation is the cluster)."""
    import pctl.check.target as target_mod
    from pctl.check.connection import make_target
    from pctl.cli import check as cli_check

    seen = {}

    def describe(name, profile, region):
        seen["describe"] = (name, region)
        return {"clusterStatus": "CREATE_COMPLETE", "headNode": {"publicIpAddress": "127.0.0.1"}}

    monkeypatch.setattr(cli_check, "_describe", describe)
    monkeypatch.setattr(target_mod, "cluster_target",
                        lambda name, info, **kw: make_target("onprem", config=str(lab.sim.ssh_config)))
    record = {"name": "sim", "region": "us-east-1", "status": "CREATE_COMPLETE"}
    code = cli_check.after_create(record, str(lab.template()), profile=None, region=None, as_json=True)
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and seen["describe"] == ("sim", "us-east-1")
    assert out["create"] == record and out["check"]["ok"] is True and out["check"]["cluster"] == "sim"
    # a failed create is not checked
    code = cli_check.after_create(dict(record, status="CREATE_FAILED"), str(lab.template()), profile=None,
                                  region=None, as_json=True)
    assert code == 1 and json.loads(capsys.readouterr().out)["check"] is None
    # the table, and a failure's exit code, without --json
    with drained("debug"):
        code = cli_check.after_create(record, str(lab.template()), profile=None, region=None, as_json=False)
    captured = capsys.readouterr()
    assert code == 1 and "partition debug is drain" in captured.out
    assert "sim was created, but the check failed" in captured.err


def _ssh_children(pid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                stat = (p / "stat").read_text()
            except OSError:
                continue
            comm, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
            if comm == "ssh" and int(rest[1]) == pid:
                out.append(int(p.name))
    return out


def _alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def test_a_killed_pctl_leaves_no_job_and_no_ssh_behind(lab):
    """SIGKILL: pctl cannot clean up. Its ssh master ends with it (its stdin closes) and the queue scripts on
    the head node notice that nobody listens any more and cancel their own jobs."""
    with node_taken():
        proc = subprocess.Popen([sys.executable, "-m", "pctl", "check", "sim", "-t", str(lab.template()), "--host",
                                 "onprem", "-F", str(lab.sim.ssh_config)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if len(pctl_jobs()) == 2:
                break
            time.sleep(0.1)
        assert len(pctl_jobs()) == 2
        kids = _ssh_children(proc.pid)
        assert len(kids) >= 3  # the master and a session per queue
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (pctl_jobs() or any(_alive(k) for k in kids)):
            time.sleep(0.5)
        assert pctl_jobs() == [], "the queue scripts cancelled their jobs"
        assert not [k for k in kids if _alive(k)], "no ssh process of pctl's is left"
