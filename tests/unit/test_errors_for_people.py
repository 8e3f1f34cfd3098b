"""Errors for people and machines: YAML mistakes explained where they are, one JSON error object with --json,
an Examples: block in every leaf command's --help."""

from __future__ import annotations

import json

import click
import pytest

from support.cli import VALID, run_pctl

YAML_MISTAKES = [
    # (text, line, column, words in the message, words in the hint)
    ("cluster:\n\tname: x\n", 2, 1, "a tab character; YAML indents with spaces only", "replace the tab with spaces"),
    (VALID.replace("      max_count: 4", "\t  max_count: 4"), 10, 1, "a tab character", "spaces"),
    ('cluster:\n  name: "test\ncompute:\n  head_node: t3.large\n', 2, 9,
     'the quoted value that starts with " at line 2, column 9 is never closed', 'matching "'),
    ("cluster:\n  name: 'test\ncompute:\n  head_node: t3.large\n", 2, 9, "starts with ' at line 2, column 9",
     "matching '"),
    ("cluster:\n  name: x\ncompute:\n  queues: [\n  head_node: t3.large\n", 4, 11,
     "the '[' opened at line 4, column 11 is never closed", "close it with ']'"),
    ("cluster:\n  name: x\n  bad line here\ncompute:\n  head_node: t3.large\n", 3, 3,
     "line 3 is neither 'key: value' nor '- item'", "add ': ' after the key"),
    ("cluster:\n  name: a: b\n", 2, 10, "a ':' where a value was expected", 'name: "a: b"'),
    ("compute:\n  queues:\n    - name: a\n   - name: b\n", 4, 4, "the indentation of line 4 does not match",
     "same column"),
    ("software:\n  spack_packages:\n    - @1.2\n", 3, 7, "a value cannot start with '@'", "quote the value"),
]


@pytest.mark.parametrize("text,line,col,words,hint", YAML_MISTAKES)
def test_yaml_syntax_errors_are_explained_with_line_and_column(tmp_path, text, line, col, words, hint):
    f = tmp_path / "t.yaml"
    f.write_text(text)
    r = run_pctl("validate", "--no-catalog", "--json", str(f))
    assert r.returncode == 1, r.stderr
    err, = json.loads(r.stdout)["results"][0]["errors"]
    assert (err["line"], err["column"], err["code"]) == (line, col, "yaml"), err
    assert words in err["message"] and hint in err["hint"], err
    r = run_pctl("validate", "--no-catalog", str(f))
    assert f"t.yaml:{line}:{col}: error: invalid YAML: " in r.stdout and "hint: " in r.stdout


def test_json_failures_print_one_error_object_on_stdout(tmp_path, aws_env):
    # a usage error from click
    r = run_pctl("ami", "status", "--json", "--bogus")
    assert r.returncode == 2
    assert json.loads(r.stdout) == {"ok": False, "error": {
        "type": "usage", "message": "No such option '--bogus'.", "hint": "see 'pctl ami status --help'",
        "exit_code": 2}}
    assert "No such option" in r.stderr  # people still read stderr
    # a PctlError (usage) and a plain failure
    r = run_pctl("create", "-t", "no-such-template-anywhere", "--dry-run", "--json")
    err = json.loads(r.stdout)["error"]
    assert r.returncode == 2 and err["type"] == "usage" and "no-such-template-anywhere" in err["message"]
    r = run_pctl("status", "no-such-cluster", "--json", "--region", "us-east-1")
    err = json.loads(r.stdout)["error"]
    assert r.returncode == 1 and err["type"] == "failure" and "no-such-cluster" in err["message"] and err["hint"]
    # without --json, stdout stays empty on failure
    r = run_pctl("status", "no-such-cluster", "--region", "us-east-1")
    assert r.returncode == 1 and r.stdout == ""
    # --json after `--` belongs to another program
    r = run_pctl("ssh", "no-such-cluster", "--region", "us-east-1", "--", "cmd", "--json")
    assert r.returncode == 1 and r.stdout == ""


def _leaf_commands():
    from pctl.cli.main import cli

    def walk(cmd, path):
        if isinstance(cmd, click.Group):
            ctx = click.Context(cmd, info_name=path[-1])
            for name in cmd.list_commands(ctx):
                yield from walk(cmd.get_command(ctx, name), path + [name])
        else:
            yield path[1:]

    return list(walk(cli, ["pctl"]))


def test_every_leaf_command_has_examples_in_its_help():
    leaves = _leaf_commands()
    assert len(leaves) >= 38
    missing = []
    for path in leaves:
        r = run_pctl(*path, "--help")
        assert r.returncode == 0, (path, r.stderr)
        text = r.stdout
        if "Examples:" not in text:
            missing.append(" ".join(path))
            continue
        block = text.split("Examples:", 1)[1]
        example_lines = [ln.strip() for ln in block.splitlines() if ln.strip().startswith("pctl ")]
        assert any(ln.startswith("pctl " + " ".join(path)) for ln in example_lines), (path, block[:400])
    assert not missing, "leaf commands without an Examples: block in --help: " + ", ".join(missing)


def test_the_plan_never_contradicts_itself_about_software():
    r = run_pctl("create", "-t", "bioinformatics", "--dry-run")
    assert r.returncode == 0 and "installed once at boot" in r.stdout and "bake them into a custom AMI" in r.stdout
    # a custom AMI the dry run cannot read (no credentials): said once, and no advice to bake what may be baked
    r = run_pctl("create", "-t", "bioinformatics", "--dry-run", "--custom-ami", "ami-0123456789abcdef0")
    assert r.returncode == 0 and "the dry run could not read it" in r.stdout
    assert "create reads the AMI and installs only what it lacks" in r.stdout
    assert "bake" not in r.stdout and "nothing installed at boot" not in r.stdout
    plan = json.loads(run_pctl("create", "-t", "bioinformatics", "--dry-run", "--json", "--custom-ami",
                               "ami-0123456789abcdef0").stdout)["plan"]
    assert plan["software"]["mode"] == "boot" and not any("custom AMI once" in w for w in plan["warnings"])
    # nor the claim that they are built in the AMI: the dry run does not know what the AMI holds
    assert not any("they build once, in the AMI" in w for w in plan["warnings"])
    assert any("if the AMI was built from this template" in w for w in plan["warnings"])
