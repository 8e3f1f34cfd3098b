"""Hostile strings in every string field: rejected where the field has a grammar, kept as data elsewhere."""

from __future__ import annotations

import copy
import json
import typing

import pytest
from pydantic import BaseModel

from pctl.template.model import Template
from pctl.template.validate import validate_text

HOSTILE = [
    "; rm -rf /", "$(reboot)", "`id`", "a\nb", "x'y", 'x"y', "x && y", "x | y", "${HOME}", "\\x00", "ünïcödé",
    "\u202eevil", "../../etc/passwd", "-rf", "*", "a b",
]

BASE = {
    "metadata": {"title": "t", "description": "d", "tags": ["x"], "version": "1", "author": "me"},
    "cluster": {"name": "c", "region": "us-east-1", "os": "rocky9", "custom_ami": "ami-0123456789abcdef0",
                "key_name": "mykey", "tags": {"team": "hpc"}, "project": "genomics", "idle_timeout": "2h",
                "idle_action": "auto_stop"},
    "compute": {"head_node": "t3.large",
                "head_node_custom_actions": {ev: [{"script": "https://example.org/u.sh", "args": ["a"]}]
                                             for ev in ("on_node_start", "on_node_configured", "on_node_updated")},
                "queues": [{"name": "cpu", "instance_types": ["c6i.xlarge"], "subnet": "subnet-0123456789abcdef0",
                            "allocation_strategy": "lowest-price",
                            "compute_resources": [{"name": "small", "instance_types": ["c6i.xlarge"]}],
                            "custom_actions": {ev: [{"script": "s3://lab-data/pre.sh", "args": ["--fast"]}]
                                               for ev in ("on_node_start", "on_node_configured")}}]},
    "software": {"spack_packages": ["samtools@1.21"], "mirrors": [{"url": "https://cache.example.org/spack"}], "modules": "flat"},
    "users": [{"name": "alice", "uid": 5001, "gid": 5000, "groups": ["lab"], "shell": "/bin/bash",
               "ssh_public_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice"]}],
    "groups": [{"name": "lab", "gid": 5000}],
    "data": {"s3_mounts": [{"bucket": "lab-data", "mount_point": "/data/lab", "prefix": "runs/", "group": "lab"}],
             "shared_storage": [{"type": "ebs", "mount_point": "/scratch", "name": "scratch", "size_gb": 100,
                                 "volume_type": "gp3"}]},
    "networking": {"subnet_id": "subnet-0123456789abcdef0", "ssh_allowed_cidr": "203.0.113.0/24"},
    "budget": {"monthly_usd": 5000, "notify": ["ops@example.org"]},
}

# Every string field: path -> True when it has a grammar (hostile values must be rejected),
# False when it is free text (kept verbatim as data, never placed unquoted in a script).
FIELDS = {
    ("metadata", "title"): False,
    ("metadata", "description"): False,
    ("metadata", "version"): False,
    ("metadata", "author"): False,
    ("metadata", "tags", 0): True,
    ("cluster", "name"): True,
    ("cluster", "region"): True,
    ("cluster", "os"): True,
    ("cluster", "custom_ami"): True,
    ("cluster", "key_name"): True,
    ("cluster", "tags", "team"): True,
    ("cluster", "project"): True,
    ("cluster", "idle_timeout"): True,
    ("cluster", "idle_action"): True,
    ("budget", "notify", 0): True,
    ("compute", "head_node"): True,
    ("compute", "queues", 0, "name"): True,
    ("compute", "queues", 0, "instance_types", 0): True,
    ("compute", "queues", 0, "subnet"): True,
    ("compute", "queues", 0, "capacity"): True,
    ("compute", "queues", 0, "allocation_strategy"): True,
    ("compute", "queues", 0, "compute_resources", 0, "name"): True,
    ("compute", "queues", 0, "compute_resources", 0, "instance_types", 0): True,
    **{("compute", "queues", 0, "custom_actions", ev, 0, "script"): True
       for ev in ("on_node_start", "on_node_configured")},
    **{("compute", "queues", 0, "custom_actions", ev, 0, "args", 0): True
       for ev in ("on_node_start", "on_node_configured")},
    **{("compute", "head_node_custom_actions", ev, 0, "script"): True
       for ev in ("on_node_start", "on_node_configured", "on_node_updated")},
    **{("compute", "head_node_custom_actions", ev, 0, "args", 0): True
       for ev in ("on_node_start", "on_node_configured", "on_node_updated")},
    ("software", "spack_packages", 0): True,
    ("software", "mirrors", 0): True,
    ("software", "mirrors", 0, "url"): True,
    ("software", "modules"): True,
    ("software", "target"): True,
    ("users", 0, "name"): True,
    ("users", 0, "groups", 0): True,
    ("users", 0, "shell"): True,
    ("users", 0, "ssh_public_keys", 0): True,
    ("groups", 0, "name"): True,
    ("data", "s3_mounts", 0, "bucket"): True,
    ("data", "s3_mounts", 0, "mount_point"): True,
    ("data", "s3_mounts", 0, "prefix"): True,
    ("data", "s3_mounts", 0, "group"): True,
    ("data", "shared_storage", 0, "type"): True,
    ("data", "shared_storage", 0, "mount_point"): True,
    ("data", "shared_storage", 0, "name"): True,
    ("data", "shared_storage", 0, "id"): True,
    ("data", "shared_storage", 0, "volume_type"): True,
    ("data", "shared_storage", 0, "deployment_type"): True,
    ("data", "shared_storage", 0, "deletion_policy"): True,
    ("networking", "subnet_id"): True,
    ("networking", "ssh_allowed_cidr"): True,
}


# AWS tag values legitimately allow unicode letters, spaces and . / - (tags only ever reach AWS APIs).
ALLOWED_BY_GRAMMAR = {("cluster", "tags", "team"): {"ünïcödé", "a b", "-rf", "../../etc/passwd"},
                      # one word handed to the user's own script as an argument (never through a shell)
                      **{p: {"-rf", "../../etc/passwd"} for p in (
                          ("compute", "queues", 0, "custom_actions", "on_node_start", 0, "args", 0),
                          ("compute", "queues", 0, "custom_actions", "on_node_configured", 0, "args", 0),
                          ("compute", "head_node_custom_actions", "on_node_start", 0, "args", 0),
                          ("compute", "head_node_custom_actions", "on_node_configured", 0, "args", 0),
                          ("compute", "head_node_custom_actions", "on_node_updated", 0, "args", 0))}}


def set_path(doc, path, value):
    cur = doc
    for p in path[:-1]:
        cur = cur[p]
    cur[path[-1]] = value


def get_path(obj, path):
    cur = obj
    for p in path:
        cur = cur[p] if isinstance(p, int) or isinstance(cur, dict) else getattr(cur, p)
    return cur


def _string_fields(model, prefix=()):
    out = set()
    for name, f in model.model_fields.items():
        ann = f.annotation
        stack, found_str, sub = [ann], False, None
        container = []
        while stack:
            a = stack.pop()
            origin = typing.get_origin(a)
            if origin in (list, dict):
                container.append(origin)
            if a is str:
                found_str = True
            if isinstance(a, type) and issubclass(a, BaseModel):
                sub = a
            stack.extend(typing.get_args(a))
        if typing.get_origin(ann) is typing.Literal or any(typing.get_origin(x) is typing.Literal for x in typing.get_args(ann)):
            found_str = True
        path = prefix + (name,)
        if container and container[0] is list:
            path += (0,)
        if sub is not None:
            out |= _string_fields(sub, path)
        elif found_str:
            out.add(path)
    return out


def test_field_table_covers_every_string_field():
    fields = _string_fields(Template)
    normalized = {p for p in FIELDS}
    # dict[str, str] tags: the table names one key
    fields = {p if p != ("cluster", "tags") else ("cluster", "tags", "team") for p in fields}
    # extends:/remove: are resolved and dropped before the model validates a template (test_extends.py)
    fields -= {("extends", 0), ("remove",)}
    missing = fields - normalized
    assert not missing, f"add these string fields to FIELDS: {sorted(missing)}"


def test_base_document_is_valid():
    r = validate_text(json.dumps(BASE), "h.yaml", use_catalog=False)
    assert r.ok, [d.format() for d in r.errors]


@pytest.mark.parametrize("path,grammar", sorted(FIELDS.items(), key=str))
@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_value(path, grammar, payload):
    doc = copy.deepcopy(BASE)
    set_path(doc, path, payload)
    r = validate_text(json.dumps(doc), "h.yaml", use_catalog=False)
    if grammar and payload not in ALLOWED_BY_GRAMMAR.get(path, ()):
        assert not r.ok, f"{path} accepted {payload!r}"
        assert any(tuple(d.path[: len(path)]) == path or tuple(d.path) == path[:-1] for d in r.errors), \
            [d.format() for d in r.errors]
    else:
        assert r.ok, [d.format() for d in r.errors]
        assert get_path(r.template, path) == payload  # kept verbatim, as data


def test_hostile_tag_key_rejected():
    doc = copy.deepcopy(BASE)
    doc["cluster"]["tags"] = {"$(id)": "x"}
    assert not validate_text(json.dumps(doc), "h.yaml", use_catalog=False).ok


def test_hostile_ssh_key_comment_is_only_printable_ascii():
    doc = copy.deepcopy(BASE)
    key = BASE["users"][0]["ssh_public_keys"][0]
    doc["users"][0]["ssh_public_keys"] = [key + " $(id) `x`"]
    r = validate_text(json.dumps(doc), "h.yaml", use_catalog=False)
    assert r.ok  # a comment is data; the renderer writes it into authorized_keys verbatim, quoted
    doc["users"][0]["ssh_public_keys"] = [key + "\nssh-rsa AAAA injected"]
    assert not validate_text(json.dumps(doc), "h.yaml", use_catalog=False).ok


@pytest.mark.parametrize("path", [p for p, grammar in FIELDS.items() if grammar and p != ("cluster", "tags", "team")])
def test_trailing_newline_is_rejected(path):
    """`$` in a regex matches before a final newline: every grammar must use a full match."""
    doc = copy.deepcopy(BASE)
    try:
        value = get_path(doc, path)
    except (KeyError, IndexError):
        value = None
    if not isinstance(value, str):
        pytest.skip("not a string in the base document")
    set_path(doc, path, value + "\n")
    r = validate_text(json.dumps(doc), "h.yaml", use_catalog=False)
    if r.ok:  # only choice fields normalise (strip, lower-case): the value kept must be clean
        assert "\n" not in str(get_path(r.template, path)), f"{path} kept a trailing newline"
