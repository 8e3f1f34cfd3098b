"""The CLI as a user runs it: conventions (exit codes, --json, -o, no prompts), help, dry run."""

from __future__ import annotations

import json
import os
import sys

import pytest

from support.cli import VALID, run_pctl


def test_version_and_help():
    r = run_pctl("--version")
    assert r.returncode == 0 and r.stdout.startswith("pctl ")
    r = run_pctl("--help")
    assert r.returncode == 0 and "Examples:" in r.stdout
    for cmd in ("create", "validate", "delete", "list", "status", "ssh", "registry", "capture", "network", "doctor"):
        assert cmd in r.stdout


def test_help_imports_no_aws_or_pcluster():
    import subprocess

    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "pctl", "--help"], capture_output=True, text=True)
    mods = {line.split("|")[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    assert not {m for m in mods if m.split(".")[0] in ("boto3", "botocore", "pcluster", "pydantic", "jinja2")}


def test_validate_exit_codes(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(VALID)
    bad = tmp_path / "bad.yaml"
    bad.write_text(VALID.replace("max_count: 4", "max_count: -4"))
    assert run_pctl("validate", "--no-catalog", str(good)).returncode == 0
    r = run_pctl("validate", "--no-catalog", str(bad))
    assert r.returncode == 1 and "bad.yaml:10:18" in r.stdout
    assert run_pctl("validate").returncode == 2
    r = run_pctl("validate", str(tmp_path / "missing.yaml"))
    assert r.returncode == 2 and "no such file" in r.stderr
    assert run_pctl("validate", "--bogus-flag", str(good)).returncode == 2
    assert "Traceback" not in r.stderr


def test_validate_json_is_stable(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(VALID.replace("min_count: 0", "mn_count: 0"))
    r = run_pctl("validate", "--no-catalog", "--json", str(bad))
    data = json.loads(r.stdout)
    assert r.returncode == 1 and data["valid"] is False
    err = data["results"][0]["errors"][0]
    assert set(err) == {"severity", "file", "line", "column", "path", "code", "message", "hint"}
    assert (err["line"], err["column"], err["path"], err["code"]) == (9, 7, "compute.queues[0].mn_count", "unknown-key")


def test_validate_non_utf8_and_empty(tmp_path):
    f = tmp_path / "latin1.yaml"
    f.write_bytes("cluster:\n  name: caf\xe9\n".encode("latin-1"))
    r = run_pctl("validate", str(f))
    assert r.returncode == 1 and "not valid UTF-8" in r.stdout
    e = tmp_path / "empty.yaml"
    e.write_text("")
    r = run_pctl("validate", str(e))
    assert r.returncode == 1 and "empty" in r.stdout


def _no_aws_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent", AWS_EC2_METADATA_DISABLED="true")
    return env


def test_create_dry_run_needs_no_credentials_and_makes_no_aws_call(tmp_path):
    import subprocess

    env = _no_aws_env()
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "pctl", "create", "-t", "bioinformatics", "--dry-run",
                          "--no-catalog"], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Region: us-east-1" in out.stdout or "Region:" in out.stdout
    assert "Queues" in out.stdout and "Software" in out.stdout and "Bucket" in out.stdout
    mods = {line.split("|")[-1].strip().split(".")[0] for line in out.stderr.splitlines() if "|" in line}
    assert "boto3" not in mods and "botocore" not in mods


def test_create_dry_run_json_and_output_dir(tmp_path):
    out = tmp_path / "out"
    r = run_pctl("create", "-t", "ml/pytorch-gpu", "--dry-run", "--no-catalog", "--json", "--output-dir", str(out),
                 env=_no_aws_env(), replace_env=True)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["dry_run"] is True
    assert data["config"]["Scheduling"]["Scheduler"] == "slurm"
    plan = data["plan"]
    for q in plan["queues"]:  # the queue's counts are honoured exactly by its compute resources
        assert sum(c["max_count"] for c in q["compute_resources"]) == q["max_count"]
        assert sum(c["min_count"] for c in q["compute_resources"]) == q["min_count"]
    assert {p.name for p in out.iterdir()} >= {"cluster-config.yaml", "plan.json", "head.sh", "compute.sh"}
    assert os.access(out / "head.sh", os.X_OK)


def test_create_dry_run_shows_who_may_use_each_s3_mount(tmp_path):
    t = tmp_path / "lab.yaml"
    t.write_text("""\
cluster: {name: lab, region: us-east-1}
compute: {head_node: t3.large, queues: [{name: cpu, instance_types: [c6i.xlarge]}]}
users: [{name: alice, uid: 5001, gid: 5000, groups: [lab]}]
groups: [{name: lab, gid: 5000}]
data:
  s3_mounts:
    - {bucket: lab-results, mount_point: /data/results, read_only: false}
    - {bucket: lab-shared, mount_point: /data/shared, read_only: false, group: lab}
    - {bucket: lab-ref, mount_point: /data/ref}
""")
    r = run_pctl("create", "-t", str(t), "--dry-run", "--no-catalog", "--json", env=_no_aws_env(), replace_env=True)
    assert r.returncode == 0, r.stderr
    mounts = {m["mount_point"]: m for m in json.loads(r.stdout)["plan"]["s3_mounts"]}
    assert {k: mounts["/data/results"][k] for k in ("group", "gid", "mode")} == \
        {"group": "users", "gid": 100, "mode": "0770/0660"}
    assert {k: mounts["/data/shared"][k] for k in ("group", "gid", "mode")} == \
        {"group": "lab", "gid": 5000, "mode": "0770/0660"}
    assert (mounts["/data/ref"]["group"], mounts["/data/ref"]["gid"]) == (None, None)
    r = run_pctl("create", "-t", str(t), "--dry-run", "--no-catalog", env=_no_aws_env(), replace_env=True)
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    assert ("writable by group users (gid 100, 0770/0660): every template user, ec2-user and root" in text), r.stdout
    assert "writable by group lab (gid 5000, 0770/0660): members, ec2-user and root" in text
    assert "/data/ref s3://lab-ref/ (read-only; readable by every account)" in text


def test_create_dry_run_overrides_and_bad_overrides():
    r = run_pctl("create", "-t", "minimal", "--dry-run", "--no-catalog", "--json", "--name", "my-experiment",
                 "--custom-ami", "ami-0123456789abcdef0", env=_no_aws_env(), replace_env=True)
    data = json.loads(r.stdout)
    assert data["plan"]["cluster"]["name"] == "my-experiment"
    assert data["config"]["Image"]["CustomAmi"] == "ami-0123456789abcdef0"
    r = run_pctl("create", "-t", "minimal", "--dry-run", "--name", "bad name; rm", env=_no_aws_env(), replace_env=True)
    assert r.returncode == 2 and "--name" in r.stderr and "Traceback" not in r.stderr


def test_unknown_template_name_suggests():
    r = run_pctl("create", "-t", "bioinformatic", "--dry-run")
    assert r.returncode == 2 and "did you mean" in r.stderr


def test_delete_without_terminal_or_yes_does_not_prompt(aws_env):
    r = run_pctl("delete", "no-such-cluster", env=aws_env, input="")
    assert r.returncode == 1 and "Traceback" not in r.stderr


def test_spack_commands(tmp_path, catalog_path):
    r = run_pctl("spack", "check", "samtools@9.9", "samtool", "bwa", "--catalog", str(catalog_path), "--json")
    data = json.loads(r.stdout)
    assert r.returncode == 1 and [x["valid"] for x in data["results"]] == [False, False, True]
    assert data["results"][1]["problems"][0]["kind"] == "unknown-package"
    r = run_pctl("spack", "check", "x; rm -rf /")
    assert r.returncode == 1 and "unexpected character ';'" in r.stdout
    # out of the box: the catalog shipped with pctl, its release named
    r = run_pctl("spack", "info")
    assert r.returncode == 0 and "spack-packages v2026.06.0 (8,917 packages), shipped with pctl" in r.stdout
    info = json.loads(run_pctl("spack", "info", "--json").stdout)["catalog"]
    assert (info["origin"], info["release"], info["matches_pinned"]) == ("bundled", "v2026.06.0", True)
    r = run_pctl("spack", "check", "samtols@1.21")
    assert r.returncode == 1 and "did you mean 'samtools'?" in r.stdout and "warning" not in r.stderr
    # build a catalog from a tiny spack-packages tree and use it from the cache
    pkgs = tmp_path / "spack-packages" / "repos" / "spack_repo" / "builtin" / "packages" / "hello_world"
    pkgs.mkdir(parents=True)
    (pkgs / "package.py").write_text(
        'class HelloWorld(AutotoolsPackage):\n    """Says hello."""\n    version("2.1")\n    version("2.0")\n'
        '    variant("shout", default=False)\n')
    r = run_pctl("spack", "index", "build", str(tmp_path / "spack-packages"), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["packages"] == 1
    r = run_pctl("spack", "check", "hello-world@2.1+shout", "hello-world@3")
    assert r.returncode == 1 and "✓ hello-world@2.1 +shout" in r.stdout and "no version matching @3" in r.stdout
    r = run_pctl("spack", "index", "info", "--json")
    assert json.loads(r.stdout)["catalog"]["packages"] == 1
    assert json.loads(run_pctl("spack", "info", "--json").stdout)["catalog"]["origin"] == "cache"
    # PCTL_SPACK_INDEX wins over both
    r = run_pctl("spack", "info", "--json", env={"PCTL_SPACK_INDEX": str(catalog_path)})
    assert json.loads(r.stdout)["catalog"]["origin"] == "PCTL_SPACK_INDEX"
