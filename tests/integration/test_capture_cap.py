"""A hostile `ssh` (or login node) that streams 1.2 GB cannot blow pctl's memory: capture reads at most
collect.DEFAULT_MAX_TOTAL (64 MiB), stops the connection, keeps what it read marked truncated, and its
output reaches the terminal without escape sequences. Peak RSS is measured in a separate process."""

from __future__ import annotations

import json
import os
import resource
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pctl.capture.collect import DEFAULT_MAX_TOTAL

FLOOD_BYTES = 1_200_000_000

FAKE_SSH = """#!/bin/bash
# A hostile ssh: answers with the capture script's own boundary (read from stdin), then floods.
read -r line
b=${line#_PB=\\'}
b=${b%\\'}
printf '%s BEGIN hostname hostname\\n' "$b"
printf 'login1\\033]0;pwned\\007\\033[2J\\n'
printf '%s END hostname rc=0 us=1 to=0\\n' "$b"
printf '%s BEGIN flood cat /dev/zero\\n' "$b"
{ head -c @STDERR@ /dev/zero | tr '\\0' 'E' >&2; } &
head -c @FLOOD@ /dev/zero | tr '\\0' 'A'
printf '\\n%s END flood rc=0 us=1 to=0\\n%s DONE\\n' "$b" "$b"
"""


def _fake_ssh(tmp_path: Path, flood: int, stderr: int = 0) -> dict:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ssh = bin_dir / "ssh"
    ssh.write_text(FAKE_SSH.replace("@FLOOD@", str(flood)).replace("@STDERR@", str(stderr)))
    ssh.chmod(ssh.stat().st_mode | stat.S_IEXEC)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


_MEASURE = """
import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], capture_output=True)
sys.stdout.buffer.write(r.stdout[-2000:])
sys.stderr.buffer.write(r.stderr)
print("\\nRC", r.returncode, "MAXRSS_KB", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _measured(args, env, cwd) -> tuple[int, int, str, str]:
    """(returncode, peak RSS of the pctl process in MiB, stdout tail, stderr) of `python -m pctl ARGS`."""
    p = subprocess.run([sys.executable, "-c", _MEASURE, sys.executable, "-m", "pctl", *args], capture_output=True,
                       text=True, env=env, cwd=cwd, timeout=600)
    last = p.stdout.strip().splitlines()[-1].split()
    assert last[0] == "RC", p.stdout[-500:] + p.stderr[-500:]
    return int(last[1]), int(last[3]) // 1024, p.stdout, p.stderr


@pytest.mark.slow
def test_a_1_2_gb_flood_is_cut_at_the_cap_with_bounded_memory(tmp_path):
    env = _fake_ssh(tmp_path, FLOOD_BYTES, stderr=200_000_000)
    out = tmp_path / "capture.yaml"
    rc, rss_mib, _, err = _measured(["capture", "ssh", "login.example.org", "--json", "-o", str(out)], env, tmp_path)
    print(f"peak RSS of pctl reading a {FLOOD_BYTES / 1e9:.1f} GB flood: {rss_mib} MiB")
    assert rc == 1, err  # a partial capture: kept, and said so
    assert "limit of 64 MiB" in err and "truncated" in err and "Traceback" not in err
    assert not any(c in err for c in "\x1b\x07")
    # 64 MiB of output held once, a 16 MiB section, the document: far below the 1.2 GB sent
    assert rss_mib < 400, f"peak RSS {rss_mib} MiB"
    doc = json.loads(out.read_text())
    assert doc["meta"]["truncated"] is True and doc["meta"]["complete"] is False
    assert doc["sections"]["hostname"]["output"].startswith("login1")
    flood = doc["sections"]["flood"]
    assert flood["truncated"] and flood["incomplete"] and 0 < len(flood["output"]) <= 16 * 1024 * 1024
    assert len(doc["meta"].get("transport_stderr", "")) <= 2000


def test_small_caps_and_escape_free_terminal_output(tmp_path, monkeypatch):
    """The same cut in-process with a small cap; the summary on the terminal carries no escapes."""
    from pctl.capture import collect

    env = _fake_ssh(tmp_path, 5_000_000)
    monkeypatch.setenv("PATH", env["PATH"])
    run = collect.run_ssh("login.example.org", max_total=1_000_000)
    assert run.truncated and run.error and "limit of 0 MiB" not in run.error
    assert sum(len(s.output) for s in run.sections) <= 1_000_000
    assert run.sections[-1].name == "flood" and run.sections[-1].truncated
    run = collect.run_ssh("login.example.org", max_total=100_000_000)  # under the cap: complete
    assert not run.truncated and run.done and run.error is None
    assert len(run.sections[-1].output) == 5_000_000 and not run.sections[-1].truncated
    assert DEFAULT_MAX_TOTAL == 64 * 1024 * 1024


def test_capture_yaml_and_summary_escape_what_the_remote_printed(tmp_path):
    env = _fake_ssh(tmp_path, 1000)
    r = subprocess.run([sys.executable, "-m", "pctl", "capture", "ssh", "login.example.org"], capture_output=True,
                       text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert not any(c in r.stdout + r.stderr for c in "\x1b\x07"), repr(r.stdout[:300])
    assert "login1" in r.stdout


def test_rss_probe_sees_a_big_child(tmp_path):
    """Control for the measurement: a child that allocates 300 MB is seen as such."""
    p = subprocess.run([sys.executable, "-c", _MEASURE, sys.executable, "-c", "b = bytearray(300 * 1024 * 1024)"],
                       capture_output=True, text=True, timeout=120)
    rss_kb = int(p.stdout.split()[-1])
    assert rss_kb // 1024 >= 300
    assert resource.RUSAGE_CHILDREN is not None
