"""The rendered node scripts, run for real in throwaway Debian roots (see tests/sandbox.py).

head.sh and compute.sh run as ParallelCluster would run them (as root, with the OnNodeConfigured
arguments), against recording stand-ins for spack, git, curl, mount-s3 and systemctl. Checked:
users and groups with exact ids, homes and SSH keys on the head node only, sudoers, the S3 mount
units, module wiring through a real Lmod in a login shell, the Spack calls (head only), that a
second run changes nothing, that a failing step names itself, and that hostile values which got
past validation never run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from ruamel.yaml import YAML

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox import Sandbox, SandboxUnavailable, ensure_rootfs  # noqa: E402

from pctl.render.scripts import (  # noqa: E402
    ScriptOptions,
    SpackSite,
    render_node_scripts,
    render_software_install,
    render_spack_yaml,
)
from pctl.template.model import (  # noqa: E402
    Cluster,
    Compute,
    Data,
    Group,
    Queue,
    S3Mount,
    Software,
    Template,
    User,
)

pytestmark = pytest.mark.slow

KEEP = bool(os.environ.get("PCTL_TEST_KEEP_SANDBOX"))


def ssh_key(seed: str, comment: str) -> str:
    blob = struct.pack(">I", 11) + b"ssh-ed25519" + struct.pack(">I", 32) + hashlib.sha256(seed.encode()).digest()
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} {comment}"


KEY_A = ssh_key("alice", "alice@laptop")
KEY_B1 = ssh_key("bob-1", "bob@desk")
KEY_B2 = ssh_key("bob-2", "bob@home")

FULL = {
    "cluster": {"name": "genomics", "region": "us-east-1", "os": "ubuntu2404"},
    "compute": {"head_node": "t3.large",
                "queues": [{"name": "cpu", "instance_types": ["c6i.xlarge"], "max_count": 4}]},
    "software": {"spack_packages": ["samtools@1.21", "bwa@0.7.18", "py-numpy"],
                 "mirrors": ["s3://lab-spack-cache/v1", {"url": "https://unsigned.example.org/cache",
                                                         "allow_unsigned": True}], "modules": "flat"},
    "groups": [{"name": "lab", "gid": 5000}, {"name": "instrument", "gid": 5100}],
    "users": [
        {"name": "alice", "uid": 5001, "gid": 5000, "groups": ["instrument"], "sudo": True,
         "ssh_public_keys": [KEY_A]},
        {"name": "bob", "uid": 5002, "gid": 5000, "ssh_public_keys": [KEY_B1, KEY_B2]},
        {"name": "carol", "uid": 5003, "shell": "/bin/sh"},
    ],
    "data": {"s3_mounts": [
        {"bucket": "lab-results", "mount_point": "/data/results", "read_only": False},
        {"bucket": "lab-raw", "mount_point": "/data/raw-runs", "prefix": "runs/2024/"},
        {"bucket": "lab-shared", "mount_point": "/data/shared", "read_only": False, "group": "lab"},
    ]},
}
UNITS = {
    # no group: the OS group users (gid 100), of which every template user is made a member
    "pctl-s3-data-results.service": "ExecStart=/usr/bin/mount-s3 --allow-other --allow-delete --allow-overwrite "
                                    "--gid 100 --dir-mode 0770 --file-mode 0660 lab-results /data/results",
    "pctl-s3-data-raw\\x2druns.service":
        "ExecStart=/usr/bin/mount-s3 --allow-other --read-only --prefix runs/2024/ lab-raw /data/raw-runs",
    "pctl-s3-data-shared.service": "ExecStart=/usr/bin/mount-s3 --allow-other --allow-delete --allow-overwrite "
                                   "--gid 5000 --dir-mode 0770 --file-mode 0660 lab-shared /data/shared",
}
#: ParallelCluster's default OS user on ubuntu2404 (cfn_cluster_user in /etc/parallelcluster/cfnconfig)
ADMIN = "ubuntu"
ENV_DIR = "/opt/pctl/environments/pctl"
KEYS_ENV_DIR = "/opt/pctl/environments/pctl-keys"
WATCHED = ("/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow", "/etc/sudoers.d", "/etc/systemd/system",
           "/etc/profile.d", "/home", "/opt/pctl", "/data", "/usr/bin/mount-s3", "/var/lib/pctl/software.done",
           "/etc/ssh", "/etc/bash.bashrc", "/etc/csh")
STANDIN_NAMES = ("spack", "git", "systemctl", "curl", "mount-s3", "apt-get", "dnf")


def _sandbox(directory: Path) -> Sandbox:
    try:
        return Sandbox.create(directory)
    except SandboxUnavailable as exc:
        pytest.skip(f"node-script sandbox unavailable: {exc}")


def _pcluster_like(box: Sandbox) -> None:
    """/opt/slurm, /opt/pmix, EFA, an installed-but-not-activated Lmod (as on an AMI), the default OS
    user (uid 1000) and the cfnconfig the ParallelCluster cookbook writes."""
    box.fake_pcluster_node()
    box.path("/etc/profile.d/lmod.sh").unlink()
    assert box.run(["useradd", "-u", "1000", "-M", "-s", "/bin/bash", ADMIN]).returncode == 0
    box.write("/etc/parallelcluster/cfnconfig", f"stack_name=genomics\ncfn_cluster_user={ADMIN}\ncfn_node_type=HeadNode\n")


def _run(box: Sandbox, script: str, *args: str, name: str) -> SimpleNamespace:
    proc = box.run_script(script, *args, name=name)
    return SimpleNamespace(proc=proc, snap=box.snapshot(*WATCHED),
                           calls={n: box.calls(n) for n in STANDIN_NAMES})


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    try:
        ensure_rootfs()
    except SandboxUnavailable as exc:
        pytest.skip(f"node-script sandbox unavailable: {exc}")
    template = Template.model_validate(FULL)
    options = ScriptOptions("boot")
    scripts = render_node_scripts(template, options)
    head = _sandbox(tmp_path_factory.mktemp("head"))
    compute = _sandbox(tmp_path_factory.mktemp("compute"))
    _pcluster_like(head)
    _pcluster_like(compute)
    ns = SimpleNamespace(template=template, options=options, scripts=scripts, head=head, compute=compute)
    ns.head1 = _run(head, scripts["head.sh"], "head", name="head.sh")
    ns.head2 = _run(head, scripts["head.sh"], "head", name="head.sh")
    ns.compute1 = _run(compute, scripts["compute.sh"], "compute", "cpu", name="compute.sh")
    ns.compute2 = _run(compute, scripts["compute.sh"], "compute", "cpu", name="compute.sh")
    ns.compute_had_software = compute.exists("/opt/pctl")
    # On a real cluster /opt/pctl and /home reach the compute nodes from the head node over NFS.
    for tree in ("/opt/pctl", "/home"):
        shutil.copytree(head.path(tree), compute.path(tree), symlinks=True, dirs_exist_ok=True)
    yield ns
    if not KEEP:
        head.destroy()
        compute.destroy()


def _ok(run: SimpleNamespace) -> None:
    assert run.proc.returncode == 0, f"stdout:\n{run.proc.stdout}\nstderr:\n{run.proc.stderr}"


def _passwd(box: Sandbox, name: str) -> list[str]:
    proc = box.run(["getent", "passwd", name])
    assert proc.returncode == 0, f"no user {name}"
    return proc.stdout.strip().split(":")


def _group(box: Sandbox, name: str) -> list[str]:
    proc = box.run(["getent", "group", name])
    assert proc.returncode == 0, f"no group {name}"
    return proc.stdout.strip().split(":")


# ------------------------------------------------------------------------------ both roles

@pytest.mark.parametrize("role", ["head", "compute"])
def test_scripts_succeed_and_log_every_step(cluster, role):
    box = getattr(cluster, role)
    for run in (getattr(cluster, f"{role}1"), getattr(cluster, f"{role}2")):
        _ok(run)
    log = box.read("/var/log/pctl/bootstrap.log")
    steps = ["arguments", "os", "users", "s3-mounts", "modules"] + (["software"] if role == "head" else [])
    for step in steps:
        assert f"step {step}: start" in log and f"step {step}: done" in log
    assert f"step {step}: start" in cluster.head1.proc.stdout  # also on stdout
    state = json.loads(box.read("/var/lib/pctl/bootstrap.json"))
    assert state["status"] == "ok" and state["role"] == role and state["mode"] == "boot"
    assert state["queue"] == ("cpu" if role == "compute" else "")


@pytest.mark.parametrize("role", ["head", "compute"])
def test_users_and_groups_have_exact_ids(cluster, role):
    box = getattr(cluster, role)
    assert _group(box, "lab")[2] == "5000"
    assert _group(box, "instrument")[2] == "5100"
    assert _group(box, "carol")[2] == "5003"  # private group for the primary gid nobody declared
    assert _passwd(box, "alice") == ["alice", "x", "5001", "5000", "", "/home/alice", "/bin/bash"]
    assert _passwd(box, "bob")[2:4] == ["5002", "5000"]
    assert _passwd(box, "carol")[2:4] == ["5003", "5003"] and _passwd(box, "carol")[6] == "/bin/sh"
    assert "alice" in _group(box, "instrument")[3].split(",")
    sudo = box.path("/etc/sudoers.d/pctl-alice")
    assert sudo.is_file() and (sudo.stat().st_mode & 0o777) == 0o440
    assert box.run(["visudo", "-cf", "/etc/sudoers.d/pctl-alice"]).returncode == 0
    assert not box.exists("/etc/sudoers.d/pctl-bob")


def test_homes_and_ssh_keys_on_the_head_node_only(cluster):
    head = cluster.head
    for name, uid, keys in (("alice", 5001, [KEY_A]), ("bob", 5002, [KEY_B1, KEY_B2])):
        home = head.path(f"/home/{name}")
        assert home.is_dir() and home.stat().st_uid == uid
        ssh, ak = home / ".ssh", home / ".ssh" / "authorized_keys"
        assert (ssh.stat().st_mode & 0o777) == 0o700 and ssh.stat().st_uid == uid
        assert (ak.stat().st_mode & 0o777) == 0o600 and ak.stat().st_uid == uid and ak.stat().st_gid == 5000
        # the template's keys, then the user's own cluster key (ssh between nodes)
        own = head.read(f"/home/{name}/.ssh/id_ed25519.pub")
        assert ak.read_text() == "".join(k + "\n" for k in keys) + own
        assert f"/home/{name}" not in cluster.compute1.snap
    assert head.path("/home/carol").is_dir() and head.exists("/home/carol/.ssh/id_ed25519")
    assert not any(p.startswith("/home/") for p in cluster.compute2.snap)


@pytest.mark.parametrize("role", ["head", "compute"])
def test_s3_mount_units(cluster, role):
    box = getattr(cluster, role)
    for unit, exec_start in UNITS.items():
        text = box.read(f"/etc/systemd/system/{unit}")
        lines = text.splitlines()
        assert exec_start in lines
        mount = exec_start.rsplit(" ", 1)[1]
        assert f"ExecStop=/usr/bin/fusermount -u {mount}" in lines
        for line in ("Type=forking", "Restart=on-failure", "After=network-online.target",
                     "RequiresMountsFor=/data", "WantedBy=multi-user.target"):
            assert line in lines, f"{unit}: missing {line}"
        assert box.path(mount).is_dir()
        assert os.readlink(box.path(f"/etc/systemd/system/multi-user.target.wants/{unit}")) == f"../{unit}"
    run = getattr(cluster, f"{role}1")
    enabled = sorted(c[1] for c in run.calls["systemctl"] if c[:1] == ["enable"])
    assert enabled == sorted(UNITS)
    assert run.calls["mount-s3"] == []  # only systemd starts it, and there is none here
    assert os.readlink(box.path("/usr/bin/mount-s3")).endswith("pctl-standins/mount-s3")


@pytest.mark.parametrize("role", ["head", "compute"])
def test_mount_groups_hold_the_template_users_and_the_default_user(cluster, role):
    """users (gid 100) owns /data/results: every template user and the default OS user are members;
    lab owns /data/shared: alice and bob (primary gid 5000) and the default OS user, not carol."""
    box = getattr(cluster, role)
    users = _group(box, "users")
    assert users[2] == "100" and set(users[3].split(",")) == {"alice", "bob", "carol", ADMIN}
    assert _group(box, "lab")[3].split(",") == [ADMIN]
    groups = {name: box.run(["id", "-nG", name]).stdout.split() for name in ("alice", "bob", "carol", ADMIN)}
    assert all("users" in g for g in groups.values()), groups
    assert "lab" in groups["alice"] and "lab" in groups["bob"] and "lab" in groups[ADMIN]
    assert "lab" not in groups["carol"]
    log = box.read("/var/log/pctl/bootstrap.log")
    assert f"added user {ADMIN} to group users" in log and f"added user {ADMIN} to group lab" in log


@pytest.mark.parametrize("role", ["head", "compute"])
def test_who_can_write_a_read_write_mount(cluster, role):
    """With --allow-other the kernel checks Mountpoint's owner, group and modes for every account. A plain
    directory made with the unit's --gid and --dir-mode stands in for each mount (the sandbox has no FUSE):
    group members write there, service accounts and non-members cannot even list it."""
    box = getattr(cluster, role)
    cases = (("pctl-s3-data-results.service", ["alice", "bob", "carol", ADMIN], ["nobody", "daemon"]),
             ("pctl-s3-data-shared.service", ["alice", "bob", ADMIN], ["carol", "nobody", "daemon"]))
    for unit, writers, others in cases:
        (line,) = [x for x in box.read(f"/etc/systemd/system/{unit}").splitlines() if x.startswith("ExecStart=")]
        words = line.split()
        gid, mode = words[words.index("--gid") + 1], words[words.index("--dir-mode") + 1]
        target = f"/tmp/as-{unit}"
        assert box.run(["install", "-d", "-o", "0", "-g", gid, "-m", mode, target]).returncode == 0
        for user in writers:
            proc = box.sh(f"touch {target}/by-{user} && ls {target} >/dev/null && rm {target}/by-{user}", user=user)
            assert proc.returncode == 0, (unit, user, proc.stderr)
        for user in others:
            assert box.sh(f"touch {target}/by-{user}", user=user).returncode != 0, (unit, user)
            assert box.sh(f"ls {target}", user=user).returncode != 0, (unit, user)
        box.run(["rm", "-rf", target])


@pytest.mark.parametrize("role", ["head", "compute"])
def test_second_run_changes_nothing(cluster, role):
    first, second = getattr(cluster, f"{role}1"), getattr(cluster, f"{role}2")
    assert first.snap == second.snap
    # No stand-in was called again: nothing was (re)installed, (re)enabled or (re)cloned.
    assert first.calls == second.calls
    log = getattr(cluster, role).read("/var/log/pctl/bootstrap.log")
    second_part = log.split(f"{role}.sh starting")[-1]
    for word in ("created", "wrote", "added", "linked", "cloning"):
        assert word not in second_part, second_part


def test_spack_runs_on_the_head_node_only(cluster):
    head_calls = cluster.head1.calls["spack"]
    joined = [" ".join(c) for c in head_calls]
    assert "repo set --scope site --destination /opt/pctl/spack-packages builtin" in joined
    assert "compiler find --scope site" in joined
    # keys are trusted in an environment that lists the signed mirrors only, never in the full one
    assert f"-e {KEYS_ENV_DIR} buildcache keys --install --trust" in joined
    assert not any("buildcache keys" in c and ENV_DIR + " " in c + " " for c in joined)
    assert joined.index(f"-e {KEYS_ENV_DIR} buildcache keys --install --trust") < joined.index(f"-e {ENV_DIR} concretize -f")
    assert f"-e {ENV_DIR} concretize -f" in joined
    installs = [c for c in head_calls if "install" in c and "--fail-fast" in c]
    assert len(installs) == 1 and any(a.startswith("-j") and a[2:].isdigit() for a in installs[0])
    assert f"-e {ENV_DIR} module lmod refresh --delete-tree -y" in joined
    assert joined.index(f"-e {ENV_DIR} concretize -f") < joined.index(" ".join(installs[0]))
    clones = cluster.head1.calls["git"]
    assert ["clone", "--quiet", "--depth", "1", "--branch", "v1.2.0", "-c", "advice.detachedHead=false", "--",
            "https://github.com/spack/spack", "/opt/pctl/spack.partial"] in clones
    assert any("v2026.06.0" in c and "https://github.com/spack/spack-packages" in c for c in clones)
    assert cluster.compute1.calls["spack"] == [] and cluster.compute1.calls["git"] == []
    assert not cluster.compute_had_software


def test_the_keys_environment_on_the_node_lists_signed_mirrors_only(cluster):
    keys = YAML(typ="safe").load(cluster.head.read(f"{KEYS_ENV_DIR}/spack.yaml"))["spack"]
    assert list(keys) == ["view", "specs", "mirrors:"]  # "mirrors::" replaces every other scope's mirrors
    assert [m["url"] for m in keys["mirrors:"].values()] == [
        "https://binaries.spack.io/releases/v2026.06/aws-pcluster-x86_64_v4",
        "https://binaries.spack.io/releases/v2026.06", "s3://lab-spack-cache/v1"]
    full = YAML(typ="safe").load(cluster.head.read(f"{ENV_DIR}/spack.yaml"))["spack"]["mirrors"]
    assert list(full)[:2] == ["aws-pcluster-x86_64_v4", "spack-v2026.06"]  # the official caches are tried first
    assert full["pctl-extra-2"] == {"url": "https://unsigned.example.org/cache", "signed": False}


def test_spack_yaml_on_the_node_matches_the_renderer(cluster):
    written = cluster.head.read(f"{ENV_DIR}/spack.yaml")
    # Debian's Lmod is in /usr/share/lmod, so Spack's is not added; the fake ParallelCluster
    # node offers Slurm 24.05.7, PMIx 4.2.9 and EFA libfabric 1.22.0.
    site = SpackSite(slurm_version="24.05.7", pmix_version="4.2.9", libfabric_version="1.22.0", lmod=False)
    assert written == render_spack_yaml(cluster.template, cluster.options, site)
    doc = YAML(typ="safe").load(written)["spack"]
    assert doc["specs"] == ["samtools@1.21", "bwa@0.7.18", "py-numpy"]
    assert doc["packages"]["slurm"] == {"buildable": False,
                                        "externals": [{"spec": "slurm@24.05.7 +pmix target=x86_64_v4",
                                                         "prefix": "/opt/slurm"}]}
    assert doc["packages"]["all"]["require"] == ["target=x86_64_v4"]  # t3 + c6i: Skylake-SP, Ice Lake
    assert doc["packages"]["libfabric"]["externals"][0]["prefix"] == "/opt/amazon/efa"
    software = json.loads(cluster.head.read("/var/lib/pctl/software.json"))
    assert software["status"] == "ok" and software["step"] == "done"
    assert software["specs"] == 3 and software["packages_done"] == software["packages_total"] == 3


@pytest.mark.parametrize("role", ["head", "compute"])
def test_module_load_works_in_a_login_shell(cluster, role):
    box = getattr(cluster, role)
    assert box.exists("/etc/profile.d/z00-pctl-modules.sh") and box.exists("/etc/profile.d/z00-pctl-modules.csh")
    out = box.sh('echo "MODULEPATH=$MODULEPATH"; module load samtools && echo "loaded=$PCTL_STANDIN_SAMTOOLS" '
                 "&& samtools", user="alice", login=True)
    assert out.returncode == 0, out.stderr
    assert "/opt/pctl/modules/Core" in out.stdout.split("MODULEPATH=", 1)[1].splitlines()[0]
    assert "loaded=1.21" in out.stdout and "samtools 1.21 (pctl stand-in)" in out.stdout
    root = box.run(["bash", "-lc", 'echo "$MODULEPATH"'])  # chroot ROOT bash -lc 'echo $MODULEPATH'
    assert "/opt/pctl/modules/Core" in root.stdout.split(":"), root.stdout + root.stderr
    # A batch job: "sbatch" runs the script with bash -l, or inherits this environment.
    job = box.sh("module -t avail 2>&1 | grep -x 'samtools/1.21'", user="bob", login=True)
    assert job.returncode == 0, job.stdout + job.stderr
    csh = box.sh('echo "$MODULEPATH"', user="carol")  # non-login: profile.d not read, nothing set
    assert "/opt/pctl/modules/Core" not in csh.stdout
    # csh/tcsh users: the .csh twin (csh expands aliases per line, hence a script file). Also
    # with LMOD_CMD inherited but no "module" alias, as in a csh started from a bash session.
    box.write("/tmp/modules.csh", "source /etc/profile.d/z00-pctl-modules.csh\necho MP=$MODULEPATH\n"
                                  "module load samtools\necho loaded=$PCTL_STANDIN_SAMTOOLS\n")
    for env in ({}, {"LMOD_CMD": "/usr/share/lmod/lmod/libexec/lmod"}):
        tcsh = box.run(["tcsh", "/tmp/modules.csh"], env=env)
        assert tcsh.returncode == 0 and "MP=/opt/pctl/modules/Core:" in tcsh.stdout, tcsh.stdout + tcsh.stderr
        assert "loaded=1.21" in tcsh.stdout


# ------------------------------------------------------------------------------ failures

@pytest.fixture
def make_box(tmp_path):
    boxes: list[Sandbox] = []

    def make(name: str = "box") -> Sandbox:
        box = _sandbox(tmp_path / name)
        boxes.append(box)
        return box

    yield make
    if not KEEP:
        for box in boxes:
            box.destroy()


@pytest.mark.parametrize("setup, message", [
    (["useradd", "-u", "6001", "-M", "alice"],
     "user 'alice' already exists with uid 6001 and gid 6001, but the template says uid 5001 and gid 5000"),
    (["groupadd", "-g", "6000", "lab"], "group 'lab' already exists with gid 6000, but the template says gid 5000"),
    (["groupadd", "-g", "5100", "scanners"], "gid 5100 is already used by group 'scanners'"),
    # the S3 mounts' default group must be users with gid 100 on every node
    (["groupmod", "-g", "1100", "users"],
     "group 'users' already exists with gid 1100, but pctl's S3 mounts need gid 100 for it on every node"),
    (["groupmod", "-n", "people", "users"],
     "gid 100 is already used by group 'people' (pctl's S3 mounts need it for group 'users')"),
])
def test_conflicting_ids_fail_the_users_step(make_box, setup, message):
    box = make_box()
    assert box.run(setup).returncode == 0
    scripts = render_node_scripts(Template.model_validate(FULL), ScriptOptions("none"))
    proc = box.run_script(scripts["head.sh"], "head", name="head.sh")
    assert proc.returncode != 0
    assert "pctl bootstrap step 'users' failed" in proc.stderr
    assert message in proc.stderr
    log = box.read("/var/log/pctl/bootstrap.log")
    assert "pctl bootstrap step 'users' failed" in log and message in log
    state = json.loads(box.read("/var/lib/pctl/bootstrap.json"))
    assert (state["step"], state["status"]) == ("users", "failed")
    assert not box.exists("/etc/systemd/system/pctl-s3-data-results.service")  # later steps never ran


def test_the_default_os_user_comes_from_cfnconfig_else_the_os_mapping(make_box):
    """cfn_cluster_user in /etc/parallelcluster/cfnconfig names the account that joins the mount groups
    (read, never sourced); without it, or with a value that is no user name, the OS mapping (ubuntu on
    ubuntu2404). A node without the users group gets it with gid 100; no default user at all is logged."""
    box = make_box()
    for cmd in (["groupdel", "users"], ["useradd", "-u", "1000", "-M", ADMIN], ["useradd", "-u", "1001", "-M", "hpcadmin"]):
        assert box.run(cmd).returncode == 0, cmd
    script = render_node_scripts(Template.model_validate(FULL), ScriptOptions("none"))["compute.sh"]

    def run(cfnconfig: str | None) -> str:
        if cfnconfig is None:
            box.path("/etc/parallelcluster/cfnconfig").unlink(missing_ok=True)
        else:
            box.write("/etc/parallelcluster/cfnconfig", cfnconfig)
        proc = box.run_script(script, "compute", "cpu", name="compute.sh")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    out = run("cfn_region=us-east-1\ncfn_cluster_user=hpcadmin\ncfn_node_type=ComputeFleet\n")
    assert "created group users (gid 100)" in out
    assert _group(box, "users")[2] == "100"
    assert set(_group(box, "users")[3].split(",")) == {"alice", "bob", "carol", "hpcadmin"}
    assert _group(box, "lab")[3].split(",") == ["hpcadmin"]
    run(None)
    assert ADMIN in _group(box, "users")[3].split(",") and ADMIN in _group(box, "lab")[3].split(",")
    assert box.run(["gpasswd", "-d", ADMIN, "users"]).returncode == 0
    run('cfn_cluster_user="$(touch /pwned-cfnconfig)"\n')
    assert ADMIN in _group(box, "users")[3].split(",")
    assert not box.exists("/pwned-cfnconfig")

    bare = make_box("bare")
    out = bare.run_script(script, "compute", "cpu", name="compute.sh")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no default OS user on this node: S3 mount groups hold the template's users only" in out.stdout
    assert set(_group(bare, "users")[3].split(",")) == {"alice", "bob", "carol"}


def test_spack_lmod_when_the_node_has_none_and_install_retry(make_box):
    """No /usr/share/lmod: Spack's lmod joins the environment and profile.d uses it. A failed
    install fails the software step (software.json says so); the next run installs."""
    box = make_box()
    box.fake_pcluster_node()
    box.path("/etc/profile.d/lmod.sh").unlink()
    shutil.rmtree(box.path("/usr/share/lmod"))
    box.write("/etc/pctl-standins/fail-spack-install", "")
    template = Template.model_validate(FULL)
    options = ScriptOptions("boot")
    head = render_node_scripts(template, options)["head.sh"]

    failed = box.run_script(head, "head", name="head.sh")
    assert failed.returncode != 0 and "pctl bootstrap step 'software' failed" in failed.stderr
    assert "spack install failed" in failed.stderr
    assert json.loads(box.read("/var/lib/pctl/software.json"))["status"] == "failed"
    assert not box.exists("/var/lib/pctl/software.done")

    box.path("/etc/pctl-standins/fail-spack-install").unlink()
    again = box.run_script(head, "head", name="head.sh")
    assert again.returncode == 0, again.stderr
    site = SpackSite(slurm_version="24.05.7", pmix_version="4.2.9", libfabric_version="1.22.0", lmod=True)
    assert box.read(f"{ENV_DIR}/spack.yaml") == render_spack_yaml(template, options, site)
    assert box.read(f"{ENV_DIR}/spack.yaml").endswith('  - "lmod"\n')
    assert ["-e", ENV_DIR, "location", "-i", "lmod"] in box.calls("spack")
    assert os.readlink(box.path("/opt/pctl/lmod")) == "/opt/pctl/software/lmod-1.0-standin/lmod/lmod"
    out = box.sh('echo "init=$PCTL_STANDIN_LMOD_INIT"; echo "MODULEPATH=$MODULEPATH"', user="alice", login=True)
    assert "init=1" in out.stdout and "MODULEPATH=/opt/pctl/modules/Core" in out.stdout


@pytest.mark.parametrize("mode", ["ami", "none"])
def test_ami_and_none_modes_install_nothing(make_box, mode):
    box = make_box()
    box.path("/etc/profile.d/lmod.sh").unlink()
    scripts = render_node_scripts(Template.model_validate(FULL), ScriptOptions(mode))
    assert "spack.yaml" not in scripts
    for role, args in (("head", ["head"]), ("compute", ["compute", "cpu"])):
        proc = box.run_script(scripts[f"{role}.sh"], *args, name=f"{role}.sh")
        assert proc.returncode == 0, proc.stderr
    assert box.calls("spack") == [] and box.calls("git") == []
    assert _passwd(box, "alice")[2] == "5001"
    assert box.exists("/etc/systemd/system/pctl-s3-data-results.service")
    assert box.exists("/etc/profile.d/z00-pctl-modules.sh")
    # In "ami" mode the image holds the tree: once it is there, modules resolve.
    box.write("/opt/pctl/modules/Core/samtools/1.21.lua", 'setenv("PCTL_FROM_AMI", "yes")\n')
    out = box.sh("module load samtools && echo ami=$PCTL_FROM_AMI", user="alice", login=True)
    assert "ami=yes" in out.stdout, out.stderr


AL2023_OS_RELEASE = 'NAME="Amazon Linux"\nVERSION="2023"\nID="amzn"\nID_LIKE="fedora"\nVERSION_ID="2023"\n'


@pytest.mark.parametrize("family", ["apt", "dnf"])
def test_package_family_mount_s3_and_spack_prerequisites(make_box, family):
    """Without mount-s3 the script downloads the package for its family and architecture and
    installs it; Spack's prerequisites use that family's package names."""
    box = make_box()
    box.path("/usr/local/pctl-standins/mount-s3").unlink()
    if family == "dnf":
        box.path("/etc/os-release").unlink()
        box.write("/etc/os-release", AL2023_OS_RELEASE)
    proc = box.run_script(render_node_scripts(Template.model_validate(FULL), ScriptOptions("boot"))["head.sh"],
                          "head", name="head.sh")
    assert proc.returncode == 0, proc.stderr
    arch = {"x86_64": "x86_64", "aarch64": "arm64"}[os.uname().machine]
    ext = "rpm" if family == "dnf" else "deb"
    url = f"https://s3.amazonaws.com/mountpoint-s3-release/latest/{arch}/mount-s3.{ext}"
    assert ["-fsSL", "--retry", "5", "--retry-delay", "3", "-o", f"/var/lib/pctl/downloads/mount-s3.{ext}",
            url] in box.calls("curl")
    installer = box.calls("dnf" if family == "dnf" else "apt-get")
    assert any(c[-1] == f"/var/lib/pctl/downloads/mount-s3.{ext}" and "install" in c for c in installer)
    assert not box.exists(f"/var/lib/pctl/downloads/mount-s3.{ext}")
    prereqs = next(c for c in installer if {"gfortran", "gcc-gfortran"} & set(c))  # python3 is in the root
    expected = {"dnf": ["gcc-c++", "gcc-gfortran", "gnupg2", "xz"], "apt": ["g++", "gfortran", "gnupg", "xz-utils"]}
    assert set(expected[family]) <= set(prereqs), prereqs
    if family == "apt":
        assert ["-o", "DPkg::Lock::Timeout=600", "update", "-q"] in installer
    assert box.calls("dnf" if family == "apt" else "apt-get") == []


def test_wrong_role_argument_fails(make_box):
    box = make_box()
    scripts = render_node_scripts(Template.model_validate(FULL), ScriptOptions("none"))
    proc = box.run_script(scripts["compute.sh"], "head", name="compute.sh")
    assert proc.returncode != 0 and "pctl bootstrap step 'arguments' failed" in proc.stderr
    assert "this is the compute node script" in proc.stderr


def test_software_install_script_alone(make_box):
    """The AMI builder's script: the same Spack steps without users, mounts or module wiring."""
    box = make_box()
    template = Template.model_validate(FULL)
    script = render_software_install(template, ScriptOptions("ami"))
    proc = box.run_script(script, name="software-install.sh")
    assert proc.returncode == 0, proc.stderr
    assert any("--fail-fast" in c for c in box.calls("spack"))
    assert box.exists(f"{ENV_DIR}/spack.yaml") and not box.exists("/etc/profile.d/z00-pctl-modules.sh")
    assert box.run(["getent", "passwd", "alice"]).returncode != 0
    assert json.loads(box.read("/var/lib/pctl/software.json"))["status"] == "ok"
    assert "step software: done" in box.read("/var/log/pctl/software-install.log")


# ------------------------------------------------------------------------------ hostile values

HOSTILE = [
    "$(touch /pwned-1)",
    "x; touch /pwned-2",
    "`touch /pwned-3`",
    "x\ntouch /pwned-4\n",
    "x' ; touch /pwned-5 ; '",
    'x" ; touch /pwned-6 ; "',
    "x && touch /pwned-7 #",
    "${IFS}$(touch${IFS}/pwned-8)",
    "-o /pwned-9",
]
# Fields the scripts re-check at run time (they must refuse them) and fields that are only data
# in spack.yaml (they must arrive there verbatim, inert).
CHECKED = ("user.name", "user.group", "user.shell", "user.key", "group.name", "mount.bucket",
           "mount.point", "mount.prefix")
DATA_ONLY = ("spec", "mirror")


def hostile_template(field: str, value: str) -> Template:
    """A template built with model_construct (no validation) carrying `value` in `field`."""
    group = {"name": "lab", "gid": 5000}
    user = {"name": "alice", "uid": 5001, "gid": 5000, "groups": ["lab"], "shell": "/bin/bash", "sudo": True,
            "ssh_public_keys": [KEY_A]}
    mount = {"bucket": "lab-data", "mount_point": "/data/lab", "prefix": "runs/", "read_only": True}
    specs, mirrors = ["samtools@1.21"], ["https://cache.example.org/spack"]
    target = {"user.name": (user, "name"), "user.shell": (user, "shell"), "group.name": (group, "name"),
              "mount.bucket": (mount, "bucket"), "mount.point": (mount, "mount_point"),
              "mount.prefix": (mount, "prefix")}
    if field in target:
        obj, key = target[field]
        obj[key] = value
    elif field == "user.group":
        user["groups"] = ["lab", value]
    elif field == "user.key":
        user["ssh_public_keys"] = [KEY_A + value, value]
    elif field == "spec":
        specs.append(value)
    elif field == "mirror":
        mirrors.insert(0, value)
    else:  # pragma: no cover
        raise AssertionError(field)
    return Template.model_construct(
        cluster=Cluster.model_construct(name="lab", region="us-east-1", os="alinux2023"),
        compute=Compute.model_construct(head_node="t3.large",
                                        queues=[Queue.model_construct(name="cpu", instance_types=["c6i.xlarge"])]),
        software=Software.model_construct(spack_packages=specs, mirrors=mirrors, modules="flat"),
        users=[User.model_construct(**user)],
        groups=[Group.model_construct(**group)],
        data=Data.model_construct(s3_mounts=[S3Mount.model_construct(**mount)], shared_storage=[]),
    )


def _pwned(box: Sandbox) -> list[str]:
    found = subprocess.run(["find", str(box.root), "-xdev", "-name", "*pwned*"], capture_output=True, text=True)
    hits = [line for line in found.stdout.splitlines() if line]
    return hits + [str(p) for p in Path("/").glob("pwned*")]


@pytest.mark.parametrize("group", ["users", "storage", "software"])
def test_hostile_values_never_run(make_box, group):
    fields = {"users": CHECKED[:5], "storage": CHECKED[5:], "software": DATA_ONLY}[group]
    box = make_box()
    box.fake_pcluster_node()
    options = ScriptOptions("boot")
    runs = []
    for field in fields:
        for i, value in enumerate(HOSTILE):
            scripts = render_node_scripts(hostile_template(field, value), options)
            for role, args in (("head", ["head"]), ("compute", ["compute", "cpu"])):
                name = f"{role}-{field}-{i}.sh"
                box.write(f"/root/hostile/{name}", scripts[f"{role}.sh"], 0o700)
                runs.append((field, value, role, name, args))
    # One chroot for all runs: each script runs in turn, failing or not.
    driver = "".join(
        f"bash /root/hostile/{name} {' '.join(args)} >/root/hostile/{name}.out 2>&1; "
        f"echo $? >/root/hostile/{name}.rc\n" for _, _, _, name, args in runs)
    proc = box.run_script("set -u\n" + driver, name="driver.sh", timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert _pwned(box) == []
    for field, value, role, name, _ in runs:
        rc = int(box.read(f"/root/hostile/{name}.rc"))
        out = box.read(f"/root/hostile/{name}.out")
        if field in CHECKED and not (field == "user.key" and role == "compute"):  # keys: head only
            assert rc != 0 and "refusing" in out, f"{name} {value!r}: rc {rc}\n{out}"
        else:
            assert rc == 0, f"{name} {value!r}: rc {rc}\n{out}"
    # The third queue-argument case: ParallelCluster passes the queue name.
    scripts = render_node_scripts(hostile_template("spec", "samtools"), options)
    for value in HOSTILE:
        proc = box.run_script(scripts["compute.sh"], "compute", value, name="compute-queue.sh")
        assert proc.returncode != 0 and "refusing queue name" in proc.stderr
    if group == "software":
        # The values are data: spack.yaml (last written: the last mirror case) holds them verbatim.
        doc = YAML(typ="safe").load(box.read(f"{ENV_DIR}/spack.yaml"))["spack"]
        assert doc["mirrors"]["pctl-extra-1"]["url"] == HOSTILE[-1]
        spec_yaml = render_spack_yaml(hostile_template("spec", HOSTILE[3]), options)
        assert YAML(typ="safe").load(spec_yaml)["spack"]["specs"][:2] == ["samtools@1.21", HOSTILE[3]]
    assert _pwned(box) == []


STATUS_URI = "s3://pctl-123456789012-us-east-1/clusters/lab/status/software.json"


def test_head_publishes_software_progress_for_pctl_status(make_box):
    """With its status location as second argument, the head node copies software.json to the pctl
    bucket at every state change (aws CLI stand-in records it); a hostile location is refused."""
    box = make_box()
    box.fake_pcluster_node()
    scripts = render_node_scripts(Template.model_validate(FULL), ScriptOptions("boot"))
    proc = box.run_script(scripts["head.sh"], "head", STATUS_URI, name="head.sh")
    assert proc.returncode == 0, proc.stderr[-2000:]
    uploads = [c for c in box.calls("aws") if c[:2] == ["s3", "cp"]]
    assert uploads and all(c[-2:] == ["/var/lib/pctl/software.json", STATUS_URI] for c in uploads)
    assert json.loads(box.read("/var/lib/pctl/software.json"))["step"] == "done"
    bad = box.run_script(scripts["head.sh"], "head", "s3://x/$(touch /pwned).json", name="head.sh")
    assert bad.returncode != 0 and "pctl bootstrap step 'arguments' failed" in bad.stderr
    assert not box.exists("/pwned")


def test_layer_on_an_ami_installs_only_the_rest_with_the_amis_spack(make_box):
    """Issue 11 part 3: an AMI built from the lab template (its software-install.sh, as the AMI builder
    runs it) and a project template with two more packages. head.sh in "layer" mode installs only those
    two, with the AMI's Spack and the AMI's install tree as an upstream, into /opt/pctl-layer; modules of
    both trees load in a login shell."""
    from pctl.software import layers, manifest

    box = make_box()
    _pcluster_like(box)
    lab = Template.model_validate({**FULL, "software": {"spack_packages": ["samtools@1.21", "bwa@0.7.18"]}})
    proc = box.run_script(render_software_install(lab, ScriptOptions("ami")), name="software-install.sh")
    assert proc.returncode == 0, proc.stderr
    ami_calls = len(box.calls("spack"))
    clones = len(box.calls("git"))
    project = Template.model_validate({**FULL, "software": {"spack_packages": ["samtools@1.21", "gatk@4.6.0.0",
                                                                              "star@2.7.11b"]}})
    tags = {"pctl:managed": "true", "pctl:fingerprint": "f" * 64, "pctl:os": "ubuntu2404", "pctl:arch": "x86_64",
            "pctl:packages-digest": manifest.digest(lab.software.spack_packages),
            **manifest.manifest_tags(lab.software.spack_packages, "x86_64_v4")}
    plan = layers.decide(project, custom_ami="ami-0123456789abcdef0",
                         ami=manifest.from_tags("ami-0123456789abcdef0", tags))
    assert plan.mode == "layer" and plan.at_boot == ["gatk@4.6.0.0", "star@2.7.11b"]
    scripts = render_node_scripts(layers.layer_template(project, plan), layers.script_options(plan))
    run = box.run_script(scripts["head.sh"], "head", name="head.sh")
    assert run.returncode == 0, run.stdout + run.stderr
    layer_calls = [" ".join(c) for c in box.calls("spack")[ami_calls:]]
    assert len(box.calls("git")) == clones, "the AMI's Spack is used: nothing cloned"
    assert not any(c.startswith(("repo set", "compiler find")) for c in layer_calls), "the AMI's Spack is not reconfigured"
    assert "-e /opt/pctl-layer/environments/pctl concretize -f" in layer_calls
    doc = YAML(typ="safe").load(box.read("/opt/pctl-layer/environments/pctl/spack.yaml"))["spack"]
    assert doc["specs"] == ["gatk@4.6.0.0", "star@2.7.11b"]
    assert doc["upstreams"] == {"pctl-ami": {"install_tree": "/opt/pctl/software"}}
    assert doc["packages"]["all"]["require"] == ["target=x86_64_v4"]
    assert box.exists("/opt/pctl-layer/software/gatk-4.6.0.0-standin/bin/gatk")
    assert not box.exists("/opt/pctl-layer/software/samtools-1.21-standin"), "the AMI's samtools is not reinstalled"
    out = box.sh("module load samtools gatk star && echo loaded=$PCTL_STANDIN_SAMTOOLS/$PCTL_STANDIN_GATK/"
                 "$PCTL_STANDIN_STAR && gatk", user="alice", login=True)
    assert "loaded=1.21/4.6.0.0/2.7.11b" in out.stdout and "gatk 4.6.0.0 (pctl stand-in)" in out.stdout, out.stderr
    log = box.read("/var/log/pctl/bootstrap.log")
    assert "Spack: the AMI's (/opt/pctl/spack)" in log and "CPU target for every package: x86_64_v4" in log


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_every_user_can_ssh_between_nodes_with_host_keys_checked(make_box):
    """Issue 11 part 6: head.sh makes each template user a key pair in the shared home and authorizes
    it, and a cluster host CA; every node signs its host keys and trusts the CA. A real sshd on the
    compute node (127.0.0.1 only), a real ssh from the head node as each user, with
    StrictHostKeyChecking=yes and no per-user known_hosts: it works for the signed node and is refused
    for one whose host key the CA did not sign."""
    import time

    head, compute, stranger = make_box("head"), make_box("compute"), make_box("stranger")
    scripts = render_node_scripts(Template.model_validate(FULL), ScriptOptions("none"))
    for _ in range(2):  # made once: the second run changes nothing
        proc = head.run_script(scripts["head.sh"], "head", name="head.sh", hostname="head-node")
        assert proc.returncode == 0, proc.stderr
    snap = head.snapshot("/home", "/etc/ssh")
    assert head.run_script(scripts["head.sh"], "head", name="head.sh", hostname="head-node").returncode == 0
    assert head.snapshot("/home", "/etc/ssh") == snap
    ca = head.path("/home/.pctl/ssh/cluster_ca")
    assert ca.stat().st_uid == 0 and (ca.stat().st_mode & 0o777) == 0o600
    assert (head.path("/home/.pctl/ssh").stat().st_mode & 0o777) == 0o700
    for name, uid in (("alice", 5001), ("bob", 5002), ("carol", 5003)):
        key = head.path(f"/home/{name}/.ssh/id_ed25519")
        assert key.stat().st_uid == uid and (key.stat().st_mode & 0o777) == 0o600
        pub = head.read(f"/home/{name}/.ssh/id_ed25519.pub").strip()
        assert head.read(f"/home/{name}/.ssh/authorized_keys").splitlines().count(pub) == 1
    assert KEY_A in head.read("/home/alice/.ssh/authorized_keys")  # the template's keys stay
    known = head.read("/etc/ssh/ssh_known_hosts")
    assert known.startswith("@cert-authority * ssh-ed25519 ") and known.count("pctl-cluster-genomics") == 1
    # the compute node: /home arrives from the head node (NFS)
    subprocess.run(["cp", "-a", f"{head.path('/home')}/.", str(compute.path("/home"))], check=True)
    proc = compute.run_script(scripts["compute.sh"], "compute", "cpu", name="compute.sh", hostname="cpu-dy-c6i-1")
    assert proc.returncode == 0, proc.stderr
    cert = compute.run(["ssh-keygen", "-L", "-f", "/etc/ssh/ssh_host_ed25519_key-cert.pub"])
    assert "Type: ssh-ed25519-cert-v01@openssh.com host certificate" in cert.stdout
    assert "cpu-dy-c6i-1" in cert.stdout.split("Principals:", 1)[1]
    assert "HostCertificate /etc/ssh/ssh_host_ed25519_key-cert.pub" in compute.read(
        "/etc/ssh/sshd_config.d/50-pctl-host-certificates.conf")
    assert compute.read("/etc/ssh/ssh_known_hosts") == known
    subprocess.run(["cp", "-a", f"{head.path('/home')}/.", str(stranger.path("/home"))], check=True)
    for box in (compute, stranger):
        box.path("/run/sshd").mkdir(parents=True, exist_ok=True)
    with open(head.path("/etc/hosts"), "a") as f:
        f.write("127.0.0.1 cpu-dy-c6i-1 stranger-1\n")
    ports = {"compute": _free_port(), "stranger": _free_port()}
    daemons = [box.spawn(["/usr/sbin/sshd", "-D", "-e", "-p", str(ports[n]), "-o", "ListenAddress=127.0.0.1"],
                         hostname=host)
               for n, box, host in (("compute", compute, "cpu-dy-c6i-1"), ("stranger", stranger, "stranger-1"))]
    try:
        time.sleep(1.5)
        opts = "-o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/dev/null -o ConnectTimeout=10"
        for name in ("alice", "bob", "carol"):
            out = head.run(["runuser", "-u", name, "--", "ssh", *opts.split(), "-p", str(ports["compute"]),
                            "cpu-dy-c6i-1", "echo via-ssh $(hostname) $(id -un)"], timeout=60)
            assert out.returncode == 0 and f"via-ssh cpu-dy-c6i-1 {name}" in out.stdout, out.stdout + out.stderr
        bad = head.run(["runuser", "-u", "alice", "--", "ssh", *opts.split(), "-p", str(ports["stranger"]),
                        "stranger-1", "true"], timeout=60)
        assert bad.returncode != 0 and "Host key verification failed" in bad.stderr, bad.stderr
    finally:
        for d in daemons:
            d.kill()
            d.wait(timeout=10)
