"""The capture file: metadata, the parsed view and the raw outputs, as YAML.

Layout (``pctl_capture: 1``)::

    pctl_capture: 1
    meta:      host, user, method, captured_at, pctl_version, duration_s, complete, error
    parsed:    the view (see :mod:`pctl.capture.view`): os, hardware, scheduler, modules, users, ...
    sections:  name -> {command, rc, duration_s, timed_out, truncated, incomplete, output: | raw text}

Raw outputs are literal block scalars, so the file reads like a terminal log; outputs YAML cannot hold
as a block (control characters, carriage returns) are written as quoted strings, losslessly (see
:mod:`.yamlio`: written by a small emitter, read by ruamel.yaml). The raw ``sections`` are the source of
truth: loading rebuilds ``parsed`` from them when present, so a capture made by an older pctl benefits
from newer parsers (``pctl capture reparse`` writes the rebuilt view back).
"""

from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path
from typing import Any, Mapping

from pctl.errors import PctlError

FORMAT_VERSION = 1
MAX_FILE_BYTES = 512 * 1024 * 1024


def build_document(run, view: Mapping[str, Any], *, pctl_version: str | None = None) -> dict[str, Any]:
    """The capture document (plain dict) from a collect.RunResult and its parsed view."""
    from pctl import __version__

    host = (view.get("host") or {}) if isinstance(view, Mapping) else {}
    meta = {
        "target": run.target,
        "hostname": host.get("hostname"),
        "user": host.get("user"),
        "method": run.method,
        "captured_at": host.get("date") or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "pctl_version": pctl_version or __version__,
        "duration_s": run.duration_s,
        "complete": bool(run.done and not run.error),
        "error": run.error,
        "transport_returncode": run.returncode,
    }
    if getattr(run, "truncated", False):
        meta["truncated"] = True  # the output reached pctl's read limit (collect.DEFAULT_MAX_TOTAL)
    stderr_tail = "\n".join(ln for ln in run.stderr.splitlines() if ln.strip())[-2000:]
    if stderr_tail:
        meta["transport_stderr"] = stderr_tail
    return {
        "pctl_capture": FORMAT_VERSION,
        "meta": meta,
        "parsed": dict(view),
        "sections": {s.name: _section_dict(s) for s in run.sections},
    }


def _section_dict(s) -> dict[str, Any]:
    return {
        "command": s.command,
        "rc": s.rc,
        "duration_s": s.duration_s,
        "timed_out": s.timed_out,
        "truncated": s.truncated,
        "incomplete": s.incomplete,
        "output": s.output,
    }


def dump_yaml(doc: Mapping[str, Any], header: str | None = None) -> str:
    """YAML text of a capture document (or any mapping); ``header`` replaces the capture comment."""
    from pctl.capture import yamlio

    meta = doc.get("meta") or {}
    if header is None:
        header = (f"# pctl capture of {_one_line(meta.get('target') or meta.get('hostname') or 'a cluster')}"
                  f" ({_one_line(meta.get('method', '?'))}, {_one_line(meta.get('captured_at', '?'))}).\n"
                  "# 'parsed' is pctl's reading of the raw outputs under 'sections'; re-read them with\n"
                  "# `pctl capture reparse FILE`. Next step: `pctl capture analyze FILE > template.yaml`.\n")
    order = [k for k in ("pctl_capture", "meta", "parsed") if k in doc]
    order += [k for k in doc if k not in order and k != "sections"] + (["sections"] if "sections" in doc else [])
    return header + yamlio.dump({k: doc[k] for k in order})


def _one_line(v: Any) -> str:
    return re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+", " ", str(v))[:200]


def load_document(path: str | Path) -> dict[str, Any]:
    """Load a capture file; raises PctlError with a readable message."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise PctlError(f"{p} is {size // (1024 * 1024)} MiB; capture files above "
                            f"{MAX_FILE_BYTES // (1024 * 1024)} MiB are refused")
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PctlError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise PctlError(f"{p} is a directory, not a capture file") from None
    except UnicodeDecodeError:
        raise PctlError(f"{p} is not UTF-8 text (is it a capture file?)") from None
    except OSError as exc:
        raise PctlError(f"cannot read {p}: {exc.strerror or exc}") from None
    return parse_document(text, str(p))


def parse_document(text: str, source: str = "<capture>") -> dict[str, Any]:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    y = YAML(typ="safe")
    try:
        data = _fast_load(y, text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise PctlError(f"{source}{where}: not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    except Exception as exc:  # recursion, huge numbers ...
        raise PctlError(f"{source}: cannot read YAML ({type(exc).__name__})") from None
    if not isinstance(data, dict) or not ("pctl_capture" in data or "parsed" in data or "sections" in data):
        raise PctlError(f"{source} is not a pctl capture file (no 'pctl_capture', 'parsed' or 'sections' key)",
                        hint="make one with `pctl capture ssh HOST -o capture.yaml` or `pctl capture local`")
    ver = data.get("pctl_capture")
    if isinstance(ver, int) and ver > FORMAT_VERSION:
        raise PctlError(f"{source} is capture format {ver}; this pctl reads format {FORMAT_VERSION}",
                        hint="upgrade pctl")
    secs = data.get("sections")
    if secs is not None and not isinstance(secs, dict):
        raise PctlError(f"{source}: 'sections' must be a mapping of section name to output")
    if isinstance(secs, dict):
        clean = {}
        for name, s in secs.items():
            if isinstance(s, str):  # hand-made capture: name: raw text
                s = {"output": s, "rc": 0}
            if isinstance(s, dict):
                out = s.get("output")
                s = dict(s)
                s["output"] = out if isinstance(out, str) else ("" if out is None else str(out))
                clean[str(name)] = s
        data["sections"] = clean
    if data.get("parsed") is not None and not isinstance(data.get("parsed"), dict):
        raise PctlError(f"{source}: 'parsed' must be a mapping")
    if data.get("parsed") is None and data.get("sections"):
        reparse(data)  # the raw outputs are the source of truth; 'parsed' is derived from them
    return data


def _fast_load(y, text: str):
    """Load a capture; when it has raw ``sections``, the ``parsed`` block (rebuilt from them by every
    reader anyway, and the slowest part to parse) is cut out first. Falls back to a full load."""
    m_p = re.search(r"^parsed:[ \t]*$", text, re.M)
    m_s = re.search(r"^sections:[ \t]*$", text, re.M)
    if m_p and m_s and m_p.start() < m_s.start():
        nxt = re.search(r"^[^\s#]", text[m_p.end():], re.M)
        if nxt is not None:
            cut = text[:m_p.start()] + text[m_p.end() + nxt.start():]
            try:
                data = y.load(cut)
            except Exception:
                data = None
            if isinstance(data, dict) and isinstance(data.get("sections"), dict) and data["sections"]:
                data["parsed"] = None  # rebuilt by reparse()
                return data
    return y.load(text)


def reparse(doc: dict[str, Any]) -> dict[str, Any]:
    """Rebuild the parsed view from the raw sections (when present). Returns the document."""
    from pctl.capture.view import build_view

    secs = doc.get("sections")
    if isinstance(secs, dict) and secs:
        doc["parsed"] = build_view(secs)
    elif not isinstance(doc.get("parsed"), dict):
        doc["parsed"] = {}
    return doc
