"""Unit helpers shared by the scheduler and batch-script parsers."""

from __future__ import annotations

import math
import re
from typing import Any, Iterable

__all__ = [
    "ParsedList",
    "to_int",
    "parse_slurm_time",
    "parse_hms_time",
    "parse_mem_mb",
    "median",
    "expand_hostlist",
    "hostlist_count",
    "split_top_level",
]


class ParsedList(list):
    """A ``list`` of parse results that also carries ``warnings`` (list of str)."""

    def __init__(self, items: Iterable[Any] = (), warnings: Iterable[str] | None = None) -> None:
        super().__init__(items)
        self.warnings: list[str] = list(warnings or [])


_INT_RE = re.compile(r"^\s*([+-]?\d+)")


def to_int(value: Any, default: int | None = None) -> int | None:
    """Leading integer of a value (``"40+"`` -> 40, ``"UNLIMITED"`` -> default)."""
    if value is None:
        return default
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return default
        return int(value)
    m = _INT_RE.match(str(value))
    if not m:
        return default
    try:
        return int(m.group(1))
    except ValueError:  # pragma: no cover
        return default


_UNLIMITED = {"unlimited", "infinite", "infinity", "none", "n/a", "na", "-", "", "invalid", "(null)", "null"}


def _ceil_minutes(seconds: float) -> int:
    return int(math.ceil(seconds / 60.0 - 1e-9))


def parse_slurm_time(text: Any) -> int | None:
    """Slurm time string -> whole minutes (rounded up), ``None`` for unlimited/invalid.

    Accepts ``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM``, ``D-HH:MM:SS``,
    ``UNLIMITED``/``infinite``/``NONE``.
    """
    if text is None:
        return None
    if isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        return None if text < 0 else int(math.ceil(text))
    s = str(text).strip()
    if s.lower() in _UNLIMITED:
        return None
    days = 0
    if "-" in s:
        d, _, rest = s.partition("-")
        if not d.isdigit() or not rest:
            return None
        days = int(d)
        parts = rest.split(":")
        if not all(p.isdigit() for p in parts) or len(parts) > 3:
            return None
        nums = [int(p) for p in parts] + [0] * (3 - len(parts))
        h, m, sec = nums
    else:
        parts = s.split(":")
        if not all(p.isdigit() for p in parts) or len(parts) > 3:
            return None
        nums = [int(p) for p in parts]
        if len(nums) == 1:
            h, m, sec = 0, nums[0], 0
        elif len(nums) == 2:
            h, m, sec = 0, nums[0], nums[1]
        else:
            h, m, sec = nums
    return _ceil_minutes(((days * 24 + h) * 60 + m) * 60 + sec)


def parse_hms_time(text: Any, bare_unit: str = "s") -> int | None:
    """``[[D:]HH:]MM:SS`` style walltimes (PBS, SGE) -> minutes (rounded up).

    A bare number is read in ``bare_unit`` (``"s"`` for PBS/SGE, ``"m"`` for LSF).
    """
    if text is None or isinstance(text, bool):
        return None
    s = str(text).strip().lower()
    if s in _UNLIMITED or s in ("infinity", "inf"):
        return None
    if s.endswith("s") and s[:-1].replace(".", "", 1).isdigit():
        s, bare_unit = s[:-1], "s"
    elif s.endswith(("m", "min")) and s.rstrip("min").replace(".", "", 1).isdigit():
        s, bare_unit = s.rstrip("min"), "m"
    elif s.endswith("h") and s[:-1].replace(".", "", 1).isdigit():
        return _ceil_minutes(float(s[:-1]) * 3600)
    parts = s.split(":")
    try:
        nums = [float(p) if p else 0.0 for p in parts]
    except ValueError:
        return None
    if any(n < 0 or math.isnan(n) or math.isinf(n) for n in nums) or len(nums) > 4:
        return None
    if len(nums) == 1:
        secs = nums[0] * (60 if bare_unit == "m" else 1)
    elif bare_unit == "m" and len(nums) == 2:  # LSF [hour:]minute
        secs = (nums[0] * 60 + nums[1]) * 60
    else:
        secs = 0.0
        for n in nums:
            secs = secs * 60 + n
        if len(nums) == 4:  # D:HH:MM:SS
            secs = ((nums[0] * 24 + nums[1]) * 60 + nums[2]) * 60 + nums[3]
    if secs > 1e12:
        return None
    return _ceil_minutes(secs)


_MEM_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
_MEM_FACTORS_MB = {
    "": None,
    "b": 1 / (1024 * 1024),
    "k": 1 / 1024,
    "kb": 1 / 1024,
    "kib": 1 / 1024,
    "m": 1,
    "mb": 1,
    "mib": 1,
    "g": 1024,
    "gb": 1024,
    "gib": 1024,
    "t": 1024 * 1024,
    "tb": 1024 * 1024,
    "tib": 1024 * 1024,
    "p": 1024**3,
    "pb": 1024**3,
    "w": 8 / (1024 * 1024),  # PBS words (8 bytes)
    "kw": 8 / 1024,
    "mw": 8,
    "gw": 8 * 1024,
}


def parse_mem_mb(text: Any, default_unit: str = "m") -> int | None:
    """Memory string -> MiB (rounded up). ``default_unit`` applies to bare numbers.

    ``16G`` -> 16384, ``2000`` -> 2000 (default MB), ``64gb`` -> 65536, ``1157977M`` -> 1157977,
    ``UNLIMITED`` -> None.
    """
    if text is None or isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        if text < 0:
            return None
        text = str(text)
    s = str(text).strip()
    if s.lower() in _UNLIMITED or s.lower() in ("infinity", "inf"):
        return None
    m = _MEM_RE.match(s)
    if not m:
        return None
    num = float(m.group(1))
    unit = m.group(2).lower() or default_unit.lower()
    factor = _MEM_FACTORS_MB.get(unit)
    if factor is None:
        return None
    val = num * factor
    if val > 1e15:
        return None
    return int(math.ceil(val - 1e-9))


def median(values: Iterable[float | int]) -> float | int | None:
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return None
    n = len(vals)
    mid = n // 2
    if n % 2:
        return vals[mid]
    m = (vals[mid - 1] + vals[mid]) / 2
    return int(m) if float(m).is_integer() else m


def split_top_level(text: str, sep: str = ",", open_ch: str = "[", close_ch: str = "]") -> list[str]:
    """Split on ``sep`` outside brackets: ``a[1-2,4],b`` -> [``a[1-2,4]``, ``b``]."""
    out: list[str] = []
    depth = 0
    cur: list[str] = []
    for ch in text:
        if ch == open_ch:
            depth += 1
        elif ch == close_ch and depth:
            depth -= 1
        if ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return [x for x in (p.strip() for p in out) if x]


_BRACKET_RE = re.compile(r"\[([^\[\]]*)\]")


def _range_items(spec: str) -> list[tuple[int, int, int]] | None:
    """``01-04,07`` -> [(1, 4, width 2), (7, 7, width 2)]; None when malformed."""
    items: list[tuple[int, int, int]] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            a, _, b = part.partition("-")
            if not (a.isdigit() and b.isdigit()):
                return None
            lo, hi = int(a), int(b)
            if hi < lo:
                return None
            items.append((lo, hi, len(a) if a.startswith("0") and len(a) > 1 else 0))
        else:
            if not part.isdigit():
                return None
            items.append((int(part), int(part), len(part) if part.startswith("0") and len(part) > 1 else 0))
    return items or None


def hostlist_count(text: Any) -> int:
    """Number of hosts in a Slurm hostlist expression without expanding it."""
    if not text:
        return 0
    s = str(text).strip()
    if s.lower() in _UNLIMITED:
        return 0
    total = 0
    for item in split_top_level(s):
        n = 1
        ok = True
        for m in _BRACKET_RE.finditer(item):
            rng = _range_items(m.group(1))
            if rng is None:
                ok = False
                break
            n *= sum(hi - lo + 1 for lo, hi, _w in rng)
        total += n if ok else 1
    return total


def expand_hostlist(text: Any, limit: int = 100_000) -> list[str]:
    """Expand ``node[01-04,07],gpu01`` -> [node01..node04, node07, gpu01].

    Several bracket groups multiply (``r[1-2]n[1-2]`` -> 4 hosts). Malformed items are
    returned literally. At most ``limit`` names are produced (use :func:`hostlist_count`
    for the exact size of huge lists).
    """
    if not text:
        return []
    s = str(text).strip()
    if s.lower() in _UNLIMITED:
        return []
    out: list[str] = []
    for item in split_top_level(s):
        names = [""]
        pos = 0
        ok = True
        for m in _BRACKET_RE.finditer(item):
            rng = _range_items(m.group(1))
            if rng is None:
                ok = False
                break
            prefix = item[pos : m.start()]
            new: list[str] = []
            for base in names:
                for lo, hi, width in rng:
                    for i in range(lo, hi + 1):
                        new.append(f"{base}{prefix}{str(i).zfill(width)}")
                        if len(out) + len(new) >= limit:
                            break
                    if len(out) + len(new) >= limit:
                        break
                if len(out) + len(new) >= limit:
                    break
            names = new
            pos = m.end()
        if not ok:
            out.append(item)
        else:
            suffix = item[pos:]
            out.extend(n + suffix for n in names)
        if len(out) >= limit:
            return out[:limit]
    return out
