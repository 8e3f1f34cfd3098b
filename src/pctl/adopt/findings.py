"""One line of an import or upgrade report."""

from __future__ import annotations

from dataclasses import asdict, dataclass

# import: what maps, what becomes a pctl feature, what cannot map
MAPPED = "mapped"  # kept as is
APPROXIMATED = "approximated"  # kept, with a change the report explains
PCTL = "pctl"  # pctl does this itself (networking, IMDSv2, encryption, bootstrap timeout ...)
NOT_MAPPED = "not_mapped"  # no pctl equivalent: dropped, named here
# upgrade: every change, and whether a person must look at it
CHANGED = "changed"  # a rule did it (version in the same series, known rename, field rename)
NOTE = "note"  # a rule did it, and the result differs in a way worth reading (new release series, variant gone)
REVIEW = "review"  # a person must decide (unknown package commented out, head node raised, unknown key)

TITLES = {
    MAPPED: "Mapped",
    APPROXIMATED: "Mapped with a change",
    PCTL: "Done by pctl itself",
    NOT_MAPPED: "Cannot be mapped (left out)",
    CHANGED: "Changed",
    NOTE: "Changed (worth reading)",
    REVIEW: "Needs a person",
}


@dataclass
class Finding:
    status: str
    path: str  # where in the source: HeadNode.Ssh.KeyName, compute.queues[0].capacity_type, software.spack_packages[3]
    message: str  # what happened and why
    before: str | None = None
    after: str | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def line(self) -> str:
        change = ""
        if self.before is not None and self.after is not None:
            change = f"{self.before} -> {self.after}: "
        elif self.before is not None:
            change = f"{self.before}: "
        return f"{self.path}: {change}{self.message}" if self.path else f"{change}{self.message}"


def by_status(findings: list[Finding], order: tuple[str, ...]) -> list[tuple[str, list[Finding]]]:
    return [(s, [f for f in findings if f.status == s]) for s in order if any(f.status == s for f in findings)]
