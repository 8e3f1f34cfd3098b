"""The DevOps engineer's CI snippets, verbatim, against the moto server with the real builder agent:

* the personas' snippet: ``pctl ami build ... --detach`` then
  ``BUILD_ID=$(pctl ami list-builds | tail -1 | awk '{print $1}')`` and ``pctl ami status $BUILD_ID --watch``;
* the new form: ``BUILD_ID=$(pctl ami build ... --detach)`` then ``pctl ami status "$BUILD_ID" --watch``;

for a new build (with an older failed build in the account), a reused AMI, two concurrent CI jobs, and a
template in another region than the shell's default. Each CI job is its own runner: its own pctl home, a
`pctl` on PATH, the script run as GitHub Actions runs it (bash -eo pipefail). Then the watch itself: one
HTTP 500 does not fail it; AWS that does not answer is exit 3 (could not find out), never 1 (failed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_ami_build import (  # noqa: F401  (fixtures)
    PC_VERSION,
    Imds,
    builder_root,
    fast_agent,
    imds,
    instances,
    run_builder,
    standins,
)

from pctl.ami.ids import is_build_id, region_of
from pctl.ami.store import BuildStore
from pctl.aws import Aws
from support.fault_proxy import FaultProxy

pytestmark = pytest.mark.slow

PERSONA_SNIPPET = """\
pctl ami build -t seeds/chemistry/{name}.yaml \\
  --name {name}-$(date +%Y%m%d) \\
  --detach

# Track build
BUILD_ID=$(pctl ami list-builds | tail -1 | awk '{{print $1}}')
pctl ami status $BUILD_ID --watch
"""

DETACH_SNIPPET = """\
BUILD_ID=$(pctl ami build -t seeds/chemistry/{name}.yaml --name {name}-$(date +%Y%m%d) --detach)
pctl ami status "$BUILD_ID" --watch
"""

SNIPPETS = {"persona": PERSONA_SNIPPET, "detach": DETACH_SNIPPET}

SEED = """\
cluster:
  name: {name}
  region: {region}
compute:
  head_node: c6i.xlarge
  queues:
    - name: compute
      instance_types: [c6i.8xlarge]
      max_count: 4
software:
  spack_packages: [{packages}]
"""

PACKAGES = {"gromacs": "gromacs@2024, fftw", "quantum-espresso": "quantum-espresso@7.3, hdf5",
            "lammps": "lammps, openmpi"}


def register_base_images(region: str) -> None:
    ec2 = Aws(region=region).client("ec2")
    for arch in ("x86_64", "arm64"):
        ec2.register_image(Name=f"aws-parallelcluster-{PC_VERSION}-amzn2023-hvm-{arch}-202601010000")


@pytest.fixture
def base_images(aws_env, monkeypatch):
    monkeypatch.setenv("PCTL_AMI_BASE_OWNERS", "self")
    for region in ("us-east-1", "us-west-2"):
        register_base_images(region)


class Job:
    """One CI job: its own runner (pctl home, workspace), `pctl` on PATH, the snippet in bash -eo pipefail."""

    def __init__(self, root: Path, label: str, template: str, region: str = "us-east-1", snippet: str = "persona"):
        self.dir = root / label
        self.home = self.dir / "home"
        self.bin = self.dir / "bin"
        for d in (self.home, self.bin, self.dir / "seeds" / "chemistry"):
            d.mkdir(parents=True, exist_ok=True)
        (self.dir / "seeds" / "chemistry" / f"{template}.yaml").write_text(
            SEED.format(name=template, region=region, packages=PACKAGES[template]))
        # the snippet, verbatim; the last line only reports what BUILD_ID was (for the test)
        (self.dir / "job.sh").write_text(SNIPPETS[snippet].format(name=template)
                                         + 'echo "$BUILD_ID" > "$JOB_DIR/build-id"\n')
        pctl = self.bin / "pctl"
        # `pctl` as pip installs it; PCTL_JOB_WAIT_BEFORE_LIST lets the test order two jobs' steps (a race)
        pctl.write_text(f"""#!/bin/bash
if [ "$1 $2" = "ami list-builds" ] && [ -n "${{PCTL_JOB_WAIT_BEFORE_LIST:-}}" ]; then
    while [ ! -e "$PCTL_JOB_WAIT_BEFORE_LIST" ]; do sleep 0.1; done
fi
if [ "$1 $2" = "ami build" ]; then
    {sys.executable} -m pctl "$@"; rc=$?; touch "$JOB_DIR/built"; exit $rc
fi
exec {sys.executable} -m pctl "$@"
""")
        pctl.chmod(0o755)
        self.template = template
        self.region = region
        self.proc = None

    def start(self, **env) -> Job:
        e = dict(os.environ, PATH=f"{self.bin}{os.pathsep}{os.environ['PATH']}", PCTL_HOME=str(self.home),
                 XDG_CACHE_HOME=str(self.home / "cache"), XDG_CONFIG_HOME=str(self.home / "config"),
                 JOB_DIR=str(self.dir), **env)
        e.pop("PCTL_DEBUG", None)
        self.proc = subprocess.Popen(["bash", "--noprofile", "--norc", "-eo", "pipefail", "job.sh"], cwd=self.dir,
                                     env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return self

    def wait(self, timeout=240) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err

    @property
    def build_id(self) -> str:
        return (self.dir / "build-id").read_text().strip()

    def built(self) -> bool:
        return (self.dir / "built").exists()


def wait_for_builder(region: str, template: str, known: set[str], timeout: float = 120.0) -> str:
    """The build id of a new builder instance for `template` (what EC2 would boot next)."""
    ec2 = Aws(region=region).client("ec2")
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        res = ec2.describe_instances(Filters=[{"Name": "tag:pctl:template", "Values": [template]},
                                              {"Name": "instance-state-name", "Values": ["pending", "running"]}])
        for r in res["Reservations"]:
            for i in r["Instances"]:
                bid = {t["Key"]: t["Value"] for t in i["Tags"]}["pctl:build-id"]
                if bid not in known:
                    return bid
        time.sleep(0.3)
    raise AssertionError(f"no builder for {template} in {region}")


def boot(region: str, bid: str, imds, standins, **extra_env) -> None:
    """EC2 + cloud-init for that builder: the agent runs to its end."""
    aws = Aws(region=region)
    imds.region = region
    fast_agent(aws, bid)
    rc, out = run_builder(aws, bid, imds, standins, extra_env=extra_env or None)
    assert rc == 0, out


def status_of(bid: str, **env) -> dict:
    e = dict(os.environ, **env)
    e.pop("PCTL_DEBUG", None)
    r = subprocess.run([sys.executable, "-m", "pctl", "ami", "status", bid, "--json"], capture_output=True, text=True,
                       env=e, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def older_failed_build(tmp_path, imds, standins) -> str:
    """Another team's build of other software, which failed, started before ours (from another machine)."""
    other = Job(tmp_path, "other-team", "lammps")
    e = dict(os.environ, PCTL_HOME=str(other.home))
    e.pop("PCTL_DEBUG", None)
    r = subprocess.run([sys.executable, "-m", "pctl", "ami", "build", "-t", "seeds/chemistry/lammps.yaml", "--detach"],
                       cwd=other.dir, env=e, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    bid = r.stdout.strip()
    boot("us-east-1", bid, imds, standins, STANDIN_FAIL_INSTALL="1")
    assert status_of(bid)["status"] == "failed"
    time.sleep(1.1)  # ours starts in a later second
    return bid


@pytest.mark.parametrize("snippet", ["persona", "detach"])
def test_new_build_then_reused_ami(snippet, aws_env, base_images, builder_root, standins, imds, tmp_path):
    failed = older_failed_build(tmp_path, imds, standins)
    # 1. a new build: the snippet watches it, not the older failed one, and passes when the AMI is available
    job = Job(tmp_path, "job-1", "gromacs", snippet=snippet).start()
    bid = wait_for_builder("us-east-1", "gromacs", {failed})
    boot("us-east-1", bid, imds, standins)
    rc, out, err = job.wait()
    assert rc == 0, err
    assert job.build_id == bid and is_build_id(bid) and region_of(bid) == "us-east-1"
    assert f"{bid}  available  ami ami-" in out
    ami = status_of(bid)["ami_id"]
    # 2. the same software again, on a fresh runner: nothing is launched, the reuse is a build of its own
    #    (available at once) and the snippet passes at once
    job2 = Job(tmp_path, "job-2", "gromacs", snippet=snippet).start()
    rc, out, err = job2.wait(timeout=120)
    assert rc == 0, err
    reuse = job2.build_id
    assert reuse not in (bid, failed) and is_build_id(reuse)
    st = status_of(reuse)
    assert (st["status"], st["action"], st["ami_id"], st["reused_build_id"]) == ("available", "reused", ami, bid)
    assert "nothing to build" in err and f"{reuse}  available  ami {ami}" in out
    assert len(instances(Aws(region="us-east-1"), states=("pending", "running"))) == 0


@pytest.mark.parametrize("snippet", ["persona", "detach"])
def test_two_concurrent_ci_jobs_each_watch_their_own_build(snippet, aws_env, base_images, builder_root, standins,
                                                          imds, tmp_path):
    a = Job(tmp_path, "job-a", "gromacs", snippet=snippet)
    b = Job(tmp_path, "job-b", "quantum-espresso", snippet=snippet)
    # the race of the issue: A builds, B builds, only then A lists (B's build is the newest in the account)
    a.start(PCTL_JOB_WAIT_BEFORE_LIST=str(b.dir / "built"))
    t0 = time.monotonic()
    while not a.built():
        assert time.monotonic() - t0 < 120, "job A's build did not return"
        time.sleep(0.1)
    time.sleep(1.1)
    b.start()
    bid_a = wait_for_builder("us-east-1", "gromacs", set())
    bid_b = wait_for_builder("us-east-1", "quantum-espresso", set())
    assert bid_a != bid_b
    boot("us-east-1", bid_a, imds, standins)
    boot("us-east-1", bid_b, imds, standins)
    (rc_a, out_a, err_a), (rc_b, out_b, err_b) = a.wait(), b.wait()
    assert rc_a == 0 and rc_b == 0, err_a + err_b
    assert (a.build_id, b.build_id) == (bid_a, bid_b), "each job watched its own build"
    assert status_of(bid_a)["template"] == "gromacs" and status_of(bid_b)["template"] == "quantum-espresso"
    # without a job's own history, the account's list is simply oldest first (any machine sees every build)
    e = dict(os.environ, PCTL_HOME=str(tmp_path / "laptop"))
    e.pop("PCTL_DEBUG", None)
    r = subprocess.run([sys.executable, "-m", "pctl", "ami", "list-builds"], env=e, capture_output=True, text=True)
    assert [ln.split()[0] for ln in r.stdout.splitlines()[1:]] == [bid_a, bid_b]


def test_two_jobs_with_the_same_software_share_one_build(aws_env, base_images, builder_root, standins, imds,
                                                         tmp_path):
    a = Job(tmp_path, "job-a", "gromacs", snippet="persona").start()
    bid = wait_for_builder("us-east-1", "gromacs", set())
    b = Job(tmp_path, "job-b", "gromacs", snippet="detach").start()
    t0 = time.monotonic()
    while not b.built():
        assert time.monotonic() - t0 < 120
        time.sleep(0.1)
    boot("us-east-1", bid, imds, standins)
    (rc_a, _, err_a), (rc_b, _, err_b) = a.wait(), b.wait()
    assert rc_a == 0 and rc_b == 0, err_a + err_b
    assert a.build_id == b.build_id == bid and "already running" in err_b
    assert len(instances(Aws(region="us-east-1"), states=("pending", "running", "shutting-down", "terminated"))) == 1


@pytest.mark.parametrize("snippet", ["persona", "detach"])
def test_template_in_another_region_than_the_shells_default(snippet, aws_env, base_images, builder_root, standins,
                                                            imds, tmp_path):
    assert os.environ["AWS_REGION"] == "us-east-1"
    job = Job(tmp_path, "job-west", "gromacs", region="us-west-2", snippet=snippet).start()
    bid = wait_for_builder("us-west-2", "gromacs", set())
    assert region_of(bid) == "us-west-2"
    boot("us-west-2", bid, imds, standins)
    rc, out, err = job.wait()
    assert rc == 0, err
    assert job.build_id == bid and f"{bid}  available  ami ami-" in out
    # the record is in us-west-2's bucket; nothing in us-east-1's
    assert BuildStore(Aws(region="us-west-2")).get_json(bid, "state.json")["status"] == "available"
    assert BuildStore(Aws(region="us-east-1")).ids() == []
    # from a laptop with the default region us-east-1: status and logs find it; list-builds says where it looked
    laptop = {"PCTL_HOME": str(tmp_path / "laptop")}
    assert status_of(bid, **laptop)["region"] == "us-west-2"
    assert status_of(bid[-4:], **laptop)["build_id"] == bid  # a short id is searched for in every pctl region
    e = dict(os.environ, **laptop)
    e.pop("PCTL_DEBUG", None)
    r = subprocess.run([sys.executable, "-m", "pctl", "ami", "logs", bid], env=e, capture_output=True, text=True)
    assert r.returncode == 0 and "is available" in r.stdout
    r = subprocess.run([sys.executable, "-m", "pctl", "ami", "list-builds"], env=e, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == ""
    assert "no AMI builds in us-east-1; builds in us-west-2 (1)" in r.stderr
    assert "next: pctl ami list-builds --all-regions" in r.stderr
    r = subprocess.run([sys.executable, "-m", "pctl", "ami", "list-builds", "--all-regions"], env=e,
                       capture_output=True, text=True)
    header, row = r.stdout.splitlines()
    assert header.split()[-1] == "REGION" and row.split()[0] == bid and row.split()[-1] == "us-west-2"


# ------------------------------------------------------------------------------------------ watching is not building

@pytest.fixture
def proxy(moto_server, moto_tls):
    p = FaultProxy(moto_server, *moto_tls)
    yield p
    p.close()


@pytest.fixture
def finished_build(aws, aws_env, base_images, builder_root, standins, imds, tmp_path):
    job = Job(tmp_path, "job", "gromacs")
    e = dict(os.environ, PCTL_HOME=str(job.home))
    e.pop("PCTL_DEBUG", None)
    r = subprocess.run([sys.executable, "-m", "pctl", "ami", "build", "-t", "seeds/chemistry/gromacs.yaml",
                        "--detach"], cwd=job.dir, env=e, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    bid = r.stdout.strip()
    boot("us-east-1", bid, imds, standins)
    return bid


def watch(bid, proxy, *args, **env):
    e = dict(os.environ, AWS_ENDPOINT_URL=proxy.url, **env)
    e.pop("PCTL_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "pctl", "ami", "status", bid, "--watch", "--interval", "0.2", *args],
                          env=e, capture_output=True, text=True, timeout=180)


def _state_json(req) -> bool:
    return req.method == "GET" and req.path.endswith("/state.json")


def test_one_http_500_while_watching_is_not_a_failed_build(finished_build, proxy):
    bid = finished_build
    proxy.fail(_state_json, status=500, times=1)
    r = watch(bid, proxy)
    assert r.returncode == 0, r.stderr
    assert "available" in r.stdout and any(s == 500 for _, _, s in proxy.seen)
    # AWS answering 500 several times in a row (botocore gives up after its own retries): pctl asks again
    proxy.fail(_state_json, status=503, code="ServiceUnavailable", times=3)
    r = watch(bid, proxy, AWS_MAX_ATTEMPTS="1")
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("AWS did not answer") == 3 and "asking again in" in r.stderr, " ".join(str(x[2]) for x in proxy.seen)


def test_aws_that_does_not_answer_is_exit_3_not_1(finished_build, proxy):
    bid = finished_build
    proxy.fail(_state_json, status=500, times=None)
    t0 = time.monotonic()
    r = watch(bid, proxy, "--retry-for", "3", "--json", AWS_MAX_ATTEMPTS="1")
    assert r.returncode == 3, r.stderr
    assert time.monotonic() - t0 < 60
    err = json.loads(r.stdout)["error"]
    assert err["type"] == "unknown" and err["exit_code"] == 3 and "could not find out" in err["message"]
    assert "still failing after" in err["message"] and f"pctl ami status {bid} --watch" in err["hint"]
    # a refusal does not pass by waiting: exit 3 at once
    proxy.clear()
    proxy.fail(_state_json, status=403, code="AccessDenied", times=None)
    r = watch(bid, proxy)
    assert r.returncode == 3 and "missing AWS permission" in r.stderr and "AWS did not answer" not in r.stderr
    # a dropped connection (network) is retried too
    proxy.clear()
    proxy.fail(_state_json, drop=True, times=2)
    r = watch(bid, proxy, AWS_MAX_ATTEMPTS="1")
    assert r.returncode == 0, r.stderr
    # and a failed build is still exit 1
    proxy.clear()
    store = BuildStore(Aws(region="us-east-1"))
    rec = store.get_json(bid, "state.json")
    store.put_json(bid, "state.json", dict(rec, status="failed", failure={"step": "image", "message": "gone",
                                                                          "log_tail": []}))
    r = watch(bid, proxy)
    assert r.returncode == 1 and f"next: pctl ami logs {bid}" in r.stderr
