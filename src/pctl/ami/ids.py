"""Build ids: ``b-YYYYmmdd-HHMMSS-xxxx`` (UTC, sortable: string order is launch order)."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timezone

from pctl.errors import PctlError, UsageError

BUILD_ID_RE = re.compile(r"^b-[0-9]{8}-[0-9]{6}-[0-9a-f]{4}$")


def new_build_id(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return f"b-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def is_build_id(text: str) -> bool:
    return bool(BUILD_ID_RE.match(text or ""))


def resolve_build_id(ref: str, ids: list[str]) -> str:
    """A full build id from a full or short one: a unique prefix (``b-20260101``, ``20260101-1200``),
    the random suffix (``3fa9``) or any unique part of at least 4 characters."""
    ref = (ref or "").strip()
    if not ref:
        raise UsageError("give a build id (see 'pctl ami list-builds')")
    if ref in ids:
        return ref
    bare = ref[2:] if ref.startswith("b-") else ref
    cands = [i for i in ids if i.startswith(ref) or i[2:].startswith(bare)]
    if not cands:
        cands = [i for i in ids if i.endswith(ref)]
    if not cands and len(ref) >= 4:
        cands = [i for i in ids if ref in i]
    if not cands:
        raise PctlError(f"no AMI build matches {ref!r}", hint="list builds with 'pctl ami list-builds'")
    if len(cands) > 1:
        shown = ", ".join(cands[-8:]) + (" ..." if len(cands) > 8 else "")
        raise UsageError(f"{ref!r} matches {len(cands)} builds: {shown}", hint="give more of the build id")
    return cands[0]
