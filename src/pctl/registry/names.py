"""Template names: the one place that turns ``-t FILE|NAME`` and ``extends: NAME`` into a file.

In order: a file path; a NAME.yaml in the current folder; a bundled library template (exact name,
then a unique last part: ``gromacs`` -> ``chemistry/gromacs``); a template of a registry source in
pctl's local cache (``team/chemistry/gromacs``, or ``chemistry/gromacs`` when only one source has
it). Ambiguous names list the candidates; unknown names suggest close ones.

:data:`FINDER` hands the same rules to the template package's ``extends:`` merge
(:mod:`pctl.template.finder`), which never imports the registry itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pctl.errors import TemplateNotFound


@dataclass(frozen=True)
class TemplateRef:
    path: Path
    display: str  # what messages call it: the path as typed, "library:NAME" or "registry:SOURCE/NAME"
    name: str  # short name for tags: file stem, library name or SOURCE/NAME
    origin: str  # "file" | "library" | "registry"
    source: str | None = None  # "library" or the registry source's name; None for files


def _library_ref(name: str) -> TemplateRef:
    from pctl import library

    return TemplateRef(library.path_of(name), f"library:{name}", name, "library", "library")


def _ambiguous(ref: str, candidates: list[str]) -> TemplateNotFound:
    return TemplateNotFound(f"template name {ref!r} is ambiguous: " + ", ".join(candidates),
                            hint="use the full name, e.g. " + candidates[0])


def resolve(ref: str, *, files: bool = True) -> TemplateRef:
    """Find the template ``ref`` names. ``files=False`` skips the file and cwd steps (names only)."""
    from pctl import library

    if not ref or not ref.strip():
        raise TemplateNotFound("empty template name", hint="give a file (my-cluster.yaml) or a library name (starter)")
    for prefix in ("library:", "registry:"):  # the display form, as messages print it
        if ref.startswith(prefix) and not Path(ref).exists():
            ref = ref[len(prefix):]
    p = Path(ref).expanduser()
    looks_like_file = ref.endswith((".yaml", ".yml", ".json")) or "/" in ref and (p.parent.is_dir() and p.exists())
    if files:
        if p.is_file() or p.is_dir() and p.exists():
            return TemplateRef(p, ref, p.stem, "file")
        for ext in (".yaml", ".yml"):
            cand = Path(ref + ext).expanduser()
            if "/" not in ref and cand.is_file():
                return TemplateRef(cand, str(cand), cand.stem, "file")
    exact = library.exact(ref)
    if exact is not None:
        return _library_ref(exact)
    is_filename = ref.endswith((".yaml", ".yml", ".json"))  # registry names have no suffix
    reg = None if is_filename else _registry_lookup(ref, by_last_part=False)  # the local cache, never the network
    if reg is not None:
        return reg
    names = library.names()
    base = ref.rsplit("/", 1)[-1]
    if "/" not in ref:
        by_base = library.by_last_part(ref)
        if len(by_base) == 1:
            return _library_ref(by_base[0])
        if len(by_base) > 1:
            raise _ambiguous(ref, by_base)
        reg = None if is_filename else _registry_lookup(ref, by_last_part=True)
        if reg is not None:
            return reg
    if files and (looks_like_file or ref.endswith((".yaml", ".yml"))):
        raise TemplateNotFound(f"{ref}: no such file")
    import difflib

    all_names = list(names) + _registry_names()
    guesses = difflib.get_close_matches(ref, all_names, n=3, cutoff=0.5) or difflib.get_close_matches(
        base, [n.rsplit("/", 1)[-1] for n in all_names], n=3, cutoff=0.6)
    # map last-part guesses back to full names
    full = []
    for g in guesses:
        full += [n for n in all_names if n == g or n.rsplit("/", 1)[-1] == g]
    full = list(dict.fromkeys(full))[:5]
    hint = ("did you mean: " + ", ".join(full) + "?") if full else "list templates with: pctl registry list"
    stale = _not_downloaded()
    if stale:
        hint += "; not downloaded yet: " + ", ".join(stale) + " (pctl registry update)"
    what = "a file, a library template nor a registry template" if files else "a library nor a registry template"
    raise TemplateNotFound(f"{ref!r} is neither {what}", hint=hint)


def _registry_lookup(ref: str, *, by_last_part: bool) -> TemplateRef | None:
    """The registry template named ``ref`` (or whose last part is ``ref``). None when nothing matches."""
    from pctl.registry import store

    matches = store.lookup(ref, by_last_part=by_last_part)
    if len(matches) == 1:
        e = matches[0]
        return TemplateRef(e.path, f"registry:{e.qualified}", e.qualified, "registry", e.source)
    if len(matches) > 1:
        raise _ambiguous(ref, [e.qualified for e in matches])
    return None


def _registry_names() -> list[str]:
    try:
        from pctl.registry import store

        return [e.qualified for e in store.registry_entries()]
    except Exception:  # suggestions only: never fail because of them
        return []


def _not_downloaded() -> list[str]:
    try:
        from pctl.registry import store

        return store.not_downloaded()
    except Exception:
        return []


def source_root_of(path: Path) -> Path | None:
    """The library folder or registry source folder that holds ``path``, else None."""
    from pctl.template.finder import DEFAULT

    root = DEFAULT.root_of(path)
    if root is not None:
        return root
    try:
        rp = path.resolve()
    except OSError:  # pragma: no cover
        return None
    from pctl.registry.paths import cache_root

    croot = cache_root()
    try:
        rel = rp.relative_to(croot.resolve())
    except (ValueError, OSError):
        return None
    parts = rel.parts
    if len(parts) >= 3 and parts[1] == "tree":
        return croot / parts[0] / "tree"
    return None


def display_for_path(path: Path) -> str:
    """What messages call a template file: library:NAME, registry:SOURCE/NAME, or a (relative) path."""
    from pctl import library
    from pctl.template.finder import relative_display

    root = source_root_of(path)
    if root is not None:
        rel = path.resolve().relative_to(root.resolve()).with_suffix("").as_posix()
        if root == library.ROOT:
            return f"library:{rel}"
        return f"registry:{root.parent.name}/{rel}"
    return relative_display(path)


class RegistryFinder:
    """The template package's Finder (pctl.template.finder) with every rule of :func:`resolve`."""

    def find_name(self, name: str) -> tuple[Path, str]:
        tref = resolve(name, files=False)
        return tref.path, tref.display

    def root_of(self, path: Path) -> Path | None:
        return source_root_of(path)

    def display(self, path: Path) -> str:
        return display_for_path(path)


FINDER = RegistryFinder()
