"""An AMI's software manifest: what pctl baked into an image, in the image's own tags.

Written by ``pctl ami build`` (the agent tags the image and its snapshots at CreateImage) and read
back by ``pctl create`` to decide what still has to be installed at boot (see layers.py).

EC2 allows 50 tags per resource, 256 characters per value. The manifest takes:

* ``pctl:target``       the CPU target every package was built for (x86_64_v3, neoverse_v1, ...)
* ``pctl:spec-count``   how many root specs the image holds
* ``pctl:specs:1`` ...  the normalised root specs, ``;``-separated (no Spack spec contains ``;``),
  split into chunks of at most 256 characters, at most ``MAX_SPEC_TAGS`` chunks. A longer list is
  left out of the tags (``pctl:specs-in`` = ``s3``) and read from the build record in the pctl bucket
  (``builds/<build-id>/state.json``, kept by ``pctl ami cleanup`` while the image exists).
* ``pctl:packages-digest`` (already written) checks that what was read back is complete.

An image that carries none of this (not built by pctl, copied without its tags) is *unreadable*: the
cluster then installs the whole template at boot, with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TAG_LIMIT = 50
VALUE_LIMIT = 256
MAX_SPEC_TAGS = 12
SEP = ";"


def normalised_specs(specs) -> list[str]:
    from pctl.spack.spec import parse_spec

    return sorted({str(parse_spec(s)) for s in specs})


def digest(specs) -> str:
    """The same digest as pctl.template.fingerprint.packages_digest, from a list of specs."""
    import hashlib

    return hashlib.sha256("\n".join(normalised_specs(specs)).encode()).hexdigest()[:16]


def _chunks(specs: list[str]) -> list[str] | None:
    out: list[str] = []
    cur = ""
    for s in specs:
        if len(s) > VALUE_LIMIT:
            return None
        candidate = s if not cur else cur + SEP + s
        if len(candidate) > VALUE_LIMIT:
            out.append(cur)
            cur = s
        else:
            cur = candidate
    if cur:
        out.append(cur)
    return out if len(out) <= MAX_SPEC_TAGS else None


def manifest_tags(specs, target: str) -> dict[str, str]:
    """The manifest tags for an image holding ``specs`` built for ``target``."""
    norm = normalised_specs(specs)
    tags = {"pctl:target": target, "pctl:spec-count": str(len(norm))}
    chunks = _chunks(norm)
    if chunks is None:
        tags["pctl:specs-in"] = "s3"
    else:
        tags["pctl:specs-in"] = "tags"
        for i, chunk in enumerate(chunks, start=1):
            tags[f"pctl:specs:{i}"] = chunk
    return tags


@dataclass(frozen=True)
class AmiSoftware:
    """What an AMI holds, as far as pctl can tell."""

    image_id: str
    name: str = ""
    readable: bool = False
    reason: str = ""  # why it is not readable
    specs: tuple[str, ...] = ()
    target: str | None = None
    os: str | None = None
    arch: str | None = None
    modules: str | None = None
    pcluster_version: str | None = None
    fingerprint: str | None = None
    build_id: str | None = None
    source: str | None = None  # "tags" | "s3"
    notes: tuple[str, ...] = field(default_factory=tuple)
    looked_up: bool = True  # False: not read at all (a dry run without AWS credentials)

    def to_dict(self) -> dict:
        return {"image_id": self.image_id, "name": self.name, "readable": self.readable, "reason": self.reason,
                "specs": list(self.specs), "target": self.target, "os": self.os, "arch": self.arch,
                "modules": self.modules, "pcluster_version": self.pcluster_version, "fingerprint": self.fingerprint,
                "build_id": self.build_id, "source": self.source, "notes": list(self.notes),
                "looked_up": self.looked_up}


def unreadable(image_id: str, reason: str, name: str = "", looked_up: bool = True) -> AmiSoftware:
    return AmiSoftware(image_id=image_id, name=name, readable=False, reason=reason, looked_up=looked_up)


def from_tags(image_id: str, tags: dict[str, str], name: str = "", record: dict | None = None) -> AmiSoftware:
    """Read the manifest back from an image's tags (and its build record when the list did not fit)."""
    if tags.get("pctl:managed") != "true" or not tags.get("pctl:fingerprint"):
        foreign = "ParallelCluster AMI" if any(k.startswith("parallelcluster:") for k in tags) else "AMI"
        return unreadable(image_id, f"it is a {foreign} not built by 'pctl ami build' (no pctl tags): pctl cannot "
                                    "tell which software it holds", name)
    common = dict(image_id=image_id, name=name or tags.get("pctl:name", ""), target=tags.get("pctl:target"),
                  os=tags.get("pctl:os"), arch=tags.get("pctl:arch"), modules=tags.get("pctl:modules"),
                  pcluster_version=tags.get("pctl:pcluster-version"), fingerprint=tags.get("pctl:fingerprint"),
                  build_id=tags.get("pctl:build-id"))
    expected_digest = tags.get("pctl:packages-digest")
    count = tags.get("pctl:spec-count")
    specs: list[str] | None = None
    source = None
    if tags.get("pctl:specs-in") == "tags":
        parts = []
        i = 1
        while f"pctl:specs:{i}" in tags:
            parts.append(tags[f"pctl:specs:{i}"])
            i += 1
        specs = [s for p in parts for s in p.split(SEP) if s]
        source = "tags"
    elif record is not None and isinstance(record.get("packages"), list):
        specs = [s for s in record["packages"] if isinstance(s, str)]
        source = "s3"
    if specs is None:
        why = ("its package list is neither in its tags nor in a build record pctl can read"
               if tags.get("pctl:specs-in") == "s3" else
               "it was built by an older pctl that did not record its package list in the image")
        return AmiSoftware(readable=False, reason=why, **common)
    try:
        norm = normalised_specs(specs)
    except Exception as exc:  # a spec pctl cannot parse: do not guess
        return AmiSoftware(readable=False, reason=f"its package list does not parse ({exc})", **common)
    if expected_digest and digest(norm) != expected_digest:
        return AmiSoftware(readable=False, reason="its package list is incomplete (the digest does not match)",
                           **common)
    if count is not None and count.isdigit() and int(count) != len(norm):
        return AmiSoftware(readable=False, reason=f"its tags say {count} packages but {len(norm)} were read",
                           **common)
    notes = () if common["target"] else ("built without a CPU target (by an older pctl): its binaries are for the "
                                         "builder's CPU",)
    return AmiSoftware(readable=True, specs=tuple(norm), source=source, notes=notes, **common)


def fit_tags(tags: dict[str, str], optional_prefix: str = "parallelcluster:") -> dict[str, str]:
    """Keep within EC2's 50 tags: drop optional (copied) tags first, never the manifest."""
    if len(tags) <= TAG_LIMIT:
        return tags
    keep = dict(tags)
    for k in sorted(tags, reverse=True):
        if len(keep) <= TAG_LIMIT:
            break
        if k.startswith(optional_prefix) and k not in REQUIRED_PCLUSTER_TAGS:
            del keep[k]
    return keep


#: The ParallelCluster tags its validators read (never dropped by fit_tags).
REQUIRED_PCLUSTER_TAGS = ("parallelcluster:version", "parallelcluster:os", "parallelcluster:build_status",
                          "parallelcluster:image_id", "parallelcluster:image_name", "parallelcluster:parent_image")
