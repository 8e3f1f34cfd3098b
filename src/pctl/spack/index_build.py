"""Build the package catalog JSON from a spack-packages checkout, statically.

Every ``package.py`` is parsed with :mod:`ast`; nothing is imported or executed.

Layout
    ``repos/spack_repo/builtin/packages/<dir>/package.py`` (spack-packages, Spack >= 1.0), or
    the older ``var/spack/repos/builtin/packages/<name>/package.py`` (Spack 0.x), or a
    directory that directly holds ``<dir>/package.py`` folders. In the new layout a directory
    name maps to the package name by replacing ``_`` with ``-`` after dropping one leading
    ``_`` (used for names starting with a digit or that are Python keywords): ``py_torch`` ->
    ``py-torch``, ``_7zip`` -> ``7zip``. In the old layout the directory name is the name.

Per package
    * ``description``: the class docstring, whitespace-collapsed, first 200 characters;
    * ``build_systems``: the base class names of the package class;
    * ``versions``: first argument of every ``version(...)`` call, in file order;
    * ``variants``: first argument of every ``variant(...)`` call, sorted, plus the variants
      inherited from build-system base classes (:data:`INHERITED_VARIANTS`).

    Directives are found at class level, inside ``with when(...)`` / ``with
    default_args(...)`` blocks and ``if`` blocks, and inside ``for`` loops whose iterable can
    be resolved statically: literal lists/tuples/sets/dicts, names bound to literals at
    module or class level, ``.items()/.keys()/.values()`` of such dicts, ``sorted()``, and
    subscripts/f-strings of the loop variables (``version(v["version"])``,
    ``variant(f"{x}_support")``). A directive whose name cannot be resolved is skipped and
    the package gets ``"incomplete": ["versions"|"variants"]`` so that checks do not reject
    specs on the basis of a partial list.

A ``package.py`` that cannot be read or has a syntax error is skipped and listed in
``skipped`` (``[{"package": ..., "path": ..., "reason": ...}]``); it never aborts the build.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["INHERITED_VARIANTS", "IndexBuildError", "build_index", "write_index"]

#: Variants a package gets from its build-system base classes (Spack v1.x builtin repo).
#: AutotoolsPackage, MakefilePackage, PythonPackage, RPackage, ... add none.
INHERITED_VARIANTS: dict[str, tuple[str, ...]] = {
    "CMakePackage": ("build_type", "ipo"),
    "CachedCMakePackage": ("build_type", "ipo"),
    "CudaPackage": ("cuda", "cuda_arch"),
    "ROCmPackage": ("rocm", "amdgpu_target"),
    "MesonPackage": ("buildtype", "default_library", "strip"),
}

FIELDS = {
    "build_systems": "the base classes of the package class (e.g. CMakePackage, CudaPackage)",
    "description": "first 200 characters of the package docstring",
    "variants": "variant names declared by the package or inherited from its build-system "
    "classes",
    "versions": "declared versions, newest first as in the package file",
}

_LAYOUTS = (
    Path("repos/spack_repo/builtin/packages"),
    Path("var/spack/repos/builtin/packages"),
    Path("spack_repo/builtin/packages"),
)

_MAX_LOOP_ITEMS = 5000


class IndexBuildError(Exception):
    """The directory does not look like a spack-packages (or Spack) checkout."""


class _Unresolved(Exception):
    pass


def _dir_to_name(dirname: str, new_layout: bool) -> str:
    if not new_layout:
        return dirname
    if dirname.startswith("_"):
        dirname = dirname[1:]
    return dirname.replace("_", "-")


def _name_to_class(name: str) -> str:
    parts = re.split(r"[-_]+", name)
    cls = "".join(p[:1].upper() + p[1:].lower() for p in parts if p)
    if cls[:1].isdigit():
        cls = "_" + cls
    return cls


def _find_packages_dir(repo_dir: Path) -> tuple[Path, bool]:
    for rel in _LAYOUTS:
        candidate = repo_dir / rel
        if candidate.is_dir():
            return candidate, rel.parts[0] != "var"
    # a packages directory given directly: new-layout directory names are Python
    # identifiers (never contain '-'); old-layout ones are the package names.
    if repo_dir.is_dir() and any(repo_dir.glob("*/package.py")):
        dirs = [p.parent.name for p in repo_dir.glob("*/package.py")]
        return repo_dir, not any("-" in d for d in dirs)
    raise IndexBuildError(
        f"no Spack packages found under {repo_dir}: expected "
        "repos/spack_repo/builtin/packages/<name>/package.py (spack-packages) or "
        "var/spack/repos/builtin/packages/<name>/package.py (Spack 0.x)"
    )


# -- static evaluation ---------------------------------------------------------------------
def _eval(node: ast.AST, env: dict[str, Any]) -> Any:
    """Evaluate a small, side-effect-free subset of Python; raise _Unresolved otherwise."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in env:
            return env[node.id]
        raise _Unresolved(node.id)
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = []
        for elt in node.elts:
            if isinstance(elt, ast.Starred):
                items.extend(_iterate(elt.value, env))
            else:
                items.append(_eval(elt, env))
        return items if not isinstance(node, ast.Set) else list(dict.fromkeys(items))
    if isinstance(node, ast.Dict):
        out = {}
        for k, v in zip(node.keys, node.values):
            if k is None:
                merged = _eval(v, env)
                if not isinstance(merged, dict):
                    raise _Unresolved("**")
                out.update(merged)
            else:
                out[_hashable(_eval(k, env))] = _eval(v, env)
        return out
    if isinstance(node, ast.Subscript):
        base = _eval(node.value, env)
        key = _eval(node.slice, env)
        try:
            return base[_hashable(key)]
        except (KeyError, IndexError, TypeError):
            raise _Unresolved("subscript") from None
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            elif isinstance(value, ast.FormattedValue):
                v = _eval(value.value, env)
                spec = _eval(value.format_spec, env) if value.format_spec else ""
                if value.conversion == ord("r"):
                    v = repr(v)
                elif value.conversion == ord("s"):
                    v = str(v)
                try:
                    parts.append(format(v, spec))
                except (TypeError, ValueError):
                    raise _Unresolved("format") from None
            else:  # pragma: no cover
                raise _Unresolved("fstring")
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _eval(node.left, env), _eval(node.right, env)
        if type(left) is type(right) and isinstance(left, (str, list, int, float)):
            return left + right
        raise _Unresolved("+")
    if isinstance(node, ast.Call):
        func = node.func
        if node.keywords:
            # only trivial keyword-free calls are evaluated
            raise _Unresolved("call")
        if isinstance(func, ast.Attribute):
            base = _eval(func.value, env)
            args = [_eval(a, env) for a in node.args]
            if isinstance(base, dict) and func.attr in ("items", "keys", "values") and not args:
                return [list(t) if isinstance(t, tuple) else t
                        for t in getattr(base, func.attr)()]
            if isinstance(base, dict) and func.attr == "get" and 1 <= len(args) <= 2:
                return base.get(_hashable(args[0]), args[1] if len(args) == 2 else None)
            if isinstance(base, str) and func.attr in ("format", "replace", "lower", "upper",
                                                       "strip", "join"):
                try:
                    return getattr(base, func.attr)(*args)
                except (TypeError, ValueError, IndexError, KeyError):
                    raise _Unresolved("str method") from None
            raise _Unresolved("method")
        if isinstance(func, ast.Name) and func.id in ("sorted", "list", "tuple", "reversed",
                                                      "str") and len(node.args) == 1:
            if func.id == "str":
                return str(_eval(node.args[0], env))
            items = _iterate(node.args[0], env)
            if func.id == "sorted":
                try:
                    return sorted(items)
                except TypeError:
                    raise _Unresolved("sorted") from None
            return list(reversed(items)) if func.id == "reversed" else items
        raise _Unresolved("call")
    raise _Unresolved(type(node).__name__)


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _iterate(node: ast.AST, env: dict[str, Any]) -> list:
    value = _eval(node, env)
    if isinstance(value, dict):
        return list(value.keys())
    if isinstance(value, (list, tuple, str)):
        items = list(value)
        if len(items) > _MAX_LOOP_ITEMS:
            raise _Unresolved("too many")
        return items
    raise _Unresolved("not iterable")


def _bind(target: ast.AST, value: Any, env: dict[str, Any]) -> None:
    if isinstance(target, ast.Name):
        env[target.id] = value
        return
    if isinstance(target, (ast.Tuple, ast.List)):
        if not isinstance(value, (list, tuple)) or len(value) != len(target.elts):
            raise _Unresolved("unpack")
        for t, v in zip(target.elts, value):
            _bind(t, v, env)
        return
    raise _Unresolved("target")


class _Collector:
    def __init__(self) -> None:
        self.versions: list[str] = []
        self.variants: set[str] = set()
        self.incomplete: set[str] = set()

    def _directive(self, call: ast.Call, env: dict[str, Any]) -> None:
        func = call.func
        name = func.id if isinstance(func, ast.Name) else None
        if name not in ("version", "variant"):
            return
        arg: ast.AST | None = call.args[0] if call.args else None
        if arg is None:
            for kw in call.keywords:
                if kw.arg in ("name", "ver"):
                    arg = kw.value
        field = "versions" if name == "version" else "variants"
        if arg is None:
            self.incomplete.add(field)
            return
        try:
            value = _eval(arg, env)
        except _Unresolved:
            self.incomplete.add(field)
            return
        if isinstance(value, (int, float)) and name == "version":
            value = str(value)
        if not isinstance(value, str) or not value:
            self.incomplete.add(field)
            return
        if name == "version":
            if value not in self.versions:
                self.versions.append(value)
        else:
            self.variants.add(value)

    def _contains_directive(self, stmts: list[ast.stmt]) -> set[str]:
        found = set()
        for stmt in stmts:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                    if node.func.id == "version":
                        found.add("versions")
                    elif node.func.id == "variant":
                        found.add("variants")
        return found

    def body(self, stmts: list[ast.stmt], env: dict[str, Any]) -> None:
        for stmt in stmts:
            self.statement(stmt, env)

    def statement(self, stmt: ast.stmt, env: dict[str, Any]) -> None:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            self._directive(stmt.value, env)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            self.body(stmt.body, env)
        elif isinstance(stmt, ast.If):
            self.body(stmt.body, env)
            self.body(stmt.orelse, env)
        elif isinstance(stmt, ast.Try):
            self.body(stmt.body, env)
            for handler in stmt.handlers:
                self.body(handler.body, env)
            self.body(stmt.orelse, env)
            self.body(stmt.finalbody, env)
        elif isinstance(stmt, ast.For):
            try:
                items = _iterate(stmt.iter, env)
            except _Unresolved:
                self.incomplete |= self._contains_directive(stmt.body)
                return
            for item in items:
                inner = dict(env)
                try:
                    _bind(stmt.target, item, inner)
                except _Unresolved:
                    self.incomplete |= self._contains_directive(stmt.body)
                    return
                self.body(stmt.body, inner)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            _assign(stmt, env)
        # function and class definitions (methods) hold no directives


def _assign(stmt: ast.stmt, env: dict[str, Any]) -> None:
    value_node = stmt.value if isinstance(stmt, (ast.Assign, ast.AnnAssign)) else None
    if value_node is None:
        return
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    try:
        value = _eval(value_node, env)
    except _Unresolved:
        for t in targets:
            for n in ast.walk(t):
                if isinstance(n, ast.Name):
                    env.pop(n.id, None)
        return
    for t in targets:
        try:
            _bind(t, value, env)
        except _Unresolved:
            pass


def _package_class(tree: ast.Module, name: str) -> ast.ClassDef | None:
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    expected = _name_to_class(name)
    for cls in classes:
        if cls.name == expected:
            return cls
    for cls in classes:
        if cls.name.lower().lstrip("_") == expected.lower().lstrip("_"):
            return cls
    with_bases = [c for c in classes if c.bases]
    return with_bases[-1] if with_bases else (classes[-1] if classes else None)


def _base_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _describe(name: str, source: str) -> dict[str, Any]:
    tree = ast.parse(source)
    cls = _package_class(tree, name)
    if cls is None:
        raise ValueError("no package class found")
    module_env: dict[str, Any] = {}
    for stmt in tree.body:
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            _assign(stmt, module_env)
    collector = _Collector()
    collector.body(cls.body, dict(module_env))
    bases = [b for b in (_base_name(n) for n in cls.bases) if b]
    variants = set(collector.variants)
    for base in bases:
        variants.update(INHERITED_VARIANTS.get(base, ()))
    doc = ast.get_docstring(cls) or ""
    entry: dict[str, Any] = {
        "build_systems": bases,
        "description": " ".join(doc.split())[:200],
        "variants": sorted(variants),
        "versions": collector.versions,
    }
    if collector.incomplete:
        entry["incomplete"] = sorted(collector.incomplete)
    return entry


def _git(repo_dir: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(repo_dir), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def build_index(repo_dir: Path | str) -> dict[str, Any]:
    """Build a catalog dict (same shape as the shipped catalog) from a checkout.

    Adds ``skipped``: the package files that could not be parsed. Raises
    :class:`IndexBuildError` if no packages directory is found.
    """
    repo_dir = Path(repo_dir).expanduser()
    packages_dir, new_layout = _find_packages_dir(repo_dir)
    packages: dict[str, Any] = {}
    skipped: list[dict[str, str]] = []
    for pkg_dir in sorted(packages_dir.iterdir()):
        pkg_file = pkg_dir / "package.py"
        if not pkg_dir.is_dir() or not pkg_file.is_file():
            continue
        name = _dir_to_name(pkg_dir.name, new_layout)
        try:
            source = pkg_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            skipped.append({"package": name, "path": str(pkg_file), "reason": f"unreadable: {exc}"})
            continue
        try:
            packages[name] = _describe(name, source)
        except SyntaxError as exc:
            skipped.append(
                {"package": name, "path": str(pkg_file),
                 "reason": f"syntax error at line {exc.lineno}: {exc.msg}"}
            )
        except (ValueError, RecursionError, MemoryError) as exc:
            skipped.append({"package": name, "path": str(pkg_file), "reason": str(exc) or type(exc).__name__})
    release = commit = None
    if (repo_dir / ".git").exists():
        release = _git(repo_dir, "describe", "--tags")
        commit = _git(repo_dir, "rev-parse", "HEAD")
    source = "spack/spack-packages, builtin repository" if new_layout else "spack/spack, builtin repository"
    return {
        "commit": commit or "unknown",
        "release": release or "unknown",
        "source": source,
        "fields": dict(FIELDS),
        "packages": dict(sorted(packages.items())),
        "skipped": skipped,
    }


def write_index(data: dict[str, Any], path: Path | str) -> Path:
    """Write the catalog JSON atomically (temp file in the same directory, then rename)."""
    from pctl.fsio import atomic_write

    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    return atomic_write(Path(path).expanduser(), text)


if __name__ == "__main__":  # pragma: no cover - developer convenience
    import sys

    if len(sys.argv) != 3:
        print("usage: python -m pctl.spack.index_build SPACK_PACKAGES_CHECKOUT OUTPUT.json")
        raise SystemExit(2)
    result = build_index(Path(sys.argv[1]))
    write_index(result, Path(sys.argv[2]))
    print(f"{len(result['packages'])} packages, {len(result['skipped'])} skipped -> {sys.argv[2]}")
