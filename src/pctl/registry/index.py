"""``pctl registry index DIR``: validate every template of a folder and write its index.json.

The index is what an HTTPS source serves next to its templates (``path`` is relative to the
index's URL). A team's CI runs this before publishing: any invalid template fails the run.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from pathlib import Path

from pctl.registry import store

INDEX_FORMAT = 1


def build(root: Path, *, catalog=None, use_catalog: bool = True, exclude: tuple[Path, ...] = ()):
    """(index dict, [(name, ValidationResult)]) for every template under ``root``."""
    from pctl import __version__
    from pctl.registry.names import FINDER
    from pctl.template.validate import validate_file

    excluded = {p.resolve() for p in exclude}
    templates, results = [], []
    refused: list[str] = []
    files = store.template_files(root, refused)
    if refused:  # a link outside the folder would publish someone else's file: fail the index
        from pctl.template.diagnostics import error
        from pctl.template.validate import ValidationResult

        for msg in refused:
            rel, _, why = msg.partition(": ")
            results.append((rel, ValidationResult(source=rel, diagnostics=[error(why, code="symlink", file=rel)])))
    for p in files:
        if p.resolve() in excluded:
            continue
        name = store.name_of(p, root)
        rel = p.relative_to(root).as_posix()
        desc = store.describe(p, rel, resolve=False)
        if desc is None:
            continue  # a YAML file that is not a template (no cluster:, compute: or extends:)
        result = validate_file(p, rel, catalog=catalog, use_catalog=use_catalog, finder=FINDER)
        results.append((name, result))
        if not result.ok:
            continue
        full = store.describe(p, name) or desc
        entry = {
            "name": name,
            "title": full.get("title") or "",
            "description": full.get("description") or "",
            "tags": full.get("tags") or [],
            "version": full.get("version") or "",
            "path": rel,
            "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
            "packages": full.get("packages") or [],
        }
        if full.get("extends"):
            entry["extends"] = full["extends"]
        templates.append(entry)
    index = {
        "format": INDEX_FORMAT,
        "generator": f"pctl {__version__}",
        "generated": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "templates": sorted(templates, key=lambda t: t["name"]),
    }
    return index, results
