"""Package layering: pctl.template never imports pctl.registry (the registry describes templates; name
resolution lives in pctl.registry.names and reaches the template package as a Finder argument)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "pctl"


def _modules(package: str) -> list[str]:
    root = SRC / package
    return sorted(f"pctl.{package}." + p.relative_to(root).with_suffix("").as_posix().replace("/", ".")
                  for p in root.rglob("*.py") if p.name != "__init__.py") + [f"pctl.{package}"]


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module an import statement names, lazy (inside functions) ones included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out += [(node.lineno, node.module)] + [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def test_the_template_package_never_imports_the_registry_or_the_cli():
    bad = [f"{p.relative_to(SRC.parent)}:{line}: {mod}" for p in (SRC / "template").rglob("*.py")
           for line, mod in _imports(p) if mod.startswith(("pctl.registry", "pctl.cli"))]
    assert bad == []


def test_the_library_package_imports_neither():
    bad = [mod for p in (SRC / "library").rglob("*.py") for _, mod in _imports(p)
           if mod.startswith(("pctl.registry", "pctl.template", "pctl.cli"))]
    assert bad == []


_PROBE = """
import importlib, json, sys
mod = sys.argv[1]
importlib.import_module(mod)
print(json.dumps(sorted(m for m in sys.modules if m.startswith("pctl."))))
"""


@pytest.mark.parametrize("module", _modules("template") + _modules("registry"))
def test_each_module_imports_alone_in_a_fresh_interpreter(module):
    r = subprocess.run([sys.executable, "-c", _PROBE, module], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    loaded = json.loads(r.stdout)
    if module.startswith("pctl.template"):
        assert not [m for m in loaded if m.startswith("pctl.registry")], loaded


def test_a_merged_registry_template_finds_names_through_the_registry_and_uses_them_in_full(tmp_path):
    """Exercise the whole chain in a fresh interpreter that imports the template package first: a file
    extending a library name resolves with the default finder; only pctl.registry.names adds registry
    names, and importing it pulls in the template package, never the other way round."""
    code = """
import sys
from pctl.template.validate import validate_file
from pathlib import Path
p = Path(sys.argv[1])
r = validate_file(p, use_catalog=False)
assert r.ok, [d.format() for d in r.errors]
assert "pctl.registry" not in sys.modules, "the template package imported the registry"
from pctl.registry.names import FINDER
assert validate_file(p, use_catalog=False, finder=FINDER).ok
print("ok")
"""
    f = tmp_path / "mine.yaml"
    f.write_text("extends: starter\ncluster: {name: mine}\n")
    r = subprocess.run([sys.executable, "-c", code, str(f)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def _calls_without_finder(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in ("resolve_extends", "resolve_file", "validate_file") and \
                    not any(k.arg == "finder" for k in node.keywords):
                out.append(f"{path.relative_to(SRC.parent)}:{node.lineno}: {name}(...) without finder=")
    return out


def test_every_caller_outside_the_template_package_says_which_names_it_knows():
    """Outside pctl.template, merging extends: without the registry's finder would silently lose registry
    names and the confinement of registry templates to their own source."""
    bad = [c for p in SRC.rglob("*.py") if "template" not in p.relative_to(SRC).parts[:1]
           for c in _calls_without_finder(p)]
    assert bad == []
