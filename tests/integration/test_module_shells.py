"""`module load` in every shell, on head and compute nodes, with Environment Modules present as on the
real ParallelCluster AMIs: the shell x role table of issue 11, run in throwaway Debian roots.

Each root has Debian's Lmod *and* Environment Modules 5.2 installed, Environment Modules active in
profile.d (Lmod installed but not activated, as pctl finds it on an AMI), the AMI's own Tcl modulefiles
(EFA's libfabric under /opt/amazon/modules, Intel MPI under /opt/intel) on Environment Modules'
modulespath, and a real one-node Slurm (munge + slurmctld + slurmd in private network namespaces, see
fixtures/sandbox/slurm-up.sh): the batch cases are real ``sbatch --wait`` jobs and ``srun --pty bash``
runs under a real pseudo-terminal (``script``).

Two OS styles: ``debian`` (Ubuntu: /etc/bash.bashrc, /etc/csh/cshrc.d) and ``rhel`` (Amazon Linux 2023,
RHEL, Rocky: /etc/bashrc re-runs /etc/profile.d/*.sh in every non-login interactive shell, csh.cshrc
sources /etc/profile.d/*.csh); the rhel style is emulated on Debian with exactly those two loops. That
is where Environment Modules redefines ``module`` while LMOD_CMD is inherited.

Every case loads a pctl package (a Lua modulefile: only Lmod can load it) and the AMI's Intel MPI and
libfabric modules (Tcl), then checks the variables they set from a child ``sh``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox import SLURM_UP, Sandbox, SandboxUnavailable, ensure_rootfs  # noqa: E402

from pctl.render.scripts import ScriptOptions, render_node_scripts  # noqa: E402
from pctl.template.model import Template  # noqa: E402

pytestmark = pytest.mark.slow

KEEP = bool(os.environ.get("PCTL_TEST_KEEP_SANDBOX"))

TEMPLATE = {
    "cluster": {"name": "shells", "region": "us-east-1", "os": "ubuntu2404"},
    "compute": {"head_node": "c6i.xlarge",
                "queues": [{"name": "cpu", "instance_types": ["c6i.xlarge"], "max_count": 4}]},
    "software": {"spack_packages": ["samtools@1.21"]},
    "groups": [{"name": "lab", "gid": 5000}],
    "users": [
        {"name": "alice", "uid": 5001, "gid": 5000},
        {"name": "carol", "uid": 5003, "gid": 5000, "shell": "/usr/bin/tcsh"},
    ],
}

INTELMPI = "/opt/intel/mpi/2021.13.1/etc/modulefiles"
AMAZON = "/opt/amazon/modules/modulefiles"
AMI_MODULEFILES = {
    f"{INTELMPI}/intelmpi": "#%Module1.0\nsetenv PCTL_AMI_INTELMPI 2021.13.1\n",
    f"{AMAZON}/libfabric-aws/1.22.0amzn4.0": "#%Module1.0\nsetenv PCTL_AMI_LIBFABRIC 1.22.0amzn4.0\n",
}
# What /etc/bashrc (sourced from ~/.bashrc) and /etc/csh.cshrc do on Amazon Linux 2023, RHEL and Rocky.
RHEL_BASHRC = """
# emulated /etc/bashrc of Amazon Linux 2023 / RHEL / Rocky (pctl test)
if ! shopt -q login_shell; then
    for i in /etc/profile.d/*.sh; do
        if [ -r "$i" ]; then
            . "$i" >/dev/null
        fi
    done
    unset i
fi
"""
RHEL_CSHRC = """
# emulated /etc/csh.cshrc + /etc/csh.login of Amazon Linux 2023 / RHEL / Rocky (pctl test)
foreach i ( /etc/profile.d/*.csh )
    if ( -r "$i" ) source "$i"
end
unset i
"""

# The probe: pctl's samtools (Lua: Lmod only), then the AMI's Intel MPI and libfabric (Tcl); a child sh
# reports what they set, whatever the shell.
LOADS = "module load samtools; module load intelmpi; module load libfabric-aws"
REPORT = ("sh -c 'echo \"PROBE samtools=${PCTL_STANDIN_SAMTOOLS:-none} intelmpi=${PCTL_AMI_INTELMPI:-none} "
          "libfabric=${PCTL_AMI_LIBFABRIC:-none}\"'; samtools")
PROBE = f"{LOADS}; {REPORT}"
EXPECTED = "PROBE samtools=1.21 intelmpi=2021.13.1 libfabric=1.22.0amzn4.0"

# case -> shell command run by root inside the node (Slurm is up); its stdout+stderr is the record.
CASES = {
    "login bash": f"runuser -l alice -c {shlex.quote(PROBE)}",
    "su - USER": f"bash -lc {shlex.quote('su - alice -c ' + shlex.quote(PROBE))}",
    "non-login interactive bash": "runuser -l alice -c " + shlex.quote(f"bash -i -c {shlex.quote(PROBE)}"),
    "sudo -u bash -i (no inherited env)": f"sudo -u alice -H bash -i -c {shlex.quote(PROBE)}",
    "inherited: Environment Modules redefined module": "runuser -l alice -c " + shlex.quote(
        ". /etc/profile.d/modules.sh; test -n \"$LMOD_CMD\" && bash -i -c " + shlex.quote(PROBE)),
    "module loaded in the parent": "runuser -l alice -c " + shlex.quote(
        "module load samtools; bash -i -c " + shlex.quote(PROBE)),
    "sbatch #!/bin/bash": "runuser -l alice -c " + shlex.quote(
        f"printf '#!/bin/bash\\n%s\\n' {shlex.quote(PROBE)} >job-plain.sh && "
        "sbatch --wait --quiet -o job-plain.out job-plain.sh; cat job-plain.out"),
    "sbatch #!/bin/bash -l": "runuser -l alice -c " + shlex.quote(
        f"printf '#!/bin/bash -l\\n%s\\n' {shlex.quote(PROBE)} >job-login.sh && "
        "sbatch --wait --quiet -o job-login.out job-login.sh; cat job-login.out"),
    "srun --pty bash": "runuser -l alice -c " + shlex.quote(
        f"printf '%s\\nexit\\n' {shlex.quote(PROBE)} | script -qec 'srun --pty bash -i' /dev/null"),
    "srun bash -c": "runuser -l alice -c " + shlex.quote(f"srun bash -c {shlex.quote(PROBE)}"),
    "tcsh login": f"runuser -l carol -c {shlex.quote(PROBE)}",
    "tcsh from a bash login (LMOD_CMD inherited)": "runuser -l alice -c " + shlex.quote(
        f"tcsh -c {shlex.quote(PROBE)}"),
}


def _driver(cases: dict[str, str]) -> str:
    lines = ["set -u", f". /root/slurm-up.sh", "mkdir -p /root/results"]
    for i, cmd in enumerate(cases.values()):
        lines.append(f"( {cmd} ) >/root/results/{i}.out 2>&1 </dev/null; echo $? >/root/results/{i}.rc")
    return "\n".join(lines) + "\n"


def _ami_like(box: Sandbox, style: str) -> None:
    """What pctl finds on a ParallelCluster AMI: Environment Modules active, Lmod installed but not
    activated, the AMI's modulefiles on Environment Modules' path, /opt/slurm and EFA."""
    box.fake_pcluster_node()
    box.path("/etc/profile.d/lmod.sh").unlink()
    for path, text in AMI_MODULEFILES.items():
        box.write(path, text)
    with open(box.path("/etc/environment-modules/modulespath"), "a") as f:
        f.write(f"{INTELMPI}\n{AMAZON}\n")
    if style == "rhel":
        # /etc/bashrc, sourced from every user's ~/.bashrc (/etc/skel) there; here from bash.bashrc
        box.write("/etc/bashrc", RHEL_BASHRC)
        with open(box.path("/etc/bash.bashrc"), "a") as f:
            f.write("[ -r /etc/bashrc ] && . /etc/bashrc\n")
        # RHEL has no /etc/csh/*.d: csh.cshrc sources profile.d/*.csh, where Environment Modules is too
        shutil.rmtree(box.path("/etc/csh"))
        box.write("/etc/profile.d/modules.csh", "source /usr/share/modules/init/tcsh\n")
        with open(box.path("/etc/csh.cshrc"), "a") as f:
            f.write(RHEL_CSHRC)
        box.write("/etc/csh.login", "")


def _node(tmp_path_factory, style: str, role: str, scripts: dict, head: Sandbox | None = None) -> Sandbox:
    try:
        box = Sandbox.create(tmp_path_factory.mktemp(f"{style}-{role}"))
    except SandboxUnavailable as exc:
        pytest.skip(f"node-script sandbox unavailable: {exc}")
    _ami_like(box, style)
    args = ["head"] if role == "head" else ["compute", "cpu"]
    proc = box.run_script(scripts[f"{role}.sh"], *args, name=f"{role}.sh")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    if head is not None:  # /opt/pctl and /home reach compute nodes from the head node (NFS)
        for tree in ("/opt/pctl", "/home"):  # cp -a: owners too (users write in their homes)
            box.path(tree).mkdir(parents=True, exist_ok=True)
            subprocess.run(["cp", "-a", f"{head.path(tree)}/.", str(box.path(tree))], check=True)
    return box


@pytest.fixture(scope="module", params=["debian", "rhel"])
def nodes(request, tmp_path_factory):
    if shutil.which("ip") is None:
        pytest.skip("the Slurm sandbox needs 'ip' on the host")
    try:
        ensure_rootfs()
    except SandboxUnavailable as exc:
        pytest.skip(f"node-script sandbox unavailable: {exc}")
    style = request.param
    scripts = render_node_scripts(Template.model_validate(TEMPLATE), ScriptOptions("boot"))
    head = _node(tmp_path_factory, style, "head", scripts)
    compute = _node(tmp_path_factory, style, "compute", scripts, head=head)
    results = {}
    for role, box in (("head", head), ("compute", compute)):
        box.write("/root/slurm-up.sh", SLURM_UP.read_text())
        box.write("/root/driver.sh", _driver(CASES), 0o700)
        proc = box.run(["/bin/bash", "/root/driver.sh"], net=True, timeout=600)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        for i, case in enumerate(CASES):
            results[(role, case)] = (int(box.read(f"/root/results/{i}.rc")), box.read(f"/root/results/{i}.out"))
    yield style, results, {"head": head, "compute": compute}
    if not KEEP:
        head.destroy()
        compute.destroy()


@pytest.mark.parametrize("role", ["head", "compute"])
@pytest.mark.parametrize("case", list(CASES))
def test_module_load_in_every_shell(nodes, role, case):
    style, results, _ = nodes
    rc, out = results[(role, case)]
    assert EXPECTED in out, f"{style} {role} / {case}: exit {rc}\n{out}"
    assert "samtools 1.21 (pctl stand-in)" in out, out
    assert "Unable to locate a modulefile" not in out and "ERROR" not in out, out


def test_hooks_are_written_once(nodes):
    """A second bootstrap changes nothing; the Debian-style hooks exist only where the OS reads them."""
    style, _, boxes = nodes
    box = boxes["head"]
    bashrc = box.read("/etc/bash.bashrc")
    assert bashrc.count("pctl modules") == (2 if style == "debian" else 0)
    if style == "debian":
        for hook in ("/etc/csh/cshrc.d/z00-pctl-modules.csh", "/etc/csh/login.d/z00-pctl-modules.csh"):
            assert "source /etc/profile.d/z00-pctl-modules.csh" in box.read(hook)
    else:
        assert not box.exists("/etc/csh/cshrc.d")
