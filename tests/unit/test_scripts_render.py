"""Rendering of the node bootstrap scripts: shellcheck-clean, quoted, deterministic, valid YAML/units."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from pctl.render import scripts as S
from pctl.render.scripts import (
    ScriptOptions,
    SpackSite,
    render_node_scripts,
    render_software_install,
    render_spack_yaml,
    s3_unit_name,
    systemd_escape_path,
    systemd_quote,
)
from pctl.template.model import Data, S3Mount, Software, Template, User
from pctl.template.rules import OS_CHOICES

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop"


def make(os_name: str = "alinux2023", *, head: str = "t3.large", modules: str = "flat",
         specs=("samtools@1.21", "bwa", "gromacs@2024 +mpi ^openmpi"), mirrors=(), users=True, mounts=True) -> Template:
    doc = {
        "cluster": {"name": "lab", "region": "us-east-1", "os": os_name},
        "compute": {"head_node": head, "queues": [{"name": "cpu", "instance_types": [head]}]},
        "software": {"spack_packages": list(specs), "mirrors": list(mirrors), "modules": modules},
    }
    if users:
        doc["groups"] = [{"name": "lab", "gid": 5000}, {"name": "instrument", "gid": 5100}]
        doc["users"] = [
            {"name": "alice", "uid": 5001, "gid": 5000, "groups": ["instrument", "wheel"], "sudo": True,
             "ssh_public_keys": [KEY]},
            {"name": "bob", "uid": 5002, "shell": "/bin/zsh"},
        ]
    if mounts:
        doc["data"] = {"s3_mounts": [
            {"bucket": "lab-data", "mount_point": "/data/lab", "read_only": False},
            {"bucket": "lab-raw", "mount_point": "/data/lab/raw", "prefix": "runs/2024/"},
            {"bucket": "ref.genomes", "mount_point": "/refs"},
        ]}
    return Template.model_validate(doc)


CASES = [
    *[(f"{os_name}-boot", make(os_name), ScriptOptions("boot")) for os_name in OS_CHOICES],
    ("ami", make(), ScriptOptions("ami")),
    ("none", make(), ScriptOptions("none")),
    ("hierarchical-arm",
     make(head="c7g.xlarge", modules="hierarchical", mirrors=["s3://cache/x", "https://c.example/y"]),
     ScriptOptions("boot")),
    ("bare", make(users=False, mounts=False, specs=()), ScriptOptions("boot")),
    ("custom-root", make(),
     ScriptOptions("boot", software_root="/apps/pctl", log_dir="/var/log/x", state_dir="/srv/x")),
]


def all_outputs():
    for name, template, options in CASES:
        for fname, text in render_node_scripts(template, options).items():
            yield f"{name}-{fname}", text
        yield f"{name}-software-install.sh", render_software_install(template, options)


# --------------------------------------------------------------------------- shellcheck

def _shellcheck(files: list[Path], shell: str) -> subprocess.CompletedProcess:
    exe = shutil.which("shellcheck")
    if exe is None:
        pytest.skip("shellcheck is not installed")
    return subprocess.run([exe, "-s", shell, "-S", "warning", *map(str, files)], capture_output=True, text=True)


def test_every_generated_script_is_shellcheck_clean(tmp_path):
    files, seen = [], set()
    for name, text in all_outputs():
        if name.endswith(".sh") and text not in seen:  # the OS is detected at run time: many are equal
            seen.add(text)
            p = tmp_path / name
            p.write_text(text)
            files.append(p)
    assert len(files) >= 10
    proc = _shellcheck(files, "bash")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_profile_d_snippets_are_posix_sh_clean(tmp_path):
    profiles = S._profiles(ScriptOptions("boot"))
    p = tmp_path / "z00-pctl-modules.sh"
    p.write_text(profiles["sh"])
    proc = _shellcheck([p], "sh")
    assert proc.returncode == 0, proc.stdout
    assert "/opt/pctl/modules/Core" in profiles["sh"] and "/opt/pctl/modules/Core" in profiles["csh"]
    if shutil.which("tcsh"):
        c = tmp_path / "z00-pctl-modules.csh"
        c.write_text(profiles["csh"])
        assert subprocess.run(["tcsh", "-n", str(c)], capture_output=True).returncode == 0


def test_shellcheck_disables_are_justified():
    for f in S.SCRIPTS_DIR.glob("*.j2"):
        for line in f.read_text().splitlines():
            if "shellcheck disable" in line:
                assert re.search(r"disable=SC\d+.*#\s*\S", line), f"{f.name}: unjustified {line.strip()}"


def test_rendered_scripts_parse_with_bash(tmp_path):
    for name, text in all_outputs():
        if name.endswith(".sh"):
            p = tmp_path / name
            p.write_text(text)
            proc = subprocess.run(["bash", "-n", str(p)], capture_output=True, text=True)
            assert proc.returncode == 0, f"{name}: {proc.stderr}"


# --------------------------------------------------------------------------- quoting

EXPR = re.compile(r"\{\{(.*?)\}\}", re.S)
SAFE_FILTERS = {"q", "n"}  # n: strict non-negative int (see test_n_filter_is_strict)


def test_every_expression_in_shell_templates_is_quoted():
    shell_templates = [p for p in S.SCRIPTS_DIR.glob("*.j2") if p.name.endswith((".sh.j2", ".csh.j2"))]
    assert len(shell_templates) >= 8
    count = 0
    for f in shell_templates:
        for expr in EXPR.findall(f.read_text()):
            count += 1
            last = expr.strip().rsplit("|", 1)
            assert len(last) == 2 and last[1].strip() in SAFE_FILTERS, f"{f.name}: {{{{{expr}}}}} is not quoted"
    assert count > 40


def test_no_other_jinja_escape_hatches():
    for f in S.SCRIPTS_DIR.glob("*.j2"):
        text = f.read_text()
        assert "|safe" not in text.replace(" ", "") and "autoescape" not in text
        assert "{%-" not in text and "-%}" not in text  # whitespace control could glue words


HOSTILE = ["$(touch /pwned)", "; touch /pwned2", "`id`", "a\nb", "x'y", 'x"y', "${HOME}", "-rf", "a b", "\\", "!"]


@pytest.mark.parametrize("value", HOSTILE)
def test_q_round_trips_through_bash(value):
    out = subprocess.run(["bash", "-c", "printf '%s' " + S._q(value)], capture_output=True, text=True)
    assert out.stdout == value


def test_q_and_n_refuse_what_they_cannot_hold():
    with pytest.raises(ValueError):
        S._q("a\x00b")
    for bad in (True, None, 1.5, ["x"]):
        with pytest.raises((TypeError, ValueError)):
            S._q(bad)


@pytest.mark.parametrize("bad", [True, False, -1, "5", 5.0, None, "1; id"])
def test_n_filter_is_strict(bad):
    with pytest.raises(ValueError):
        S._n(bad)
    assert S._n(0) == "0" and S._n(5001) == "5001"


def test_hostile_values_render_to_inert_scripts(tmp_path):
    base = make()
    for value in HOSTILE:
        t = base.model_copy(update={
            "users": [User.model_construct(name=value, uid=5001, gid=5000, groups=[value], shell=value, sudo=True,
                                           ssh_public_keys=[value])],
            "data": Data.model_construct(s3_mounts=[S3Mount.model_construct(bucket=value, mount_point="/d/" + value,
                                                                            prefix=value, read_only=True)],
                                         shared_storage=[]),
            "software": Software.model_construct(spack_packages=[value], mirrors=[value], modules="flat"),
        })
        out = render_node_scripts(t, ScriptOptions("boot"))
        for fname in ("head.sh", "compute.sh"):
            p = tmp_path / fname
            p.write_text(out[fname])
            assert subprocess.run(["bash", "-n", str(p)], capture_output=True).returncode == 0
        doc = YAML(typ="safe").load(out["spack.yaml"])["spack"]
        assert doc["specs"] == [value, "lmod"]
        assert doc["mirrors"]["pctl-extra-1"]["url"] == value


# --------------------------------------------------------------------------- determinism, API

def test_rendering_is_deterministic():
    first = dict(all_outputs())
    S._env.cache_clear()
    second = dict(all_outputs())
    assert first == second
    assert len(set(first)) == len(first)


def test_outputs_per_mode():
    t = make()
    assert set(render_node_scripts(t, ScriptOptions("boot"))) == {"head.sh", "compute.sh", "spack.yaml"}
    assert set(render_node_scripts(t, ScriptOptions("ami"))) == {"head.sh", "compute.sh"}
    assert set(render_node_scripts(t, ScriptOptions("none"))) == {"head.sh", "compute.sh"}
    assert set(render_node_scripts(make(specs=()), ScriptOptions("boot"))) == {"head.sh", "compute.sh"}
    boot = render_node_scripts(t, ScriptOptions("boot"))
    assert "pctl_step software pctl_step_software" in boot["head.sh"]
    assert "pctl_step_software" not in boot["compute.sh"]
    assert "spack" not in render_node_scripts(t, ScriptOptions("ami"))["head.sh"].lower().replace("spack_", "")
    assert boot["head.sh"].startswith("#!/bin/bash\n") and "set -euo pipefail" in boot["head.sh"]


@pytest.mark.parametrize("kwargs", [
    {"software_mode": "later"}, {"software_mode": "boot", "software_root": "opt/pctl"},
    {"software_mode": "boot", "software_root": "/opt/p ctl"}, {"software_mode": "boot", "log_dir": "/var/log/../x"},
    {"software_mode": "boot", "spack_release": "develop"}, {"software_mode": "boot", "packages_release": "v1;id"},
    {"software_mode": "boot", "state_dir": "/var/lib/pctl\n"},
])
def test_script_options_are_validated(kwargs):
    with pytest.raises(ValueError):
        ScriptOptions(**kwargs)


def test_users_and_keys_head_only():
    out = render_node_scripts(make(), ScriptOptions("none"))
    head, compute = out["head.sh"], out["compute.sh"]
    # the read-write mount without a group belongs to 'users': every template user joins it
    assert "pctl_ensure_user alice 5001 5000 /bin/bash instrument,wheel,users 1" in head
    assert "pctl_ensure_user alice 5001 5000 /bin/bash instrument,wheel,users 0" in compute
    assert "pctl_ensure_group bob 5002" in head  # bob's primary gid defaults to his uid
    assert f"pctl_ensure_ssh_key alice '{KEY}'" in head
    assert "pctl_ensure_ssh_key" not in compute.split("pctl_step_users")[1]
    assert "pctl_ensure_sudo alice 1" in compute and "pctl_ensure_sudo bob 0" in compute


# --------------------------------------------------------------------------- spack.yaml

def test_spack_yaml_holds_specs_mirrors_modules_and_externals():
    t = make(mirrors=[{"url": "s3://lab-cache/spack", "allow_unsigned": True}, "https://cache.example.org/x"])
    site = SpackSite(slurm_version="24.05.7", pmix_version="4.2.9", libfabric_version="1.22.0", lmod=True)
    doc = YAML(typ="safe").load(render_spack_yaml(t, ScriptOptions("boot"), site))["spack"]
    assert doc["specs"] == ["samtools@1.21", "bwa", "gromacs@2024 +mpi ^openmpi", "lmod"]
    assert doc["view"] is False and doc["concretizer"]["unify"] is True
    assert doc["config"]["install_tree"]["root"] == "/opt/pctl/software"
    # Spack tries mirrors in this order: the official caches first, so a template's cache cannot shadow them
    assert list(doc["mirrors"]) == ["aws-pcluster-x86_64_v4", "spack-v2026.06", "pctl-extra-1", "pctl-extra-2"]
    assert doc["mirrors"]["pctl-extra-1"] == {"url": "s3://lab-cache/spack", "signed": False}
    assert doc["mirrors"]["pctl-extra-2"] == {"url": "https://cache.example.org/x"}  # signed: Spack's default
    assert doc["mirrors"]["aws-pcluster-x86_64_v4"]["url"] == \
        "https://binaries.spack.io/releases/v2026.06/aws-pcluster-x86_64_v4"
    assert doc["mirrors"]["spack-v2026.06"]["url"] == "https://binaries.spack.io/releases/v2026.06"
    pk = doc["packages"]
    # t3 (Skylake-SP): x86_64_v4, required for every package and declared on the externals
    assert pk["all"]["require"] == ["target=x86_64_v4"]
    assert pk["slurm"] == {"buildable": False, "externals": [{"spec": "slurm@24.05.7 +pmix target=x86_64_v4",
                                                               "prefix": "/opt/slurm"}]}
    assert pk["pmix"]["externals"] == [{"spec": "pmix@4.2.9 target=x86_64_v4", "prefix": "/opt/pmix"}]
    assert pk["libfabric"] == {"buildable": False, "externals": [
        {"spec": "libfabric@1.22.0 fabrics=shm,efa target=x86_64_v4", "prefix": "/opt/amazon/efa"}]}
    assert pk["all"]["providers"]["mpi"][0] == "openmpi" and "schedulers=slurm" in pk["openmpi"]["variants"]
    mod = doc["modules"]["default"]
    assert mod["enable"] == ["lmod"] and mod["roots"]["lmod"] == "/opt/pctl/modules" and mod["arch_folder"] is False
    lmod = mod["lmod"]
    assert lmod["hash_length"] == 0 and lmod["hide_implicits"] is True
    assert lmod["projections"] == {"all": "{name}/{version}"} and "gcc" in lmod["core_compilers"]
    assert lmod["hierarchy:"] == []  # "hierarchy::" replaces Spack's default [mpi]


def test_spack_yaml_variants():
    hier = YAML(typ="safe").load(render_spack_yaml(make(modules="hierarchical", head="c7g.large"),
                                                   ScriptOptions("boot"), SpackSite(lmod=False)))["spack"]
    assert hier["modules"]["default"]["lmod"]["hierarchy:"] == ["mpi"]
    assert "aws-pcluster-neoverse_v1" in hier["mirrors"]
    assert hier["specs"][-1] != "lmod"
    assert not {"slurm", "pmix", "libfabric"} & set(hier["packages"])
    no_pmix = YAML(typ="safe").load(
        render_spack_yaml(make(), ScriptOptions("boot"), SpackSite(slurm_version="23.11.10")))
    assert no_pmix["spack"]["packages"]["slurm"]["externals"][0]["spec"] == "slurm@23.11.10 target=x86_64_v4"
    assert hier["packages"]["all"]["require"] == ["target=neoverse_v1"]  # c7g: Graviton3
    root = YAML(typ="safe").load(render_spack_yaml(make(), ScriptOptions("boot", software_root="/apps/x")))["spack"]
    assert root["config"]["install_tree"]["root"] == "/apps/x/software"
    assert root["modules"]["default"]["roots"]["lmod"] == "/apps/x/modules"
    with pytest.raises(ValueError):
        SpackSite(slurm_version="24.05; id")


def test_the_script_embeds_the_same_spack_yaml_parts():
    t = make()
    head = render_node_scripts(t, ScriptOptions("boot"))["head.sh"]
    parts = S._spack_parts(t, ScriptOptions("boot"))
    assert f"printf '%s' {S._q(parts['head'])}" in head
    assert f"printf '%s' {S._q(parts['specs'])}" in head
    assert render_spack_yaml(t, ScriptOptions("boot")) == parts["head"] + parts["specs"] + parts["lmod_line"]


# --------------------------------------------------------------------------- systemd units

def _sd_unquote(word: str) -> str:
    """The subset of systemd's unquoting pctl produces."""
    if not word.startswith('"'):
        return word
    body, out, i = word[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1]
            if nxt == "x":
                out.append(chr(int(body[i + 2:i + 4], 16)))
                i += 4
                continue
            out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
            i += 2
            continue
        if ch in "%$" and body[i + 1] == ch:
            out.append(ch)
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _sd_split(line: str) -> list[str]:
    return re.findall(r'"(?:[^"\\]|\\.)*"|[^ ]+', line)


@pytest.mark.parametrize("value", HOSTILE + ["50%", "a$b", "tab\there", "ctl\x01"])
def test_systemd_quote_round_trips(value):
    quoted = systemd_quote(value)
    assert "\n" not in quoted and _sd_split(quoted) == [quoted]
    assert _sd_unquote(quoted) == value
    assert "%" not in quoted.replace("%%", "") and "$" not in quoted.replace("$$", "")


def test_units_render_exact_exec_start_and_dependencies():
    mounts = {m["unit"]: m for m in S._mounts(make())}
    assert set(mounts) == {"pctl-s3-data-lab.service", "pctl-s3-data-lab-raw.service", "pctl-s3-refs.service"}
    rw = mounts["pctl-s3-data-lab.service"]["unit_text"].splitlines()
    assert "ExecStart=/usr/bin/mount-s3 --allow-other --allow-delete --allow-overwrite --gid 100 --dir-mode 0770 " \
           "--file-mode 0660 lab-data /data/lab" in rw
    assert "ExecStop=/usr/bin/fusermount -u /data/lab" in rw and "RequiresMountsFor=/data" in rw
    raw = mounts["pctl-s3-data-lab-raw.service"]["unit_text"].splitlines()
    assert "ExecStart=/usr/bin/mount-s3 --allow-other --read-only --prefix runs/2024/ lab-raw /data/lab/raw" in raw
    assert "Requires=pctl-s3-data-lab.service" in raw and "After=pctl-s3-data-lab.service" in raw
    refs = mounts["pctl-s3-refs.service"]["unit_text"].splitlines()
    assert "ExecStart=/usr/bin/mount-s3 --allow-other --read-only ref.genomes /refs" in refs
    assert not any(line.startswith("RequiresMountsFor") for line in refs)
    for text in (rw, raw, refs):
        for line in ("Type=forking", "Restart=on-failure", "After=network-online.target", "WantedBy=multi-user.target"):
            assert line in text


def test_requester_pays_mounts_pass_the_option_to_mountpoint():
    """Issue 11 part 7: a Requester Pays bucket is mounted with mount-s3 --requester-pays (every request
    then carries x-amz-request-payer: requester); other mounts are unchanged."""
    t = make()
    doc = t.model_dump()
    doc["data"]["s3_mounts"].append({"bucket": "open-genomes-rp", "mount_point": "/data/open", "requester_pays": True,
                                     "prefix": "hg38/"})
    doc["data"]["s3_mounts"].append({"bucket": "rp-writable", "mount_point": "/data/out", "requester_pays": True,
                                     "read_only": False})
    mounts = {m["unit"]: m for m in S._mounts(Template.model_validate(doc))}
    assert "ExecStart=/usr/bin/mount-s3 --allow-other --read-only --requester-pays --prefix hg38/ open-genomes-rp " \
           "/data/open" in mounts["pctl-s3-data-open.service"]["unit_text"].splitlines()
    assert "ExecStart=/usr/bin/mount-s3 --allow-other --allow-delete --allow-overwrite --gid 100 --dir-mode 0770 " \
           "--file-mode 0660 --requester-pays rp-writable /data/out" in mounts["pctl-s3-data-out.service"]["unit_text"].splitlines()
    assert "--requester-pays" not in mounts["pctl-s3-refs.service"]["unit_text"]
    with pytest.raises(Exception):
        Template.model_validate({**doc, "data": {"s3_mounts": [{"bucket": "b-1", "mount_point": "/data/x",
                                                                "requester_pays": "yes"}]}})


def _exec_start(template, unit: str) -> str:
    (m,) = [m for m in S._mounts(template) if m["unit"] == unit]
    (line,) = [line for line in m["unit_text"].splitlines() if line.startswith("ExecStart=")]
    return line


def _with_mounts(*mounts, users=True, os_name="alinux2023") -> Template:
    doc = make(os_name, users=users, mounts=False).model_dump(exclude_none=True)
    doc["data"] = {"s3_mounts": list(mounts)}
    return Template.model_validate(doc)


def test_no_rendered_mount_is_writable_by_other_accounts():
    """Issue 16 part 3: no S3 mount of any rendered case is world-writable (0777/0666 gave every local
    account, service accounts included, overwrite and delete on the lab's data)."""
    for _name, template, options in CASES:
        for m in S._mounts(template):
            words = _exec_start(template, m["unit"]).split()
            for flag in ("--dir-mode", "--file-mode"):
                if flag in words:
                    assert int(words[words.index(flag) + 1], 8) & 0o007 == 0, words
            if "--read-only" not in words:
                assert "--gid" in words and "--dir-mode" in words and "--file-mode" in words, words


@pytest.mark.parametrize("group, gid, owner", [
    ("lab", 5000, "lab"),           # a group of groups:
    ("instrument", 5100, "instrument"),
    ("bob", 5002, "bob"),           # a user's name: the private group users.sh makes for bob
    ("alice", 5000, "lab"),         # alice's primary gid 5000 is the group lab on the nodes
    ("users", 100, "users"),        # the OS group, gid 100 on every supported image
])
def test_read_write_mount_owned_by_the_named_group(group, gid, owner):
    t = _with_mounts({"bucket": "lab-data", "mount_point": "/data/lab", "read_only": False, "group": group})
    assert _exec_start(t, "pctl-s3-data-lab.service") == (
        "ExecStart=/usr/bin/mount-s3 --allow-other --allow-delete --allow-overwrite "
        f"--gid {gid} --dir-mode 0770 --file-mode 0660 lab-data /data/lab")
    (m,) = S._mounts(t)
    assert (m["group"], m["gid"]) == (owner, str(gid))
    head = render_node_scripts(t, ScriptOptions("none"))["head.sh"]
    users_step = head.split("pctl_step_users() {")[1].split("\n}\n")[0]
    # the default OS user joins the owner group; 'users' is made and joined only when a mount uses it
    assert f"pctl_ensure_member {owner} \"$admin\"" in head and "pctl_mount_owners" in users_step
    assert ("pctl_ensure_group users 100 system" in users_step) is (group == "users")
    assert ("instrument,wheel,users" in users_step) is (group == "users")
    assert f"pctl_ensure_s3_mount pctl-s3-data-lab.service /data/lab lab-data '' 0 {owner} {gid} " in head


def test_read_write_mount_without_group_belongs_to_users():
    t = _with_mounts({"bucket": "lab-data", "mount_point": "/data/lab", "read_only": False})
    assert "--gid 100 --dir-mode 0770 --file-mode 0660 lab-data /data/lab" in _exec_start(t, "pctl-s3-data-lab.service")
    out = render_node_scripts(t, ScriptOptions("none"))
    for role, home in (("head.sh", 1), ("compute.sh", 0)):
        step = out[role].split("pctl_step_users() {")[1].split("\n}\n")[0].splitlines()
        assert step[1].strip() == "pctl_ensure_group users 100 system"  # before any user joins it
        assert f"    pctl_ensure_user alice 5001 5000 /bin/bash instrument,wheel,users {home}" in step
        assert f"    pctl_ensure_user bob 5002 5002 /bin/zsh users {home}" in step
        assert step[-2:] == ["    pctl_mount_owners", "    :"]
        assert "admin=$(pctl_default_user ec2-user)" in out[role]
        assert "    pctl_ensure_member users \"$admin\"" in out[role]


@pytest.mark.parametrize("os_name", OS_CHOICES)
def test_the_default_os_user_follows_parallelclusters_mapping(os_name):
    pcluster = pytest.importorskip("pcluster.constants")

    admin = pcluster.OS_MAPPING[os_name]["user"]  # what ParallelCluster writes as cfn_cluster_user
    assert admin in ("ec2-user", "ubuntu", "rocky")
    t = _with_mounts({"bucket": "lab-data", "mount_point": "/data/lab", "read_only": False}, os_name=os_name)
    assert f"admin=$(pctl_default_user {admin})" in render_node_scripts(t, ScriptOptions("none"))["head.sh"]


def test_no_template_users_the_default_user_and_root_write():
    t = _with_mounts({"bucket": "lab-data", "mount_point": "/data/lab", "read_only": False}, users=False)
    head = render_node_scripts(t, ScriptOptions("none"))["head.sh"]
    step = head.split("pctl_step_users() {")[1].split("\n}\n")[0]
    assert "pctl_ensure_user" not in step
    assert "pctl_ensure_group users 100 system" in step and "pctl_mount_owners" in step
    assert "--gid 100 --dir-mode 0770 --file-mode 0660" in _exec_start(t, "pctl-s3-data-lab.service")


def test_read_only_mounts_readable_by_all_unless_a_group_is_given():
    t = _with_mounts({"bucket": "lab-raw", "mount_point": "/data/raw"},
                     {"bucket": "lab-ref", "mount_point": "/data/ref", "group": "lab"},
                     {"bucket": "lab-pub", "mount_point": "/data/pub", "group": "users", "read_only": True})
    assert _exec_start(t, "pctl-s3-data-raw.service") == \
        "ExecStart=/usr/bin/mount-s3 --allow-other --read-only lab-raw /data/raw"
    assert _exec_start(t, "pctl-s3-data-ref.service") == \
        "ExecStart=/usr/bin/mount-s3 --allow-other --read-only --gid 5000 --dir-mode 0550 --file-mode 0440 lab-ref /data/ref"
    assert _exec_start(t, "pctl-s3-data-pub.service") == \
        "ExecStart=/usr/bin/mount-s3 --allow-other --read-only --gid 100 --dir-mode 0550 --file-mode 0440 lab-pub /data/pub"
    raw = [m for m in S._mounts(t) if m["mount"] == "/data/raw"][0]
    assert (raw["group"], raw["gid"]) == ("", "")
    head = render_node_scripts(t, ScriptOptions("none"))["head.sh"]
    assert "pctl_ensure_s3_mount pctl-s3-data-raw.service /data/raw lab-raw '' 1 '' '' " in head
    # 'users' owns /data/pub: every template user joins it, as for a read-write mount
    assert "pctl_ensure_user bob 5002 5002 /bin/zsh users 1" in head
    assert "pctl_ensure_member lab \"$admin\"" in head and "pctl_ensure_member users \"$admin\"" in head


def test_read_only_mounts_alone_add_nobody_to_any_group():
    t = _with_mounts({"bucket": "lab-raw", "mount_point": "/data/raw"})
    head = render_node_scripts(t, ScriptOptions("none"))["head.sh"]
    assert "pctl_mount_owners" not in head and "pctl_ensure_group users" not in head
    assert "pctl_ensure_user bob 5002 5002 /bin/zsh '' 1" in head


def test_an_unknown_mount_group_is_refused_at_render_time():
    """validate reports it first (with a suggestion); a template built without validation cannot render it."""
    t = make()
    t.data.s3_mounts[0].group = "nobody-here"
    with pytest.raises(ValueError, match="unknown group 'nobody-here'"):
        render_node_scripts(t, ScriptOptions("none"))


KNOWN_KEYS = {"Description", "Wants", "After", "Requires", "RequiresMountsFor", "Type", "ExecStart", "ExecStop",
              "Restart", "RestartSec", "WantedBy"}


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_cannot_add_unit_directives(value):
    t = make().model_copy(update={"data": Data.model_construct(shared_storage=[], s3_mounts=[
        S3Mount.model_construct(bucket=value, mount_point="/d/" + value, prefix=value, read_only=True)])})
    (m,) = S._mounts(t)
    lines = m["unit_text"].splitlines()
    for line in lines:
        assert line == "" or line.startswith(("#", "[")) or line.split("=", 1)[0] in KNOWN_KEYS, line
    (exec_start,) = [line for line in lines if line.startswith("ExecStart=")]
    words = [_sd_unquote(w) for w in _sd_split(exec_start[len("ExecStart="):])]
    assert words == ["/usr/bin/mount-s3", "--allow-other", "--read-only", "--prefix", value, value,
                     S.rules.normalize_mount("/d/" + value)]
    assert S._UNIT_RE.match(m["unit"])


@pytest.mark.parametrize("path", ["/data/lab", "/data/my-lab", "/a.b/.c", "/x/y_z:1", "/data//lab/", "/d/a b$(x)"])
def test_unit_names_match_systemd_escape(path):
    name = systemd_escape_path(path)
    exe = shutil.which("systemd-escape")
    if exe:
        assert name == subprocess.run([exe, "--path", path], capture_output=True, text=True).stdout.strip()
    assert s3_unit_name(path) == f"pctl-s3-{name}.service"


def test_duplicate_mount_points_are_refused():
    t = make().model_copy(update={"data": Data.model_construct(shared_storage=[], s3_mounts=[
        S3Mount.model_construct(bucket="a-b", mount_point="/data/x", prefix=None, read_only=True),
        S3Mount.model_construct(bucket="c-d", mount_point="/data/x/", prefix=None, read_only=True)])})
    with pytest.raises(ValueError, match="share the mount point"):
        render_node_scripts(t, ScriptOptions("none"))


def test_runtime_grammar_matches_the_model_rules():
    res = S._runtime_res()
    cases = {"posix": (["alice", "_svc", "a-b_1"], ["Alice", "1a", "a b", "a\n"]),
             "mount": (["/data/lab", "/x"], ["data", "/a b", "/a$"]),
             "prefix": (["runs/", "a/b/"], ["runs", "/runs/", "-x/"]),
             "bucket": (["lab-data", "ref.genomes"], ["Lab", "-x", "a", "a_b"]),
             "ssh_key": ([KEY, KEY.rsplit(" ", 1)[0]], [KEY + "\nssh-rsa AAAA", "ssh-dss AAAA x"]),
             "groups": (["", "lab", "lab,wheel"], ["lab,", ",lab", "lab wheel", "lab\nx"])}
    for key, (good, bad) in cases.items():
        for v in good:
            assert subprocess.run(["bash", "-c", '[[ $1 =~ $2 ]]', "_", v, res[key]]).returncode == 0, (key, v)
        for v in bad:
            assert subprocess.run(["bash", "-c", '[[ $1 =~ $2 ]]', "_", v, res[key]]).returncode != 0, (key, v)


# --------------------------------------------------------------------------- CPU target

def _target_of(doc_text: str) -> list:
    return YAML(typ="safe").load(doc_text)["spack"]["packages"]["all"]["require"]


@pytest.mark.parametrize("head, queues, expected", [
    ("c6i.xlarge", [["c6i.8xlarge"], ["hpc6a.48xlarge"]], "x86_64_v3"),   # Ice Lake + Zen 3: no AVX-512
    ("c6i.xlarge", [["c6i.8xlarge"], ["c7i.8xlarge"]], "x86_64_v4"),      # Ice Lake + Sapphire Rapids
    ("c6g.large", [["c6g.8xlarge"], ["c7g.8xlarge", "hpc7g.16xlarge"]], "neoverse_n1"),  # Graviton 2 + 3
    ("c7g.large", [["c7g.8xlarge"], ["c8g.8xlarge"]], "neoverse_v1"),     # Graviton 3 + 4
    ("c7a.large", [["hpc7a.96xlarge"]], "x86_64_v4"),                     # Zen 4 has AVX-512
    ("t3.large", [["g5.xlarge"], ["p4d.24xlarge"]], "x86_64_v3"),         # g5 is Zen 2
])
def test_the_cluster_target_is_required_in_spack_yaml(head, queues, expected):
    doc = {"cluster": {"name": "t"}, "compute": {"head_node": head, "queues": [
        {"name": f"q{i}", "instance_types": types} for i, types in enumerate(queues)]},
        "software": {"spack_packages": ["gromacs@2024 +mpi"]}}
    t = Template.model_validate(doc)
    assert _target_of(render_spack_yaml(t, ScriptOptions("boot"))) == [f"target={expected}"]
    head_sh = render_node_scripts(t, ScriptOptions("boot"))["head.sh"]
    assert f"PCTL_SPACK_TARGET={expected}" in head_sh
    assert f"PCTL_SPACK_TARGET={expected}" in render_software_install(t, ScriptOptions("ami"))
    # an explicit target (the AMI's, when software is layered on it) wins
    assert _target_of(render_spack_yaml(t, ScriptOptions("boot", target="x86_64_v2" if "x86" in expected
                                                         else "aarch64"))) != [f"target={expected}"]


def test_script_options_refuse_unknown_targets():
    with pytest.raises(ValueError, match="target"):
        ScriptOptions("boot", target="x86_64_v3; id")
