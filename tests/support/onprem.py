"""The on-prem simulation (sshd + Lmod hierarchy + munge + Slurm + users + mounts on loopback), started once
per test session and shared by every test that needs it (capture, check). See tests/fixtures/onprem/.

The fixture `onprem` (tests/conftest.py) runs setup-onprem.sh on a free port (or $PCTL_TEST_ONPREM_PORT)
with its state in a fresh /tmp directory (or $PCTL_TEST_ONPREM_DIR), and teardown-onprem.sh --purge at the
end (it removes only what setup created). Skipped, with the reason, when not root or when
openssh-server/lmod/slurm-wlm/munge are missing (./scripts/test installs them).

It is a machine-wide singleton (Slurm's ports, /etc/slurm): only one session may run it at a time.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SIM = ROOT / "tests" / "fixtures" / "onprem"
PACKAGES = ("openssh-server", "openssh-client", "lmod", "slurm-wlm", "munge")
#: where the simulation keeps its modulefiles and stub software (setup-onprem.sh's ONPREM_APPS)
APPS = Path(os.environ.get("ONPREM_APPS", "/opt/apps"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def installed(pkg: str) -> bool:
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return r.returncode == 0 and "install ok installed" in r.stdout


@dataclass
class Sim:
    dir: Path
    port: int
    ssh_config: Path
    key: Path
    wrong_key: Path
    known_hosts: Path
    sshd_log: Path
    mounts: list[str]
    apps: Path = APPS

    def log_counts(self) -> tuple[int, int]:
        """(logins, connections) sshd has logged so far."""
        text = self.sshd_log.read_text(errors="replace") if self.sshd_log.exists() else ""
        return (len(re.findall(r"Accepted publickey for \S+ from 127\.0\.0\.1", text)),
                len(re.findall(rf"Connection from 127\.0\.0\.1 port \d+ on 127\.0\.0\.1 port {self.port}\b", text)))


class SimUnavailable(Exception):
    """The simulation cannot run here (the reason is the message): tests skip."""


def start(env_overrides: dict | None = None):
    """Generator: set the simulation up, yield a Sim, tear it down. Raises SimUnavailable (skip) or
    RuntimeError (setup failed)."""
    if os.geteuid() != 0:
        raise SimUnavailable("the on-prem simulation needs root (it starts sshd, munge and Slurm, adds users, "
                             "loop-mounts)")
    if shutil.which("dpkg-query") is None:
        raise SimUnavailable("the on-prem simulation needs a Debian/Ubuntu host (dpkg)")
    missing = [p for p in PACKAGES if not installed(p)]
    if missing:
        raise SimUnavailable(f"packages missing for the on-prem simulation: {' '.join(missing)} "
                             "(./scripts/test installs them)")
    made = None
    if os.environ.get("PCTL_TEST_ONPREM_DIR"):
        d = Path(os.environ["PCTL_TEST_ONPREM_DIR"])
    else:  # not under pytest's 0700 temp root: munged and slurmctld (own users) keep PID files in it
        d = made = Path(tempfile.mkdtemp(prefix="pctl-onprem-", dir="/tmp"))
        d.chmod(0o755)
    port = int(os.environ.get("PCTL_TEST_ONPREM_PORT") or free_port())
    env = dict(os.environ, ONPREM_DIR=str(d), SSH_PORT=str(port), ONPREM_SKIP_TEST="1", ONPREM_NO_INSTALL="1",
               ONPREM_APPS=str(APPS), **(env_overrides or {}))
    try:
        for attempt in range(3):
            r = subprocess.run(["bash", str(SIM / "setup-onprem.sh")], capture_output=True, text=True, env=env,
                               timeout=600)
            if r.returncode != 4:
                break
            time.sleep(3)  # a Slurm daemon of a session that just ended may still be exiting
        if r.returncode in (3, 4):
            raise SimUnavailable(f"on-prem simulation not started: {r.stderr.strip()}")
        if r.returncode != 0:
            raise RuntimeError(f"setup-onprem.sh failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
        mounts_list = d / "run" / "mounts.list"
        mounts = mounts_list.read_text().split() if mounts_list.exists() else []
        yield Sim(dir=d, port=port, ssh_config=d / "keys" / "ssh_config", key=d / "keys" / "id_onprem",
                  wrong_key=d / "keys" / "id_wrong", known_hosts=d / "keys" / "known_hosts",
                  sshd_log=d / "logs" / "sshd.log", mounts=mounts)
    finally:  # stops only what this setup started, removes only what it created (run/created.list)
        subprocess.run(["bash", str(SIM / "teardown-onprem.sh"), "--purge"], capture_output=True, text=True,
                       env=env, timeout=300)
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
