"""Build time: an estimate before the build, the time remaining during it.

Before: the software estimate of :func:`pctl.spack.estimate.estimate` (per package: prebuilt,
from source, vendor binary), scaled by what past builds in the account actually took (each build
record keeps its raw estimate and its measured software minutes; the factor is the median of
actual/estimate over past successful builds), plus the fixed steps (launch, prepare, hygiene, image).

During: remaining = estimate - elapsed, step by step. In the software step the observed pace
(packages done so far) takes over from the estimate as more packages finish.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime

#: minutes of the steps that do not depend on the software (ballpark on current EC2)
FIXED_MINUTES = {"launch": 3.0, "prepare": 1.0, "check": 1.0, "hygiene": 1.0, "image": 10.0}
ORDER = ("launch", "prepare", "software", "check", "hygiene", "image")
RATIO_BOUNDS = (0.2, 5.0)
MAX_SAMPLES = 20
DEFAULT_MAX_HOURS = 8.0
MAX_HOURS = 48.0  # the most --max-hours accepts
MIN_LIFETIME = 60


def calibration(records: list[dict]) -> tuple[float | None, int]:
    """(median actual/estimate over the latest successful builds, number of builds used)."""
    ratios = []
    for r in sorted(records, key=lambda r: r.get("build_id", "")):
        est = (r.get("estimate") or {}).get("software_raw_minutes")
        act = r.get("software_minutes")
        if r.get("status") == "available" and isinstance(est, (int, float)) and isinstance(act, (int, float)) \
                and est > 0 and act > 0:
            ratios.append(act / est)
    ratios = ratios[-MAX_SAMPLES:]
    if not ratios:
        return None, 0
    lo, hi = RATIO_BOUNDS
    return min(hi, max(lo, statistics.median(ratios))), len(ratios)


def plan(software_raw_minutes: float, records: list[dict]) -> dict:
    ratio, samples = calibration(records)
    software = software_raw_minutes * (ratio if ratio else 1.0)
    fixed = sum(FIXED_MINUTES.values())
    return {
        "software_raw_minutes": round(software_raw_minutes, 1),
        "ratio": round(ratio, 3) if ratio else None,
        "samples": samples,
        "software_minutes": round(software, 1),
        "fixed_minutes": round(fixed, 1),
        "total_minutes": round(software + fixed, 1),
    }


def describe(est: dict) -> str:
    parts = f"software {fmt_minutes(est['software_raw_minutes'])}"
    if est.get("ratio"):
        parts += (f" x {est['ratio']:.2f} (observed over {est['samples']} past build"
                  f"{'s' if est['samples'] != 1 else ''})")
    return (f"about {fmt_minutes(est['total_minutes'])}: {parts} + {fmt_minutes(est['fixed_minutes'])} "
            "to launch, clean and image")


def lifetime_minutes(total_minutes: float, max_hours: float = DEFAULT_MAX_HOURS) -> int:
    """The builder's hard limit: twice the estimate, at least an hour, at most max_hours."""
    cap = int(max_hours * 60)
    return max(1, min(cap, max(MIN_LIFETIME, math.ceil(total_minutes * 2))))


@dataclass(frozen=True)
class LifetimeProblem:
    level: str  # "error" | "warning"
    message: str
    hint: str


#: Below this multiple of the estimate, the limit is accepted with a warning.
LIFETIME_MARGIN = 1.25


def lifetime_problem(total_minutes: float, lifetime: int, max_hours: float) -> LifetimeProblem | None:
    """A lifetime limit below the estimate would halt the builder before the image is made: refused,
    with the numbers. A limit with little margin over the estimate is a warning."""
    need_hours = math.ceil(total_minutes * 2 / 60 * 2) / 2  # twice the estimate, in half hours
    if lifetime < total_minutes:
        hint = (f"pass --max-hours {need_hours:g} (twice the estimate)" if need_hours <= MAX_HOURS else
                f"the estimate exceeds what one build may take ({MAX_HOURS:g} h): split the software into two "
                "AMIs (a base AMI, then a template that adds to it)")
        return LifetimeProblem("error", (
            f"the build is estimated at {fmt_minutes(total_minutes)}, but its lifetime limit would be "
            f"{fmt_minutes(lifetime)} (--max-hours {max_hours:g}): the builder would halt before the image is made"),
            hint)
    if lifetime < total_minutes * LIFETIME_MARGIN:
        return LifetimeProblem("warning", (
            f"the lifetime limit ({fmt_minutes(lifetime)}, --max-hours {max_hours:g}) leaves little margin over the "
            f"estimate ({fmt_minutes(total_minutes)})"),
            f"--max-hours {min(need_hours, MAX_HOURS):g} gives it twice the estimate")
    return None


def volume_gb(base_root_gb: int, estimate) -> int:
    """Root volume for the builder (and so the AMI): the base image plus room for the software."""
    need = 10.0  # Spack itself, its caches while building, the environment
    for p in getattr(estimate, "packages", []) or []:
        name = p.name
        if name.startswith(("cuda", "nvhpc", "intel-oneapi")) or name in ("anaconda3", "py-torch", "py-tensorflow"):
            need += 12
        elif p.how == "source":
            need += 2
        elif p.how != "external":
            need += 0.5
    return int(min(1024, max(base_root_gb + 20, base_root_gb + math.ceil(need))))


def fmt_minutes(m: float | None) -> str:
    if m is None:
        return "?"
    m = max(0.0, float(m))
    if m < 1:
        return f"{int(round(m * 60))} s"
    h, mins = divmod(int(round(m)), 60)
    return f"{h} h {mins:02d} min" if h else f"{mins} min"


def _minutes_between(a: datetime | None, b: datetime | None) -> float:
    if a is None or b is None:
        return 0.0
    return max(0.0, (b - a).total_seconds() / 60.0)


def remaining_minutes(record: dict, progress: dict | None, now: datetime) -> float | None:
    """Minutes left for a running build; 0 once it has ended; None without an estimate."""
    from pctl.ami.store import TERMINAL, parse_iso

    if record.get("status") in TERMINAL:
        return 0.0
    est = record.get("estimate") or {}
    software = est.get("software_minutes")
    if software is None:
        return None
    progress = progress or {}
    expected = dict(FIXED_MINUTES, software=float(software))
    step = progress.get("step") or record.get("step") or "launch"
    if record.get("status") == "launching" or step not in ORDER:
        step = "launch"
    steps = record.get("steps") or {}
    started = parse_iso((steps.get(step) or {}).get("started_at"))
    if step == "launch":
        started = parse_iso(record.get("launched_at") or record.get("created_at"))
    in_step = _minutes_between(started, now)
    later = sum(expected[s] for s in ORDER[ORDER.index(step) + 1:])
    if step == "software":
        total = int(progress.get("packages_total") or 0)
        done = int(progress.get("packages_done") or 0)
        by_estimate = max(expected["software"] - in_step, 0.0)
        if total > 0 and 0 < done <= total and in_step > 0:
            f = done / total
            by_pace = in_step * (1 - f) / f
            left = f * by_pace + (1 - f) * by_estimate  # trust the pace more as packages finish
        else:
            left = by_estimate
        left = max(left, 0.5 if done < total or not total else 0.0)
    else:
        left = max(expected[step] - in_step, 0.5)
    return round(left + later, 1)


def percent_done(elapsed: float, remaining: float | None, agent_percent: float | None = None) -> float:
    if remaining is None:
        return float(agent_percent or 0)
    if elapsed + remaining <= 0:
        return 0.0
    return max(0.0, min(100.0, 100.0 * elapsed / (elapsed + remaining)))
