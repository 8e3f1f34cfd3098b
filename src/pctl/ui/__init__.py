"""Console output helpers (plain text by default; Rich only where a command needs it).

:func:`safe_text` is the one filter for text that pctl did not write itself — cluster tags and status
files, AWS failure reasons, template metadata from a registry, captured command output, git and ssh
messages — before it reaches a terminal: a head node or a template author must not be able to move
the cursor, rewrite lines, set the window title, plant hyperlinks (OSC 8) or write to the clipboard
(OSC 52) on the user's terminal.
"""

from __future__ import annotations

import re

# Escape sequences, 7-bit and 8-bit: CSI (cursor, colours, erase), OSC (title, hyperlink, clipboard),
# DCS/SOS/PM/APC strings, and the two- and three-character escapes (ESC 7, ESC c, ESC ( 0 ...).
_SEQUENCES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"            # CSI ... final byte (an unfinished one is dropped whole)
    r"|\x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC ... BEL or ST
    r"|\x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)?"     # DCS / SOS / PM / APC ... ST
    r"|\x1b[ -/]*[0-~]?"                   # other escapes (nF, Fp, Fe, Fs)
    r"|\x9b[0-?]*[ -/]*[@-~]?"             # 8-bit CSI
    r"|\x9d[^\x07\x1b\x9c]*(?:\x07|\x9c)?"  # 8-bit OSC
    r"|[\x90\x98\x9e\x9f][^\x1b\x9c]*\x9c?"  # 8-bit DCS / SOS / PM / APC
)
# What is left of C0 and C1 (newline and tab survive), DEL, and the Unicode bidirectional controls
# that make text display in a different order than it is stored.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile(r"[\n\t\u2028\u2029]+")


def safe_text(text, *, single_line: bool = False) -> str:
    """``text`` without terminal escape sequences and control characters (newline and tab are kept;
    ``\\r\\n`` becomes ``\\n``). ``single_line`` also turns newlines and tabs into one space (table
    cells, one-line messages). Anything that is not a string is converted with ``str`` first."""
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    if text.isprintable():
        return text  # the common case: nothing to do (isprintable is False for \n, \t and every control)
    text = _CONTROLS.sub("", _SEQUENCES.sub("", text.replace("\r\n", "\n")))
    if single_line:
        text = _LINE_BREAKS.sub(" ", text)
    return text


def safe_data(value):
    """A copy of a JSON-like value (dicts, lists, strings) with every string passed through :func:`safe_text`;
    for text output of data that came from a cluster or a remote source."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {safe_text(k) if isinstance(k, str) else k: safe_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [safe_data(v) for v in value]
    if isinstance(value, tuple):
        return tuple(safe_data(v) for v in value)
    return value


_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def json_terminal_safe(text: str) -> str:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) with DEL, the C1 controls and bidi controls
    written as ``\\uXXXX`` escapes. ``json.dumps`` escapes C0 itself; these can only occur inside strings,
    so the data is unchanged for a JSON reader and nothing reaches a terminal raw."""
    if text.isascii() and "\x7f" not in text:
        return text
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
