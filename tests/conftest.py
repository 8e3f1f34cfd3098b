"""Shared fixtures. Tests never touch the user's pctl home, AWS config or a real network."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

try:  # property tests: deterministic in CI (a submission must not pass or fail by chance)
    from hypothesis import settings as _hsettings

    _hsettings.register_profile("ci", derandomize=True, database=None, print_blob=True)
    _hsettings.register_profile("dev", print_blob=True)
    _hsettings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))
except ImportError:  # pragma: no cover
    pass
FIXTURES = ROOT / "tests" / "fixtures"
SHARED = ROOT.parent / "shared"


BUNDLED_CATALOG = ROOT / "src" / "pctl" / "spack" / "data" / "spack-packages.json.gz"


def real_catalog_path() -> Path | None:
    """The real spack-packages v2026.06.0 catalog: $PCTL_TEST_SPACK_INDEX, ../shared's full JSON, else the
    compact copy pctl ships (the same data, so a clone without ../shared runs the same checks)."""
    env = os.environ.get("PCTL_TEST_SPACK_INDEX")
    if env and Path(env).is_file():
        return Path(env)
    p = SHARED / "data" / "spack-packages.json"
    if p.is_file():
        return p
    return BUNDLED_CATALOG if BUNDLED_CATALOG.is_file() else None


MINI_CATALOG = FIXTURES / "spack" / "mini-catalog.json"

from support.cli import VALID, run_pctl  # noqa: E402  (shared with test modules: import from support.cli)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("pctl-home")
    monkeypatch.setenv("PCTL_HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.delenv("PCTL_SPACK_INDEX", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    yield home


@pytest.fixture(scope="session")
def real_catalog():
    """The real Spack catalog (spack-packages v2026.06.0): ../shared's, else the one pctl ships."""
    p = real_catalog_path()
    if p is None:
        pytest.skip("no real Spack catalog: neither ../shared/data/spack-packages.json nor pctl's shipped one")
    from pctl.spack.catalog import Catalog

    return Catalog.load(p)


@pytest.fixture(scope="session")
def catalog():
    """The real catalog (../shared's or the shipped one), else the project's own small fixture catalog."""
    from pctl.spack.catalog import Catalog

    p = real_catalog_path() or MINI_CATALOG
    return Catalog.load(p)


@pytest.fixture(scope="session")
def catalog_path():
    return real_catalog_path() or MINI_CATALOG


@pytest.fixture
def pctl():
    return run_pctl




@pytest.fixture
def valid_text():
    return VALID


# ---------------------------------------------------------------- network guard and the AWS emulator

import contextlib
import shutil
import socket
import time

_real_getaddrinfo = socket.getaddrinfo
BLOCKED_LOOKUPS: set[str] = set()


def _loopback_only(host, *args, **kwargs):
    """Tests reach nothing but loopback: pcluster's region validator fetches from public S3 directly."""
    h = host.decode() if isinstance(host, bytes) else str(host)
    if h not in ("127.0.0.1", "localhost", "::1") and not h.startswith("127."):
        BLOCKED_LOOKUPS.add(h)
        raise socket.gaierror(f"blocked non-loopback lookup in tests: {h}")
    return _real_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _loopback_only


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_tls(tmp_path_factory):
    """A throwaway certificate for 127.0.0.1, so the emulator speaks TLS like AWS (bucket policies that
    deny insecure transport are enforced by moto)."""
    d = tmp_path_factory.mktemp("moto-tls")
    cert, key = d / "cert.pem", d / "key.pem"
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                        str(cert), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"openssl could not make a test certificate: {r.stderr[-200:]}")
    return cert, key


def _serve_moto(moto_tls, extra_env: dict | None = None):
    """Start the shimmed moto server (tests/support/moto_tls_server.py) over TLS on a free loopback port."""
    port = _free_port()
    env = dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true", **(extra_env or {}))
    for k in [k for k in env if k.startswith("AWS_ENDPOINT_URL")]:
        env.pop(k)
    cert, key = moto_tls
    shim = Path(__file__).parent / "support" / "moto_tls_server.py"
    proc = subprocess.Popen([sys.executable, str(shim), "-H", "127.0.0.1", "-p", str(port), "-c", str(cert), "-k",
                             str(key)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("moto_server did not start")
    return proc, f"https://127.0.0.1:{port}"


def _stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def moto_server(moto_tls):
    """A moto server on https://127.0.0.1 (ephemeral port) for the whole session; yields its URL. moto refuses
    ParallelCluster's stack template (the expected end of a create here)."""
    proc, url = _serve_moto(moto_tls)
    try:
        yield url
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def moto_lifecycle_server(moto_tls):
    """A second server where a stack moto cannot make is recorded without resources (PCTL_MOTO_HOLLOW_STACKS=1), so
    ParallelCluster's create completes and its describe/list/delete run for real. Only for lifecycle tests."""
    proc, url = _serve_moto(moto_tls, {"PCTL_MOTO_HOLLOW_STACKS": "1"})
    try:
        yield url
    finally:
        _stop(proc)


def _point_at(url, moto_tls, monkeypatch) -> dict:
    import ssl
    import urllib.request

    ctx = ssl.create_default_context(cafile=str(moto_tls[0]))
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=30,
                           context=ctx).read()
    for k in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL_") or k in ("AWS_PROFILE", "AWS_SESSION_TOKEN")]:
        monkeypatch.delenv(k, raising=False)
    env = {
        "AWS_ENDPOINT_URL": url, "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_CA_BUNDLE": str(moto_tls[0]),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


@pytest.fixture
def aws_env(moto_server, moto_tls, monkeypatch):
    """Point boto3 (and pctl subprocesses) at the emulator with dummy credentials; fresh state per test."""
    return _point_at(moto_server, moto_tls, monkeypatch)


@pytest.fixture
def aws_lifecycle_env(moto_lifecycle_server, moto_tls, monkeypatch):
    """As aws_env, on the server where ParallelCluster's create completes (see moto_lifecycle_server)."""
    return _point_at(moto_lifecycle_server, moto_tls, monkeypatch)


@pytest.fixture
def aws(aws_env):
    from pctl.aws import Aws

    return Aws(region="us-east-1")


# ---------------------------------------------------------------- the on-prem simulation (one per session)

@pytest.fixture(scope="session")
def onprem():
    """The on-prem simulation (tests/support/onprem.py): sshd, Lmod, munge, Slurm, users, mounts."""
    from support.onprem import SimUnavailable, start

    gen = start()
    try:
        sim = next(gen)
    except SimUnavailable as exc:
        pytest.skip(str(exc))
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield sim
    finally:
        gen.close()
