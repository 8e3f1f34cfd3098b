"""Template names: the one place that turns ``-t FILE|NAME`` and ``extends: NAME`` into a file.

Names and files never shadow each other:

* ``-`` is the template on standard input;
* something that looks like a path is a file: it starts with ``./``, ``../``, ``/`` or ``~``, or ends with
  ``.yaml``/``.yml``/``.json``. It must exist (``x.yaml: no such file`` otherwise); an empty file is an error
  that names it (see :func:`pctl.template.load.load_text`);
* anything else is a name: a bundled library template (exact name, then a unique last part: ``gromacs`` ->
  ``chemistry/gromacs``), then a template of a registry source in pctl's local cache
  (``team/chemistry/gromacs``, or ``chemistry/gromacs`` when only one source has it). A file of the same name
  in the current folder does not hide it (``pctl registry get starter > starter.yaml`` then
  ``pctl create -t starter`` still means the library's starter). Only when no template has that name is an
  existing file of exactly that name, or ``NAME.yaml`` in the current folder (the lab's own
  ``project-a-genomics.yaml`` as ``-t project-a-genomics``), used.

Ambiguous names list the candidates; unknown names suggest close ones.

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


PATH_PREFIXES = ("./", "../", "/", "~")
FILE_SUFFIXES = (".yaml", ".yml", ".json")


def looks_like_path(ref: str) -> bool:
    """True for what -t reads as a file, never a name: ./x, ../x, /x, ~/x, x.yaml, x.yml, x.json."""
    return ref.startswith(PATH_PREFIXES) or ref.endswith(FILE_SUFFIXES)


def stdin_ref() -> TemplateRef:
    from pctl.template.load import STDIN_PATH

    return TemplateRef(STDIN_PATH, "<stdin>", "stdin", "stdin")


def resolve(ref: str, *, files: bool = True) -> TemplateRef:
    """Find the template ``ref`` names. ``files=False`` accepts names only (no paths, no stdin)."""
    from pctl import library

    if not ref or not ref.strip():
        raise TemplateNotFound("empty template name", hint="give a file (./my-cluster.yaml) or a library name (starter)")
    for prefix in ("library:", "registry:"):  # the display form, as messages print it
        if ref.startswith(prefix) and not Path(ref).exists():
            ref = ref[len(prefix):]
    p = Path(ref).expanduser()
    if files and ref == "-":
        return stdin_ref()
    if files and looks_like_path(ref):
        if p.is_file() or p.is_dir():
            return TemplateRef(p, ref, p.stem, "file")
        hint = None
        stem = p.name.rsplit(".", 1)[0] if p.name.endswith(FILE_SUFFIXES) else p.name
        if stem and library.path_of(stem) is not None:
            hint = f"'{stem}' is a library template: use -t {stem}, or copy it: pctl registry get {stem} -o {ref}"
        raise TemplateNotFound(f"{ref}: no such file", hint=hint)
    if ref.startswith("library/") and library.path_of(ref[len("library/"):]) is not None:
        return _library_ref(ref[len("library/"):])
    if library.path_of(ref) is not None:
        return _library_ref(ref)
    reg = _registry_lookup(ref, by_last_part=False)  # the local cache, never the network
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
        reg = _registry_lookup(ref, by_last_part=True)
        if reg is not None:
            return reg
    if files and p.is_file():  # no template has this name: a file of exactly this name (no shadowing possible)
        return TemplateRef(p, ref, p.stem, "file")
    import difflib

    all_names = list(names) + _registry_names()
    guesses = difflib.get_close_matches(ref, all_names, n=3, cutoff=0.5) or difflib.get_close_matches(
        base, [n.rsplit("/", 1)[-1] for n in all_names], n=3, cutoff=0.6)
    # map last-part guesses back to full names
    full = []
    for g in guesses:
        full += [n for n in all_names if n == g or n.rsplit("/", 1)[-1] == g]
    full = list(dict.fromkeys(full))[:5]
    beside = [Path(ref + ext) for ext in (".yaml", ".yml")] if files else []
    local = next((c for c in beside if c.is_file()), None)
    if local is not None and "/" not in ref:
        # no library or registry template has this name: NAME.yaml in this folder is what the person means
        # (the lab's own project-a-genomics.yaml); a library name is never shadowed by a file (checked above)
        return TemplateRef(local, str(local), local.stem, "file")
    if local is not None:
        hint = f"to use the file {local}, write -t ./{local}" + (f"; or did you mean: {', '.join(full)}?" if full else "")
    else:
        hint = ("did you mean: " + ", ".join(full) + "?") if full else "list templates with: pctl registry list"
    stale = _not_downloaded()
    if stale:
        hint += "; not downloaded yet: " + ", ".join(stale) + " (pctl registry update)"
    what = "a library template nor a registry template" if local is not None or not files else \
        "a file, a library template nor a registry template"
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
