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


def exact(ref: str) -> str | None:
    """The library name ``ref`` (or ``library/NAME``) when that template exists."""
    ref = ref.strip()
    for name in ((ref[len("library/"):],) if ref.startswith("library/") else ()) + (ref,):
        if path_of(name) is not None:
            return name.strip().strip("/")
    return None


def by_last_part(ref: str) -> list[str]:
    """Library names whose last part is ``ref`` (``gromacs`` -> ``chemistry/gromacs``); several = ambiguous."""
    ref = ref.strip()
    return [] if "/" in ref or not ref else [n for n in names() if n.rsplit("/", 1)[-1] == ref]


def lookup(ref: str) -> str | None:
    """The one library name ``ref`` means (exact, else a unique last part), None when none; raises
    TemplateNotFound when several templates end with ``ref``."""
    found = exact(ref)
    if found is not None:
        return found
    cands = by_last_part(ref)
    if len(cands) > 1:
        from pctl.errors import TemplateNotFound

        raise TemplateNotFound(f"template name {ref!r} is ambiguous: " + ", ".join(cands),
                               hint="use the full name, e.g. " + cands[0])
    return cands[0] if cands else None
