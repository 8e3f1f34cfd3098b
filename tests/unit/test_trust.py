"""What a template asks you to trust: SSH key fingerprints (checked against ssh-keygen), Spack mirror URLs
(only https:// and s3://, nothing hostile), signed-unless-allowed mirrors, their order on the node, the
keys the node trusts, and the plan / template show / registry output that lists all of it."""

from __future__ import annotations

import base64
import re
import hashlib
import json
import shutil
import struct
import subprocess

import pytest
from ruamel.yaml import YAML

from pctl.render.scripts import ScriptOptions, render_node_scripts, render_spack_yaml
from pctl.template.model import Template
from pctl.template.rules import mirror_url_problem
from pctl.template.sshkeys import fingerprint
from pctl.template.trust import summary
from pctl.template.validate import validate_text
from support.cli import run_pctl

ssh_keygen = shutil.which("ssh-keygen")


def _keygen_line(tmp_path, pub: str) -> str:
    f = tmp_path / "k.pub"
    f.write_text(pub + "\n")
    r = subprocess.run([ssh_keygen, "-lf", str(f)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


@pytest.mark.skipif(ssh_keygen is None, reason="ssh-keygen is not installed")
@pytest.mark.parametrize("kind,bits", [("ed25519", None), ("rsa", 2048), ("rsa", 3072), ("rsa", 4095),
                                       ("ecdsa", 256), ("ecdsa", 384), ("ecdsa", 521)])
@pytest.mark.parametrize("comment", ["alice@laptop", "", "two words here"])
def test_fingerprints_match_ssh_keygen(tmp_path, kind, bits, comment):
    key = tmp_path / "id"
    args = [ssh_keygen, "-q", "-t", kind, "-N", "", "-C", comment, "-f", str(key)] + (["-b", str(bits)] if bits else [])
    subprocess.run(args, check=True, capture_output=True, timeout=120)
    pub = (tmp_path / "id.pub").read_text().strip()
    fp = fingerprint(pub)
    assert fp is not None and fp.line() == _keygen_line(tmp_path, pub)


def _sk_key(tmp_path, kind: str) -> str:
    """Security-key public keys cannot be generated without the hardware; their wire format is simple (the
    ECDSA point must be on the curve: it is taken from a real key)."""
    s = lambda b: struct.pack(">I", len(b)) + b  # noqa: E731
    if kind == "sk-ssh-ed25519@openssh.com":
        blob = s(kind.encode()) + s(hashlib.sha256(b"pk").digest()) + s(b"ssh:")
    else:
        subprocess.run([ssh_keygen, "-q", "-t", "ecdsa", "-b", "256", "-N", "", "-f", str(tmp_path / "ec")],
                       check=True, capture_output=True, timeout=60)
        real = base64.b64decode((tmp_path / "ec.pub").read_text().split()[1])
        point = real[4 + 19 + 4 + 8:]  # after string "ecdsa-sha2-nistp256", string "nistp256": string point
        blob = s(kind.encode()) + s(b"nistp256") + point + s(b"ssh:")
    return f"{kind} {base64.b64encode(blob).decode()} yubikey"


@pytest.mark.skipif(ssh_keygen is None, reason="ssh-keygen is not installed")
@pytest.mark.parametrize("kind", ["sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com"])
def test_security_key_fingerprints_match_ssh_keygen(tmp_path, kind):
    pub = _sk_key(tmp_path, kind)
    assert fingerprint(pub).line() == _keygen_line(tmp_path, pub)


@pytest.mark.parametrize("bad", ["", "ssh-ed25519", "ssh-ed25519 !!!", "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0",
                                 "ssh-ed25519 AAAA", "ssh-dss AAAAB3NzaC1kc3M="])
def test_not_a_key_has_no_fingerprint(bad):
    assert fingerprint(bad) is None


# ---------------------------------------------------------------- mirror URLs

GOOD_MIRRORS = ["https://cache.example.org/spack", "https://cache.example.org:8443/a/b-c_d.e~f/", "s3://lab-cache",
                "s3://lab-cache/spack/v1", "https://binaries.spack.io/releases/v2026.06", "https://c.example/%20x",
                "HTTPS://Cache.Example.org/x"]
BAD_MIRRORS = {
    "file:///etc/../root": "only https:// and s3://",
    "file:///opt/cache": "only https:// and s3://",
    "http://cache.example.org/x": "only https:// and s3://",
    "oci://ghcr.io/org/cache": "only https:// and s3://",
    "ftp://cache.example.org": "only https:// and s3://",
    "cache.example.org/spack": "must be an https:// or s3:// URL",
    "/opt/cache": "must be an https:// or s3:// URL",
    "https://user:secret@cache.example.org/x": "credentials",
    "https://token@cache.example.org/x": "credentials",
    "s3://AKIA:secret@bucket/x": "credentials",
    "https://cache.example.org/a/../b": "'..'",
    "https://cache.example.org/a/./b": "'..'",
    "https://cache.example.org/a//b": "'..'",
    "https://cache.example.org/%2e%2e/etc": "'..'",
    "https://cache.example.org/%2E%2e/etc": "'..'",
    "https://cache.example.org/a%2fb": "'..'",
    "https://cache.example.org/a%5c..": "'..'",
    "https://cache.example.org/a%00b": "'..'",
    "https://cache.example.org/x?token=1": "query",
    "https://cache.example.org/x#frag": "query",
    "https://cache.example.org/a b": "spaces or control",
    "https://cache.example.org/a\tb": "spaces or control",
    "https://cache.example.org/a\nb": "spaces or control",
    "https://cache.example.org/\x1b[31m": "spaces or control",
    "https://cache.example.org/\u202ex": "spaces or control",
    "https://cache.example.org/a\\b": "path parts may contain only",
    "https://cache.example.org/$(id)": "path parts may contain only",
    "https://cache.example.org/a;b": "path parts may contain only",
    "https://-bad.example.org/x": "no valid host",
    "https://cache..example.org/x": "no valid host",
    "https:///x": "no valid host",
    "https://cache.example.org:99999/x": "invalid port",
    "https://cache.example.org:/x": "invalid port",
    "s3://Bad_Bucket/x": "bucket name",
    "s3:///x": "no bucket",
    "https://c.example.org/" + "a" * 1100: "longer than",
}


@pytest.mark.parametrize("url", GOOD_MIRRORS)
def test_good_mirror_urls(url):
    assert mirror_url_problem(url) is None


@pytest.mark.parametrize("url,why", sorted(BAD_MIRRORS.items()))
def test_hostile_mirror_urls_are_refused_with_a_reason(url, why):
    problem = mirror_url_problem(url)
    assert problem is not None and why in problem, problem


BASE = """\
cluster: {name: trusty, region: us-east-1}
compute:
  head_node: t3.large
  queues: [{name: cpu, instance_types: [c6i.xlarge]}]
"""
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop"
KEY_FP = "SHA256:+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU"  # ssh-keygen -lf, checked above for generated keys
TRUSTY = BASE + f"""\
software:
  spack_packages: [samtools@1.21]
  mirrors:
    - https://cache.example.org/spack
    - url: s3://lab-spack-cache/v1
      allow_unsigned: true
users:
  - {{name: alice, uid: 5001, sudo: true, ssh_public_keys: ["{KEY}"]}}
  - {{name: bob, uid: 5002}}
  - {{name: root2, uid: 5003, sudo: true}}
"""


def test_a_bare_url_is_a_signed_mirror_and_unsigned_needs_an_explicit_true():
    r = validate_text(TRUSTY, "t.yaml", use_catalog=False)
    assert r.ok, [d.format() for d in r.errors]
    m = r.template.software.mirrors
    assert [(x.url, x.allow_unsigned) for x in m] == [("https://cache.example.org/spack", False),
                                                      ("s3://lab-spack-cache/v1", True)]
    for value in ("yes", '"true"', "1", "on"):
        bad = BASE + f"software:\n  mirrors:\n    - url: s3://lab-spack-cache/v1\n      allow_unsigned: {value}\n"
        r = validate_text(bad, "t.yaml", use_catalog=False)
        assert not r.ok and r.errors[0].path_str == "software.mirrors[0].allow_unsigned", [d.format() for d in r.errors]


@pytest.mark.parametrize("entry,where,why", [
    ("file:///etc/../root", "software.mirrors[0].url", "only https:// and s3://"),
    ("{url: 'https://u:p@c.example.org/x'}", "software.mirrors[0].url", "credentials"),
    ("{url: https://c.example.org/x, signed: false}", "software.mirrors[0].signed", ""),
    ("{allow_unsigned: true}", "software.mirrors[0].url", ""),
    ("42", "software.mirrors[0]", "a mirror is a URL"),
])
def test_bad_mirror_entries_point_at_the_line(entry, where, why):
    r = validate_text(BASE + f"software:\n  mirrors:\n    - {entry}\n", "t.yaml", use_catalog=False)
    assert not r.ok
    e = r.errors[0]
    assert e.path_str == where and why in e.message and e.line == 7, e.format()


# ---------------------------------------------------------------- on the node


def _template(text=TRUSTY) -> Template:
    r = validate_text(text, "t.yaml", use_catalog=False)
    assert r.ok, [d.format() for d in r.errors]
    return r.template


def test_official_caches_come_first_and_only_signed_mirrors_have_keys_trusted():
    t = _template()
    opts = ScriptOptions("boot")
    doc = YAML(typ="safe").load(render_spack_yaml(t, opts))["spack"]["mirrors"]
    assert list(doc) == ["aws-pcluster-x86_64_v4", "spack-v2026.06", "pctl-extra-1", "pctl-extra-2"]
    assert doc["pctl-extra-1"] == {"url": "https://cache.example.org/spack"}  # Spack's default: signed
    assert doc["pctl-extra-2"] == {"url": "s3://lab-spack-cache/v1", "signed": False}
    head = render_node_scripts(t, opts)["head.sh"]
    assert 'pctl_spack -e "$PCTL_KEYS_ENV_DIR" buildcache keys --install --trust' in head
    assert 'pctl_spack -e "$PCTL_ENV_DIR" buildcache keys' not in head
    from pctl.render.scripts import _spack_parts

    keys = YAML(typ="safe").load(_spack_parts(t, opts)["keys"])["spack"]
    assert [m["url"] for m in keys["mirrors:"].values()] == [
        "https://binaries.spack.io/releases/v2026.06/aws-pcluster-x86_64_v4",
        "https://binaries.spack.io/releases/v2026.06", "https://cache.example.org/spack"]
    assert "lab-spack-cache" not in _spack_parts(t, opts)["keys"]


def test_the_trust_summary_lists_what_the_node_does():
    t = _template()
    s = summary(t)
    assert [u["name"] for u in s["sudo_users"]] == ["alice", "root2"]
    (k,) = s["sudo_users"][0]["keys"]
    assert k["fingerprint"] == KEY_FP and k["line"] == f"256 {KEY_FP} alice@laptop (ED25519)"
    assert s["sudo_users"][1]["keys"] == []
    rendered = YAML(typ="safe").load(render_spack_yaml(t, ScriptOptions("boot")))["spack"]["mirrors"]
    assert [(m["name"], m["url"]) for m in s["mirrors"]] == [(n, v["url"]) for n, v in rendered.items()]
    assert [m["signed"] for m in s["mirrors"]] == [True, True, True, False]
    assert s["unsigned_mirrors"] == ["s3://lab-spack-cache/v1"]
    assert any("sudo (root) for alice" in f and KEY_FP in f for f in s["flags"])
    assert any("UNSIGNED Spack mirror s3://lab-spack-cache/v1" in f for f in s["flags"])
    # the raw data of a template that does not validate gives the same answer where it can
    raw = summary(json.loads(json.dumps(t.model_dump())))
    assert raw == s


def test_arm_templates_list_the_arm_stack():
    t = _template(TRUSTY.replace("t3.large", "c7g.large").replace("c6i.xlarge", "c7g.xlarge"))
    assert summary(t)["mirrors"][0]["url"].endswith("/aws-pcluster-neoverse_v1")


def test_fingerprint_changes_with_signing():
    from pctl.template.fingerprint import fingerprint as fp

    signed = _template(BASE + "software:\n  spack_packages: [bwa]\n  mirrors: [s3://lab-cache/x]\n")
    unsigned = _template(BASE + "software:\n  spack_packages: [bwa]\n  mirrors: [{url: s3://lab-cache/x, "
                                "allow_unsigned: true}]\n")
    assert fp(signed) != fp(unsigned)


# ---------------------------------------------------------------- what the user sees


def test_dry_run_plan_shows_sudo_users_fingerprints_and_mirrors(tmp_path):
    f = tmp_path / "t.yaml"
    f.write_text(TRUSTY)
    r = run_pctl("create", "-t", str(f), "--dry-run", "--no-catalog")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    sudo = [ln for ln in lines if "alice (uid 5001)" in ln]
    assert sudo and f"256 {KEY_FP} alice@laptop (ED25519)" in sudo[0] and "Sudo users" in sudo[0]
    assert any("root2 (uid 5003): no SSH key" in ln for ln in lines)
    mirrors = [ln for ln in lines if re.search(r"(^|  )[1-4]\. ", ln)]
    assert "binaries.spack.io" in mirrors[0] and "binaries.spack.io" in mirrors[1]
    assert "https://cache.example.org/spack  signed" in mirrors[2]
    assert "s3://lab-spack-cache/v1  UNSIGNED (allow_unsigned: true)" in mirrors[3]
    r = run_pctl("create", "-t", str(f), "--dry-run", "--no-catalog", "--json")
    trust = json.loads(r.stdout)["plan"]["trust"]
    assert trust["sudo_users"][0]["keys"][0]["fingerprint"] == KEY_FP
    assert trust["unsigned_mirrors"] == ["s3://lab-spack-cache/v1"]


def test_template_show_lists_trust(tmp_path):
    f = tmp_path / "t.yaml"
    f.write_text(TRUSTY)
    r = run_pctl("template", "show", str(f))
    assert r.returncode == 0, r.stderr
    assert f"alice (uid 5001): 256 {KEY_FP} alice@laptop (ED25519)" in r.stdout
    assert "4. s3://lab-spack-cache/v1  UNSIGNED" in r.stdout and "trust (2 sudo users, 4 Spack mirrors" in r.stdout
    assert r.stderr == ""  # a file of your own is shown, not flagged
    j = json.loads(run_pctl("template", "show", str(f), "--json").stdout)
    assert j["trust"]["sudo_users"][1]["name"] == "root2"
    r = run_pctl("template", "show", "no-such-template-anywhere")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_an_unsigned_mirror_without_allow_unsigned_is_signed_and_a_file_mirror_is_an_error(tmp_path):
    f = tmp_path / "t.yaml"
    f.write_text(BASE + "software:\n  mirrors:\n    - file:///etc/../root\n")
    r = run_pctl("create", "-t", str(f), "--dry-run", "--no-catalog")
    assert r.returncode != 0 and "only https:// and s3://" in r.stderr + r.stdout and "Traceback" not in r.stderr
