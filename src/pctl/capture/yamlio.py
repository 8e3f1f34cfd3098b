"""YAML for capture files: a small, fast emitter for plain data; ruamel.yaml reads it back.

Capture files hold thousands of scalars (one mapping per module) and outputs of hundreds of KiB.
ruamel.yaml's pure-Python emitter needs over a second for a 2,000-module capture, so plain data
(dicts, lists, str, int, float, bool, None) is written here, in the block style ruamel.yaml uses:

* raw command outputs (keys in ``raw_keys``) are literal block scalars with an explicit indentation
  indicator and chomping (``|2``, ``|2-``, ``|2+``), so they read like a terminal log;
* other strings are plain when they cannot be mistaken for anything else, else double-quoted with
  JSON escapes (valid YAML), as are outputs a block scalar cannot hold (control characters, ``\\r``);
* lists of scalars are written in flow style (``[gcc/11.3.0, openmpi/4.1.4]``).

Reading always goes through ruamel.yaml's safe loader; the round trip (dump -> load == data) is a
property test in tests/unit/test_capture_document.py.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Iterable, Mapping

# characters YAML streams must not contain raw (they are escaped inside double quotes)
UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff\u2028\u2029\ud800-\udfff\ufffe\uffff]")
_ESCAPE_EXTRA = re.compile("[\x7f-\x9f\ufeff\u2028\u2029\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# plain scalars: start with a letter or '/', then a conservative character set; no ': ' or ' #'
_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./@+%~=()-]*(?: [A-Za-z0-9_./@+%~=()-]+)*$")
_PLAIN_FLOW = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./@+%~=-]*$")
_KEYWORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "none", "nan", "inf"}
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def quote(s: str) -> str:
    s = _SURROGATE.sub("\ufffd", s)
    q = json.dumps(s, ensure_ascii=False)
    return _ESCAPE_EXTRA.sub(lambda m: "\\u%04x" % ord(m.group(0)), q)


def scalar(v: Any, flow: bool = False) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return ".nan"
        if math.isinf(v):
            return ".inf" if v > 0 else "-.inf"
        return repr(v)
    s = str(v)
    if (_PLAIN_FLOW if flow else _PLAIN).fullmatch(s) and s.lower() not in _KEYWORDS and not s.endswith(":"):
        return s
    return quote(s)


def _key(k: Any) -> str:
    s = str(k)
    return s if _KEY.fullmatch(s) and s.lower() not in _KEYWORDS else quote(s)


def literal(text: str, indent: int) -> str | None:
    """The block scalar for text (header + lines), or None when text needs the quoted form."""
    if not text or UNPRINTABLE.search(text) or not text.strip():
        return None
    lines = text.split("\n")
    if text.endswith("\n"):
        trailing = len(text) - len(text.rstrip("\n"))
        chomp = "" if trailing == 1 else "+"
        body = lines[:-1]
    else:
        chomp = "-"
        body = lines
    if any(ln and not ln.strip(" \t") for ln in body) or any(ln.endswith((" ", "\t")) for ln in body[-1:]):
        return None  # whitespace-only lines and trailing blanks are kept exactly only in the quoted form
    pad = " " * indent
    out = [f"|2{chomp}"]
    out.extend((pad + ln) if ln else "" for ln in body)
    return "\n".join(out)


def _is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


def _emit(obj: Any, indent: int, out: list[str], raw_keys: frozenset[str]) -> None:
    pad = " " * indent
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            _emit_item(f"{pad}{_key(k)}:", k, v, indent, out, raw_keys)
        return
    raise TypeError("top level must be a mapping")


def _emit_item(head: str, key: Any, v: Any, indent: int, out: list[str], raw_keys: frozenset[str]) -> None:
    if isinstance(v, str) and key in raw_keys:
        lit = literal(v, indent + 2)
        out.append(f"{head} {lit if lit is not None else quote(v)}" if v else f'{head} ""')
    elif _is_scalar(v):
        out.append(f"{head} {scalar(v)}")
    elif isinstance(v, Mapping):
        if not v:
            out.append(f"{head} {{}}")
        else:
            out.append(head)
            _emit(v, indent + 2, out, raw_keys)
    elif isinstance(v, (list, tuple)):
        if not v:
            out.append(f"{head} []")
        elif all(_is_scalar(x) for x in v):
            out.append(f"{head} [{', '.join(scalar(x, flow=True) for x in v)}]")
        else:
            out.append(head)
            _emit_seq(v, indent + 2, out, raw_keys)
    else:
        out.append(f"{head} {scalar(str(v))}")


def _emit_seq(items: Iterable[Any], indent: int, out: list[str], raw_keys: frozenset[str]) -> None:
    pad = " " * indent
    for x in items:
        if _is_scalar(x):
            out.append(f"{pad}- {scalar(x)}")
        elif isinstance(x, Mapping):
            if not x:
                out.append(f"{pad}- {{}}")
                continue
            first = True
            for k, v in x.items():
                head = f"{pad}- {_key(k)}:" if first else f"{pad}  {_key(k)}:"
                _emit_item(head, k, v, indent + 2, out, raw_keys)
                first = False
        elif isinstance(x, (list, tuple)):
            if not x:
                out.append(f"{pad}- []")
            elif all(_is_scalar(y) for y in x):
                out.append(f"{pad}- [{', '.join(scalar(y, flow=True) for y in x)}]")
            else:
                out.append(f"{pad}-")
                _emit_seq(x, indent + 2, out, raw_keys)
        else:
            out.append(f"{pad}- {scalar(str(x))}")


def dump(data: Mapping[str, Any], raw_keys: Iterable[str] = ("output",)) -> str:
    out: list[str] = []
    _emit(data, 0, out, frozenset(raw_keys))
    return "\n".join(out) + "\n"


def load(text: str) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe").load(text)
