"""Durations written the way people say them: 2h, 90m, 1h30m, 3d, 45 min."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+)\s*(d|h|m|s)")
_WHOLE = re.compile(r"^\s*(?:\d+\s*(?:d|h|m|s)\s*)+$")
_WORDS = {"days": "d", "day": "d", "hours": "h", "hour": "h", "hrs": "h", "hr": "h", "minutes": "m", "minute": "m",
          "mins": "m", "min": "m", "seconds": "s", "second": "s", "secs": "s", "sec": "s"}
_UNIT = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> int | None:
    """Seconds, or None when the text is not a duration (2h, 90m, 1h30m, 3d, '45 min')."""
    if not isinstance(text, str):
        return None
    t = text.strip().lower()
    for word, unit in sorted(_WORDS.items(), key=lambda kv: -len(kv[0])):
        t = re.sub(rf"(\d)\s*{word}\b", rf"\g<1>{unit}", t)
    if not t or not _WHOLE.fullmatch(t):
        return None
    return sum(int(n) * _UNIT[u] for n, u in _PART.findall(t))


def duration_problem(text: str, *, minimum: int = 0, maximum: int | None = None, what: str = "duration") -> str | None:
    secs = parse_duration(text)
    if secs is None:
        return f"{what} {text!r} is not a duration (for example 2h, 90m, 1h30m, 3d)"
    if secs < minimum:
        return f"{what} {text!r} is shorter than {format_duration(minimum)}"
    if maximum is not None and secs > maximum:
        return f"{what} {text!r} is longer than {format_duration(maximum)}"
    return None


def format_duration(seconds: float) -> str:
    """3900 -> '1h05m', 86400 -> '1d', 45 -> '45s'."""
    s = int(max(0, round(seconds)))
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    if d:
        return f"{d}d{h:02d}h" if h else f"{d}d"
    if h:
        return f"{h}h{m:02d}m" if m else f"{h}h"
    if m:
        return f"{m}m"
    return f"{s}s"
