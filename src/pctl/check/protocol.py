"""Reading what the probes print, and making cluster text safe to show.

A probe's stdout is untrusted text from the cluster (login banners, module messages, anything a site's
profile prints). Only lines that start with the run's secret marker count::

    MARK R <check-id> <pass|fail|skip> <base64 evidence>
    MARK F <key> <base64 value>
    MARK D

Everything decoded from the cluster goes through :func:`clean` before it is shown: terminal escape
sequences are removed, other control characters replaced, lines and line counts bounded, so no output
can move the cursor, recolour the terminal, forge a table row or flood it.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from pctl.check.plan import STATUSES

MAX_LINE = 16384  # bytes of one protocol line (evidence is at most 4000 bytes before base64)
MAX_STREAM = 32 * 1024 * 1024  # bytes kept of one probe's output
SHOW_LINES = 12
SHOW_WIDTH = 300

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), other two-byte ESC sequences, and C1 CSI (0x9b)
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]|\x9b[0-?]*[ -/]*[@-~]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_ID_RE = re.compile(r"^[A-Za-z0-9:@._/+=-]{1,300}$")
_KEY_RE = re.compile(r"^[A-Za-z0-9:@._/+=-]{1,200}$")


def clean(text: str, *, max_lines: int = SHOW_LINES, width: int = SHOW_WIDTH) -> list[str]:
    """Cluster text -> at most ``max_lines`` printable lines of at most ``width`` characters."""
    text = _ESCAPES.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = text.replace("\t", "    ")
    text = _CONTROL.sub("?", text)
    lines = [ln.rstrip() for ln in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    out = []
    for ln in lines[:max_lines]:
        out.append(ln if len(ln) <= width else ln[: width - 1] + "…")
    if len(lines) > max_lines:
        out.append(f"… ({len(lines) - max_lines} more line(s))")
    return out


def clean_one(text: str, width: int = SHOW_WIDTH) -> str:
    lines = clean(text, max_lines=1, width=width)
    return lines[0] if lines else ""


@dataclass
class Result:
    status: str
    evidence: list[str]


@dataclass
class Stream:
    """What one probe session said: results by check id, facts, whether it reached its end."""

    results: dict[str, Result] = field(default_factory=dict)
    facts: dict[str, str] = field(default_factory=dict)
    done: bool = False
    conflicts: set[str] = field(default_factory=set)
    other: list[str] = field(default_factory=list)  # a bounded tail of the non-protocol lines (diagnosis)

    def feed_line(self, raw: bytes, marker: bytes) -> tuple[str, str] | None:
        """One line of output. Returns ("fact", key) / ("result", id) / ("done", "") when it was ours."""
        line = raw.rstrip(b"\r\n")
        if not line.startswith(marker + b" "):
            if line.strip():
                self.other.append(line[:SHOW_WIDTH].decode("utf-8", "replace"))
                del self.other[:-20]
            return None
        parts = line[len(marker) + 1:].decode("ascii", "replace").split(" ")
        kind = parts[0] if parts else ""
        if kind == "D" and len(parts) == 1:
            self.done = True
            return ("done", "")
        if kind == "F" and len(parts) == 3 and _KEY_RE.match(parts[1]):
            self.facts[parts[1]] = _decode(parts[2])
            return ("fact", parts[1])
        if kind == "R" and len(parts) == 4 and _ID_RE.match(parts[1]) and parts[2] in STATUSES:
            cid, status = parts[1], parts[2]
            res = Result(status, clean(_decode(parts[3])))
            old = self.results.get(cid)
            if old is not None and (old.status, old.evidence) != (res.status, res.evidence):
                self.conflicts.add(cid)  # the same check reported twice, differently: trust neither
            self.results.setdefault(cid, res)
            return ("result", cid)
        return None


def _decode(b64: str) -> str:
    if b64 == "-":
        return ""
    try:
        return base64.b64decode(b64, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return "(undecodable evidence)"


def parse(data: bytes, marker: str) -> Stream:
    """A whole output at once (tests, the AMI builder's copy)."""
    s = Stream()
    m = marker.encode("ascii")
    for raw in data[:MAX_STREAM].split(b"\n"):
        s.feed_line(raw[:MAX_LINE], m)
    return s
