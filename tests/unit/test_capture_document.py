"""Capture files: YAML written by pctl's emitter and read back by ruamel.yaml, loading, the parsed view."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pctl.capture import document, yamlio
from pctl.capture.view import build_view
from pctl.errors import PctlError

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "fixtures" / "onprem" / "sample-capture.yaml"

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60) | st.sampled_from(
    ["", "\n", "a\n", "a\n\n", "  lead\n", "x  \n", "tab\there\n", "yes", "null", "1.0", "0x10", "- a", "a: b", "#c",
     "...", "---", "|", ">", "\r\n", "\x1b[1m", "\x85", "\u2028", "[a, b]", "{x}", "'q'", '"q"', "é", "😀", "~",
     "\n\n\n", " ", "a\n b\n  c\n", "\ta\n"])
_scalar = st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False, allow_infinity=False) | _text
_data = st.recursive(
    _scalar,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(_text, kids, max_size=4),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_text, _data, max_size=5), _text)
def test_yaml_round_trip(data, raw):
    doc = {"meta": data, "sections": {"s": {"rc": 0, "output": raw}}, "more": {"output": raw, "x": [raw, {"output": raw}]}}
    text = yamlio.dump(doc)
    back = yamlio.load(text)
    expect = json.loads(json.dumps(doc))
    assert back == expect


def test_raw_outputs_are_literal_blocks():
    text = yamlio.dump({"sections": {"a": {"output": "line 1\n  line 2\n"}, "b": {"output": "no newline"},
                                      "c": {"output": "\x1b[1mbold\x1b[0m\n"}}})
    assert "output: |2\n      line 1\n        line 2\n" in text
    assert "output: |2-\n      no newline" in text
    assert 'output: "\\u001b[1mbold\\u001b[0m\\n"' in text


def test_sample_capture_round_trips_through_the_document_layer(tmp_path):
    doc = document.load_document(SAMPLE)
    again = tmp_path / "again.yaml"
    again.write_text(document.dump_yaml(doc))
    doc2 = document.load_document(again)
    assert doc2["sections"] == doc["sections"] and doc2["parsed"] == doc["parsed"] and doc2["meta"] == doc["meta"]
    # a full (slow path) load sees the same parsed view that was written
    full = yamlio.load(again.read_text())
    assert full["parsed"] == json.loads(json.dumps(doc["parsed"]))


@pytest.mark.parametrize("text, words", [
    ("[1, 2]", "not a pctl capture"),
    ("a: b\n", "not a pctl capture"),
    ("pctl_capture: 99\n", "format 99"),
    ("pctl_capture: 1\nsections: [a]\n", "'sections' must be a mapping"),
    ("pctl_capture: 1\n  bad: [\n", "not valid YAML"),
    ("pctl_capture: 1\nparsed: 3\n", "'parsed' must be a mapping"),
])
def test_bad_capture_files(text, words):
    with pytest.raises(PctlError) as e:
        document.parse_document(text, "x.yaml")
    assert words in e.value.message


def test_missing_and_directory(tmp_path):
    with pytest.raises(PctlError, match="no such file"):
        document.load_document(tmp_path / "nope.yaml")
    with pytest.raises(PctlError, match="directory"):
        document.load_document(tmp_path)


def test_hand_made_capture_with_raw_text_sections():
    text = ("pctl_capture: 1\nsections:\n  users.passwd: |\n    ann:6001:6000:/home/ann:/bin/bash\n"
            "  users.groups: |\n    grp:6000:ann\n")
    doc = document.parse_document(text)
    assert doc["parsed"]["users"][0]["name"] == "ann"
    assert doc["parsed"]["groups"] == [{"name": "grp", "gid": 6000, "members": ["ann"]}]


# ----------------------------------------------------------------------------------------------- view

def S(output, rc=0, **kw):
    return {"output": output, "rc": rc, **kw}


def test_view_users_and_groups():
    v = build_view({
        "users.passwd": S("alice:5001:5000:/home/alice:/bin/bash\nbob:5002:5000:/home/bob:/bin/zsh\n"),
        "users.groups": S("root:0:\nvideo:44:alice\nlab:5000:\nchem:5100:alice,bob\nnogroup:65534:\n"),
        "users.id": S("alice:5000 44 5100\nbob:5000 5100\n"),
    })
    u = {x["name"]: x for x in v["users"]}
    assert u["alice"]["groups"] == ["video", "chem"] and u["alice"]["primary_group"] == "lab"
    assert u["bob"]["groups"] == ["chem"] and u["bob"]["shell"] == "/bin/zsh"
    assert {g["name"] for g in v["groups"]} == {"video", "lab", "chem"}  # root and nogroup are not kept


def test_view_mounts_merge_findmnt_and_df():
    fm = json.dumps({"filesystems": [
        {"target": "/", "source": "/dev/sda1", "fstype": "xfs", "options": "rw"},
        {"target": "/proc", "source": "proc", "fstype": "proc", "options": "rw"},
        {"target": "/scratch", "source": "10.1.1.1@o2ib:/scratch", "fstype": "lustre", "options": "rw,flock"},
    ]})
    df = ("Filesystem Type 1024-blocks Used Available Capacity Mounted on\n"
          "/dev/sda1 xfs 104857600 52428800 52428800 50% /\n"
          "10.1.1.1@o2ib:/scratch lustre 1073741824000 10737418240 1063004405760 1% /scratch\n")
    v = build_view({"storage.findmnt": S(fm), "storage.df": S(df),
                    "storage.fstab": S("# comment\nnas:/home /home nfs4 rw 0 0\n")})
    m = {x["target"]: x for x in v["mounts"]}
    assert set(m) == {"/", "/scratch"}
    assert m["/scratch"]["fstype"] == "lustre" and m["/scratch"]["size_gib"] == 1024000.0
    assert v["fstab"] == [{"source": "nas:/home", "target": "/home", "fstype": "nfs4", "options": "rw"}]


def test_view_hardware_and_gpus():
    v = build_view({
        "hw.cpu": S("Architecture: x86_64\nCPU(s): 64\nModel name: AMD EPYC 7763\nSocket(s): 2\n"),
        "hw.memory": S("MemTotal:       263921788 kB\n"),
        "hw.gpu_nvidia": S("0, NVIDIA A100-SXM4-80GB, 81920 MiB, 535.104\n1, NVIDIA A100-SXM4-80GB, 81920 MiB, 535.104\n"),
        "os.release": S('ID="rocky"\nVERSION_ID="8.9"\nPRETTY_NAME="Rocky Linux 8.9 (Green Obsidian)"\n'),
        "os.kernel": S("Linux 4.18.0-513.el8.x86_64 x86_64 GNU/Linux\n"),
    })
    assert v["hardware"]["cpus"] == 64 and v["hardware"]["memory_gib"] == 251.7
    assert v["hardware"]["gpus"] == [{"model": "NVIDIA A100-SXM4-80GB", "count": 2, "memory_mb": 81920,
                                      "source": "nvidia-smi"}]
    assert v["os"]["id"] == "rocky" and v["os"]["arch"] == "x86_64"


def test_view_failed_sections_become_warnings():
    v = build_view({"slurm.partitions": S("", rc=1), "hw.cpu": S("Arch", rc=124, timed_out=True, duration_s=2.0),
                    "users.passwd": S("x", rc=None, incomplete=True), "compiler.icc": S("", rc=127)})
    w = " ".join(v["warnings"])
    assert "slurm.partitions exited with status 1" in w and "hw.cpu timed out" in w and "users.passwd did not finish" in w
    assert "compiler.icc" not in w  # optional tools may be missing


def test_view_tcl_modules_without_spider():
    listing = ("/usr/share/modulefiles:\ngcc/9.3.0(default)\ngcc/10.2.0\nopenmpi/gcc/64/4.0.5\n"
               "fftw3/openmpi/gcc/64/3.3.8\n")
    v = build_view({"modules.env": S("kind=tcl\nmodule_type=function\n"), "modules.avail_terse": S(listing)})
    mods = {m["full_name"]: m for m in v["modules"]["modules"]}
    assert v["modules"]["system"] == "tcl" and v["modules"]["source"] == "avail-terse"
    assert mods["gcc/9.3.0"]["default"] is True and "fftw3/openmpi/gcc/64/3.3.8" in mods


def test_view_spider_json_with_warnings_before_it():
    sample = document.load_document(SAMPLE)
    raw = sample["sections"]["modules.spider_json"]["output"]
    secs = copy.deepcopy(sample["sections"])
    secs["modules.spider_json"]["output"] = "Lmod Warning: something odd\n" + raw
    v = build_view(secs)
    assert v["modules"]["source"] == "spider-json" and v["modules"]["count"] == sample["parsed"]["modules"]["count"]


def test_view_of_nothing():
    v = build_view({})
    assert v["users"] == [] and v["mounts"] == [] and v["scheduler"] is None
