"""`pctl registry index` reads and parses each template once (it used to read six times and parse three)."""

from __future__ import annotations

import shutil
from pathlib import Path

from pctl.registry.index import build

LIB = Path(__file__).resolve().parents[2] / "src" / "pctl" / "library"


def test_each_template_is_read_and_parsed_once(tmp_path, monkeypatch):
    import pctl.template.load as load

    root = tmp_path / "lib"
    shutil.copytree(LIB, root, ignore=shutil.ignore_patterns("__init__.py", "__pycache__"))
    reads: list[str] = []
    parses: list[str] = []
    real_read, real_load = Path.read_bytes, load.load_text

    def read_bytes(self):
        if self.suffix == ".yaml":
            reads.append(str(self))
        return real_read(self)

    def load_text(text, source="<template>", path=None):
        parses.append(source)
        return real_load(text, source, path)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    monkeypatch.setattr(load, "load_text", load_text)
    index, results = build(root, use_catalog=False)
    n = len(results)
    assert n >= 30 and all(r.ok for _, r in results)
    assert len(index["templates"]) == n
    parents = sum(1 for _, r in results if getattr(r.loaded, "chain", None) and len(r.loaded.chain) > 1)
    assert len(reads) <= n + parents * 2  # each file once (extends: parents are files of their own)
    assert len(parses) <= n + parents * 2
    e = index["templates"][0]
    import hashlib

    assert e["sha256"] == hashlib.sha256(real_read(root / e["path"])).hexdigest()
