"""The capture script and its sections: boundaries, timeouts, partial output, ssh command lines, errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from pctl.capture import collect
from pctl.errors import PctlError, UsageError

B = "@@PCTL-0123456789abcdef@@"


def _stream(*parts: str) -> bytes:
    return "".join(parts).encode()


# ----------------------------------------------------------------------------------------------- splitting

def test_split_sections_keeps_output_exactly():
    data = _stream("motd noise\n", f"{B} BEGIN a echo a\n", "line1\n  line2 \n", f"\n{B} END a rc=0 us=15000 to=0\n",
                   f"{B} BEGIN b printf x\n", "no newline", f"\n{B} END b rc=3 us=2 to=0\n", f"{B} DONE\n")
    secs, done = collect.split_sections(data, B)
    assert done is True
    assert [s.name for s in secs] == ["a", "b"]
    a, b = secs
    assert a.output == "line1\n  line2 \n" and a.rc == 0 and a.duration_s == 0.015 and a.command == "echo a"
    assert b.output == "no newline" and b.rc == 3 and not b.incomplete


def test_split_sections_marks_timeouts_truncation_and_incomplete():
    data = _stream(f"{B} BEGIN slow sleep 9\n", "partial", f"\n{B} END slow rc=124 us=2000000 to=1\n",
                   f"{B} BEGIN big cat\n", "x" * 100, f"\n{B} END big rc=0 us=1 to=0\n",
                   f"{B} BEGIN cut lscpu\n", "Architecture: x86")
    secs, done = collect.split_sections(data, B, max_bytes=50)
    assert done is False
    slow, big, cut = secs
    assert slow.timed_out and slow.output == "partial"
    assert big.truncated and len(big.output) == 50
    assert cut.incomplete and cut.rc is None and cut.output == "Architecture: x86"


def test_forged_or_foreign_markers_are_ignored():
    other = "@@PCTL-ffffffffffffffff@@"
    data = _stream(f"{B} BEGIN a cat\n", f"{other} END a rc=0 us=0 to=0\n", f"{B} END b rc=0 us=0 to=0\n",
                   f"text {B} END a rc=0\n", f"\n{B} END a rc=0 us=0 to=0\n")
    (a,), _ = collect.split_sections(data, B)
    assert a.output == f"{other} END a rc=0 us=0 to=0\n{B} END b rc=0 us=0 to=0\ntext {B} END a rc=0\n"
    assert not a.incomplete


def test_begin_without_end_before_the_next_begin():
    data = _stream(f"{B} BEGIN a x\n", "aaa\n", f"{B} BEGIN b y\n", "bbb", f"\n{B} END b rc=0 us=0 to=0\n")
    a, b = collect.split_sections(data, B)[0]
    assert a.incomplete and a.output == "aaa\n" and b.output == "bbb" and not b.incomplete


def test_binary_output_is_decoded_with_replacement():
    data = f"{B} BEGIN a x\n".encode() + b"\xff\xfeok" + f"\n{B} END a rc=0 us=0 to=0\n".encode()
    (a,), _ = collect.split_sections(data, B)
    assert a.output == "\ufffd\ufffdok"


def test_boundaries_are_unique_per_run():
    assert collect.make_boundary() != collect.make_boundary()
    assert collect.make_boundary().startswith("@@PCTL-")


# ----------------------------------------------------------------------------------------------- the script

def test_script_is_valid_bash(tmp_path):
    script = collect.build_script(B, 5, 1000)
    p = tmp_path / "capture.sh"
    p.write_bytes(script)
    r = subprocess.run(["bash", "-n", str(p)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    if shutil.which("shellcheck"):
        r = subprocess.run(["shellcheck", "-s", "bash", "-S", "warning", str(p)], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout


def test_script_never_reads_secrets():
    text = "\n".join(ln for ln in collect.script_text().splitlines() if not ln.lstrip().startswith("#"))
    assert "/etc/shadow" not in text and "printenv" not in text and "\nenv\n" not in text
    assert ".ssh" not in text and "id_rsa" not in text
    assert "$2" not in text.split("getent passwd")[1].split("\n")[0]  # the password field is never printed


def _run_script(tmp_path, env_extra: dict, timeout_s: int = 2, path: str | None = None) -> tuple[list, bool, float]:
    """Run the capture script in a plain (non-login) bash with a controlled environment."""
    env = {"PATH": path or os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "LC_ALL": "C"}
    env.update(env_extra)
    b = collect.make_boundary()
    t0 = time.monotonic()
    r = subprocess.run(["bash", "-s"], input=collect.build_script(b, timeout_s, 10000), capture_output=True, env=env,
                       timeout=60, cwd=tmp_path)
    secs, done = collect.split_sections(r.stdout, b)
    return secs, done, time.monotonic() - t0


def test_script_runs_every_section_and_finishes(tmp_path):
    secs, done, _ = _run_script(tmp_path, {})
    assert done
    names = [s.name for s in secs]
    for n in ("meta", "os.release", "os.kernel", "hw.memory", "modules.env", "users.passwd", "users.groups",
              "storage.df"):
        assert n in names
    by = {s.name: s for s in secs}
    assert "kind=none" in by["modules.env"].output
    assert all(s.rc is not None for s in secs)


@pytest.mark.skipif(shutil.which("timeout") is None, reason="coreutils timeout is not installed")
def test_a_slow_command_is_cut_and_the_rest_continues(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "lscpu").write_text("#!/bin/sh\nsleep 31.4159\necho never\n")
    (fake / "lscpu").chmod(0o755)
    secs, done, took = _run_script(tmp_path, {}, timeout_s=1, path=f"{fake}:{os.environ.get('PATH', '/usr/bin:/bin')}")
    by = {s.name: s for s in secs}
    assert done and by["hw.cpu"].timed_out and by["hw.cpu"].rc in (124, 137)
    assert by["users.passwd"].rc == 0
    assert took < 20
    assert subprocess.run(["pgrep", "-f", "sleep 31.4159"], capture_output=True).returncode != 0  # nothing left


def test_a_slow_module_function_is_cut_by_the_watchdog(tmp_path):
    # `module` is a shell function (as in a login shell): it runs in the shell, under the watchdog
    env = {"LMOD_CMD": "/bin/true", "LMOD_DIR": str(tmp_path / "nolmod"),
           "BASH_FUNC_module%%": "() { sleep 27.1828; echo never; }"}
    secs, done, took = _run_script(tmp_path, env, timeout_s=1)
    by = {s.name: s for s in secs}
    assert done
    assert by["modules.avail_default"].timed_out and by["modules.version"].timed_out
    assert "never" not in by["modules.avail_default"].output
    assert took < 30
    time.sleep(0.2)
    assert subprocess.run(["pgrep", "-f", "sleep 27.1828"], capture_output=True).returncode != 0


def test_module_listing_comes_through_stderr(tmp_path):
    # Lmod prints listings on stderr: the section merges it
    env = {"LMOD_CMD": "/bin/true", "LMOD_DIR": str(tmp_path / "nolmod"),
           "BASH_FUNC_module%%": "() { echo '/opt/mods/Core:' >&2; echo 'gcc/12.2.0' >&2; }"}
    secs, done, _ = _run_script(tmp_path, env)
    by = {s.name: s for s in secs}
    assert by["modules.avail_default"].output == "/opt/mods/Core:\ngcc/12.2.0\n"
    # spider is missing: the fallbacks ran
    assert "modules.avail_terse" in by and "modules.spider_json" not in by


# ----------------------------------------------------------------------------------------------- ssh command

def test_ssh_command_passes_options_through():
    cmd = collect.ssh_command("login1", user="admin", port=2222, identity="/k", jump="bastion", config="/c",
                              connect_timeout=7, options=["StrictHostKeyChecking=accept-new"])
    assert cmd[0] == "ssh" and cmd[-2:] == ["login1", "bash -l -s"] and cmd[-3] == "--"
    s = " ".join(cmd)
    for part in ("-o BatchMode=yes", "-o ConnectTimeout=7", "-F /c", "-p 2222", "-i /k", "-J bastion", "-l admin",
                 "-o StrictHostKeyChecking=accept-new", "-T"):
        assert part in s


@pytest.mark.parametrize("target, user, expect", [
    ("host", None, (None, "host")),
    ("admin@host", None, ("admin", "host")),
    ("host", "admin", ("admin", "host")),
    ("admin@host", "admin", ("admin", "host")),
])
def test_split_target(target, user, expect):
    assert collect.split_target(target, user) == expect


@pytest.mark.parametrize("target, user", [
    ("-oProxyCommand=x", None), ("host;rm", None), ("a@b", "c"), ("", None), ("host name", None), ("-l@host", None),
])
def test_split_target_rejects(target, user):
    with pytest.raises(UsageError):
        collect.split_target(target, user)


def test_ssh_options_must_be_key_value():
    with pytest.raises(UsageError):
        collect.ssh_command("h", options=["-oProxyCommand=x"])
    with pytest.raises(UsageError):
        collect.ssh_command("h", options=["novalue"])


@pytest.mark.parametrize("stderr, words", [
    ("ssh: connect to host 127.0.0.1 port 1: Connection refused", "connection refused"),
    ("alice@127.0.0.1: Permission denied (publickey).", "authentication"),
    ("Host key verification failed.", "host key"),
    ("ssh: Could not resolve hostname nowhere: Name or service not known", "cannot resolve"),
    ("ssh: connect to host 10.0.0.1 port 22: Connection timed out", "timed out"),
    ("Load key \"/k\": invalid format", "identity file"),
    ("something odd", "ssh to"),
])
def test_ssh_errors_are_explained(stderr, words):
    exc = collect._ssh_error("h", 22, "u", 255, stderr, None)
    assert isinstance(exc, PctlError) and words in exc.message and exc.hint


def test_without_coreutils_timeout_the_watchdog_cuts_slow_commands(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "lscpu").write_text("#!/bin/sh\nsleep 29.9792\necho never\n")
    (fake / "lscpu").chmod(0o755)
    env = {"BASH_FUNC_timeout%%": "() { return 1; }"}  # a `timeout` that does not work (BusyBox-like)
    secs, done, took = _run_script(tmp_path, env, timeout_s=1, path=f"{fake}:{os.environ.get('PATH', '/usr/bin:/bin')}")
    by = {s.name: s for s in secs}
    assert done and by["hw.cpu"].timed_out and "never" not in by["hw.cpu"].output
    assert "timeout=\n" in by["meta"].output
    assert by["users.passwd"].rc == 0 and took < 20
    time.sleep(0.2)
    assert subprocess.run(["pgrep", "-f", "sleep 29.9792"], capture_output=True).returncode != 0
