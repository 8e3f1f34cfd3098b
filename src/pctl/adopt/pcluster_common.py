"""Small helpers shared by the ParallelCluster importer's parts."""

from __future__ import annotations

import re
from typing import Any

from pctl.template import rules


def _walk(node: Any, path: str = ""):
    """Every leaf path of the configuration (a.b[0].c)."""
    if isinstance(node, dict) and node:
        for k, v in node.items():
            yield from _walk(v, f"{path}.{k}" if path else str(k))
    elif isinstance(node, list) and node:
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}[{i}]")
    else:
        yield path


def _name_token(raw: Any, used: set[str], fallback: str) -> str:
    n = re.sub(r"[^a-z0-9-]+", "-", str(raw or "").lower()).strip("-")
    n = re.sub(r"-{2,}", "-", n)
    if not n or not n[0].isalpha():
        n = f"{fallback}-{n}" if n else fallback
    if n == "default":
        n = f"{fallback}-default"
    n = n[: rules.QUEUE_NAME_MAX].rstrip("-")
    base, i = n, 2
    while n in used:
        suffix = f"-{i}"
        n = base[: rules.QUEUE_NAME_MAX - len(suffix)].rstrip("-") + suffix
        i += 1
    used.add(n)
    return n


def cluster_name_from(source: str) -> str:
    from pathlib import PurePath

    stem = PurePath(str(source)).name
    for suffix in (".yaml", ".yml", ".json"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    s = re.sub(r"[^A-Za-z0-9-]+", "-", stem).strip("-")
    s = re.sub(r"-{2,}", "-", s)
    if not s or not s[0].isalpha():
        s = "imported" + ("-" + s if s else "")
    return s[:60].rstrip("-")


def _bool(v) -> bool:
    return v is True or (isinstance(v, str) and v.strip().lower() == "true")


def _int(v) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, str) and v.strip().isdigit():
        return int(v.strip())
    return None


def _actions(node: Any) -> list[dict]:
    """A ParallelCluster custom action event (one Script or a Sequence) as a list of {Script, Args}."""
    if not isinstance(node, dict):
        return []
    if isinstance(node.get("Sequence"), list):
        return [x for x in node["Sequence"] if isinstance(x, dict)]
    if "Script" in node:
        return [node]
    return []
