"""AMI builds end to end against the moto server, with the on-instance agent run on this machine as
the builder would run it:

* the builder's user data (taken back from EC2) is executed with bash; it fetches the agent from S3
  and runs it, exactly as cloud-init would;
* instance metadata comes from a small IMDSv2 stand-in on 127.0.0.1 (token PUT, instance id, region,
  placement, instance-profile credentials), reached through AWS_EC2_METADATA_SERVICE_ENDPOINT; the
  agent gets no static credentials;
* the builder's filesystem is a temporary directory (PCTL_AMI_BUILDER_ROOT) seeded with what a real
  one has to lose (SSH host keys, machine-id, shell history, cloud-init state, logs);
* Spack, git, the package managers, shutdown/poweroff, cloud-init and journalctl are recording
  stand-ins first on PATH: no real Spack, nothing is installed or shut down.

moto has no official ParallelCluster AMIs: each test registers one in the test account and sets
PCTL_AMI_BASE_OWNERS=self (the base-image lookup's owner list; "amazon" by default).
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pctl.ami.builder import BuildOptions, start_build
from pctl.ami.ids import is_build_id
from pctl.ami.store import BuildStore
from pctl.render.pcluster_check import pcluster_version

#: the installed ParallelCluster's version: what a build tags its AMI with and pcluster's validators expect
PC_VERSION = pcluster_version() or "3.16.1"
TEMPLATE = """\
cluster:
  name: ami-test
  region: us-east-1
compute:
  head_node: t3.large
  queues:
    - name: compute
      instance_types: [c6i.xlarge]
      max_count: 2
software:
  spack_packages:
    - samtools@1.21
    - bwa
    - zlib
"""
AMI_TAGS = ("pctl:fingerprint", "pctl:pcluster-version", "pctl:os", "pctl:arch", "pctl:spack-release",
            "pctl:packages-digest", "pctl:build-id", "pctl:name", "pctl:template", "pctl:managed")

pytestmark = pytest.mark.slow


# ------------------------------------------------------------------------------------------ stand-ins

STANDIN_SPACK = r"""#!/bin/bash
# Recording Spack stand-in: reads the environment's spack.yaml as pctl renders it.
set -euo pipefail
printf '%s\n' "$*" >>"$STANDIN_LOG/spack.log"
env_dir=""
while [ "$#" -gt 0 ]; do
    case "$1" in
        -e) env_dir=$2; shift 2 ;;
        -*) shift ;;
        *) break ;;
    esac
done
cmd=${1:-}
yaml="$env_dir/spack.yaml"
specs() { sed -n '/^  specs:$/,$ s/^  - "\(.*\)"$/\1/p' "$yaml"; }
root() { sed -n 's/^ *root: "\(.*\)"$/\1/p' "$yaml" | head -n 1; }
case "$cmd" in
    install)
        if [ -n "${STANDIN_FAIL_INSTALL:-}" ]; then
            echo "==> Error: stand-in install failure for samtools (requested by the test)" >&2
            exit 1
        fi
        n=$(specs | wc -l)
        i=0
        specs | while IFS= read -r spec; do
            i=$((i + 1))
            name=$(printf '%s' "$spec" | grep -oE '^[a-z0-9][a-z0-9_-]*')
            ver=$(printf '%s' "$spec" | sed -nE 's/^[^@]*@=?([0-9][0-9A-Za-z._-]*).*$/\1/p')
            ver=${ver:-1.0}
            echo "==> Installing $name-$ver-standinhash [$i/$n]"
            sleep "${STANDIN_SLEEP:-0}"
            prefix="$(root)/$name-$ver-standinhash"
            mkdir -p "$prefix/bin"
            printf '#!/bin/sh\necho "%s %s (stand-in)"\n' "$name" "$ver" >"$prefix/bin/$name"
            chmod 0755 "$prefix/bin/$name"
            for pair in @COMMANDS@; do  # the command a package really installs (gromacs: gmx), as pctl check runs it
                case "$pair" in "$name=$name") ;; "$name="*) cp "$prefix/bin/$name" "$prefix/bin/${pair#*=}" ;; esac
            done
            echo "[+] $prefix"
        done ;;
    module)
        # "module lmod refresh": one Lua modulefile per root spec, as Spack writes them ({name}/{version})
        modroot=$(sed -n 's/^ *lmod: "\(.*\)"$/\1/p' "$yaml" | head -n 1)
        specs | while IFS= read -r spec; do
            name=$(printf '%s' "$spec" | grep -oE '^[a-z0-9][a-z0-9_-]*')
            ver=$(printf '%s' "$spec" | sed -nE 's/^[^@]*@=?([0-9][0-9A-Za-z._-]*).*$/\1/p')
            ver=${ver:-1.0}
            case " ${STANDIN_NO_MODULE:-} " in *" $name "*) continue ;; esac
            mkdir -p "$modroot/Core/$name"
            printf 'prepend_path("PATH", "%s/bin")\n' "$(root)/$name-$ver-standinhash" >"$modroot/Core/$name/$ver.lua"
        done ;;
    find)
        specs | while IFS= read -r s; do printf '%s' "$s" | sha256sum | cut -c 1-32 | tr '0-9' 'a-j'; done ;;
    location)
        p="$(root)/lmod-8.7-standinhash"
        mkdir -p "$p/lmod/lmod/init"
        echo "$p" ;;
esac
exit 0
"""

STANDIN_GIT = r"""#!/bin/bash
printf '%s\n' "$*" >>"$STANDIN_LOG/git.log"
[ "${1:-}" = clone ] || exit 0
shift
args=()
while [ "$#" -gt 0 ]; do
    case "$1" in
        --depth | --branch | -b | -c | --config) shift 2 ;;
        -*) shift ;;
        *) args+=("$1"); shift ;;
    esac
done
mkdir -p "${args[1]}/.git"
case "${args[0]}" in
    */spack)
        mkdir -p "${args[1]}/bin"
        printf '#!/bin/bash\nexec %q "$@"\n' "$STANDIN_DIR/spack" >"${args[1]}/bin/spack"
        chmod 0755 "${args[1]}/bin/spack" ;;
esac
exit 0
"""

RECORD_ONLY = r"""#!/bin/bash
printf '%s\n' "$*" >>"$STANDIN_LOG/NAME.log"
exit 0
"""


# systemctl: two writers are active on "the builder" (stopped before imaging); fsfreeze records.
STANDIN_SYSTEMCTL = r"""#!/bin/bash
printf '%s\n' "$*" >>"$STANDIN_LOG/systemctl.log"
if [ "${1:-}" = is-active ]; then
    case "${3:-}" in amazon-ssm-agent.service | rsyslog.service) exit 0 ;; esac
    exit 3
fi
exit 0
"""


@pytest.fixture
def standins(tmp_path):
    d = tmp_path / "standins"
    logs = tmp_path / "standin-logs"
    d.mkdir()
    logs.mkdir()
    from pctl.check.commands import COMMANDS

    files = {"spack": STANDIN_SPACK.replace("@COMMANDS@", " ".join(
        f"{pkg}={argv[0]}" for pkg, (argv, _any) in sorted(COMMANDS.items()) if "/" not in argv[0])), "git": STANDIN_GIT, "systemctl": STANDIN_SYSTEMCTL,
             "python3": f'#!/bin/sh\nexec "{sys.executable}" "$@"\n'}
    for name in ("apt-get", "dnf", "yum", "shutdown", "poweroff", "cloud-init", "journalctl", "fsfreeze"):
        files[name] = RECORD_ONLY.replace("NAME", name)
    for name, text in files.items():
        (d / name).write_text(text)
        (d / name).chmod(0o755)

    class S:
        dir = d
        log_dir = logs

        @staticmethod
        def calls(name):
            p = logs / f"{name}.log"
            return p.read_text().splitlines() if p.exists() else []

    return S


@pytest.fixture
def builder_root(tmp_path, monkeypatch):
    """The builder's filesystem, with what hygiene must clean."""
    r = tmp_path / "builder-root"
    files = {
        "etc/os-release": 'NAME="Amazon Linux"\nID="amzn"\nPRETTY_NAME="Amazon Linux 2023 (stand-in)"\n',
        "etc/ssh/ssh_host_ed25519_key": "secret", "etc/ssh/ssh_host_ed25519_key.pub": "pub",
        "etc/ssh/sshd_config": "PasswordAuthentication no\n",
        "etc/machine-id": "0123456789abcdef0123456789abcdef\n",
        "var/lib/dbus/machine-id": "0123456789abcdef0123456789abcdef\n",
        "root/.bash_history": "aws s3 ls\n", "home/ec2-user/.bash_history": "ls\n",
        "home/ec2-user/.ssh/authorized_keys": "ssh-ed25519 AAAA builder\n",
        "var/lib/cloud/instances/i-0123/user-data.txt": "#!/bin/bash\n",
        "var/log/messages": "boot\n", "var/log/messages.1": "old\n", "var/log/cloud-init-output.log": "ran\n",
        "var/log/dnf.log.2.gz": "x", "tmp/junk": "x", "var/tmp/junk": "x",
    }
    for rel, text in files.items():
        p = r / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    (r / "var/lib/cloud/instance").symlink_to(r / "var/lib/cloud/instances/i-0123")
    monkeypatch.setenv("PCTL_AMI_BUILDER_ROOT", str(r))
    return r


class Imds:
    """IMDSv2 stand-in: token required on every GET (the builder runs with HttpTokens=required)."""

    def __init__(self, region: str = "us-east-1"):
        self.instance_id = None
        self.region = region  # the region of the instance it serves
        self.requests: list[tuple[str, str, bool]] = []
        imds = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, code, body=b"", ctype="text/plain"):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_PUT(self):
                imds.requests.append(("PUT", self.path, True))
                if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                    return self._send(200, b"stand-in-token")
                return self._send(400)

            def do_GET(self):
                ok = self.headers.get("X-aws-ec2-metadata-token") == "stand-in-token"
                imds.requests.append(("GET", self.path, ok))
                if not ok:
                    return self._send(401)
                role = "pctl-build-role"
                answers = {
                    "/latest/meta-data/instance-id": imds.instance_id or "",
                    "/latest/meta-data/placement/region": imds.region,
                    "/latest/meta-data/placement/availability-zone": imds.region + "a",
                    "/latest/meta-data/iam/security-credentials/": role,
                    f"/latest/meta-data/iam/security-credentials/{role}": json.dumps({
                        "Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": "testing",
                        "SecretAccessKey": "testing", "Token": "testing", "Expiration": "2099-01-01T00:00:00Z",
                        "LastUpdated": "2026-01-01T00:00:00Z"}),
                    "/latest/dynamic/instance-identity/document": json.dumps({
                        "region": imds.region, "availabilityZone": imds.region + "a", "instanceId": imds.instance_id}),
                }
                if self.path in answers:
                    return self._send(200, answers[self.path].encode())
                return self._send(404)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def imds():
    s = Imds()
    yield s
    s.close()


class Webhook:
    def __init__(self):
        self.posts: list[dict] = []
        hook = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                hook.posts.append({"path": self.path, "body": json.loads(self.rfile.read(n) or b"{}"),
                                   "type": self.headers.get("Content-Type")})
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------------------------------ helpers

@pytest.fixture
def base_ami(aws, monkeypatch):
    """The official ParallelCluster AMI, as the test account's own image (moto cannot publish as Amazon)."""
    monkeypatch.setenv("PCTL_AMI_BASE_OWNERS", "self")
    ec2 = aws.client("ec2")
    ids = {}
    for arch in ("x86_64", "arm64"):
        ids[arch] = ec2.register_image(Name=f"aws-parallelcluster-{PC_VERSION}-amzn2023-hvm-{arch}-202601010000")["ImageId"]
    # an older one and one for another ParallelCluster version: never picked
    ec2.register_image(Name=f"aws-parallelcluster-3.15.0-amzn2023-hvm-x86_64-202601010000")
    return ids


@pytest.fixture
def template_file(tmp_path):
    p = tmp_path / "ami-test.yaml"
    p.write_text(TEMPLATE)
    return p


def launch(template, **kw):
    from pctl.aws import Aws

    aws = Aws(region="us-east-1")
    opts = BuildOptions(template=str(template), builder_root=os.environ.get("PCTL_AMI_BUILDER_ROOT", "/"), **kw)
    return start_build(opts, aws=aws, use_catalog=False), aws


def instances(aws, build_id=None, states=("pending", "running")):
    filters = [{"Name": "instance-state-name", "Values": list(states)}]
    if build_id:
        filters.append({"Name": "tag:pctl:build-id", "Values": [build_id]})
    res = aws.client("ec2").describe_instances(Filters=filters)["Reservations"]
    return [i for r in res for i in r["Instances"]]


def images_of(aws, build_id):
    return aws.client("ec2").describe_images(Owners=["self"], Filters=[
        {"Name": "tag:pctl:build-id", "Values": [build_id]}])["Images"]


def snapshots_of(aws, build_id):
    return aws.client("ec2").describe_snapshots(OwnerIds=["self"], Filters=[
        {"Name": "tag:pctl:build-id", "Values": [build_id]}])["Snapshots"]


def fast_agent(aws, build_id):
    """Shorter polling for the agent (the real values are tens of seconds)."""
    store = BuildStore(aws)
    cfg = store.get_json(build_id, "config.json")
    cfg.update(software_poll=0.2, progress_interval=0.2, upload_interval=0.5, image_poll=0.2)
    store.put_json(build_id, "config.json", cfg)


def run_builder(aws, build_id, imds, standins, *, extra_env=None, wait=True, timeout=180):
    """What EC2 + cloud-init would do: run the instance's user data, as root, on 'the instance'."""
    ec2 = aws.client("ec2")
    inst, = instances(aws, build_id)
    imds.instance_id = inst["InstanceId"]
    ud = ec2.describe_instance_attribute(InstanceId=inst["InstanceId"], Attribute="userData")["UserData"]["Value"]
    script = Path(os.environ["PCTL_AMI_BUILDER_ROOT"]).parent / f"user-data-{build_id}.sh"
    script.write_bytes(base64.b64decode(ud))
    env = {k: v for k, v in os.environ.items()
           if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
                        "AWS_DEFAULT_REGION", "PCTL_AMI_BUILDER_ROOT", "PCTL_AMI_BASE_OWNERS", "PCTL_HOME")}
    env.update(PATH=f"{standins.dir}:{os.environ['PATH']}", STANDIN_DIR=str(standins.dir),
               STANDIN_LOG=str(standins.log_dir), AWS_EC2_METADATA_DISABLED="false",
               AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.url, **(extra_env or {}))
    proc = subprocess.Popen(["bash", str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    if not wait:
        return proc
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def run_pctl(*args, env=None, timeout=120):
    e = dict(os.environ)
    e.update(env or {})
    e.pop("PCTL_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "pctl", *args], capture_output=True, text=True, env=e,
                          timeout=timeout)


# ------------------------------------------------------------------------------------------ tests

def test_detached_build_reaches_available_with_no_pctl_process(aws, aws_env, base_ami, template_file, builder_root,
                                                               standins, imds, tmp_path):
    # 1. launch through the real CLI; the process exits right away
    r = run_pctl("ami", "build", "-t", str(template_file), "--detach", "--json", "--no-catalog")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    bid = result["build_id"]
    assert result["action"] == "launched" and result["record"]["status"] == "launching"
    assert "estimate: about" in r.stderr
    # what the build costs: the builder at its on-demand price for the estimated time (issue 15)
    cost = result["cost"]
    assert "cost: builder c6i.4xlarge $0.68" in r.stderr and cost["instance_type"] == "c6i.4xlarge"
    assert cost["build"] == pytest.approx(cost["hourly"] * cost["hours"], abs=0.02) and cost["at_most"] >= cost["build"]
    ec2 = aws.client("ec2")
    inst, = instances(aws, bid)
    iid = inst["InstanceId"]
    # the builder is locked down
    assert inst["ImageId"] == base_ami["x86_64"] and inst["InstanceType"] == "c6i.4xlarge"
    assert inst["MetadataOptions"]["HttpTokens"] == "required"
    assert ec2.describe_instance_attribute(InstanceId=iid, Attribute="instanceInitiatedShutdownBehavior")[
        "InstanceInitiatedShutdownBehavior"]["Value"] == "terminate"
    assert not inst.get("KeyName")
    groups = [g["GroupId"] for n in inst["NetworkInterfaces"] for g in n["Groups"]]
    assert groups
    sgs = ec2.describe_security_groups(GroupIds=groups)["SecurityGroups"]
    assert sgs and all(not g["IpPermissions"] for g in sgs), "no inbound rules at all"
    assert all(g["GroupName"] == "pctl-ami-builder" for g in sgs), "not the cluster network's SSH group"
    assert inst["IamInstanceProfile"]["Arn"].endswith(f"/pctl/pctl-build-{bid}")
    vol = ec2.describe_volumes(VolumeIds=[inst["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]])["Volumes"][0]
    assert vol["Encrypted"] and vol["Size"] == result["record"]["volume_gb"] >= 15 + 20  # base + software room
    ud = base64.b64decode(ec2.describe_instance_attribute(InstanceId=iid, Attribute="userData")["UserData"]["Value"])
    assert len(ud) < 16 * 1024 and b"shutdown -h \"+$PCTL_LIFETIME_MINUTES\"" in ud
    # 2. no pctl process is alive: the CLI has exited and nothing of ours runs in the background
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            assert not (b"-m pctl" in cmd and str(template_file).encode() in cmd), cmd
    # 3. the instance boots: user data -> agent, with instance-profile credentials from IMDS only
    rc, out = run_builder(aws, bid, imds, standins)
    assert rc == 0, out
    # the agent gave up what only this build used: its inputs (config.json: the webhook URL), its
    # instance profile, its role's policy; the emptied role is left for the next pctl command
    assert sorted(BuildStore(aws).keys()[bid]) == ["build.log", "progress.json", "spack-install.log", "state.json"]
    iam = aws.client("iam")
    assert iam.list_instance_profiles(PathPrefix="/pctl/")["InstanceProfiles"] == []
    assert iam.list_role_policies(RoleName=f"pctl-build-{bid}")["PolicyNames"] == []
    # 4. any machine (a fresh process, an empty pctl home) sees the result; a short id works; the first
    # command that sees the end deletes the emptied role
    other_home = tmp_path / "other-home"
    other_home.mkdir()
    r = run_pctl("ami", "status", bid[-4:], "--json", env={"PCTL_HOME": str(other_home)})
    assert r.returncode == 0, r.stderr
    assert iam.list_roles(PathPrefix="/pctl/")["Roles"] == []
    st = json.loads(r.stdout)
    assert st["status"] == "available", "\n".join(st["failure"]["log_tail"]) + st["failure"]["message"]
    assert st["ami_id"].startswith("ami-") and st["step"] == "done"
    assert st["progress"]["percent"] == 100 and st["actual_minutes"] is not None
    assert set(st["steps"]) == {"prepare", "software", "check", "hygiene", "image"}
    # pctl check's package checks passed on the builder before the image was made
    assert {c["id"]: c["status"] for c in st["checks"]} == {"lmod": "pass", "module:samtools@1.21": "pass",
                                                            "module:bwa": "pass", "module:zlib": "pass"}
    img = ec2.describe_images(ImageIds=[st["ami_id"]])["Images"][0]
    tags = {t["Key"]: t["Value"] for t in img["Tags"]}
    for k in AMI_TAGS:
        assert tags.get(k), k
    assert tags["pctl:build-id"] == bid and tags["pctl:pcluster-version"] == PC_VERSION
    assert tags["pctl:fingerprint"] == st["fingerprint"] and tags["pctl:managed"] == "true"
    assert tags["pctl:os"] == "alinux2023" and tags["pctl:arch"] == "x86_64"
    snaps = [b["Ebs"]["SnapshotId"] for b in img["BlockDeviceMappings"]]
    for s in ec2.describe_snapshots(SnapshotIds=snaps)["Snapshots"]:
        stags = {t["Key"]: t["Value"] for t in s["Tags"]}
        assert stags["pctl:build-id"] == bid and stags["pctl:fingerprint"] == tags["pctl:fingerprint"]
    # 5. the builder is gone; the lifetime limit was set at boot; the agent used IMDSv2 only
    assert instances(aws, bid) == []
    shutdowns = standins.calls("shutdown")
    assert shutdowns[0].startswith("-h +") and int(shutdowns[0].split()[1][1:]) <= 480
    assert any(c.startswith("-h now") for c in shutdowns)
    assert imds.requests and all(ok for _, _, ok in imds.requests)
    assert any(p == "/latest/meta-data/iam/security-credentials/" for _, p, _ in imds.requests)
    # 6. the software step ran the rendered install script with the Spack stand-in
    spack = standins.calls("spack")
    assert any(c.startswith("-e ") and " install " in f" {c} " for c in spack)
    assert any("clean -a" in c for c in spack), "hygiene cleaned Spack's caches"
    assert (builder_root / "opt/pctl/environments/pctl/spack.yaml").exists()
    # 7. hygiene: nothing of this instance is baked into the image
    assert not list((builder_root / "etc/ssh").glob("ssh_host_*"))
    assert (builder_root / "etc/ssh/sshd_config").exists()
    assert (builder_root / "etc/machine-id").read_text() == ""
    assert not (builder_root / "var/lib/dbus/machine-id").exists()
    assert not (builder_root / "root/.bash_history").exists()
    assert not (builder_root / "home/ec2-user/.bash_history").exists()
    assert not (builder_root / "home/ec2-user/.ssh/authorized_keys").exists()
    assert not list((builder_root / "var/lib/cloud/instances").iterdir())
    assert (builder_root / "var/log/messages").read_text() == ""
    assert not (builder_root / "var/log/messages.1").exists() and not (builder_root / "var/log/dnf.log.2.gz").exists()
    assert not list((builder_root / "tmp").iterdir()) and not list((builder_root / "var/tmp").iterdir())
    assert standins.calls("cloud-init") == ["clean --logs"]
    # 8. the record, progress and full log are in S3; the log tells the story
    store = BuildStore(aws)
    log = store.get_bytes(bid, "build.log").decode()
    for word in ("step prepare: start", "spack install", "step hygiene: done", "is available", "terminating instance"):
        assert word in log, word
    prog = store.get_json(bid, "progress.json")
    assert prog["status"] == "available" and prog["packages_total"] == 3 and prog["packages_done"] == 3
    # 9. pctl create picks it up by fingerprint
    from pctl.cluster.create import find_matching_ami

    assert find_matching_ami(aws, st["fingerprint"], PC_VERSION) == st["ami_id"]
    # 10. watch from a fresh process without a terminal: one line, exit status = the build's result
    r = run_pctl("ami", "status", bid, "--watch", "--interval", "0.2")
    assert r.returncode == 0 and "available" in r.stdout and st["ami_id"] in r.stdout
    # 11. nothing is left for cleanup; the AMI stays
    r = run_pctl("ami", "cleanup", "--yes", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["actions"] == []
    assert ec2.describe_images(ImageIds=[st["ami_id"]])["Images"][0]["State"] == "available"


def test_reuse_by_fingerprint_launches_no_instance(aws, aws_env, base_ami, template_file, builder_root, standins,
                                                   imds):
    result, _ = launch(template_file)
    bid = result["build_id"]
    fast_agent(aws, bid)
    assert run_builder(aws, bid, imds, standins)[0] == 0
    ami = BuildStore(aws).get_json(bid, "state.json")["ami_id"]
    # library: no RunInstances call at all
    result, aws2 = launch(template_file)
    assert result["action"] == "reused" and result["ami_id"] == ami
    assert not [c for c in aws2.calls if c == "ec2.RunInstances"]
    # the reuse is a build of its own: one record written, nothing else made
    assert [c for c in aws2.calls if c.startswith(("iam.", "s3."))] == ["s3.PutObject"], aws2.calls
    rec = BuildStore(aws).get_json(result["build_id"], "state.json")
    assert (rec["status"], rec["action"], rec["ami_id"], rec["reused_build_id"]) == ("available", "reused", ami, bid)
    # CLI: ends at once with the build's final line (the AMI id in it), nothing is launched
    before = len(instances(aws, states=("pending", "running", "shutting-down", "terminated")))
    r = run_pctl("ami", "build", "-t", str(template_file), "--no-catalog")
    assert r.returncode == 0 and "nothing to build" in r.stderr, r.stderr
    assert r.stdout.startswith("b-") and f"available  ami {ami}" in r.stdout
    # --detach prints the build id alone; its status is available at once
    r = run_pctl("ami", "build", "-t", str(template_file), "--no-catalog", "--detach")
    assert r.returncode == 0 and is_build_id(r.stdout.strip()), r.stdout
    st = json.loads(run_pctl("ami", "status", r.stdout.strip(), "--json").stdout)
    assert st["status"] == "available" and st["ami_id"] == ami and st["action"] == "reused"
    assert len(instances(aws, states=("pending", "running", "shutting-down", "terminated"))) == before
    # the same software with another cluster name, queues and comments is the same fingerprint
    other = template_file.parent / "renamed.yaml"
    other.write_text("# a comment\n" + TEMPLATE.replace("ami-test", "another-name").replace("max_count: 2", "max_count: 9"))
    assert launch(other)[0]["action"] == "reused"
    # --force builds anyway
    forced, _ = launch(template_file, force=True)
    assert forced["action"] == "launched" and len(instances(aws, forced["build_id"])) == 1


def test_build_of_the_same_software_in_progress_is_followed_not_duplicated(aws, aws_env, base_ami, template_file,
                                                                           builder_root):
    first, _ = launch(template_file)
    second, aws2 = launch(template_file)
    assert second["action"] == "in-progress" and second["build_id"] == first["build_id"]
    assert "ec2.RunInstances" not in aws2.calls
    assert len(instances(aws)) == 1


@pytest.mark.parametrize("step", ["prepare", "software", "check", "hygiene", "image"])
def test_failure_at_each_step_is_recorded_and_cleaned_up(step, aws, aws_env, base_ami, template_file, builder_root,
                                                         standins, imds):
    hook = Webhook()
    result, _ = launch(template_file, notify_webhook=hook.url)
    bid = result["build_id"]
    fast_agent(aws, bid)
    # the software step fails for real (Spack exits 1), the check step too (Spack wrote no module for bwa);
    # the others through the agent's fault hook
    env = ({"STANDIN_FAIL_INSTALL": "1"} if step == "software" else {"STANDIN_NO_MODULE": "bwa"} if step == "check"
           else {"PCTL_AGENT_FAIL_AT": step})
    rc, out = run_builder(aws, bid, imds, standins, extra_env=env)
    state = BuildStore(aws).get_json(bid, "state.json")
    assert state["status"] == "failed", out
    f = state["failure"]
    assert f["step"] == step and f["log_tail"]
    if step == "software":
        assert "Spack install script failed" in f["message"]
        assert any("stand-in install failure" in line for line in f["log_tail"])
    elif step == "check":
        # pctl check's package checks ran on the builder: bwa's module is missing, the others work
        assert f["message"].startswith("1 of 4 package checks failed: module:bwa: module load bwa failed")
        checks = {c["id"]: c["status"] for c in state["checks"]}
        assert checks == {"lmod": "pass", "module:samtools@1.21": "pass", "module:bwa": "fail", "module:zlib": "pass"}
        assert any("check module:samtools@1.21: pass (loaded samtools/1.21" in line for line in f["log_tail"])
    else:
        assert f"injected failure at step {step}" in f["message"]
    if step == "image":  # an image was being made: it and its snapshots were removed
        assert any(c.startswith("deregistered ami-") for c in f["cleanup"])
        assert any(c.startswith("deleted snap-") for c in f["cleanup"])
    # nothing left running, no image, no snapshot
    assert instances(aws, bid) == []
    assert images_of(aws, bid) == [] and snapshots_of(aws, bid) == []
    assert state.get("ami_id") is None
    # the webhook heard it from the builder itself
    (post,) = hook.posts
    assert post["type"] == "application/json" and bid in post["body"]["text"] and "failed at step " + step in \
        post["body"]["text"]
    hook.close()
    # status from any machine shows the failure; --watch without a terminal exits 1
    r = run_pctl("ami", "status", bid, "--watch", "--interval", "0.2")
    assert r.returncode == 1 and f"at step {step}" in r.stdout
    r = run_pctl("ami", "status", bid)
    assert r.returncode == 0 and "failed at" in r.stdout and "last lines of the log" in r.stdout


def test_list_builds_from_a_second_empty_home_and_the_latest_id_pipeline(aws, aws_env, base_ami, template_file,
                                                                         builder_root, tmp_path):
    first, _ = launch(template_file)
    time.sleep(1.1)  # build ids carry the second
    second, _ = launch(template_file, force=True)
    other_home = tmp_path / "empty-home"
    other_home.mkdir()
    env = dict(os.environ, PCTL_HOME=str(other_home), XDG_CONFIG_HOME=str(other_home / "c"),
               XDG_CACHE_HOME=str(other_home / "k"))
    env.pop("PCTL_DEBUG", None)
    # exactly the pipeline from the docs, through the real CLI and a real shell
    r = subprocess.run(f"{sys.executable} -m pctl ami list-builds | tail -1 | awk '{{print $1}}'", shell=True,
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == second["build_id"], r.stdout + r.stderr
    r = run_pctl("ami", "list-builds", env={"PCTL_HOME": str(other_home)})
    lines = r.stdout.splitlines()
    assert lines[0].split()[0] == "BUILD" and not any(c in r.stdout for c in "│┃━─")
    assert [ln.split()[0] for ln in lines[1:]] == [first["build_id"], second["build_id"]]
    assert all(ln.split()[1] == "launching" for ln in lines[1:])
    r = run_pctl("ami", "list-builds", "--json", env={"PCTL_HOME": str(other_home)})
    builds = json.loads(r.stdout)["builds"]
    assert [b["build_id"] for b in builds] == [first["build_id"], second["build_id"]]
    assert builds[0]["estimate"]["total_minutes"] > 0


def test_short_ids(aws, aws_env, base_ami, template_file, builder_root):
    first, _ = launch(template_file)
    bid = first["build_id"]
    for ref in (bid, bid[-4:], bid[:17], bid[2:17]):
        r = run_pctl("ami", "status", ref, "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["build_id"] == bid, (ref, r.stderr)
    time.sleep(1.1)
    launch(template_file, force=True)
    r = run_pctl("ami", "status", "b-2")
    assert r.returncode == 2 and "matches 2 builds" in r.stderr
    r = run_pctl("ami", "status", "zzzz")
    assert r.returncode == 2 and "no AMI build matches" in r.stderr and "Traceback" not in r.stderr


def test_watch_follows_a_running_build_line_by_line(aws, aws_env, base_ami, template_file, builder_root, standins,
                                                   imds):
    result, _ = launch(template_file)
    bid = result["build_id"]
    fast_agent(aws, bid)
    env = dict(os.environ)
    watcher = subprocess.Popen([sys.executable, "-m", "pctl", "ami", "status", bid, "--watch", "--interval", "0.3"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    rc, out = run_builder(aws, bid, imds, standins, extra_env={"STANDIN_SLEEP": "0.7"})
    assert rc == 0, out
    wout, werr = watcher.communicate(timeout=60)
    assert watcher.returncode == 0, werr
    lines = wout.splitlines()
    assert len(lines) >= 3 and all(ln.startswith(bid) for ln in lines)
    assert any("step software" in ln and "package " in ln for ln in lines), wout
    assert any("left" in ln for ln in lines), "remaining time is shown while it runs"
    assert "available" in lines[-1]
    assert len(lines) == len(set(lines)), "one line per change"


def test_attached_build_watches_to_the_end_and_removes_its_role(aws, aws_env, base_ami, template_file, builder_root,
                                                                standins, imds):
    proc = subprocess.Popen([sys.executable, "-m", "pctl", "ami", "build", "-t", str(template_file), "--no-catalog",
                             "--interval", "0.3", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ))
    for _ in range(300):
        if instances(aws):
            break
        time.sleep(0.1)
    bid = instances(aws)[0]["Tags"]
    bid = {t["Key"]: t["Value"] for t in bid}["pctl:build-id"]
    for _ in range(100):  # the launch finishes writing its record
        if (BuildStore(aws).get_json(bid, "state.json") or {}).get("instance_id"):
            break
        time.sleep(0.1)
    fast_agent(aws, bid)
    rc, out = run_builder(aws, bid, imds, standins)
    assert rc == 0, out
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    final = json.loads(stdout)
    assert final["status"] == "available" and final["ami_id"]
    assert aws.client("iam").list_roles(PathPrefix="/pctl/")["Roles"] == []
    assert aws.client("iam").list_instance_profiles(PathPrefix="/pctl/")["InstanceProfiles"] == []
    assert sorted(BuildStore(aws).keys()[bid]) == ["build.log", "progress.json", "spack-install.log", "state.json"]


def test_webhook_on_success_and_webhook_validation(aws, aws_env, base_ami, template_file, builder_root, standins,
                                                   imds):
    hook = Webhook()
    result, _ = launch(template_file, notify_webhook=hook.url)
    bid = result["build_id"]
    fast_agent(aws, bid)
    assert run_builder(aws, bid, imds, standins)[0] == 0
    (post,) = hook.posts
    ami = BuildStore(aws).get_json(bid, "state.json")["ami_id"]
    assert post["body"]["text"].startswith("pctl: AMI build " + bid) and ami in post["body"]["text"]
    hook.close()
    r = run_pctl("ami", "build", "-t", str(template_file), "--no-catalog", "--notify-webhook",
                 "http://hooks.example.com/x", "--force")
    assert r.returncode == 2 and "https" in r.stderr


def test_iam_role_is_scoped_to_its_build(aws, aws_env, base_ami, template_file, builder_root):
    result, _ = launch(template_file)
    bid = result["build_id"]
    iam = aws.client("iam")
    role = iam.get_role(RoleName=f"pctl-build-{bid}")["Role"]
    assert role["Path"] == "/pctl/"
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    doc = iam.get_role_policy(RoleName=f"pctl-build-{bid}", PolicyName="pctl-build")["PolicyDocument"]
    doc = json.loads(doc) if isinstance(doc, str) else doc
    for s in doc["Statement"]:
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        if all(a.startswith("ec2:Describe") for a in actions):
            continue
        if any(a.startswith("s3:") for a in actions):
            assert all(f"/builds/{bid}/" in r for r in resources)
            if "s3:DeleteObject" in actions:  # only its own inputs, when the build ends
                assert actions == ["s3:DeleteObject"] and sorted(r.rsplit("/", 1)[1] for r in resources) == [
                    "agent.py", "check.sh", "config.json", "software-install.sh"]
        elif any(a.startswith("iam:") for a in actions):  # giving up its own access, nothing else
            assert sorted(actions) == ["iam:DeleteInstanceProfile", "iam:DeleteRolePolicy",
                                       "iam:RemoveRoleFromInstanceProfile"]
            assert sorted(resources) == sorted([f"arn:aws:iam::123456789012:role/pctl/pctl-build-{bid}",
                                                f"arn:aws:iam::123456789012:instance-profile/pctl/pctl-build-{bid}"])
        else:
            assert json.dumps(s.get("Condition", {})).count(bid) >= 1, s
        assert not any(a.startswith(("ssm:", "s3:List", "iam:Put", "iam:Create", "iam:Attach", "iam:Pass"))
                       for a in actions)
    assert result["record"]["role_name"] == f"pctl-build-{bid}"


def test_cleanup_finds_orphans(aws, aws_env, base_ami, template_file, builder_root):
    """A builder whose agent never reported (the lifetime limit would end it) past its deadline, and a
    half-made image of a failed build: cleanup --dry-run lists them, cleanup --yes removes them."""
    result, _ = launch(template_file)
    bid = result["build_id"]
    ec2 = aws.client("ec2")
    iid = result["instance_id"]
    store = BuildStore(aws)
    rec = store.get_json(bid, "state.json")
    rec["deadline"] = "2020-01-01T00:00:00Z"
    store.put_json(bid, "state.json", rec)
    ec2.create_tags(Resources=[iid], Tags=[{"Key": "pctl:deadline", "Value": "2020-01-01T00:00:00Z"}])
    # a half-made image of another, failed build
    other = "b-20200101-000000-dead"
    store.put_json(other, "state.json", {"build_id": other, "status": "failed", "failure": {"step": "image"}})
    half = ec2.create_image(InstanceId=iid, Name="half-made", TagSpecifications=[{"ResourceType": "image", "Tags": [
        {"Key": "pctl:build-id", "Value": other}, {"Key": "pctl:managed", "Value": "true"}]}])["ImageId"]
    r = run_pctl("ami", "status", bid, "--json")
    assert json.loads(r.stdout)["status"] == "failed" and "lifetime limit" in r.stdout
    r = run_pctl("ami", "cleanup", "--dry-run")
    assert r.returncode == 0
    for word in ("terminate-instance", "deregister-image", "delete-role", "mark-failed", "delete-objects", half, iid):
        assert word in r.stdout, word
    assert len(instances(aws, bid)) == 1, "dry run changes nothing"
    r = run_pctl("ami", "cleanup")
    assert r.returncode == 1 and "--yes" in r.stderr, "no terminal, no --yes: nothing removed"
    r = run_pctl("ami", "cleanup", "--yes", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert all(a["ok"] for a in json.loads(r.stdout)["actions"])
    assert instances(aws, bid) == []
    assert images_of(aws, other) == []
    assert aws.client("iam").list_roles(PathPrefix="/pctl/")["Roles"] == []
    rec = store.get_json(bid, "state.json")
    assert rec["status"] == "failed" and "lifetime limit" in rec["failure"]["message"]
    r = run_pctl("ami", "cleanup", "--dry-run")
    assert "nothing to clean up" in r.stderr


def test_list_and_delete_amis(aws, aws_env, base_ami, template_file, builder_root, standins, imds):
    result, _ = launch(template_file, name="genomics-v1")
    bid = result["build_id"]
    fast_agent(aws, bid)
    assert run_builder(aws, bid, imds, standins)[0] == 0
    ami = BuildStore(aws).get_json(bid, "state.json")["ami_id"]
    r = run_pctl("ami", "list")
    row = r.stdout.splitlines()[1].split()
    assert row[0] == ami and row[1] == "genomics-v1" and row[4] == PC_VERSION
    # pctl create --custom-ami NAME resolves the name
    from pctl.cluster.create import resolve_ami

    assert resolve_ami(aws, "genomics-v1", PC_VERSION)[0] == ami
    r = run_pctl("ami", "delete", "genomics-v1")
    assert r.returncode == 1 and "--yes" in r.stderr
    snaps = snapshots_of(aws, bid)
    assert snaps
    r = run_pctl("ami", "delete", "genomics-v1", "--yes")
    assert r.returncode == 0, r.stderr
    assert images_of(aws, bid) == [] and snapshots_of(aws, bid) == []
    r = run_pctl("ami", "delete", base_ami["x86_64"], "--yes")
    assert r.returncode == 1 and "not a pctl AMI" in r.stderr


def test_logs(aws, aws_env, base_ami, template_file, builder_root, standins, imds):
    result, _ = launch(template_file)
    bid = result["build_id"]
    fast_agent(aws, bid)
    r = run_pctl("ami", "logs", bid)
    assert r.returncode == 0 and "no log" in r.stderr
    assert run_builder(aws, bid, imds, standins)[0] == 0
    r = run_pctl("ami", "logs", bid[-4:])
    assert "step image: done" in r.stdout
    r = run_pctl("ami", "logs", "--follow", "--interval", "0.2")
    assert r.returncode == 0 and r.stdout.count("step image: done") == 1


def test_graviton_template_builds_on_arm64(aws, aws_env, base_ami, tmp_path, builder_root):
    p = tmp_path / "arm.yaml"
    p.write_text(TEMPLATE.replace("t3.large", "c7g.large").replace("c6i.xlarge", "c7g.xlarge"))
    result, _ = launch(p)
    inst, = instances(aws, result["build_id"])
    assert inst["ImageId"] == base_ami["arm64"] and inst["InstanceType"] == "c7g.4xlarge"
    cfg = BuildStore(aws).get_json(result["build_id"], "config.json")
    assert cfg["tags"]["pctl:arch"] == "arm64"
    from pctl.errors import UsageError

    with pytest.raises(UsageError, match="arm64"):
        launch(p, instance_type="c6i.2xlarge", force=True)


def test_build_in_your_own_subnet(aws, aws_env, base_ami, template_file, builder_root):
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    result, _ = launch(template_file, subnet_id=subnet)
    inst, = instances(aws, result["build_id"])
    assert inst["SubnetId"] == subnet
    sg = ec2.describe_security_groups(GroupIds=[g["GroupId"] for n in inst["NetworkInterfaces"]
                                                for g in n["Groups"]])["SecurityGroups"][0]
    assert sg["VpcId"] == vpc and not sg["IpPermissions"]
    assert "pctl:network" not in {t["Key"] for t in sg.get("Tags", [])}, "not part of the pctl network"
    assert ec2.describe_vpcs(Filters=[{"Name": "tag:pctl:network", "Values": ["us-east-1"]}])["Vpcs"] == []
    from pctl.errors import UsageError

    with pytest.raises(UsageError, match="subnet id"):
        launch(template_file, subnet_id="nope", force=True)


def test_missing_base_image_is_a_clear_error(aws, aws_env, template_file, builder_root, monkeypatch):
    monkeypatch.setenv("PCTL_AMI_BASE_OWNERS", "self")
    r = run_pctl("ami", "build", "-t", str(template_file), "--no-catalog")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"aws-parallelcluster-{PC_VERSION}-amzn2023-hvm-x86_64-*" in r.stderr
    assert instances(aws) == []


def test_launch_failure_rolls_back(aws, aws_env, base_ami, template_file, builder_root, monkeypatch):
    from pctl.ami import builder
    from pctl.errors import PctlError

    def boom(*a, **k):
        raise PctlError("RunInstances said no")

    monkeypatch.setattr(builder, "_run_builder", boom)
    with pytest.raises(PctlError, match="said no"):
        launch(template_file)
    (bid,) = BuildStore(aws).ids()
    rec = BuildStore(aws).get_json(bid, "state.json")
    assert rec["status"] == "failed" and rec["failure"]["step"] == "launch"
    assert aws.client("iam").list_roles(PathPrefix="/pctl/")["Roles"] == []
    assert sorted(BuildStore(aws).keys()[bid]) == ["state.json"]


def test_launch_waits_for_the_new_instance_profile(aws, aws_env, base_ami, template_file, builder_root, monkeypatch):
    # IAM is eventually consistent: RunInstances right after CreateInstanceProfile may not see the profile yet.
    # The launch asks again (a new client token each time) for up to PROFILE_RETRY_SECONDS; any other refusal
    # ends it at once.
    from pctl.ami import builder
    from pctl.aws import ec2
    from pctl.errors import PctlError

    real = ec2.run_instance
    tokens, slept = [], []

    def not_visible_yet(aws, *, client_token, **params):
        tokens.append(client_token)
        if len(tokens) == 1:  # the profile is not there yet: EC2's own answer, through pctl's translation
            params = dict(params, IamInstanceProfile={"Arn": params["IamInstanceProfile"]["Arn"] + "-not-yet"})
        return real(aws, client_token=client_token, **params)

    monkeypatch.setattr(ec2, "run_instance", not_visible_yet)
    monkeypatch.setattr(builder.time, "sleep", slept.append)
    result, _ = launch(template_file)
    bid = result["build_id"]
    assert tokens == [f"{bid}-1", f"{bid}-2"] and slept == [2]
    (inst,) = instances(aws, bid)
    assert inst["InstanceId"] == result["instance_id"]
    assert inst["IamInstanceProfile"]["Arn"].endswith(f"/pctl/pctl-build-{bid}")
    # past the wait, the same refusal ends the launch (rolled back, recorded)
    tokens.clear()
    monkeypatch.setattr(builder, "PROFILE_RETRY_SECONDS", 0)
    with pytest.raises(PctlError, match="not found") as err:
        launch(template_file, force=True)
    assert len(tokens) == 1 and "Traceback" not in str(err.value)
    failed = [r for r in BuildStore(aws).records() if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["failure"]["step"] == "launch"
    assert "instance-profile/pctl/" in failed[0]["failure"]["message"]
    assert [r["RoleName"] for r in aws.client("iam").list_roles(PathPrefix="/pctl/")["Roles"]] == [f"pctl-build-{bid}"]


# ------------------------------------------------------------------------------------------ user data and scripts

def _many_packages(n: int) -> str:
    names = [f"    - pkg{i:04d}" for i in range(n)]
    return TEMPLATE.replace("    - samtools@1.21\n    - bwa\n    - zlib\n", "\n".join(names) + "\n")


def _largest_library_template() -> str:
    from pctl import library
    from pctl.cluster.plan import CreateOptions, prepare

    sizes = {}
    for name in library.names():
        try:
            sizes[name] = len(prepare(CreateOptions(template=name), use_catalog=False).template.software.spack_packages)
        except Exception:
            continue
    return max(sizes, key=sizes.get)


def test_user_data_stays_small_for_any_number_of_packages(aws, aws_env, base_ami, tmp_path, builder_root):
    big = tmp_path / "big.yaml"
    big.write_text(_many_packages(500))
    largest = _largest_library_template()
    ec2 = aws.client("ec2")
    sizes = {}
    for ref in (largest, str(big)):
        # 500 packages take ~17 h by the shared estimate: the build needs a lifetime that holds them (ami build
        # refuses to launch a builder it would have to cut); user data must not grow either way
        result, _ = launch(ref, force=True, region="us-east-1", max_hours=48)
        inst, = instances(aws, result["build_id"])
        ud = base64.b64decode(ec2.describe_instance_attribute(InstanceId=inst["InstanceId"], Attribute="userData")[
            "UserData"]["Value"])
        sizes[ref] = len(ud)
        assert len(ud) < 16 * 1024 and b"pkg0001" not in ud and b"spack" not in ud.lower()
        script = BuildStore(aws).get_bytes(result["build_id"], "software-install.sh")
        assert len(script) > len(ud)
    assert abs(sizes[str(big)] - sizes[largest]) < 16, "user data does not grow with the template (only the "\
        "lifetime limit's digits differ)"
    cfg = BuildStore(aws).get_json(result["build_id"], "config.json")
    assert cfg["package_count"] == 500


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_shellcheck_every_build_script(aws, aws_env, base_ami, template_file, builder_root, tmp_path):
    result, _ = launch(template_file)
    bid = result["build_id"]
    inst, = instances(aws, bid)
    ud = base64.b64decode(aws.client("ec2").describe_instance_attribute(InstanceId=inst["InstanceId"],
                                                                        Attribute="userData")["UserData"]["Value"])
    files = {"user-data.sh": ud, "software-install.sh": BuildStore(aws).get_bytes(bid, "software-install.sh"),
             "check.sh": BuildStore(aws).get_bytes(bid, "check.sh")}
    for name, data in files.items():
        p = tmp_path / name
        p.write_bytes(data)
        r = subprocess.run(["shellcheck", "-S", "warning", "-s", "bash", str(p)], capture_output=True, text=True)
        assert r.returncode == 0, f"{name}:\n{r.stdout}"


# ------------------------------------------------------------------------------------------ every end is recorded

def _agent_pid(build_id: str, timeout: float = 30) -> int:
    """The agent process of a build (the user data's child), as systemd would signal it."""
    end = time.time() + timeout
    while time.time() < end:
        for p in Path("/proc").iterdir():
            if not p.name.isdigit():
                continue
            try:
                cmd = (p / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(c.endswith(b"agent.py") for c in cmd) and build_id.encode() in cmd:
                return int(p.name)
        time.sleep(0.1)
    raise AssertionError(f"no agent process for {build_id}")


def _wait_for(fn, timeout: float = 60, what: str = "condition"):
    end = time.time() + timeout
    while time.time() < end:
        value = fn()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_builder_killed_by_sigterm_is_failed_within_a_minute_with_a_webhook(aws, aws_env, base_ami, template_file,
                                                                             builder_root, standins, imds):
    """Issue 11, done-when: SIGTERM (what systemd sends the agent's unit when the instance shuts down)
    in the middle of the Spack install: the record says failed at step software, the webhook is posted
    (a loopback listener), the install's process group is stopped, the inputs and IAM access go."""
    import signal

    hook = Webhook()
    result, _ = launch(template_file, notify_webhook=hook.url)
    bid = result["build_id"]
    fast_agent(aws, bid)
    store = BuildStore(aws)
    proc = run_builder(aws, bid, imds, standins, extra_env={"STANDIN_SLEEP": "30"}, wait=False)
    _wait_for(lambda: (store.get_json(bid, "progress.json") or {}).get("software_step") == "install", 60,
              "the Spack install to start")
    killed = time.time()
    os.kill(_agent_pid(bid), signal.SIGTERM)
    r = _wait_for(lambda: (lambda r: r if json.loads(r.stdout or "{}").get("status") == "failed" else None)(
        run_pctl("ami", "status", bid, "--json")), 60, "ami status to say failed")
    seen_after = time.time() - killed
    st = json.loads(r.stdout)
    assert seen_after < 60, f"failed only after {seen_after:.0f} s"
    assert st["failure"]["step"] == "software" and "stopped by SIGTERM during step software" in st["failure"]["message"]
    out, _ = proc.communicate(timeout=120)
    (post,) = hook.posts
    assert f"pctl: AMI build {bid}" in post["body"]["text"] and "failed at step software" in post["body"]["text"]
    assert post["body"]["status"] == "failed"
    hook.close()
    # the Spack install (its own session) was stopped, not left running
    spack = str(standins.dir / "spack").encode()
    assert not [p for p in Path("/proc").iterdir() if p.name.isdigit() and spack in _cmd(p)]
    log = store.get_bytes(bid, "build.log").decode()
    assert "stopped the Spack install" in log and "released: inputs" in log
    assert sorted(store.keys()[bid]) == ["build.log", "progress.json", "spack-install.log", "state.json"]
    assert aws.client("iam").list_instance_profiles(PathPrefix="/pctl/")["InstanceProfiles"] == []
    assert instances(aws, bid) == [] and images_of(aws, bid) == []
    elapsed = st.get("actual_minutes")
    print(f"SIGTERM -> failed in ami status after {seen_after:.1f} s; build lasted {elapsed} min")


def _cmd(p: Path) -> bytes:
    try:
        return (p / "cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return b""


def test_sigterm_while_imaging_undoes_the_half_made_image(aws, aws_env, base_ami, template_file, builder_root,
                                                         standins, imds):
    hook = Webhook()
    result, _ = launch(template_file, notify_webhook=hook.url)
    bid = result["build_id"]
    fast_agent(aws, bid)
    rc, out = run_builder(aws, bid, imds, standins, extra_env={"PCTL_AGENT_SIGNAL_AT": "image"})
    state = BuildStore(aws).get_json(bid, "state.json")
    assert state["status"] == "failed" and state["failure"]["step"] == "image", out
    assert "stopped by SIGTERM during step image" in state["failure"]["message"]
    assert any(c.startswith("deregistered ami-") for c in state["failure"]["cleanup"])
    assert images_of(aws, bid) == [] and snapshots_of(aws, bid) == []
    assert "failed at step image" in hook.posts[0]["body"]["text"]
    hook.close()


def test_the_lifetime_limit_ends_the_build_before_the_halt(aws, aws_env, base_ami, template_file, builder_root,
                                                          standins, imds):
    """The agent stops on its own before the `shutdown -h +N` limit: failed at the step it was in, with
    the reason, the webhook posted, IAM access released."""
    from datetime import datetime, timedelta, timezone

    hook = Webhook()
    result, _ = launch(template_file, notify_webhook=hook.url)
    bid = result["build_id"]
    store = BuildStore(aws)
    cfg = store.get_json(bid, "config.json")
    cfg.update(software_poll=0.2, progress_interval=0.2, upload_interval=0.5, image_poll=0.2, stop_margin_seconds=0,
               deadline=(datetime.now(timezone.utc) + timedelta(seconds=8)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    store.put_json(bid, "config.json", cfg)
    t0 = time.time()
    rc, out = run_builder(aws, bid, imds, standins, extra_env={"STANDIN_SLEEP": "30"})
    assert time.time() - t0 < 60, "stopped at the limit, not after the slow install"
    state = store.get_json(bid, "state.json")
    assert state["status"] == "failed" and state["failure"]["step"] == "software", out
    assert "lifetime limit reached during step software" in state["failure"]["message"]
    assert "lifetime limit reached" in hook.posts[0]["body"]["text"]
    hook.close()
    assert aws.client("iam").list_role_policies(RoleName=f"pctl-build-{bid}")["PolicyNames"] == []


def test_a_limit_below_the_estimate_is_refused_with_the_numbers(aws, aws_env, base_ami, tmp_path, builder_root):
    big = tmp_path / "big.yaml"
    big.write_text(_many_packages(200))  # about 8.5 h of builds from source
    r = run_pctl("ami", "build", "-t", str(big), "--no-catalog", "--max-hours", "4")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "estimated at 8 h" in r.stderr and "the AMI builder stops after 4 h (--max-hours 4)" in r.stderr
    assert "pass --max-hours 17" in r.stderr or "pass --max-hours 18" in r.stderr
    assert instances(aws) == [] and aws.client("iam").list_roles(PathPrefix="/pctl/")["Roles"] == []


# ------------------------------------------------------------------------------------------ images ParallelCluster recognises

@pytest.fixture
def mounted_root(builder_root):
    """The builder's root as a mount point of its own (so the agent freezes it; fsfreeze is a stand-in)."""
    if os.geteuid() != 0:
        pytest.skip("bind-mounting the builder root needs root")
    subprocess.run(["mount", "--bind", str(builder_root), str(builder_root)], check=True)
    yield builder_root
    subprocess.run(["umount", "-l", str(builder_root)], check=False)


def test_a_consistent_image_tagged_as_parallelcluster_does(aws, aws_env, base_ami, template_file, mounted_root,
                                                          standins, imds):
    root = mounted_root
    # ParallelCluster's own pre-image cleanup on the base AMI, a stand-in that records its run
    (root / "usr/local/sbin").mkdir(parents=True)
    (root / "usr/local/sbin/ami_cleanup.sh").write_text(
        f'#!/bin/bash\nprintf "%s\\n" "$*" >>"{standins.log_dir}/ami_cleanup.log"\necho "ami_cleanup ran"\n')
    (root / "usr/local/sbin/ami_cleanup.sh").chmod(0o755)
    (root / "opt/parallelcluster").mkdir(parents=True)
    (root / "opt/parallelcluster/system_info").write_text("builder\n")
    ec2 = aws.client("ec2")
    ec2.create_tags(Resources=[base_ami["x86_64"]], Tags=[{"Key": "parallelcluster:kernel_version", "Value": "6.1.0"},
                                                          {"Key": "parallelcluster:efa_version", "Value": "1.38.0"}])
    result, _ = launch(template_file)
    bid = result["build_id"]
    fast_agent(aws, bid)
    rc, out = run_builder(aws, bid, imds, standins)
    assert rc == 0, out
    state = BuildStore(aws).get_json(bid, "state.json")
    assert state["status"] == "available", out
    # quiet, flushed, frozen only while EC2 starts the snapshots
    assert "stop amazon-ssm-agent.service" in standins.calls("systemctl")
    assert "stop rsyslog.service" in standins.calls("systemctl")
    assert not any(c.startswith("stop cron") for c in standins.calls("systemctl")), "only running writers"
    assert standins.calls("fsfreeze") == [f"--freeze {root}/", f"--unfreeze {root}/"] or \
        standins.calls("fsfreeze") == [f"--freeze {root}", f"--unfreeze {root}"]
    log = BuildStore(aws).get_bytes(bid, "build.log").decode()
    assert log.index("froze ") < log.index("thawed ") < log.index("creating image ")
    assert "--sync --flush" in standins.calls("journalctl")
    # ParallelCluster's ami_cleanup.sh ran (as its build-image runs it), system_info removed
    assert standins.calls("ami_cleanup") == ["false"] and not (root / "opt/parallelcluster/system_info").exists()
    # tags: ParallelCluster's own, so its validators check the version instead of warning
    img = ec2.describe_images(ImageIds=[state["ami_id"]])["Images"][0]
    tags = {t["Key"]: t["Value"] for t in img["Tags"]}
    assert tags["parallelcluster:version"] == PC_VERSION and tags["parallelcluster:os"] == "alinux2023"
    assert tags["parallelcluster:build_status"] == "available"
    assert tags["parallelcluster:parent_image"] == base_ami["x86_64"]
    assert tags["parallelcluster:kernel_version"] == "6.1.0" and tags["parallelcluster:efa_version"] == "1.38.0"
    assert tags["pctl:target"] == "x86_64_v4" and tags["pctl:spec-count"] == "3"
    assert len(img["Tags"]) <= 50 and all(len(t["Value"]) <= 256 for t in img["Tags"])
    from pcluster.validators.cluster_validators import CustomAmiTagValidator
    from pcluster.validators.ec2_validators import AmiOsCompatibleValidator

    assert CustomAmiTagValidator().execute(custom_ami=state["ami_id"]) == []
    assert AmiOsCompatibleValidator().execute(os="alinux2023", image_id=state["ami_id"]) == []
    failures = AmiOsCompatibleValidator().execute(os="ubuntu2404", image_id=state["ami_id"])
    assert failures and "not compatible" in failures[0].message
    # ...and pctl create reads back what the image holds
    from pctl.software.lookup import read_ami

    image_id, manifest = read_ami(aws, state["ami_id"])
    assert manifest.readable and sorted(manifest.specs) == ["bwa", "samtools@1.21", "zlib"]
    assert manifest.target == "x86_64_v4"
