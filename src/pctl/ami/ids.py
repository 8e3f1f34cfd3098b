"""Build ids: ``b-YYYYmmdd-HHMMSS-<region>-xxxx`` (UTC; string order within a region is launch order).

The region in the id is where the build's record lives (``s3://pctl-<account>-<region>/builds/<id>/``), so
``pctl ami status ID`` and ``pctl ami logs ID`` go straight there from any machine, whatever the shell's default
region. Ids of older pctl versions (``b-YYYYmmdd-HHMMSS-xxxx``, no region) still work: pctl looks for them in
every region that has a pctl bucket.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timezone

from pctl.errors import UsageError

_REGION = r"[a-z]{2}(?:-gov|-iso[a-z]?)?-(?:north|south|east|west|central|northeast|northwest|southeast|southwest)-[1-9]"
BUILD_ID_RE = re.compile(rf"^b-(?P<date>[0-9]{{8}})-(?P<time>[0-9]{{6}})-(?:(?P<region>{_REGION})-)?(?P<rand>[0-9a-f]{{4}})$")


def new_build_id(region: str, now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    if not re.fullmatch(_REGION, region or ""):
        raise UsageError(f"{region!r} is not an AWS region name")
    return f"b-{now:%Y%m%d-%H%M%S}-{region}-{secrets.token_hex(2)}"


def is_build_id(text: str) -> bool:
    return bool(BUILD_ID_RE.match(text or ""))


def region_of(build_id: str) -> str | None:
    """The region a (full) build id names; None for a short id or an id without a region."""
    m = BUILD_ID_RE.match((build_id or "").strip())
    return m.group("region") if m else None


def sort_key(build_id: str) -> tuple[str, str]:
    """Launch order across regions (the time in the id, then the id)."""
    m = BUILD_ID_RE.match(build_id or "")
    return (m.group("date") + m.group("time"), build_id) if m else ("", build_id or "")


def matches(ref: str, ids: list[str]) -> list[str]:
    """The ids a full or short reference names: a unique prefix (``b-20260101``, ``20260101-1200``), the random
    suffix (``3fa9``) or any part of at least 4 characters."""
    ref = (ref or "").strip()
    if ref in ids:
        return [ref]
    bare = ref[2:] if ref.startswith("b-") else ref
    cands = [i for i in ids if i.startswith(ref) or i[2:].startswith(bare)]
    if not cands:
        cands = [i for i in ids if i.endswith(ref)]
    if not cands and len(ref) >= 4:
        cands = [i for i in ids if ref in i]
    return cands


def resolve_build_id(ref: str, ids: list[str], where: str = "") -> str:
    """A full build id from a full or short one (see :func:`matches`)."""
    ref = (ref or "").strip()
    if not ref:
        raise UsageError("give a build id (see 'pctl ami list-builds')")
    cands = matches(ref, ids)
    if not cands:
        raise UsageError(f"no AMI build matches {ref!r}" + (f" in {where}" if where else ""),
                         hint="list builds with 'pctl ami list-builds --all-regions'")
    if len(cands) > 1:
        shown = ", ".join(cands[-8:]) + (" ..." if len(cands) > 8 else "")
        raise UsageError(f"{ref!r} matches {len(cands)} builds: {shown}", hint="give more of the build id")
    return cands[0]
