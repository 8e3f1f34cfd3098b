"""Which Spack build caches a node uses, in which order, and whose signing keys it trusts.

Spack tries binary mirrors in the order they are configured (the environment's ``mirrors:`` list,
first entry first) and installs the first binary it finds for a package hash. So the official
caches come **first**: a template's mirror adds packages the official caches do not have, it can
never silently replace one they do have. Every mirror is signed unless the template says
``allow_unsigned: true`` for it; the node trusts the signing keys of signed mirrors only
(``spack buildcache keys --install --trust`` runs in an environment that lists nothing else), so
a key served by an unsigned mirror is never trusted for anything.

This list is what the node scripts render (``render/scripts.py``) and what the plan, ``template
show`` and ``registry show`` print (``template/trust.py``): one source, so what is shown is what runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BINARIES = "https://binaries.spack.io"
#: The ParallelCluster stacks of spack-packages (``stacks/aws-pcluster-*``) whose build caches
#: are published under ``binaries.spack.io/releases/<release>/<stack>``.
PCLUSTER_STACKS = {"x86_64": "aws-pcluster-x86_64_v4", "arm64": "aws-pcluster-neoverse_v1"}


@dataclass(frozen=True)
class NodeMirror:
    name: str  # the key in spack.yaml
    url: str
    signed: bool  # Spack verifies signatures of what it installs from here
    official: bool  # one of Spack's own release caches

    @property
    def keys_trusted(self) -> bool:
        """Does the node install and trust the signing keys this mirror serves?"""
        return self.signed

    def to_dict(self) -> dict:
        return {"name": self.name, "url": self.url, "signed": self.signed, "official": self.official,
                "keys_trusted": self.keys_trusted}


def release_cache(packages_release: str) -> str:
    """v2026.06.0 -> https://binaries.spack.io/releases/v2026.06 (the release build caches)."""
    m = re.match(r"^(v[0-9]+\.[0-9]+)", packages_release)
    if m is None:
        raise ValueError(f"not a spack-packages release tag: {packages_release!r}")
    return f"{BINARIES}/releases/{m.group(1)}"


def official_mirrors(arch: str, packages_release: str) -> list[NodeMirror]:
    base = release_cache(packages_release)
    stack = PCLUSTER_STACKS.get(arch, PCLUSTER_STACKS["x86_64"])
    return [NodeMirror(stack, f"{base}/{stack}", True, True),
            NodeMirror("spack-" + base.rsplit("/", 1)[1], base, True, True)]


def entry_fields(entry) -> tuple[str, bool]:
    """(url, allow_unsigned) of a template mirror entry: a model, a dict, or a bare URL string."""
    if isinstance(entry, str):
        return entry, False
    if isinstance(entry, dict):
        return str(entry.get("url", "")), entry.get("allow_unsigned") is True
    return entry.url, bool(entry.allow_unsigned)


def node_mirrors(entries, arch: str, packages_release: str) -> list[NodeMirror]:
    """Every binary mirror of a node, in the order Spack tries them: the official caches, then the
    template's ``software.mirrors`` in their order."""
    out = official_mirrors(arch, packages_release)
    for i, entry in enumerate(entries or [], start=1):
        url, unsigned = entry_fields(entry)
        out.append(NodeMirror(f"pctl-extra-{i}", url, not unsigned, False))
    return out
