"""``pctl registry index DIR``: validate every template of a folder and write its index.json.

The index is what an HTTPS source serves next to its templates (``path`` is relative to the
index's URL). A team's CI runs this before publishing: any invalid template fails the run.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from pctl.registry import store

INDEX_FORMAT = 1


def build(root: Path, *, catalog=None, use_catalog: bool = True, exclude: tuple[Path, ...] = ()):
    """(index dict, [(name, ValidationResult)]) for every template under ``root``.

    Each file is read once and parsed once: the same bytes give the sha256, the same parse is validated
    (with its extends: parents merged) and described, so indexing costs what validating costs."""
    from pctl import __version__
    from pctl.template.diagnostics import error
    from pctl.template.load import LoadFailed, decode, load_text
    from pctl.registry.names import FINDER
    from pctl.template.validate import ValidationResult, validate_loaded

    if use_catalog and catalog is None:  # look the catalog up once, not once per template
        from pctl.spack.catalog import CatalogError, find_catalog

        try:
            catalog = find_catalog()
        except CatalogError:
            catalog = None  # validate_loaded reports it on each template
    excluded = {p.resolve() for p in exclude}
    templates, results = [], []
    refused: list[str] = []
    files = store.template_files(root, refused)
    if refused:  # a link outside the folder would publish someone else's file: fail the index
        for msg in refused:
            rel, _, why = msg.partition(": ")
            results.append((rel, ValidationResult(source=rel, diagnostics=[error(why, code="symlink", file=rel)])))
    for p in files:
        if p.resolve() in excluded:
            continue
        name = store.name_of(p, root)
        rel = p.relative_to(root).as_posix()
        try:
            raw = p.read_bytes()
        except OSError as exc:
            results.append((name, ValidationResult(source=rel, diagnostics=[
                error(f"cannot read file: {exc.strerror or exc}", code="io", file=rel)])))
            continue
        try:
            loaded = load_text(decode(raw, rel), rel, p)
        except LoadFailed as exc:
            results.append((name, ValidationResult(source=rel, diagnostics=[exc.diagnostic])))
            continue
        if not store.is_template(loaded.data):
            continue  # a YAML file that is not a template (no cluster:, compute: or extends:)
        result = validate_loaded(loaded, catalog=catalog, use_catalog=use_catalog, finder=FINDER)
        results.append((name, result))
        if not result.ok:
            continue
        merged = result.loaded.data if result.loaded is not None else loaded.data
        full = store.describe_loaded(loaded, name, raw, merged)
        entry = {
            "name": name,
            "title": full.get("title") or "",
            "description": full.get("description") or "",
            "tags": full.get("tags") or [],
            "version": full.get("version") or "",
            "path": rel,
            "sha256": full["sha256"],
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
