"""The builds this machine started: a small local journal (``<pctl cache>/builds-started.json``).

AWS holds every build's record (``s3://pctl-<account>-<region>/builds/<id>/state.json``); the journal only
remembers which build ``pctl ami build`` returned here last, and in which region. `pctl ami list-builds` puts
that build on its last line, so the documented CI snippet ``pctl ami list-builds | tail -1 | awk '{print $1}'``
is the build this job just started (or reused, or joined) even when other jobs start builds at the same time
or the template builds in another region than the shell's default. Entries are written under a lock; the
newest 200 are kept. Losing the file loses nothing but that ordering hint.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

KEEP = 200


def path() -> Path:
    from pctl.paths import cache_dir

    return cache_dir() / "builds-started.json"


def _read(text: str | None) -> list[dict]:
    try:
        data = json.loads(text or "[]")
    except ValueError:
        return []
    return [e for e in data if isinstance(e, dict) and isinstance(e.get("build_id"), str)] if isinstance(data, list) \
        else []


def record(build_id: str, region: str, action: str) -> None:
    """Remember that this machine's `pctl ami build` returned build_id (best effort: never fails a build)."""
    from pctl.fsio import update

    entry = {"build_id": build_id, "region": region, "action": action,
             "at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}

    def change(old: str | None) -> str:
        entries = [e for e in _read(old) if e.get("build_id") != build_id] + [entry]
        return json.dumps(entries[-KEEP:], indent=1) + "\n"

    try:
        update(path(), change)
    except Exception:  # a read-only home must not fail a build that AWS already recorded
        pass


def latest() -> dict | None:
    """The build this machine's `pctl ami build` returned last ({build_id, region, action, at}), or None."""
    try:
        entries = _read(path().read_text(encoding="utf-8"))
    except OSError:
        return None
    return entries[-1] if entries else None
