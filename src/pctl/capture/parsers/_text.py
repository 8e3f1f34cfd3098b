"""Small text helpers shared by the capture parsers (standard library only)."""

from __future__ import annotations

import re

__all__ = ["strip_ansi", "clean_lines", "is_pager_artifact", "MAX_WARNINGS", "Warnings"]

# CSI sequences (colours, erase line), OSC sequences (titles, hyperlinks), two-byte escapes.
_ANSI_RE = re.compile(
    r"\x1b\[[0-9;?<=>]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC ... BEL / ST
    r"|\x1b[()*+][0-9A-Za-z]"  # charset selection
    r"|\x1b[@-Z\\-_=>78]"  # other 2-byte escapes
    r"|\x9b[0-9;?]*[ -/]*[@-~]"  # 8-bit CSI
)
_OVERSTRIKE_RE = re.compile(r".\x08")
_CTRL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

_PAGER_RES = [
    re.compile(r"^:?\s*\.\.\.skipping\.\.\.\s*$"),
    re.compile(r"^:\s*$"),
    re.compile(r"^~\s*$"),
    re.compile(r"^:?\s*\(END\)\s*$"),
    re.compile(r"^\s*-+\s*More\s*-+.*$", re.IGNORECASE),
    re.compile(r"^:?\s*lines\s+\d+-\d+(?:/\d+)?(?:\s+\d+%)?(?:\s*\(END\))?\s*$", re.IGNORECASE),
    re.compile(r"^:?\s*byte\s+\d+(?:/\d+)?(?:\s+\d+%)?(?:\s*\(END\))?\s*$", re.IGNORECASE),
    re.compile(r"^:?\s*\(?(?:standard input|stdin)\)?(?:\s+lines.*)?\s*$", re.IGNORECASE),
    re.compile(r"^:?\s*Pattern not found.*\(press RETURN\)\s*$", re.IGNORECASE),
    re.compile(r"^\s*Press RETURN.*$", re.IGNORECASE),
    re.compile(r"^\s*HELP -- Press RETURN.*$", re.IGNORECASE),
]

MAX_WARNINGS = 200


class Warnings(list):
    """A list of warning strings that stops growing after MAX_WARNINGS entries."""

    def add(self, msg: str) -> None:
        if len(self) < MAX_WARNINGS:
            self.append(msg)
        elif len(self) == MAX_WARNINGS:
            self.append("(further warnings suppressed)")


def strip_ansi(text: str) -> str:
    """Remove terminal escape sequences, backspace over-striking and stray control bytes."""
    if not text:
        return ""
    text = _ANSI_RE.sub("", text)
    if "\x08" in text:
        # "_\bX" and "X\bX" (man-style bold/underline) -> "X"
        prev = None
        while prev != text:
            prev = text
            text = _OVERSTRIKE_RE.sub("", text, count=0)
    return text


def clean_lines(text: str | bytes | None) -> list[str]:
    """Decode, strip escapes, normalise line endings/tabs, right-strip every line."""
    if text is None:
        return []
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    if not isinstance(text, str):
        text = str(text)
    text = strip_ansi(text)
    out: list[str] = []
    for line in text.splitlines():  # also splits on a lone "\r" (pager redraws)
        if "\t" in line:
            line = line.expandtabs(8)
        line = _CTRL_RE.sub("", line)
        out.append(line.rstrip())
    return out


def is_pager_artifact(line: str) -> bool:
    s = line.strip()
    if not s:
        return False
    return any(r.match(s) for r in _PAGER_RES)
