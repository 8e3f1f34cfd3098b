"""How ``extends:`` finds a parent named by NAME (not by path), without the template package knowing
where names live.

The template package reads, merges and validates template *files*. Turning a *name* into a file is
the registry's job (:mod:`pctl.registry.names`: a file, the bundled library, the cached registry
sources). So the merge code asks a :class:`Finder`, passed in by its caller; by default the
:class:`LibraryFinder`, which knows files and the bundled library only. Every command that takes a
name (``-t NAME``, ``pctl validate``, ``registry show``...) passes the registry's finder. This keeps
the dependency one way: ``pctl.registry`` imports ``pctl.template``, never the reverse.
"""

from __future__ import annotations

import os
from pathlib import Path

from pctl.errors import TemplateNotFound


class LibraryFinder:
    """Names of the bundled library only; confinement and display names for library files."""

    def find_name(self, name: str) -> tuple[Path, str]:
        """(file, display) of the template ``name``. Raises TemplateNotFound (message + hint)."""
        from pctl import library

        full = library.lookup(name)
        if full is None:
            raise TemplateNotFound(f"{name!r} is not a library template", hint="list them with: pctl registry list")
        return library.path_of(full), f"library:{full}"

    def root_of(self, path: Path) -> Path | None:
        """The folder of the source that holds ``path`` (what a template there may reach by path), else None."""
        from pctl import library

        try:
            path.resolve().relative_to(library.ROOT)
        except (ValueError, OSError):
            return None
        return library.ROOT

    def display(self, path: Path) -> str:
        """What messages call a template file: library:NAME, or a (relative) path."""
        from pctl import library

        root = self.root_of(path)
        if root is not None and root == library.ROOT:
            return "library:" + path.resolve().relative_to(root).with_suffix("").as_posix()
        return relative_display(path)


def relative_display(path: Path) -> str:
    try:
        rel = os.path.relpath(path, Path.cwd())
    except ValueError:  # pragma: no cover - another drive on Windows
        return str(path)
    return rel if not rel.startswith("..") else str(path.resolve())


DEFAULT = LibraryFinder()
