"""A throwaway Debian root for running generated node scripts (tests only).

``debootstrap --variant=minbase bookworm`` (plus the packages in ``INCLUDE``) is built once and cached as a
tarball outside the repository: ``${PCTL_TEST_CACHE:-$HOME/.cache/pctl-tests}/``. Each sandbox
extracts it into a temporary directory and runs commands with ``unshare --mount --pid --fork
chroot`` (a private mount namespace holding a fresh /proc, so nothing stays mounted afterwards).

Environment: ``PCTL_TEST_CACHE`` (cache directory), ``PCTL_TEST_DEBIAN_MIRROR`` (debootstrap
mirror), ``PCTL_TEST_SANDBOX_COPY=1`` (copy the root instead of an overlay mount),
``PCTL_TEST_KEEP_SANDBOX=1`` (tests keep their roots, and overlay mounts, for inspection).

Recording stand-ins (``tests/fixtures/standins/``) come first on PATH inside the root, so scripts
run without network or systemd; see that directory's README.

When the root cannot be built (not root, no debootstrap/unshare, no mirror), :func:`ensure_rootfs`
raises :class:`SandboxUnavailable` with the reason; tests turn it into a skip.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

STANDINS = Path(__file__).resolve().parent / "fixtures" / "standins"
SLURM_UP = Path(__file__).resolve().parent / "fixtures" / "sandbox" / "slurm-up.sh"
STANDIN_DIR = "/usr/local/pctl-standins"
STANDIN_LOG_DIR = "/var/log/pctl-standins"
SUITE = "bookworm"
#: Debian packages of the root: Lmod, tcsh for csh users, procps and Tcl (Environment Modules' needs),
#: OpenSSH (ssh between nodes), Slurm and munge (real sbatch/srun inside the root).
INCLUDE = ("sudo", "lmod", "tcsh", "procps", "less", "python3", "tcl8.6", "openssh-client", "openssh-server",
           "slurm-wlm", "munge")
#: Installed after debootstrap with --force-conflicts: Debian's lmod and environment-modules packages
#: declare a conflict but share no file. ParallelCluster AMIs ship Environment Modules; pctl's Lmod
#: (Spack's, or a system one) must work beside it.
FORCED = ("environment-modules",)
DEFAULT_MIRROR = "http://deb.debian.org/debian"
PATH_IN_ROOT = f"{STANDIN_DIR}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot be built or run on this machine (the reason is the message)."""


def cache_dir() -> Path:
    env = os.environ.get("PCTL_TEST_CACHE")
    if env:
        return Path(env)
    home = os.environ.get("HOME") or str(Path.home())
    return Path(home) / ".cache" / "pctl-tests"


def rootfs_tarball_path() -> Path:
    tag = hashlib.sha256(f"{SUITE} minbase {','.join(INCLUDE)} forced {','.join(FORCED)}".encode()).hexdigest()[:10]
    return cache_dir() / f"rootfs-{SUITE}-{tag}.tar"


def _check_host() -> None:
    if os.geteuid() != 0:
        raise SandboxUnavailable("the node-script sandbox needs root (chroot, unshare, debootstrap)")
    for tool in ("unshare", "chroot", "tar"):
        if shutil.which(tool) is None:
            raise SandboxUnavailable(f"the node-script sandbox needs {tool!r} on PATH")


def ensure_lower() -> Path:
    """The cached root extracted once (read-only lower layer of every sandbox's overlay)."""
    tarball = ensure_rootfs()
    lower = tarball.with_suffix(".d")
    if (lower / ".pctl-complete").exists():
        return lower
    with open(tarball.parent / ".rootfs.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (lower / ".pctl-complete").exists():
            return lower
        shutil.rmtree(lower, ignore_errors=True)
        lower.mkdir()
        subprocess.run(["tar", "-C", str(lower), "--numeric-owner", "-xf", str(tarball)], check=True)
        (lower / ".pctl-complete").write_text("")
    return lower


_FAILURE: SandboxUnavailable | None = None  # remembered: one failed debootstrap per test session


def ensure_rootfs() -> Path:
    """The cached rootfs tarball, built on first use (about 30 s and 220 MB)."""
    global _FAILURE
    if _FAILURE is not None:
        raise _FAILURE
    try:
        return _ensure_rootfs()
    except SandboxUnavailable as exc:
        _FAILURE = exc
        raise


def _ensure_rootfs() -> Path:
    _check_host()
    tarball = rootfs_tarball_path()
    if tarball.is_file():
        return tarball
    debootstrap = shutil.which("debootstrap") or ("/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists()
                                                   else None)
    if debootstrap is None:
        raise SandboxUnavailable("debootstrap is not installed, and no cached root exists at " + str(tarball))
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with open(tarball.parent / ".rootfs.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if tarball.is_file():  # built by a concurrent test process meanwhile
            return tarball
        build = tarball.parent / f".build-{os.getpid()}"
        shutil.rmtree(build, ignore_errors=True)
        mirror = os.environ.get("PCTL_TEST_DEBIAN_MIRROR", DEFAULT_MIRROR)
        cmd = [debootstrap, "--variant=minbase", f"--include={','.join(INCLUDE)}", SUITE, str(build), mirror]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired:
            shutil.rmtree(build, ignore_errors=True)
            raise SandboxUnavailable(f"debootstrap from {mirror} timed out")
        if proc.returncode != 0:
            shutil.rmtree(build, ignore_errors=True)
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-5:])
            raise SandboxUnavailable(f"debootstrap {SUITE} from {mirror} failed (no network?):\n{tail}")
        forced = " ".join(FORCED)
        post = (f"apt-get -q update >/dev/null && cd /tmp && apt-get -q download {forced} && "
                "dpkg --force-conflicts -i /tmp/*.deb && rm -f /tmp/*.deb && apt-get clean && rm -rf /var/lib/apt/lists/*")
        proc = subprocess.run(["chroot", str(build), "/bin/sh", "-c", post], capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            shutil.rmtree(build, ignore_errors=True)
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-5:])
            raise SandboxUnavailable(f"installing {forced} into the {SUITE} root failed (no network?):\n{tail}")
        partial = tarball.with_suffix(".tar.partial")
        subprocess.run(["tar", "-C", str(build), "--numeric-owner", "-cf", str(partial), "."], check=True)
        partial.rename(tarball)
        shutil.rmtree(build, ignore_errors=True)
    return tarball


@dataclass
class Sandbox:
    """One extracted root. Paths given to its methods are paths inside the root."""

    root: Path
    overlay: bool = False

    @classmethod
    def create(cls, directory: Path) -> "Sandbox":
        """An overlay (cached root below, a fresh directory above) or, where overlayfs is not
        available, a full copy of the cached root."""
        lower = ensure_lower()
        directory = Path(directory)
        root = directory / "root"
        root.mkdir(parents=True)
        upper, work = directory / "upper", directory / "work"
        upper.mkdir()
        work.mkdir()
        mounted = not os.environ.get("PCTL_TEST_SANDBOX_COPY") and subprocess.run(
            ["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lower},upperdir={upper},workdir={work}",
             str(root)], capture_output=True).returncode == 0
        if not mounted:
            subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-xf", str(ensure_rootfs())], check=True)
        box = cls(root, overlay=mounted)
        box.install_standins()
        return box

    # -------------------------------------------------------------- files

    def path(self, inside: str) -> Path:
        return self.root / inside.lstrip("/")

    def write(self, inside: str, content: str, mode: int = 0o644) -> Path:
        p = self.path(inside)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content, encoding="utf-8")
        p.chmod(mode)
        return p

    def read(self, inside: str) -> str:
        return self.path(inside).read_text(encoding="utf-8")

    def exists(self, inside: str) -> bool:
        return os.path.lexists(self.path(inside))

    def install_standins(self) -> None:
        dest = self.path(STANDIN_DIR)
        dest.mkdir(parents=True, exist_ok=True)
        for f in STANDINS.iterdir():
            if f.name == "README.md" or not f.is_file():
                continue
            shutil.copy2(f, dest / f.name)
            (dest / f.name).chmod(0o755)
        self.path(STANDIN_LOG_DIR).mkdir(parents=True, exist_ok=True)

    def fake_pcluster_node(self, slurm: str = "24.05.7", pmix: str = "4.2.9", libfabric: str = "1.22.0amzn4.0") -> None:
        """What a ParallelCluster AMI offers Spack: /opt/slurm, /opt/pmix, /opt/amazon/efa."""
        self.write("/opt/slurm/bin/sinfo", f"#!/bin/sh\necho 'slurm {slurm}'\n", 0o755)
        major, minor, release = pmix.split(".")
        self.write("/opt/pmix/include/pmix_version.h",
                   f"#define PMIX_VERSION_MAJOR {major}L\n#define PMIX_VERSION_MINOR {minor}L\n"
                   f"#define PMIX_VERSION_RELEASE {release}L\n")
        self.write("/opt/amazon/efa/bin/fi_info",
                   f"#!/bin/sh\necho '/opt/amazon/efa/bin/fi_info: {libfabric}'\necho 'libfabric: {libfabric}'\n"
                   "echo 'libfabric api: 1.22'\n", 0o755)

    # -------------------------------------------------------------- running

    def _command(self, argv: list[str], env: dict[str, str] | None, net: bool, hostname: str | None) -> list[str]:
        base = {"PATH": PATH_IN_ROOT, "HOME": "/root", "LANG": "C.UTF-8", "TERM": "dumb"}
        base.update(env or {})
        inner = ["/usr/bin/env", "-i", *(f"{k}={v}" for k, v in base.items()), *argv]
        prefix = "mount -t proc proc /proc 2>/dev/null; "
        if hostname:
            prefix += f"hostname {shlex.quote(hostname)}; "
        chroot = ["chroot", str(self.root), "/bin/sh", "-c", prefix + 'exec "$@"', "sandbox", *inner]
        uts = ["--uts"] if hostname or net else []
        if not net:
            return ["unshare", "--mount", "--pid", *uts, "--fork", "--kill-child", *chroot]
        if shutil.which("ip") is None:
            raise SandboxUnavailable("the Slurm sandbox needs 'ip' (iproute2) on the host")
        setup = ('ip link set lo up && ip addr add 10.255.0.1/32 dev lo && mount --rbind /sys "$1/sys" '
                 '&& shift && exec "$@"')
        return ["unshare", "--mount", "--pid", "--net", *uts, "--fork", "--kill-child", "/bin/sh", "-c",
                setup, "net-setup", str(self.root), *chroot]

    def spawn(self, argv: list[str], *, env: dict[str, str] | None = None, hostname: str | None = None) \
            -> subprocess.Popen:
        """Start argv inside the root in the background (a daemon); kill() the result to stop it."""
        return subprocess.Popen(self._command(argv, env, False, hostname), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)

    def run(self, argv: list[str], *, timeout: float = 180, env: dict[str, str] | None = None,
            input: str | None = None, net: bool = False, hostname: str | None = None) -> subprocess.CompletedProcess:
        """Run argv inside the root (as root), with a clean environment and the stand-ins first.

        ``net=True``: also in private network and UTS namespaces whose loopback carries 10.255.0.1
        (a node address for Slurm, see fixtures/sandbox/slurm-up.sh) and with the host's /sys bound
        in (slurmd reads the cgroup and CPU topology there).
        ``hostname``: in a private UTS namespace with that host name.
        """
        return subprocess.run(self._command(argv, env, net, hostname), capture_output=True, text=True,
                              timeout=timeout, input=input)

    def run_script(self, content: str, *args: str, name: str = "script.sh", timeout: float = 180,
                   hostname: str | None = None) -> subprocess.CompletedProcess:
        """Copy a script to /root/<name> and run it with bash, as ParallelCluster would."""
        self.write(f"/root/{name}", content, 0o700)
        return self.run(["/bin/bash", f"/root/{name}", *args], timeout=timeout, hostname=hostname)

    def sh(self, command: str, *, user: str | None = None, login: bool = False) -> subprocess.CompletedProcess:
        """A shell command inside the root; as a user (runuser) and/or as a login shell."""
        if user and login:
            argv = ["runuser", "-l", user, "-c", command]
        elif user:
            argv = ["runuser", "-u", user, "--", "/bin/bash", "-c", command]
        else:
            argv = ["/bin/bash", "-lc" if login else "-c", command]
        return self.run(argv)

    def calls(self, standin: str) -> list[list[str]]:
        """The recorded calls of a stand-in, each a list of arguments."""
        log = self.path(f"{STANDIN_LOG_DIR}/{standin}.log")
        if not log.exists():
            return []
        return [shlex.split(line) for line in log.read_text(encoding="utf-8").splitlines()]

    def snapshot(self, *insides: str) -> dict[str, str]:
        """sha256 (or link target) of every file under the given paths, plus modes and owners."""
        out: dict[str, str] = {}
        for inside in insides:
            top = self.path(inside)
            if not os.path.lexists(top):
                out[inside] = "<missing>"
                continue
            items = [top] if not top.is_dir() or top.is_symlink() else \
                [top, *sorted(p for p in top.rglob("*"))]
            for p in items:
                rel = "/" + str(p.relative_to(self.root))
                st = p.lstat()
                meta = f"{st.st_mode:o} {st.st_uid}:{st.st_gid}"
                if p.is_symlink():
                    out[rel] = f"{meta} -> {os.readlink(p)}"
                elif p.is_file():
                    out[rel] = f"{meta} {hashlib.sha256(p.read_bytes()).hexdigest()}"
                else:
                    out[rel] = meta
        return out

    def destroy(self) -> None:
        if self.overlay:
            if subprocess.run(["umount", str(self.root)], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", str(self.root)], capture_output=True)
            self.overlay = False
            shutil.rmtree(self.root.parent / "upper", ignore_errors=True)
            shutil.rmtree(self.root.parent / "work", ignore_errors=True)
            shutil.rmtree(self.root, ignore_errors=True)
        else:
            shutil.rmtree(self.root, ignore_errors=True)
