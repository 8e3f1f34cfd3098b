"""One answer to "what does installing this software take, which packages build from source, and will it
finish in time?" — the same for `pctl validate`, the create plan (`create --dry-run`) and `pctl ami build`.

The estimate itself is :func:`pctl.spack.estimate.estimate` (build caches, from-source minutes); this module
fixes its inputs (every root, ``^dependency`` and ``%compiler`` of the template, the template's OS and CPU
architecture, the catalog in use) and the limits it is judged against:

* **at boot** (no custom AMI): the head node installs the software while ParallelCluster waits, at most
  :data:`pctl.render.pcluster.MAX_HEAD_BOOTSTRAP_TIMEOUT` (4 h) including about 15 minutes of node setup.
  An install that cannot finish inside that is an error; one that fits only without pctl's 50% margin is a
  warning.
* **for an AMI** (``pctl ami build``, ``cluster.custom_ami`` or ``software.install: ami``): the builder's
  lifetime (``--max-hours``, 8 h by default) must hold the install plus launching, cleaning and imaging.
"""

from __future__ import annotations

from dataclasses import dataclass

BOOT_SETUP_MINUTES = 15.0  # node setup around the software install (users, mounts, Lmod, ParallelCluster)
BOOT_MARGIN = 1.5  # pctl sizes the bootstrap timeout at install x 1.5 + setup


def _fmt(minutes: float) -> str:
    hours, mins = divmod(int(round(minutes)), 60)
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


@dataclass
class SoftwareVerdict:
    estimate: object | None  # pctl.spack.estimate.Estimate
    purpose: str  # "boot" | "ami" | "none"
    limit_minutes: float | None
    ami_max_hours: float | None = None

    @property
    def from_source(self) -> list:
        return [p for p in (getattr(self.estimate, "packages", None) or []) if p.how == "source"]

    @property
    def install_minutes(self) -> float:
        return float(getattr(self.estimate, "total_minutes", 0.0) or 0.0)

    @property
    def needed_minutes(self) -> float:
        """What the limit must hold: the install plus the fixed steps around it."""
        if self.purpose == "boot":
            return self.install_minutes + BOOT_SETUP_MINUTES
        if self.purpose == "ami":
            from pctl.ami.estimates import FIXED_MINUTES

            return self.install_minutes + sum(FIXED_MINUTES.values())
        return 0.0

    @property
    def fits(self) -> bool:
        return self.limit_minutes is None or self.needed_minutes <= self.limit_minutes

    @property
    def tight(self) -> bool:
        """Fits, but not with pctl's margin (the head-node timeout is capped below install x 1.5 + setup)."""
        return (self.purpose == "boot" and self.fits and self.limit_minutes is not None
                and self.install_minutes * BOOT_MARGIN + BOOT_SETUP_MINUTES > self.limit_minutes)

    def source_text(self, limit: int = 8) -> str:
        items = sorted(self.from_source, key=lambda p: -p.minutes)
        text = ", ".join(f"{p.name} (~{_fmt(p.minutes)})" for p in items[:limit])
        return text + (f" and {len(items) - limit} more" if len(items) > limit else "")

    def problem(self) -> str | None:
        """The error message when the install cannot finish within its limit, with the numbers."""
        if self.fits or self.estimate is None:
            return None
        src = (f"; {len(self.from_source)} package(s) build from source: {self.source_text()}"
               if self.from_source else "")
        if self.purpose == "boot":
            return (f"the software install is estimated at {_fmt(self.install_minutes)} (+ ~{_fmt(BOOT_SETUP_MINUTES)} "
                    f"of node setup){src}; at boot it must finish within the head node's bootstrap limit of "
                    f"{_fmt(self.limit_minutes)}")
        return (f"the software install is estimated at {_fmt(self.install_minutes)} (+ launching, cleaning and "
                f"imaging: {_fmt(self.needed_minutes)} in all){src}; the AMI builder stops after "
                f"{_fmt(self.limit_minutes)} (--max-hours {self.ami_max_hours:g})")

    def fix(self, source: str = "FILE") -> str:
        if self.purpose == "boot":
            slow = ", ".join(p.name for p in sorted(self.from_source, key=lambda p: -p.minutes)[:4])
            return (f"bake the software into an AMI once: pctl ami build -t {source}, then set software.install: ami "
                    "(pctl create uses that AMI) or cluster.custom_ami; or list fewer packages"
                    + (f" (the slowest: {slow})" if slow else ""))
        import math

        from pctl.ami.estimates import MAX_HOURS

        need = math.ceil(self.needed_minutes * 2 / 60 * 2) / 2  # twice the estimate, in half hours
        split = "split the software over two templates (extends:) and build two AMIs"
        if need <= MAX_HOURS:
            return f"pass --max-hours {need:g} (twice the estimate), or {split}"
        return f"the estimate exceeds what one build may take ({MAX_HOURS:g} h): {split}"

    def install_text(self) -> str:
        return _fmt(self.install_minutes)

    def to_dict(self) -> dict:
        return {
            "purpose": self.purpose,
            "install_minutes": round(self.install_minutes, 1),
            "limit_minutes": self.limit_minutes,
            "fits": self.fits,
            "tight": self.tight,
            "from_source": [{"name": p.name, "minutes": round(p.minutes, 1), "reason": p.reason}
                            for p in self.from_source],
        }


def purpose_of(template) -> str:
    """How the template's software reaches the nodes: 'none', 'ami' (a custom AMI, or software.install: ami)
    or 'boot' (installed by the head node while the cluster starts)."""
    if not template.software.spack_packages:
        return "none"
    if template.cluster.custom_ami or getattr(template.software, "install", None) == "ami":
        return "ami"
    return "boot"


def assess(template, *, catalog=None, purpose: str | None = None, ami_max_hours: float | None = None) -> SoftwareVerdict:
    """The verdict for a validated Template (pctl.template.model.Template)."""
    from pctl.spack.estimate import estimate
    from pctl.spack.spec import parse_spec

    purpose = purpose or purpose_of(template)
    specs = list(template.software.spack_packages)
    if not specs:
        return SoftwareVerdict(None, "none", None)
    est = estimate([parse_spec(s) for s in specs], template.cluster.os, template.arch, catalog=catalog)
    if purpose == "boot":
        from pctl.render.pcluster import MAX_HEAD_BOOTSTRAP_TIMEOUT

        limit: float | None = MAX_HEAD_BOOTSTRAP_TIMEOUT / 60
    elif purpose == "ami":
        from pctl.ami.estimates import DEFAULT_MAX_HOURS

        ami_max_hours = ami_max_hours or DEFAULT_MAX_HOURS
        limit = ami_max_hours * 60
    else:
        limit = None
    return SoftwareVerdict(est, purpose, limit, ami_max_hours)
