"""Load a template file with ruamel.yaml, keeping the line/column of every key and value.

The result is plain Python data (dict/list/str/int/float/bool/None) plus a position map, so
later stages can name file:line:column for any field path. Loading is defensive: oversized
files, non-UTF-8 bytes, duplicate keys, custom tags, recursive anchors and alias bombs are
reported as diagnostics, never raised as tracebacks.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path

from pctl.template.diagnostics import Diagnostic, error

MAX_BYTES = 1024 * 1024  # a template is a few KB; 1 MiB is generous
MAX_NODES = 100_000  # after alias expansion; stops "billion laughs"
MAX_DEPTH = 64


class LoadFailed(Exception):
    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


@dataclass
class Positions:
    """(path tuple) -> (line, col), 1-based. Keys and values are kept apart."""

    values: dict = field(default_factory=dict)
    keys: dict = field(default_factory=dict)

    def lookup(self, path: tuple, *, key: bool = False) -> tuple[int | None, int | None]:
        path = tuple(path)
        if key and path in self.keys:
            return self.keys[path]
        while True:
            if path in self.values:
                return self.values[path]
            if path in self.keys:
                return self.keys[path]
            if not path:
                return (None, None)
            path = path[:-1]


@dataclass
class LoadedTemplate:
    data: dict
    positions: Positions
    source: str  # what error messages call the file
    text: str = ""
    path: Path | None = None  # real file, when there is one

    def locate(self, diag: Diagnostic, *, key: bool = False) -> Diagnostic:
        """Fill file/line/column of a diagnostic from its path."""
        from dataclasses import replace

        line, col = diag.line, diag.column
        if line is None:
            line, col = self.positions.lookup(diag.path, key=key or diag.code == "unknown-key")
        return replace(diag, file=diag.file or self.source, line=line, column=col)


def _mark(exc) -> tuple[int | None, int | None]:
    for attr in ("problem_mark", "context_mark"):
        mark = getattr(exc, attr, None)
        if mark is not None and getattr(mark, "line", None) is not None:
            return mark.line + 1, mark.column + 1
    return None, None


def _yaml_error(exc, source: str, text: str = "") -> Diagnostic:
    line, col = _mark(exc)
    problem = getattr(exc, "problem", None) or ""
    context = getattr(exc, "context", None) or ""
    name = type(exc).__name__
    if name == "DuplicateKeyError" or "duplicate key" in f"{problem} {context}".lower():
        text = str(problem or context or "")
        key = ""
        if '"' in text:
            key = text.split('"')[1]
        msg = f"duplicate key {key!r}" if key else "duplicate key"
        return error(msg + " (each key may appear only once in a mapping)", code="duplicate-key", file=source, line=line, column=col)
    if "expected a single document" in f"{problem} {context}":
        return error("the file holds more than one YAML document; a template is one document", code="yaml", file=source, line=line, column=col)
    explained = _explain(exc, text)
    if explained is not None:
        msg, hint, (line, col) = explained
        return error(f"invalid YAML: {msg}", code="yaml", file=source, line=line, column=col, hint=hint)
    msg = " ".join(x for x in (context, problem) if x).strip() or str(exc).splitlines()[0]
    return error(f"invalid YAML: {msg}", code="yaml", file=source, line=line, column=col)


def _at(mark) -> tuple[int | None, int | None]:
    if mark is None or getattr(mark, "line", None) is None:
        return (None, None)
    return mark.line + 1, mark.column + 1


def _explain(exc, text: str) -> tuple[str, str | None, tuple] | None:
    """The parser's complaint in words, at the place to fix: (message, hint, (line, column)); None when the
    error is not one of the common mistakes."""
    problem = str(getattr(exc, "problem", None) or "")
    context = str(getattr(exc, "context", None) or "")
    pmark, cmark = getattr(exc, "problem_mark", None), getattr(exc, "context_mark", None)
    lines = text.splitlines()

    def char_at(mark) -> str:
        line, col = _at(mark)
        if line is None or line > len(lines) or col > len(lines[line - 1]):
            return ""
        return lines[line - 1][col - 1]

    if "'\\t'" in problem or "\t" in problem:
        return ("a tab character; YAML indents with spaces only, never tabs",
                "replace the tab with spaces (two per level is usual); most editors have a 'convert tabs to spaces' "
                "setting", _at(pmark))
    if "quoted scalar" in context and cmark is not None:
        q = char_at(cmark) or "quote"
        where = _at(cmark)
        return (f"the quoted value that starts with {q} at line {where[0]}, column {where[1]} is never closed",
                f"end the value with a matching {q}, or drop the opening {q} (plain values need no quotes)", where)
    for what, opener, closer in (("flow sequence", "[", "]"), ("flow mapping", "{", "}")):
        if what in context and cmark is not None:
            where = _at(cmark)
            return (f"the '{opener}' opened at line {where[0]}, column {where[1]} is never closed",
                    f"close it with '{closer}' on the same line, or write it as indented "
                    + ("'- item' lines" if opener == "[" else "'key: value' lines"), where)
    if "simple key" in context and "could not find expected ':'" in problem and cmark is not None:
        where = _at(cmark)
        return (f"line {where[0]} is neither 'key: value' nor '- item' (no ':' after the key)",
                "add ': ' after the key; if the line continues the value above, indent it further or quote the value",
                where)
    if "mapping values are not allowed here" in problem:
        return ("a ':' where a value was expected: the value contains ': ' or the line is indented deeper than "
                "the keys around it",
                "quote a value that contains ': ' (name: \"a: b\"), or line the key up with its neighbours",
                _at(pmark))
    if "expected <block end>" in problem or "did not find expected" in problem:
        where = _at(pmark)
        return (f"the indentation of line {where[0]} does not match the lines above it",
                "keys of one mapping and items of one list must start in the same column", where)
    if "that cannot start any token" in problem:
        c = char_at(pmark)
        return (f"a value cannot start with {c!r} in YAML", f"quote the value: \"{c}...\"", _at(pmark))
    return None


def decode(raw: bytes, source: str) -> str:
    if len(raw) > MAX_BYTES:
        raise LoadFailed(error(f"file is too large ({len(raw):,} bytes; a template is at most {MAX_BYTES:,} bytes)", code="too-large", file=source))
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise LoadFailed(error("file is not valid UTF-8 text (save it as UTF-8)", code="encoding", file=source, line=line, column=col)) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise LoadFailed(error("file contains a NUL byte; is it a binary file?", code="encoding", file=source, line=line))
    return text


def load_text(text: str, source: str = "<template>", path: Path | None = None) -> LoadedTemplate:
    from ruamel.yaml import YAML

    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        what = "is empty (0 bytes)" if not text else "has no content (only blank lines or comments)"
        name = source if path is not None or source != "<template>" else "the template"
        raise LoadFailed(error(f"{name} {what}: it is not a template", code="empty", file=source, line=1, column=1,
                               hint="start from a library template: pctl registry get starter -o my.yaml "
                                    "(with '> my.yaml' a failed command leaves an empty file)"))
    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. ReusedAnchorWarning: never printed to a user
            doc = yaml.load(text)
    except RecursionError:
        raise LoadFailed(error("YAML is nested too deeply", code="yaml", file=source)) from None
    except Exception as exc:  # ruamel raises many error classes; all become one clear diagnostic
        raise LoadFailed(_yaml_error(exc, source, text)) from None
    if doc is None:
        raise LoadFailed(error(f"{source} has no content: it is not a template", code="empty", file=source, line=1,
                               column=1))
    positions = Positions()
    conv = _Converter(positions, source)
    data = conv.convert(doc, (), 0)
    if conv.diagnostics:
        raise LoadFailed(conv.diagnostics[0])
    if not isinstance(data, dict):
        kind = type(data).__name__
        kind = {"list": "a list", "str": "a string", "int": "a number", "float": "a number", "bool": "a boolean"}.get(kind, kind)
        raise LoadFailed(error(f"a template must be a mapping of sections (cluster:, compute:, ...), not {kind}",
                               code="type", file=source, line=1, column=1))
    return LoadedTemplate(data=data, positions=positions, source=source, text=text, path=path)


#: the path `-t -` resolves to: the template is read from standard input (once per process)
STDIN_PATH = Path("/dev/stdin/<pctl-stdin>")
_stdin_bytes: bytes | None = None


def read_stdin() -> bytes:
    """The template on standard input, read once (several steps of one command load it)."""
    global _stdin_bytes
    if _stdin_bytes is None:
        import sys

        if sys.stdin is None or sys.stdin.isatty():
            raise LoadFailed(error("-t - reads the template from standard input, but stdin is a terminal",
                                   code="io", file="<stdin>",
                                   hint="pipe a template in: cat my.yaml | pctl validate -"))
        data = sys.stdin.buffer.read(MAX_BYTES + 1)
        _stdin_bytes = data
    return _stdin_bytes


def load_file(path: Path, source: str | None = None) -> LoadedTemplate:
    source = source or str(path)
    if path == STDIN_PATH:
        return load_text(decode(read_stdin(), source), source, None)
    try:
        if path.is_dir():
            raise LoadFailed(error("is a directory, not a template file", code="io", file=source))
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise LoadFailed(error(f"file is too large ({size:,} bytes; a template is at most {MAX_BYTES:,} bytes)", code="too-large", file=source))
        raw = path.read_bytes()
    except LoadFailed:
        raise
    except FileNotFoundError:
        raise LoadFailed(error("no such file", code="io", file=source)) from None
    except OSError as exc:
        raise LoadFailed(error(f"cannot read file: {exc.strerror or exc}", code="io", file=source)) from None
    return load_text(decode(raw, source), source, path)


class _Converter:
    def __init__(self, positions: Positions, source: str):
        self.positions = positions
        self.source = source
        self.nodes = 0
        self.diagnostics: list[Diagnostic] = []
        self._stack: set[int] = set()

    def _fail(self, msg: str, line=None, col=None, code="yaml"):
        self.diagnostics.append(error(msg, code=code, file=self.source, line=line, column=col))
        raise _Abort()

    def convert(self, node, path: tuple, depth: int):
        try:
            return self._convert(node, path, depth)
        except _Abort:
            return None

    def _convert(self, node, path, depth):
        from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
        from ruamel.yaml.comments import CommentedSet

        self.nodes += 1
        if self.nodes > MAX_NODES:
            self._fail(f"template expands to more than {MAX_NODES:,} values (YAML aliases that multiply, an 'alias bomb'?)", code="too-large")
        if depth > MAX_DEPTH:
            self._fail(f"template is nested more than {MAX_DEPTH} levels deep", code="too-deep")
        if isinstance(node, TaggedScalar) or (hasattr(node, "tag") and getattr(getattr(node, "tag", None), "value", None)
                                               and not isinstance(node, (CommentedMap, CommentedSeq))):
            tag = getattr(getattr(node, "tag", None), "value", None) or "?"
            line, col = self.positions.lookup(path)
            self._fail(f"YAML tag {tag} is not allowed in a template", line, col, code="yaml-tag")
        if isinstance(node, (CommentedMap, CommentedSeq, CommentedSet)) or isinstance(node, (dict, list, set)):
            if id(node) in self._stack:
                line, col = self.positions.lookup(path)
                self._fail("recursive YAML alias (an anchor that contains itself)", line, col, code="yaml")
            tag = getattr(getattr(node, "tag", None), "value", None)
            if tag and not tag.startswith("tag:yaml.org,2002:"):
                line, col = self.positions.lookup(path)
                self._fail(f"YAML tag {tag} is not allowed in a template", line, col, code="yaml-tag")
            self._stack.add(id(node))
            try:
                if isinstance(node, CommentedSet) or isinstance(node, set):
                    line, col = self.positions.lookup(path)
                    self._fail("YAML sets (!!set) are not allowed in a template", line, col, code="yaml-tag")
                if isinstance(node, dict):
                    return self._map(node, path, depth)
                return self._seq(node, path, depth)
            finally:
                self._stack.discard(id(node))
        if node is None or isinstance(node, bool):
            return node if node is None else bool(node)
        if isinstance(node, str):
            return str(node)
        if isinstance(node, int):
            return int(node)
        if isinstance(node, float):
            return float(node)
        if isinstance(node, (_dt.date, _dt.datetime)):
            return node.isoformat()
        if isinstance(node, bytes):
            line, col = self.positions.lookup(path)
            self._fail("binary YAML values (!!binary) are not allowed in a template", line, col, code="yaml-tag")
        line, col = self.positions.lookup(path)
        self._fail(f"unsupported YAML value of type {type(node).__name__}", line, col, code="yaml")

    def _map(self, node, path, depth):
        out = {}
        lc = getattr(node, "lc", None)
        if lc is not None and lc.line is not None and path not in self.positions.values:
            self.positions.values[path] = (lc.line + 1, lc.col + 1)
        for key in node:
            kpos = vpos = None
            if lc is not None:
                try:
                    kl, kc = lc.key(key)
                    kpos = (kl + 1, kc + 1)
                except Exception:
                    kpos = self.positions.lookup(path)
                try:
                    vl, vc = lc.value(key)
                    vpos = (vl + 1, vc + 1)
                except Exception:
                    vpos = kpos
            if not isinstance(key, str) or isinstance(key, bool):
                line, col = kpos or (None, None)
                self._fail(f"keys must be text, not {key!r}", line, col, code="key-type")
            k = str(key)
            sub = path + (k,)
            if kpos:
                self.positions.keys[sub] = kpos
            if vpos:
                self.positions.values[sub] = vpos
            out[k] = self._convert(node[key], sub, depth + 1)
        return out

    def _seq(self, node, path, depth):
        out = []
        lc = getattr(node, "lc", None)
        if lc is not None and lc.line is not None and path not in self.positions.values:
            self.positions.values[path] = (lc.line + 1, lc.col + 1)
        for i, item in enumerate(node):
            sub = path + (i,)
            if lc is not None:
                try:
                    il, ic = lc.item(i)
                    self.positions.values[sub] = (il + 1, ic + 1)
                except Exception:
                    pass
            out.append(self._convert(item, sub, depth + 1))
        return out


class _Abort(Exception):
    pass
