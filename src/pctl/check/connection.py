"""One multiplexed OpenSSH connection to a cluster's head node.

The system ``ssh`` is used (so ``~/.ssh/config``, ProxyJump, agents and certificates work as for the
user's own ssh). A master connection (``ControlMaster``) is opened once, with its control socket in a
private temporary directory (0700); every probe then runs as a session over it, in parallel. ``BatchMode``:
nothing ever prompts. Host keys are checked: by ssh's own rules for an explicit host, or
``accept-new`` (trust on first use, then checked) for clusters pctl knows, as ``pctl ssh`` does.

Every ssh process runs in its own session (process group), so Ctrl-C in the terminal reaches pctl only:
pctl then still has the connection to cancel the run's jobs and remove its probe files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass

from pctl.errors import PctlError, UsageError

REMOTE_SHELL = "bash -l -s"
MASTER_COMMAND = "exec cat >/dev/null"


@dataclass(frozen=True)
class Target:
    host: str
    user: str | None = None
    port: int | None = None
    identity: str | None = None
    config: str | None = None
    jump: str | None = None
    options: tuple[str, ...] = ()
    host_key_policy: str | None = None  # StrictHostKeyChecking; None keeps ssh's own setting

    @property
    def display(self) -> str:
        return (f"{self.user}@" if self.user else "") + self.host + (f":{self.port}" if self.port else "")

    def base_command(self, ssh: str, connect_timeout: int) -> list[str]:
        cmd = [ssh, "-T", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={int(connect_timeout)}",
               "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4"]
        if self.config:
            cmd += ["-F", self.config]
        if self.port:
            cmd += ["-p", str(int(self.port))]
        if self.identity:
            cmd += ["-i", self.identity, "-o", "IdentitiesOnly=yes"]
        if self.jump:
            cmd += ["-J", self.jump]
        if self.host_key_policy:
            cmd += ["-o", f"StrictHostKeyChecking={self.host_key_policy}"]
        for opt in self.options:
            cmd += ["-o", opt]
        if self.user:
            cmd += ["-l", self.user]
        return cmd


def make_target(host: str, *, user: str | None = None, port: int | None = None, identity: str | None = None,
                config: str | None = None, jump: str | None = None, options=(),
                host_key_policy: str | None = None) -> Target:
    """Validate what the user typed (nothing may turn into an ssh option) and build a Target."""
    from pctl.capture.collect import split_target

    u, h = split_target(host, user)
    if identity is not None:
        identity = os.path.expanduser(identity)
        if not os.path.isfile(identity):
            raise UsageError(f"identity file {identity} does not exist")
    if config is not None:
        config = os.path.expanduser(config)
        if not os.path.isfile(config):
            raise UsageError(f"ssh config file {config} does not exist")
    if jump is not None and (jump.startswith("-") or not jump.strip() or any(c.isspace() for c in jump)):
        raise UsageError(f"{jump!r} is not a jump host")
    opts = []
    for opt in options:
        key, eq, value = opt.partition("=")
        if not eq or not key.isalnum() or opt.startswith("-") or "\n" in opt:
            raise UsageError(f"--ssh-option {opt!r} must look like Key=Value (e.g. UserKnownHostsFile=~/.ssh/known)")
        if key.lower() in ("controlmaster", "controlpath", "controlpersist", "batchmode", "proxycommand",
                           "localcommand", "permitlocalcommand"):
            raise UsageError(f"--ssh-option {key} is managed by pctl check (or not allowed)")
        opts.append(opt)
    if port is not None and not 1 <= int(port) <= 65535:
        raise UsageError(f"port {port} is not between 1 and 65535")
    return Target(host=h, user=u, port=port, identity=identity, config=config, jump=jump, options=tuple(opts),
                  host_key_policy=host_key_policy)


class Connection:
    """``with Connection(target) as conn:`` opens the master; ``conn.start(script)`` starts a session."""

    def __init__(self, target: Target, *, connect_timeout: int = 15):
        self.target = target
        self.connect_timeout = connect_timeout
        self.ssh = shutil.which("ssh")
        if self.ssh is None:
            raise PctlError("the OpenSSH client (ssh) is not installed",
                            hint="install openssh-client; pctl check uses it so ~/.ssh/config, ProxyJump and "
                                 "agents work as usual")
        self.dir: str | None = None
        self.master: subprocess.Popen | None = None
        self._sessions: list[subprocess.Popen] = []
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ master
    @property
    def control_path(self) -> str:
        assert self.dir is not None
        return os.path.join(self.dir, "cm")

    def _mux(self) -> list[str]:
        return ["-o", f"ControlPath={self.control_path}"]

    def open(self) -> Connection:
        base = "/tmp" if os.path.isdir("/tmp") else None  # short: a socket path is limited to ~100 bytes
        self.dir = tempfile.mkdtemp(prefix="pctl-ssh-", dir=base)
        os.chmod(self.dir, 0o700)
        # The master's own session reads its stdin until EOF: if pctl dies without closing the connection
        # (SIGKILL), the pipe closes, the remote `cat` ends and the master with it; nothing lingers.
        cmd = self.target.base_command(self.ssh, self.connect_timeout) + [
            "-M", "-o", "ControlMaster=yes", "-o", "ControlPersist=no", *self._mux(), "--", self.target.host,
            MASTER_COMMAND]
        err = tempfile.TemporaryFile(dir=self.dir)
        self.master = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err,
                                       start_new_session=True)
        deadline = time.monotonic() + self.connect_timeout + 20
        while True:
            if self.master.poll() is not None:
                err.seek(0)
                text = err.read().decode("utf-8", "replace")
                rc = self.master.returncode
                self.close()
                raise connect_error(self.target, rc, text)
            if os.path.exists(self.control_path) and self._check():
                break
            if time.monotonic() > deadline:
                self.close()
                raise PctlError(f"cannot connect to {self.target.display}: no answer within "
                                f"{self.connect_timeout + 20} s", hint="check that `ssh HOST true` returns promptly")
            time.sleep(0.05)
        err.close()
        return self

    def _check(self) -> bool:
        cmd = self.target.base_command(self.ssh, self.connect_timeout) + [*self._mux(), "-O", "check", "--",
                                                                          self.target.host]
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        return r.returncode == 0

    def __enter__(self) -> Connection:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ sessions
    def session_command(self, remote: str = REMOTE_SHELL) -> list[str]:
        return self.target.base_command(self.ssh, self.connect_timeout) + [
            "-o", "ControlMaster=no", *self._mux(), "--", self.target.host, remote]

    def start(self, script: str) -> subprocess.Popen:
        """A session running ``bash -l -s`` with SCRIPT on stdin (written by a thread; stdout is a pipe,
        stderr a temporary file at ``proc.pctl_stderr``)."""
        if self.master is None or self.master.poll() is not None:
            raise PctlError(f"the connection to {self.target.display} is closed")
        err = tempfile.TemporaryFile(dir=self.dir)
        proc = subprocess.Popen(self.session_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                start_new_session=True)
        proc.pctl_stderr = err  # type: ignore[attr-defined]
        data = script.encode("utf-8")

        def feed():
            try:
                proc.stdin.write(data)
            except (BrokenPipeError, OSError, ValueError):
                pass
            finally:
                try:
                    proc.stdin.close()
                except (OSError, ValueError):
                    pass

        threading.Thread(target=feed, name="pctl-check-stdin", daemon=True).start()
        with self._lock:
            self._sessions.append(proc)
        return proc

    def run(self, script: str, *, timeout: float) -> tuple[int | None, bytes, str]:
        """Run SCRIPT to its end (or TIMEOUT): (exit status or None, stdout, stderr text)."""
        proc = self.start(script)
        timer = threading.Timer(timeout, self.stop, args=(proc,))
        timer.daemon = True
        timer.start()
        try:
            out = proc.stdout.read()  # stdin belongs to the feeding thread: no communicate()
            proc.wait()
        finally:
            timer.cancel()
        return proc.returncode, out or b"", stderr_text(proc)

    def stop(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def stop_all(self) -> None:
        with self._lock:
            sessions = list(self._sessions)
        for p in sessions:
            self.stop(p)

    def alive(self) -> bool:
        return self.master is not None and self.master.poll() is None

    def close(self) -> None:
        self.stop_all()
        if self.master is not None:
            if self.master.poll() is None and self.dir and os.path.exists(self.control_path):
                try:
                    subprocess.run(self.target.base_command(self.ssh, self.connect_timeout)
                                   + [*self._mux(), "-O", "exit", "--", self.target.host],
                                   stdin=subprocess.DEVNULL, capture_output=True, timeout=15)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            if self.master.stdin is not None:
                try:
                    self.master.stdin.close()
                except OSError:
                    pass
            if self.master.poll() is None:
                self.master.terminate()
            try:
                self.master.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.master.kill()
                self.master.wait(timeout=5)
        with self._lock:
            for p in self._sessions:
                err = getattr(p, "pctl_stderr", None)
                if err is not None:
                    err.close()
            self._sessions.clear()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


def stderr_text(proc: subprocess.Popen, limit: int = 64 * 1024) -> str:
    err = getattr(proc, "pctl_stderr", None)
    if err is None or err.closed:
        return ""
    err.seek(0)
    return err.read(limit).decode("utf-8", "replace")


def connect_error(target: Target, rc: int | None, stderr: str) -> PctlError:
    from pctl.capture.collect import _ssh_error

    exc = _ssh_error(target.host, target.port, target.user, rc, stderr, None)
    if "host key" in exc.message and target.host_key_policy is None:
        exc.hint = ("check the key, then add it to known_hosts (connect once with ssh), or pass "
                    "--ssh-option UserKnownHostsFile=FILE / StrictHostKeyChecking=accept-new")
    return exc
