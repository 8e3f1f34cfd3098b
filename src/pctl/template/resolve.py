"""Resolve `-t FILE|NAME`: a file path, a NAME.yaml in the current folder, or a library template."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pctl.errors import TemplateNotFound


@dataclass(frozen=True)
class TemplateRef:
    path: Path
    display: str  # what messages call it: the path as typed, or "library:NAME"
    name: str  # short name for tags: file stem or library name
    origin: str  # "file" | "library"


def resolve(ref: str) -> TemplateRef:
    from pctl import library

    if not ref or not ref.strip():
        raise TemplateNotFound("empty template name", hint="give a file (my-cluster.yaml) or a library name (starter)")
    p = Path(ref).expanduser()
    looks_like_file = ref.endswith((".yaml", ".yml", ".json")) or "/" in ref and (p.parent.is_dir() and p.exists())
    if p.is_file() or p.is_dir() and p.exists():
        return TemplateRef(p, ref, p.stem, "file")
    for ext in (".yaml", ".yml"):
        cand = Path(ref + ext).expanduser()
        if "/" not in ref and cand.is_file():
            return TemplateRef(cand, str(cand), cand.stem, "file")
    lib = library.path_of(ref)
    if lib is not None:
        return TemplateRef(lib, f"library:{ref}", ref, "library")
    names = library.names()
    base = ref.rsplit("/", 1)[-1]
    by_base = [n for n in names if n.rsplit("/", 1)[-1] == base]
    if len(by_base) == 1:
        n = by_base[0]
        return TemplateRef(library.path_of(n), f"library:{n}", n, "library")
    if len(by_base) > 1:
        raise TemplateNotFound(f"template name {ref!r} is ambiguous: " + ", ".join(by_base),
                               hint="use the full name, e.g. " + by_base[0])
    if looks_like_file or ref.endswith((".yaml", ".yml")):
        raise TemplateNotFound(f"{ref}: no such file")
    import difflib

    guesses = difflib.get_close_matches(ref, names, n=3, cutoff=0.5) or difflib.get_close_matches(
        base, [n.rsplit("/", 1)[-1] for n in names], n=3, cutoff=0.6)
    hint = ("did you mean: " + ", ".join(guesses) + "?") if guesses else "list templates with: pctl registry list"
    raise TemplateNotFound(f"{ref!r} is neither a file nor a library template", hint=hint)
