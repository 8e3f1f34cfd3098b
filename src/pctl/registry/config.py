"""Registry sources in pctl's config file (``[registry.sources.NAME]`` tables).

pctl reads the file with :mod:`tomllib`. It writes only the ``registry`` tables: they are cut out
of the text and written again at the end, so every other table (``[spack]`` ...) keeps its text,
comments included. When the file cannot be edited that way (e.g. a top-level dotted
``registry.x = ...`` key), the whole file is rewritten from its data by :func:`dumps` (the data is
kept; comments are not). Every write is checked by parsing the result back before it replaces
the file.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import dataclass
from pathlib import Path

from pctl.errors import PctlError
from pctl.registry.paths import config_path


@dataclass(frozen=True)
class SourceConfig:
    name: str
    location: str
    kind: str  # "git" | "index" | "dir"
    ref: str | None = None

    def to_table(self) -> dict:
        out = {"location": self.location, "kind": self.kind}
        if self.ref:
            out["ref"] = self.ref
        return out


# ---------------------------------------------------------------- reading


def read_config(path: Path | None = None) -> dict:
    import tomllib

    path = path or config_path()
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PctlError(f"pctl config file {path} is not valid TOML: {exc}", hint="fix or delete the file") from None
    except OSError as exc:
        raise PctlError(f"cannot read pctl config file {path}: {exc.strerror or exc}") from None


def load_sources(path: Path | None = None, *, check: bool = True) -> list[SourceConfig]:
    """The configured sources, in the order they were added (malformed entries raise PctlError).

    The file is checked like the command line: a ``ref`` that is not a branch or tag name (e.g.
    ``--upload-pack=...``) or a location ``registry add`` would refuse raises PctlError, so it never
    reaches git or the network. ``check=False`` is for ``registry remove``, which must be able to drop
    such a source."""
    path = path or config_path()
    data = read_config(path)
    reg = data.get("registry", {})
    sources = reg.get("sources", {}) if isinstance(reg, dict) else {}
    if not isinstance(sources, dict):
        raise PctlError(f"[registry.sources] in {path} must be a table of sources")
    out = []
    for name, table in sources.items():
        if not isinstance(table, dict) or not isinstance(table.get("location"), str) or table.get("kind") not in (
                "git", "index", "dir"):
            raise PctlError(f"[registry.sources.{name}] in {path} needs location = \"...\" and kind = git|index|dir",
                            hint=f"remove it with: pctl registry remove {name}")
        ref = table.get("ref")
        if ref is not None and not isinstance(ref, str):
            raise PctlError(f"[registry.sources.{name}] in {path}: ref must be a string (a branch or tag name)",
                            hint=f"fix it, or remove the source with: pctl registry remove {name}")
        if check:
            _check_source(path, name, table["location"], table["kind"], ref or None)
        out.append(SourceConfig(name, table["location"], table["kind"], ref if isinstance(ref, str) and ref else None))
    return out


def _check_source(path: Path, name: str, location: str, kind: str, ref: str | None) -> None:
    from pctl.registry import sources

    hint = f"fix it, or remove the source with: pctl registry remove {name}"
    where = f"[registry.sources.{name}] in {path}"
    if ref is not None:
        problem = sources.ref_problem(ref)
        if problem:
            raise PctlError(f"{where}: invalid git ref {ref!r}: {problem}", hint=hint)
        if kind != "git":
            raise PctlError(f"{where}: ref applies only to git sources", hint=hint)
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in location) or not location.strip():
        raise PctlError(f"{where}: the location is empty or contains control characters", hint=hint)
    try:
        if kind == "git":
            sources.check_git_location(location)
        elif kind == "index":
            sources.check_url(location, what="index URL")
    except PctlError as exc:
        raise PctlError(f"{where}: {exc.message}", hint=hint) from None


# ---------------------------------------------------------------- writing

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_string(value: str) -> str:
    """A TOML basic string with every character that needs it escaped."""
    out = ['"']
    for ch in value:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\u{o:04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else toml_string(key)


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return toml_string(v)
    if isinstance(v, (_dt.datetime, _dt.date, _dt.time)):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _is_table_array(v) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def dumps(data: dict, _prefix: tuple = ()) -> str:
    """Write a dict (as returned by tomllib) as TOML: scalars first, then sub-tables and arrays of tables."""
    lines = []
    for k, v in data.items():
        if not isinstance(v, dict) and not _is_table_array(v):
            lines.append(f"{toml_key(k)} = {_value(v)}")
    body = "\n".join(lines)
    parts = [body] if body else []
    for k, v in data.items():
        path = _prefix + (k,)
        header = ".".join(toml_key(p) for p in path)
        if isinstance(v, dict):
            sub = dumps(v, path)
            has_scalars = any(not isinstance(x, dict) and not _is_table_array(x) for x in v.values())
            if has_scalars or not v:
                parts.append(f"[{header}]\n{sub}".rstrip("\n"))
            elif sub:
                parts.append(sub.rstrip("\n"))
        elif _is_table_array(v):
            for item in v:
                parts.append(f"[[{header}]]\n{dumps(item, path)}".rstrip("\n"))
    text = "\n\n".join(p for p in parts if p)
    return text + "\n" if text and not _prefix else text


def _line_states(text: str) -> list[bool]:
    """For every line: does it start inside a multi-line string?"""
    states = []
    i, n = 0, len(text)
    in_ml: str | None = None
    at_line_start = True
    while i <= n:
        if at_line_start:
            states.append(in_ml is not None)
            at_line_start = False
        if i == n:
            break
        ch = text[i]
        if in_ml is not None:
            if in_ml == '"""' and ch == "\\":
                i += 2
                if i - 1 < n and text[i - 1] == "\n":
                    at_line_start = True
                continue
            if text.startswith(in_ml, i):
                j = i + 3
                while j < n and text[j] == in_ml[0] and j - i < 5:  # up to two quotes may close with the delimiter
                    j += 1
                in_ml = None
                i = j
                continue
            if ch == "\n":
                at_line_start = True
            i += 1
            continue
        if ch == "#":
            nl = text.find("\n", i)
            if nl < 0:
                break
            i = nl
            continue
        if text.startswith('"""', i) or text.startswith("'''", i):
            in_ml = text[i:i + 3]
            i += 3
            continue
        if ch in "\"'":
            q = ch
            j = i + 1
            while j < n and text[j] != q and text[j] != "\n":
                if q == '"' and text[j] == "\\":
                    j += 1
                j += 1
            i = j + 1
            continue
        if ch == "\n":
            at_line_start = True
        i += 1
    return states


_HEADER = re.compile(r"^\s*\[\[?\s*(.+?)\s*\]\]?\s*(#.*)?$")


def _header_first_key(line: str) -> str | None:
    m = _HEADER.match(line)
    if not m:
        return None
    key = m.group(1)
    if key.startswith(('"', "'")):
        q = key[0]
        end = key.find(q, 1)
        return key[1:end] if end > 0 else None
    return key.split(".", 1)[0].strip()


def _without_registry(text: str) -> str | None:
    """The text with every [registry...] table cut out; None when that cannot be done safely."""
    lines = text.splitlines(keepends=True)
    states = _line_states(text)
    out = []
    skipping = False
    seen_header = False
    for i, line in enumerate(lines):
        inside = states[i] if i < len(states) else False
        if not inside and line.lstrip().startswith("["):
            first = _header_first_key(line)
            if first is None:
                return None
            seen_header = True
            skipping = first == "registry"
        elif not inside and not seen_header and re.match(r"^\s*[\"']?registry[\"']?\s*[.=]", line):
            return None  # a top-level dotted key or inline table: rewrite the whole file instead
        if not skipping:
            out.append(line)
    result = "".join(out).rstrip("\n")
    return result + "\n" if result else ""


def _registry_text(sources: list[SourceConfig]) -> str:
    blocks = []
    for s in sources:
        body = "\n".join(f"{k} = {_value(v)}" for k, v in s.to_table().items())
        blocks.append(f"[registry.sources.{toml_key(s.name)}]\n{body}\n")
    return "\n".join(blocks)


def save_sources(sources: list[SourceConfig], path: Path | None = None) -> Path:
    """Write the registry sources, keeping every other table of the config file (under the file's lock, so
    concurrent pctl processes never lose each other's changes)."""
    from pctl.fsio import locked

    path = path or config_path()
    try:
        with locked(path):
            return _save_sources(sources, path)
    except OSError as exc:
        raise PctlError(f"cannot write {path}: {exc.strerror or exc}") from None


def _save_sources(sources: list[SourceConfig], path: Path) -> Path:
    import tomllib

    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise PctlError(f"cannot read pctl config file {path}: {exc}") from None
    data = read_config(path)
    reg = dict(data.get("registry", {})) if isinstance(data.get("registry"), dict) else {}
    reg.pop("sources", None)
    others = {k: v for k, v in data.items() if k != "registry"}
    want_sources = {s.name: s.to_table() for s in sources}
    new_text = None
    stripped = _without_registry(text)
    if stripped is not None and not reg:
        parts = [stripped.rstrip("\n")] if stripped.strip() else []
        if sources:
            parts.append(_registry_text(sources).rstrip("\n"))
        new_text = "\n\n".join(parts) + "\n" if parts else ""
        try:
            back = tomllib.loads(new_text)
        except tomllib.TOMLDecodeError:
            back = None
        if back is None or {k: v for k, v in back.items() if k != "registry"} != others or \
                back.get("registry", {}).get("sources", {}) != want_sources:
            new_text = None
    if new_text is None:  # keep the data, lose the comments
        full = dict(others)
        if reg or sources:
            full["registry"] = dict(reg)
            if sources:
                full["registry"]["sources"] = want_sources
        new_text = dumps(full)
        back = tomllib.loads(new_text)
        if back != full:  # pragma: no cover - a writer bug must never destroy a config
            raise PctlError(f"cannot update {path} safely; edit its [registry.sources] tables by hand")
    try:
        from pctl.fsio import atomic_write

        atomic_write(path, new_text)
    except OSError as exc:
        raise PctlError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path
