"""Property-based tests: thousands of malformed or odd YAML documents never produce a traceback.

Every document either validates or yields at least one error with a message and a location;
through the CLI the exit code is always 0, 1 or 2 and stderr never shows a traceback.
"""

from __future__ import annotations

import io
import json
import string
from contextlib import redirect_stderr, redirect_stdout

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pctl.template.validate import validate_text

BASE = """\
metadata:
  title: Fuzz base
cluster:
  name: fuzz
  region: us-east-1
  os: rocky9
  custom_ami: ami-0123456789abcdef0
  tags: {team: hpc}
compute:
  head_node: t3.large
  queues:
    - name: cpu
      instance_types: [c6i.xlarge]
      min_count: 0
      max_count: 4
      capacity: spot
software:
  spack_packages: [samtools@1.21, "gromacs@2025.2 +mpi ^openmpi"]
users:
  - name: alice
    uid: 5001
    groups: [lab]
groups:
  - {name: lab, gid: 5000}
data:
  s3_mounts:
    - {bucket: lab-data, mount_point: /data/lab, prefix: runs/}
  shared_storage:
    - {type: efs, mount_point: /efs}
networking:
  ssh_allowed_cidr: 203.0.113.0/24
"""

KEYS = ["metadata", "cluster", "compute", "software", "users", "groups", "data", "networking", "name", "region",
        "os", "tags", "head_node", "queues", "instance_types", "min_count", "max_count", "capacity", "efa",
        "spack_packages", "mirrors", "modules", "uid", "gid", "shell", "s3_mounts", "bucket", "mount_point",
        "prefix", "read_only", "shared_storage", "type", "size_gb", "id", "subnet_id", "ssh_allowed_cidr", "x"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**20, max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(["t3.large", "us-east-1", "/data", "samtools@1.21", "; rm -rf /", "$(id)", "`id`", "~", "*", "&a",
                     "!!str", "0x1F", "1e3", ".inf", "yes", "null", "2024-01-01", "ünï", "\u202e", "a\nb"]),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=5)),
    max_leaves=20,
)


def check(text_or_doc):
    r = validate_text(text_or_doc, "fuzz.yaml", use_catalog=False)
    if not r.ok:
        for d in r.errors:
            assert d.message and isinstance(d.message, str)
            assert d.file == "fuzz.yaml"
    return r


FAST = settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@FAST
@given(st.text(alphabet=string.printable + "ü€\t:-[]{}&*!|>'\"%@`#", max_size=300))
def test_random_text_never_crashes(text):
    check(text)


@FAST
@given(values)
def test_random_structures_never_crash(doc):
    check(json.dumps(doc, default=str))


@FAST
@given(st.data())
def test_mutated_valid_template_never_crashes(data):
    text = BASE
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["insert", "delete", "dupline", "dropline", "replace"]))
        pos = data.draw(st.integers(0, max(0, len(text) - 1)))
        if op == "insert":
            text = text[:pos] + data.draw(st.text(alphabet=":-[]{}&*!|>'\"% \n\tx1é", min_size=1, max_size=5)) + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + data.draw(st.integers(1, 10)):]
        else:
            lines = text.splitlines(True)
            i = data.draw(st.integers(0, len(lines) - 1))
            if op == "dupline":
                lines.insert(i, lines[i])
            elif op == "dropline":
                del lines[i]
            else:
                lines[i] = lines[i].replace(":", data.draw(st.sampled_from([": [", ": {", ": &x", ": *x", ": !!binary", ":: "])), 1)
            text = "".join(lines)
    check(text)


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(st.binary(max_size=200))
def test_random_bytes_through_the_cli(tmp_path_factory, raw):
    from pctl.cli.main import main

    f = tmp_path_factory.getbasetemp() / "fuzz-bytes.yaml"
    f.write_bytes(raw)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        with pytest.raises(SystemExit) as exc:
            main(["validate", "--no-catalog", str(f)])
    assert exc.value.code in (0, 1, 2)
    text = out.getvalue() + err.getvalue()
    assert "Traceback" not in text and "internal error" not in text
    if exc.value.code != 0:
        assert "error" in text


def test_base_is_valid():
    r = check(BASE)
    assert r.ok, [d.format() for d in r.errors]


def test_alias_bomb_is_rejected_quickly():
    bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    r = check(bomb)
    assert not r.ok and r.errors[0].code == "too-large"
