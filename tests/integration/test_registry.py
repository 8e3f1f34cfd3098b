"""The template registry end to end, through the real CLI: a real git repository (file://), a real
HTTP index server on 127.0.0.1 and a directory source. Only loopback addresses."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from pctl import library

run_pctl = None  # the real CLI in a subprocess (conftest's `pctl` fixture), set for every test below


@pytest.fixture(autouse=True)
def _cli(pctl):
    global run_pctl
    run_pctl = pctl

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")]

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.invalid", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}

LAB = """\
# The lab's standard cluster: every project extends it.
metadata:
  title: Smith lab standard
  description: Common queues, users and references of the Smith lab.
  tags: [lab, standard]
  version: "2024.1"
cluster:
  name: smith-lab
  region: us-east-1
compute:
  head_node: t3.large
  queues:
    - name: cpu
      instance_types: [c6i.xlarge]
      max_count: 4
software:
  spack_packages: [samtools@1.21, bwa@0.7.18]
users:
  - {name: alice, uid: 5001, gid: 5000, groups: [lab]}
groups:
  - {name: lab, gid: 5000}
"""

PROJECT = """\
extends: ../lab-standard.yaml
metadata:
  title: Proteomics project
  description: Mass spectrometry search on top of the lab standard.
  tags: [proteomics]
cluster:
  name: proteomics
software:
  spack_packages: [openms]
"""


def git(*args, cwd=None):
    env = dict(os.environ, **GIT_ENV)
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True,
                          timeout=60).stdout


def _copy_lib(dest: Path, *names: str):
    for n in names:
        p = dest / f"{n}.yaml"
        p.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(library.path_of(n), p)


def _write(root: Path, files: dict[str, str]):
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


class Repo:
    def __init__(self, tmp: Path):
        self.bare = tmp / "team.git"
        self.work = tmp / "team-work"
        git("init", "-q", "--bare", "-b", "main", str(self.bare))
        git("clone", "-q", str(self.bare), str(self.work))
        git("checkout", "-q", "-b", "main", cwd=self.work)
        self.url = self.bare.as_uri()

    def commit(self, message: str, files: dict[str, str] | None = None, *, push: str = "main"):
        if files:
            _write(self.work, files)
        git("add", "-A", cwd=self.work)
        git("commit", "-q", "-m", message, cwd=self.work)
        git("push", "-q", "origin", f"HEAD:{push}", cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work).strip()


@pytest.fixture
def repo(tmp_path):
    r = Repo(tmp_path)
    _copy_lib(r.work, "chemistry/gromacs", "chemistry/lammps")
    _write(r.work, {"lab-standard.yaml": LAB, "projects/proteomics.yaml": PROJECT,
                    ".github/workflows/ci.yml": "on: push\njobs: {}\n", "README.md": "templates\n"})
    r.commit("first templates")
    git("tag", "v1", cwd=r.work)
    git("push", "-q", "origin", "v1", cwd=r.work)
    return r


def ok(*args, cwd=None):
    r = run_pctl(*args, cwd=cwd)
    assert r.returncode == 0, f"pctl {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r


def jrun(*args):
    return json.loads(ok(*args, "--json").stdout)


# ---------------------------------------------------------------- git


def test_git_source_add_search_get_update_remove(repo, tmp_path, _isolated_home):
    r = ok("registry", "add", "team", repo.url)
    assert "team: 4 templates" in r.stdout
    cfg = (_isolated_home / "config.toml").read_text()
    assert "[registry.sources.team]" in cfg and repo.url in cfg
    srcs = {s["name"]: s for s in jrun("registry", "sources")["sources"]}
    assert srcs["library"]["kind"] == "bundled" and srcs["team"]["kind"] == "git"
    assert srcs["team"]["templates"] == 4 and srcs["team"]["age"] == "cache updated just now"
    assert len(srcs["team"]["commit"]) == 40

    hits = jrun("registry", "search", "proteomics")["results"]
    assert hits[0]["name"] == "team/projects/proteomics" and hits[0]["source"] == "team"
    assert hits[0]["title"] == "Proteomics project"
    assert {"openms", "samtools", "bwa"} <= set(hits[0]["package_names"])  # inherited packages are searchable
    r = ok("registry", "search", "gromacs")
    assert "team     team/chemistry/gromacs" in r.stdout and "library  chemistry/gromacs" in r.stdout
    assert "team: cache updated just now" in r.stderr

    # get: verbatim bytes, by qualified name; the copy validates
    r = ok("registry", "get", "team/chemistry/gromacs")
    assert r.stdout == (repo.work / "chemistry/gromacs.yaml").read_text()
    out = tmp_path / "g.yaml"
    ok("registry", "get", "team/chemistry/gromacs", "-o", str(out))
    ok("validate", "--no-catalog", str(out))
    # -t/validate accept registry names; a unique name needs no source prefix
    r = ok("validate", "--no-catalog", "projects/proteomics")
    assert "registry:team/projects/proteomics: valid" in r.stdout
    r = ok("validate", "--no-catalog", "proteomics")
    assert "registry:team/projects/proteomics" in r.stdout
    # a library name still means the library
    assert "library:chemistry/gromacs" in ok("validate", "--no-catalog", "chemistry/gromacs").stdout
    # extends inside the source: resolved from the cache, errors point into the parent
    r = ok("template", "resolve", "team/projects/proteomics")
    assert "registry:team/projects/proteomics -> registry:team/lab-standard" in r.stdout
    assert "- openms" in r.stdout and "- samtools@1.21" in r.stdout
    show = jrun("registry", "show", "team/projects/proteomics")
    assert show["extends"] == ["registry:team/lab-standard"] and show["packages"] == ["samtools@1.21", "bwa@0.7.18", "openms"]
    assert show["estimate"]["total_minutes"] > 0 and show["cache"]["name"] == "team"
    r = ok("registry", "get", "team/projects/proteomics")
    assert r.stdout == PROJECT and "extends ../lab-standard.yaml" in r.stderr
    r = ok("registry", "get", "team/projects/proteomics", "--resolved")
    assert "extends" not in r.stdout.split("\n", 1)[1] and "name: proteomics" in r.stdout

    # a new commit is visible only after update
    repo.commit("add rnaseq", {"bioinformatics/rnaseq-lab.yaml": library.path_of("bioinformatics/rnaseq").read_text()})
    assert run_pctl("registry", "get", "team/bioinformatics/rnaseq-lab").returncode == 2
    r = ok("registry", "update", "team")
    assert "team: 5 templates" in r.stdout
    ok("registry", "get", "team/bioinformatics/rnaseq-lab")
    # a broken parent pushed upstream: error position in the parent's cached file
    repo.commit("break lab", {"lab-standard.yaml": LAB.replace("max_count: 4", "max_count: 0")})
    ok("registry", "update")
    r = run_pctl("validate", "--no-catalog", "team/projects/proteomics")
    assert r.returncode == 1 and "registry:team/lab-standard:15:18: error: compute.queues[0].max_count" in r.stdout

    ok("registry", "remove", "team")
    assert not (_isolated_home / "cache" / "registry" / "team").exists()
    assert "team" not in (_isolated_home / "config.toml").read_text()
    r = run_pctl("registry", "get", "team/chemistry/gromacs")
    assert r.returncode == 2
    assert run_pctl("registry", "remove", "team").returncode == 2


def test_git_branch_and_tag(repo):
    git("checkout", "-q", "-b", "next", cwd=repo.work)
    repo.commit("next only", {"next-only.yaml": LAB.replace("smith-lab", "next-lab")}, push="next")
    git("checkout", "-q", "main", cwd=repo.work)
    repo.commit("after v1 on main", {"main-only.yaml": LAB.replace("smith-lab", "main-lab")})

    ok("registry", "add", "tagged", repo.url, "--ref", "v1")
    ok("registry", "add", "nxt", repo.url, "--ref", "next")
    ok("registry", "add", "dflt", repo.url)
    names = {s: {t["name"] for t in jrun("registry", "list", "--source", s)["templates"]} for s in ("tagged", "nxt", "dflt")}
    assert "tagged/main-only" not in names["tagged"] and "tagged/next-only" not in names["tagged"]
    assert "nxt/next-only" in names["nxt"] and "nxt/main-only" not in names["nxt"]
    assert "dflt/main-only" in names["dflt"] and "dflt/next-only" not in names["dflt"]
    # a template name in two sources is ambiguous: the error lists the candidates
    r = run_pctl("validate", "--no-catalog", "lab-standard")
    assert r.returncode == 2 and "ambiguous" in r.stderr
    assert all(f"{s}/lab-standard" in r.stderr for s in ("tagged", "nxt", "dflt"))
    ok("validate", "--no-catalog", "nxt/lab-standard")
    # an unknown ref: nothing added
    r = run_pctl("registry", "add", "bad", repo.url, "--ref", "no-such-branch")
    assert r.returncode == 1 and "was not added" in r.stderr
    assert "bad" not in {s["name"] for s in jrun("registry", "sources")["sources"]}


def test_git_offline_uses_the_cache(repo, tmp_path):
    ok("registry", "add", "team", repo.url)
    moved = tmp_path / "gone.git"
    repo.bare.rename(moved)  # the server is gone
    r = run_pctl("registry", "update")
    assert r.returncode == 1 and "✗ team: git clone failed" in r.stderr and "does not appear to be a git repository" in r.stderr
    r = ok("registry", "search", "lab")
    assert "team/lab-standard" in r.stdout and "team: cache updated" in r.stderr
    ok("registry", "get", "team/lab-standard")
    ok("registry", "show", "team/lab-standard")
    ok("validate", "--no-catalog", "team/projects/proteomics")


# ---------------------------------------------------------------- https index (http on 127.0.0.1)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


@pytest.fixture
def index_server(tmp_path):
    """Serve tmp_path/site on 127.0.0.1 (ephemeral port) in a thread; yields (site dir, base URL, stop)."""
    site = tmp_path / "site"
    site.mkdir()
    handler = functools.partial(_Quiet, directory=str(site))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    state = {"up": True}

    def stop():
        if state["up"]:
            srv.shutdown()
            srv.server_close()
            state["up"] = False

    yield site, f"http://127.0.0.1:{srv.server_address[1]}", stop
    stop()


def _publish(site: Path):
    _copy_lib(site / "templates", "bioinformatics/gatk-pipeline", "bioinformatics/rnaseq", "ml/pytorch-gpu")
    _write(site / "templates", {"lab-standard.yaml": LAB, "projects/proteomics.yaml": PROJECT})
    r = ok("registry", "index", str(site / "templates"), "--no-catalog")
    assert "5 templates valid" in r.stdout
    return json.loads((site / "templates" / "index.json").read_text())


def test_index_source_add_search_get_offline(index_server):
    site, base, stop = index_server
    index = _publish(site)
    t = {x["name"]: x for x in index["templates"]}
    assert t["bioinformatics/gatk-pipeline"]["sha256"] == hashlib.sha256(
        library.path_of("bioinformatics/gatk-pipeline").read_bytes()).hexdigest()
    assert t["bioinformatics/gatk-pipeline"]["path"] == "bioinformatics/gatk-pipeline.yaml"
    assert "gatk" in t["bioinformatics/gatk-pipeline"]["packages"]
    assert t["projects/proteomics"]["title"] == "Proteomics project" and t["lab-standard"]["version"] == "2024.1"

    url = f"{base}/templates/index.json"
    r = ok("registry", "add", "web", url)
    assert "web: 5 templates" in r.stdout
    hits = [h["name"] for h in jrun("registry", "search", "gatk")["results"]]
    assert "web/bioinformatics/gatk-pipeline" in hits and "bioinformatics/gatk-pipeline" in hits
    r = ok("registry", "get", "web/bioinformatics/gatk-pipeline")
    assert r.stdout == library.path_of("bioinformatics/gatk-pipeline").read_text()
    ok("template", "resolve", "web/projects/proteomics")

    stop()  # offline from here on
    r = run_pctl("registry", "update", "web")
    assert r.returncode == 1 and "cannot reach" in r.stderr
    r = ok("registry", "search", "pytorch")
    assert "web/ml/pytorch-gpu" in r.stdout and "web: cache updated just now" in r.stderr
    ok("registry", "get", "web/ml/pytorch-gpu")
    r = ok("registry", "show", "web/ml/pytorch-gpu")
    assert "source web, cache updated just now" in r.stdout and "estimated software install" in r.stdout
    ok("validate", "--no-catalog", "web/projects/proteomics")


def test_index_sha256_mismatch_is_refused(index_server, _isolated_home):
    site, base, _ = index_server
    _publish(site)
    url = f"{base}/templates/index.json"
    gatk = site / "templates/bioinformatics/gatk-pipeline.yaml"
    good = gatk.read_text()
    gatk.write_text(good.replace("gatk@4.5.0.0", "gatk@4.5.0.0\n    - evil-miner"))  # tampered after indexing
    r = run_pctl("registry", "add", "web", url)
    assert r.returncode == 1
    assert "bioinformatics/gatk-pipeline: the downloaded file does not match the index's sha256" in r.stderr
    assert "nothing was cached" in r.stderr and "was not added" in r.stderr
    assert not (_isolated_home / "cache" / "registry" / "web").exists()
    assert "web" not in {s["name"] for s in jrun("registry", "sources")["sources"]}

    gatk.write_text(good)
    ok("registry", "add", "web", url)
    before = ok("registry", "get", "web/bioinformatics/gatk-pipeline").stdout
    gatk.write_text(good.replace("max_count: 30", "max_count: 31"))  # tampered again
    r = run_pctl("registry", "update", "web")
    assert r.returncode == 1 and "sha256" in r.stderr
    assert ok("registry", "get", "web/bioinformatics/gatk-pipeline").stdout == before == good  # old cache kept


def test_index_with_traversal_path_is_refused(index_server):
    site, base, _ = index_server
    _write(site, {"index.json": json.dumps({"templates": [{"name": "x", "path": "../x.yaml", "sha256": "0" * 64}]})})
    r = run_pctl("registry", "add", "web", f"{base}/index.json")
    assert r.returncode == 1 and "templates[0].path '../x.yaml' may contain only" in r.stderr


def test_registry_index_rejects_invalid_templates(tmp_path):
    d = tmp_path / "seeds"
    _copy_lib(d, "chemistry/gromacs")
    _write(d, {"broken.yaml": LAB.replace("t3.large", "t3.nosuch"),
               "mkdocs.yml": "site_name: docs\n",  # not a template: ignored
               "projects/bad-parent.yaml": "extends: ../nope.yaml\ncluster: {name: x}\n"})
    r = run_pctl("registry", "index", str(d), "--no-catalog")
    assert r.returncode == 1
    assert "broken.yaml:11:14: error: compute.head_node" in r.stdout
    assert "projects/bad-parent.yaml:1:10: error: extends" in r.stdout
    assert "2 of 3 templates are invalid" in r.stderr and not (d / "index.json").exists()
    r = run_pctl("registry", "index", str(d), "--no-catalog", "--json")
    doc = json.loads(r.stdout)
    assert r.returncode == 1 and doc["valid"] is False and doc["templates"] == 3


def test_registry_index_of_the_whole_library(tmp_path):
    out = tmp_path / "idx.json"
    ok("registry", "index", str(library.ROOT), "--no-catalog", "-o", str(out))
    doc = json.loads(out.read_text())
    assert {t["name"] for t in doc["templates"]} == set(library.names())


# ---------------------------------------------------------------- directory source


def test_directory_source(tmp_path):
    d = tmp_path / "lab-templates"
    _write(d, {"lab-standard.yaml": LAB, "projects/proteomics.yaml": PROJECT})
    r = ok("registry", "add", "lab", str(d))
    assert "lab: 2 templates" in r.stdout
    lst = jrun("registry", "list", "--source", "lab")["templates"]
    assert [t["name"] for t in lst] == ["lab/lab-standard", "lab/projects/proteomics"]
    _write(d, {"projects/metabolomics.yaml": PROJECT.replace("proteomics", "metabolomics")})
    assert run_pctl("registry", "get", "lab/projects/metabolomics").returncode == 2  # until update
    ok("registry", "update", "lab")
    assert "name: metabolomics" in ok("registry", "get", "lab/projects/metabolomics").stdout
    # a similar name gets a suggestion
    r = run_pctl("validate", "lab/projects/metabolomic")
    assert r.returncode == 2 and "did you mean: lab/projects/metabolomics" in r.stderr


def test_registry_usage_errors(tmp_path):
    for args, text in [
        (("registry", "add", "library", str(tmp_path)), "bundled library's name"),
        (("registry", "add", "Bad_Name", str(tmp_path)), "invalid source name"),
        (("registry", "add", "x", str(tmp_path / "nope")), "no such directory"),
        (("registry", "add", "x", str(tmp_path), "--ref", "main"), "--ref applies only to git"),
        (("registry", "search"), "give a search word"),
        (("registry", "list", "--source", "nope"), "no source named"),
        (("registry", "update", "nope"), "no source named"),
    ]:
        r = run_pctl(*args)
        assert r.returncode == 2 and text in r.stderr, (args, r.stderr)
    ok("registry", "add", "lab", str(tmp_path))
    r = run_pctl("registry", "add", "lab", str(tmp_path))
    assert r.returncode == 2 and "already exists" in r.stderr
