"""Names and files without surprises: a bare name is a library/registry name, a file looks like a path,
`-t -` is stdin, an empty file is an error that names it, `registry get NAME -o FILE` writes nothing on failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from support.cli import VALID, run_pctl


def shell(cmd: str, cwd) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    env.pop("PCTL_DEBUG", None)
    pctl = f"{sys.executable} -m pctl"
    return subprocess.run(cmd.replace("pctl ", pctl + " "), shell=True, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_registry_get_redirect_then_create_by_name_in_the_same_folder(tmp_path):
    # exactly the sequence: the shell creates starter.yaml before pctl runs
    r = shell("pctl registry get starter > starter.yaml", tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "starter.yaml").read_text().startswith(("#", "metadata", "cluster")), "not empty"
    r = shell("pctl create -t starter --dry-run --json", tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["plan"]["template"]["source"] == "library:starter"
    # the file is used when written as a file
    r = shell("pctl create -t starter.yaml --dry-run --json", tmp_path)
    assert json.loads(r.stdout)["plan"]["template"]["source"] == "starter.yaml"


def test_an_empty_file_left_by_a_redirect_is_an_error_that_names_it(tmp_path):
    (tmp_path / "gatk.yaml").write_text("")
    r = run_pctl("create", "-t", "gatk.yaml", "--dry-run", cwd=tmp_path)
    assert r.returncode == 1 and "gatk.yaml is empty (0 bytes)" in r.stderr
    assert "pctl registry get starter -o my.yaml" in r.stderr and "Traceback" not in r.stderr
    r = run_pctl("validate", "--json", "gatk.yaml", cwd=tmp_path)
    err, = json.loads(r.stdout)["results"][0]["errors"]
    assert err["code"] == "empty" and err["file"] == "gatk.yaml"


def test_registry_get_dash_o_is_the_documented_form(tmp_path):
    out = tmp_path / "gatk.yaml"
    r = run_pctl("registry", "get", "bioinformatics/gatk-pipeline", "-o", str(out))
    assert r.returncode == 0 and f"wrote {out}" in r.stderr and r.stdout == ""
    assert "gatk" in out.read_text()
    bad = tmp_path / "never.yaml"
    r = run_pctl("registry", "get", "no-such-template", "-o", str(bad))
    assert r.returncode == 2 and not bad.exists(), "a failed get leaves no file behind"
    assert "registry get NAME -o FILE" in run_pctl("registry", "get", "--help").stdout.replace(
        "bioinformatics/gatk-pipeline -o gatk-cluster.yaml", "NAME -o FILE")


def test_template_from_stdin(tmp_path):
    r = run_pctl("validate", "--no-catalog", "-", input=VALID)
    assert r.returncode == 0 and "✓ <stdin>: valid" in r.stdout
    r = run_pctl("create", "-t", "-", "--dry-run", "--no-catalog", "--json", input=VALID)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["plan"]["cluster"]["name"] == "test-cluster"
    r = run_pctl("validate", "-", input="")
    assert r.returncode == 1 and "<stdin> is empty" in r.stdout


def test_paths_are_files_and_names_are_names(tmp_path):
    r = run_pctl("validate", "./bioinformatics.yaml", cwd=tmp_path)
    assert r.returncode == 2 and "./bioinformatics.yaml: no such file" in r.stderr
    assert "use -t bioinformatics" in r.stderr
    (tmp_path / "mine.yaml").write_text(VALID)
    r = run_pctl("validate", "--no-catalog", "mine", cwd=tmp_path)  # no template has this name: ./mine.yaml
    assert r.returncode == 0 and "mine.yaml" in r.stdout, r.stderr
    for ref in ("mine.yaml", "./mine.yaml", str(tmp_path / "mine.yaml")):
        assert run_pctl("validate", "--no-catalog", ref, cwd=tmp_path).returncode == 0, ref
