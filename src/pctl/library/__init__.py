"""The bundled template library: one NAME.yaml per template (subfolders allowed)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent


def names() -> list[str]:
    """Every library template name, e.g. 'bioinformatics', 'chemistry/gromacs'."""
    out = []
    for p in ROOT.rglob("*.yaml"):
        rel = p.relative_to(ROOT).with_suffix("")
        out.append(rel.as_posix())
    return sorted(out)


def path_of(name: str) -> Path | None:
    name = name.strip().strip("/")
    if not name or ".." in name.split("/") or name.startswith("."):
        return None
    for cand in (ROOT / f"{name}.yaml", ROOT / f"{name}.yml"):
        try:
            cand.resolve().relative_to(ROOT)
        except ValueError:
            return None
        if cand.is_file():
            return cand
    return None
