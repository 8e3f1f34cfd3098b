"""Run the capture script on a cluster (one SSH connection) or on this machine, split its sections.

The script (``capture/scripts/capture.sh``) runs in a login shell: ``ssh [opts] HOST 'bash -l -s'`` with
the script on stdin, or ``bash -l -s`` locally. It prints delimited sections::

    @@PCTL-<nonce>@@ BEGIN <name> <command>
    <stdout and stderr of the command>
    @@PCTL-<nonce>@@ END <name> rc=<N> us=<microseconds> to=<0|1>

The nonce is random per run, so no output can forge a boundary. Sections that never reached their END
(connection dropped, overall time limit) are kept and marked ``incomplete``.

Whatever the other side sends, pctl reads at most :data:`DEFAULT_MAX_TOTAL` (64 MiB) of output and
:data:`MAX_STDERR` (1 MiB, the last part) of messages: the output is streamed, and at the cap the
connection is closed and the capture is kept, marked ``truncated`` (the script itself limits each
section to 16 MiB; a hostile ``ssh`` or login node is not bound by that).

The system OpenSSH client is used on purpose: ``~/.ssh/config``, ProxyJump, agents, Kerberos and
certificates work exactly as they do for the admin's own ``ssh``.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from importlib import resources
from typing import Any

from pctl.errors import PctlError, UsageError

DEFAULT_SECTION_TIMEOUT = 60
DEFAULT_CONNECT_TIMEOUT = 15
DEFAULT_MAX_TIME = 1800
DEFAULT_MAX_BYTES = 16 * 1024 * 1024  # per section
DEFAULT_MAX_TOTAL = 64 * 1024 * 1024  # everything read from the script's output, whatever the remote sends
MAX_STDERR = 1024 * 1024  # the last MiB of ssh's / the script's messages
_CHUNK = 1024 * 1024
REMOTE_COMMAND = "bash -l -s"


@dataclass
class Section:
    name: str
    output: str = ""
    command: str | None = None
    rc: int | None = None
    duration_s: float | None = None
    timed_out: bool = False
    truncated: bool = False
    incomplete: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunResult:
    """What one run of the script produced, before parsing."""

    method: str  # ssh | local
    target: str
    command: list[str]
    sections: list[Section] = field(default_factory=list)
    done: bool = False  # the script printed its final DONE marker
    returncode: int | None = None
    stderr: str = ""
    duration_s: float = 0.0
    error: str | None = None  # overall problem (time limit, connection dropped, output cap)
    truncated: bool = False  # the output reached DEFAULT_MAX_TOTAL: reading stopped there


def script_text() -> str:
    return resources.files("pctl.capture").joinpath("scripts/capture.sh").read_text(encoding="utf-8")


def make_boundary() -> str:
    return f"@@PCTL-{secrets.token_hex(8)}@@"


def build_script(boundary: str, section_timeout: int, max_bytes: int) -> bytes:
    head = f"_PB='{boundary}'\n_PT={int(section_timeout)}\n_PM={int(max_bytes) + 1}\n"
    return (head + script_text()).encode("utf-8")


# ---------------------------------------------------------------------------------------- splitting

_END_ATTR_RE = re.compile(r"(\w+)=(\S*)")


def split_sections(data: bytes | bytearray, boundary: str, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[list[Section], bool]:
    """Split the script's stdout into sections. Returns (sections, done). Text outside sections is ignored."""
    b = boundary.encode()
    sections: list[Section] = []
    done = False
    marker_re = re.compile(rb"^" + re.escape(b) + rb" (BEGIN|END|DONE)(?: ([^\s]+))?([^\n]*)$", re.M)
    cur: Section | None = None
    body_start = 0
    view = memoryview(data)  # section bodies are sliced without copying; only max_bytes of each is decoded
    for m in marker_re.finditer(data):
        kind = m.group(1)
        if kind == b"BEGIN":
            if cur is not None:  # BEGIN without END: keep what came before this marker
                _finish(cur, view[body_start:m.start()], max_bytes, complete=False)
                sections.append(cur)
            name = (m.group(2) or b"?").decode("utf-8", "replace")
            cmd = m.group(3).decode("utf-8", "replace").strip() or None
            cur = Section(name=name, command=cmd)
            body_start = m.end() + 1
        elif kind == b"END":
            name = (m.group(2) or b"").decode("utf-8", "replace")
            if cur is None or cur.name != name:
                continue
            body = view[body_start:m.start()]
            if body[-1:] == b"\n":
                body = body[:-1]  # the newline the script prints before END
            _finish(cur, body, max_bytes, complete=True)
            attrs = dict(_END_ATTR_RE.findall(m.group(3).decode("ascii", "replace")))
            cur.rc = _int(attrs.get("rc"))
            us = _int(attrs.get("us"))
            cur.duration_s = round(us / 1e6, 3) if us is not None else None
            cur.timed_out = attrs.get("to") == "1"
            sections.append(cur)
            cur = None
        else:
            done = True
    if cur is not None:
        _finish(cur, view[body_start:], max_bytes, complete=False)
        sections.append(cur)
    return sections, done


def _finish(sec: Section, body: memoryview, max_bytes: int, complete: bool) -> None:
    if len(body) > max_bytes:
        body = body[:max_bytes]
        sec.truncated = True
    sec.output = str(body, "utf-8", "replace")
    sec.incomplete = not complete


def _int(v: str | None) -> int | None:
    try:
        return int(v) if v is not None else None
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------- ssh

def split_target(target: str, user: str | None) -> tuple[str | None, str]:
    """'admin@host' -> ('admin', 'host'); checks both for characters that would become ssh options."""
    t = target.strip()
    u = None
    if "@" in t:
        u, _, t = t.rpartition("@")
    if user and u and user != u:
        raise UsageError(f"--user {user} conflicts with {u}@ in {target!r}; give the user once")
    u = user or u or None
    if not t or t.startswith("-") or re.search(r"[\s\x00-\x1f'\"`$;|&<>\\]", t):
        raise UsageError(f"{target!r} is not a host name (use HOST or USER@HOST, or a Host alias from ~/.ssh/config)")
    if u is not None and (u.startswith("-") or not re.match(r"^[A-Za-z0-9._][A-Za-z0-9._@+-]*$", u)):
        raise UsageError(f"{u!r} is not a user name")
    return u, t


def ssh_command(host: str, *, user: str | None = None, port: int | None = None, identity: str | None = None,
                jump: str | None = None, config: str | None = None, connect_timeout: int = DEFAULT_CONNECT_TIMEOUT,
                options: list[str] | tuple[str, ...] = (), ssh: str = "ssh") -> list[str]:
    cmd = [ssh, "-T", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={int(connect_timeout)}",
           "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4"]
    if config:
        cmd += ["-F", str(config)]
    if port:
        cmd += ["-p", str(int(port))]
    if identity:
        cmd += ["-i", str(identity)]
    if jump:
        if jump.startswith("-"):
            raise UsageError(f"{jump!r} is not a jump host")
        cmd += ["-J", jump]
    for opt in options:
        if "=" not in opt or opt.startswith("-"):
            raise UsageError(f"--ssh-option {opt!r} must look like Key=Value (e.g. StrictHostKeyChecking=accept-new)")
        cmd += ["-o", opt]
    if user:
        cmd += ["-l", user]
    cmd += ["--", host, REMOTE_COMMAND]
    return cmd


@dataclass
class _Streamed:
    returncode: int | None
    stdout: bytes | bytearray
    stderr: bytes
    problem: str | None
    truncated: bool


def _run(cmd: list[str], script: bytes, max_time: float, env: dict | None, cwd: str | None,
         max_total: int = DEFAULT_MAX_TOTAL) -> _Streamed:
    """Run ``cmd`` with ``script`` on stdin. Streams its output and keeps at most ``max_total`` bytes of
    stdout (then stops the command) and the last :data:`MAX_STDERR` bytes of stderr; stops it at
    ``max_time``. Memory stays bounded whatever the command prints."""
    import threading

    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, cwd=cwd)
    except FileNotFoundError:
        raise PctlError(f"{cmd[0]} not found", hint="install the OpenSSH client (openssh-client)"
                        if os.path.basename(cmd[0]) == "ssh" else None) from None
    except OSError as exc:
        raise PctlError(f"cannot run {cmd[0]}: {exc.strerror or exc}") from None
    out = bytearray()
    err = bytearray()
    truncated = threading.Event()

    def feed() -> None:
        try:
            proc.stdin.write(script)
        except OSError:  # the other side stopped reading: its output says why
            pass
        finally:
            try:
                proc.stdin.close()
            except OSError:
                pass

    def read_out() -> None:
        while True:
            chunk = proc.stdout.read1(_CHUNK)
            if not chunk:
                return
            room = max_total - len(out)
            if len(chunk) > room:
                out.extend(chunk[:room])
                truncated.set()
                _stop(proc)
                proc.stdout.close()  # whatever still writes (a grandchild of ssh) gets SIGPIPE, not a full pipe
                return
            out.extend(chunk)

    def read_err() -> None:
        while True:
            chunk = proc.stderr.read1(_CHUNK)
            if not chunk:
                return
            err.extend(chunk)
            if len(err) > 2 * MAX_STDERR:
                del err[:-MAX_STDERR]

    threads = [threading.Thread(target=f, daemon=True) for f in (feed, read_out, read_err)]
    for t in threads:
        t.start()
    problem = None
    threads[1].join(max_time)
    if threads[1].is_alive():
        problem = f"stopped after the overall time limit of {max_time:g} s"
        _stop(proc)
        threads[1].join(10)
    if truncated.is_set():
        limit = f"{max_total // (1024 * 1024)} MiB" if max_total >= 1024 * 1024 else f"{max_total:,} bytes"
        problem = f"the output reached pctl's limit of {limit}; stopped reading (the capture is truncated)"
    try:
        rc = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - a process that ignores SIGKILL
        rc = None
    threads[2].join(5)  # a grandchild may hold stderr open: do not wait for it forever
    for f in (proc.stdout, proc.stderr):
        try:
            f.close()
        except (OSError, ValueError):  # pragma: no cover
            pass
    # the output is handed on as it is (a bytearray: no second copy of up to max_total bytes)
    return _Streamed(None if problem and not truncated.is_set() else rc, out, bytes(err[-MAX_STDERR:]),
                     problem, truncated.is_set())


def _stop(proc: subprocess.Popen) -> None:
    try:
        proc.kill()
    except OSError:  # pragma: no cover - already gone
        pass


def _result(res: RunResult, streamed: _Streamed, boundary: str, max_bytes: int) -> None:
    res.returncode = streamed.returncode
    res.stderr = streamed.stderr.decode("utf-8", "replace")
    res.sections, res.done = split_sections(streamed.stdout, boundary, max_bytes)
    res.error = streamed.problem
    res.truncated = streamed.truncated
    if streamed.truncated and res.sections and not res.done:
        res.sections[-1].truncated = True  # the section that was being read when the cap was reached


def run_ssh(target: str, *, user: str | None = None, port: int | None = None, identity: str | None = None,
            jump: str | None = None, config: str | None = None, section_timeout: int = DEFAULT_SECTION_TIMEOUT,
            connect_timeout: int = DEFAULT_CONNECT_TIMEOUT, max_time: float = DEFAULT_MAX_TIME,
            options: list[str] | tuple[str, ...] = (), max_bytes: int = DEFAULT_MAX_BYTES,
            max_total: int = DEFAULT_MAX_TOTAL) -> RunResult:
    """Capture over exactly one SSH connection. Raises PctlError when nothing could be captured."""
    u, host = split_target(target, user)
    if identity and not os.path.exists(os.path.expanduser(identity)):
        raise UsageError(f"identity file {identity} does not exist")
    if config and not os.path.exists(os.path.expanduser(config)):
        raise UsageError(f"ssh config file {config} does not exist")
    ssh = shutil.which("ssh")
    if ssh is None:
        raise PctlError("the OpenSSH client (ssh) is not installed", hint="install openssh-client; pctl uses it so "
                        "that ~/.ssh/config, ProxyJump, agents and Kerberos work as usual")
    cmd = ssh_command(host, user=u, port=port, identity=identity, jump=jump, config=config,
                      connect_timeout=connect_timeout, options=options, ssh=ssh)
    boundary = make_boundary()
    t0 = time.monotonic()
    streamed = _run(cmd, build_script(boundary, section_timeout, max_bytes), max_time, None, None, max_total)
    res = RunResult(method="ssh", target=(f"{u}@{host}" if u else host), command=cmd,
                    duration_s=round(time.monotonic() - t0, 3))
    _result(res, streamed, boundary, max_bytes)
    rc = res.returncode
    if not res.sections:
        raise _ssh_error(host, port, u, rc, res.stderr, res.error)
    if not res.done and res.error is None:
        res.error = _connection_lost(rc, res.stderr)
    return res


def run_local(*, section_timeout: int = DEFAULT_SECTION_TIMEOUT, max_time: float = DEFAULT_MAX_TIME,
              max_bytes: int = DEFAULT_MAX_BYTES, shell: str = "bash", max_total: int = DEFAULT_MAX_TOTAL) -> RunResult:
    """Run the same script on this machine, in a login shell."""
    exe = shutil.which(shell)
    if exe is None:
        raise PctlError("bash is needed to capture this machine")
    cmd = [exe, "-l", "-s"]
    boundary = make_boundary()
    t0 = time.monotonic()
    streamed = _run(cmd, build_script(boundary, section_timeout, max_bytes), max_time, None,
                    os.path.expanduser("~"), max_total)
    res = RunResult(method="local", target="localhost", command=cmd, duration_s=round(time.monotonic() - t0, 3))
    _result(res, streamed, boundary, max_bytes)
    rc = res.returncode
    if not res.sections:
        tail = _tail(res.stderr)
        raise PctlError("the capture script produced no output" + (f": {tail}" if tail else ""))
    if not res.done and res.error is None:
        res.error = f"the capture script stopped early (exit status {rc})"
    return res


def _tail(text: str, n: int = 3) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return " / ".join(lines[-n:])[:400]


def _connection_lost(rc: int | None, stderr: str) -> str:
    tail = _tail(stderr)
    return f"the connection ended before the capture finished (ssh exit status {rc})" + (f": {tail}" if tail else "")


def _ssh_error(host: str, port: int | None, user: str | None, rc: int | None, stderr: str, problem: str | None) -> PctlError:
    where = f"{user + '@' if user else ''}{host}" + (f" port {port}" if port else "")
    tail = _tail(stderr)
    low = stderr.lower()
    if problem:
        return PctlError(f"capture of {where} produced nothing: {problem}",
                         hint="check that `ssh HOST true` returns promptly; raise --max-time for slow hosts")
    if "connection refused" in low:
        return PctlError(f"cannot connect to {where}: connection refused",
                         hint="is sshd running there, and is the port right (-p PORT)?")
    if "could not resolve hostname" in low or "name or service not known" in low:
        return PctlError(f"cannot resolve host name {host!r}", hint="check the name, or use a Host alias from ~/.ssh/config (-F FILE)")
    if "timed out" in low:
        return PctlError(f"cannot connect to {where}: connection timed out",
                         hint="a firewall or a bastion in between? use -J JUMP_HOST, or raise --connect-timeout")
    if "host key verification failed" in low or "remote host identification has changed" in low:
        return PctlError(f"the host key of {where} is unknown or has changed",
                         hint="connect once with `ssh` to check and accept the key, or pass "
                              "--ssh-option StrictHostKeyChecking=accept-new for a first connection")
    if "permission denied" in low or "too many authentication failures" in low:
        return PctlError(f"authentication to {where} failed ({tail})",
                         hint="pctl never prompts for passwords (BatchMode): give a key that works with "
                              "`ssh -i KEY USER@HOST true` (-i KEY, --user USER), an ssh-agent, or Kerberos")
    if "no such file" in low and ("identity" in low or "load key" in low):
        return PctlError(f"the identity file could not be read ({tail})", hint="check -i KEY")
    if "invalid format" in low or "error in libcrypto" in low or "load key" in low:
        return PctlError(f"the identity file is not a usable private key ({tail})", hint="check -i KEY")
    if rc == 127 or "bash: command not found" in low or "bash: not found" in low:
        return PctlError(f"bash is not available on {where}", hint="the capture script needs bash on the login node")
    return PctlError(f"ssh to {where} failed (exit status {rc})" + (f": {tail}" if tail else ""),
                     hint="try `ssh` with the same options by hand; pctl passes -p/-i/-J/-F/--user through")
