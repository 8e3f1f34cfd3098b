"""A stable fingerprint of everything that decides a template's software image.

Two templates with the same OS, CPU architecture and CPU target (see targets.py: computed from every
instance type, so moving a queue from c6i to hpc6a changes it), Spack specs (normalised, sorted),
Spack and spack-packages releases, extra mirrors and module layout get the same fingerprint, whatever
their cluster name, queue names and sizes, users or comments. AMIs are tagged with it, so identical software is never
built twice.
"""

from __future__ import annotations

import hashlib
import json

FINGERPRINT_FORMAT = 2  # 2: the CPU target


def software_identity(template) -> dict:
    from pctl.spack import PINNED_PACKAGES_RELEASE, PINNED_SPACK_RELEASE
    from pctl.spack.spec import parse_spec

    from pctl.template.targets import template_target

    specs = sorted({str(parse_spec(s)) for s in template.software.spack_packages})
    return {
        "format": FINGERPRINT_FORMAT,
        "os": template.cluster.os,
        "arch": template.arch,
        "target": template_target(template).target,
        "spack": PINNED_SPACK_RELEASE,
        "spack_packages": PINNED_PACKAGES_RELEASE,
        "specs": specs,
        "mirrors": sorted({_mirror_identity(m) for m in template.software.mirrors}),
        "modules": template.software.modules,
    }


def _mirror_identity(entry) -> str:
    """An unsigned mirror is its URL (what every mirror meant before signatures were required); a signed
    one is marked, so the same cache signed and unsigned never share an image."""
    from pctl.spack.mirrors import entry_fields

    url, unsigned = entry_fields(entry)
    return url if unsigned else f"{url} (signed)"


def fingerprint(template) -> str:
    """64 hex characters (sha256 of the canonical software identity)."""
    blob = json.dumps(software_identity(template), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def packages_digest(template) -> str:
    from pctl.spack.spec import parse_spec

    specs = sorted({str(parse_spec(s)) for s in template.software.spack_packages})
    return hashlib.sha256("\n".join(specs).encode()).hexdigest()[:16]
