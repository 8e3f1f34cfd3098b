"""What a YAML document is: a pctl template, a ParallelCluster configuration, or an earlier-format
template. Cheap checks on parsed data, used by `pctl validate` to point at the right command."""

from __future__ import annotations

from typing import Any

PCLUSTER_TOP_KEYS = frozenset({
    "Region", "Image", "HeadNode", "Scheduling", "SharedStorage", "Tags", "Iam", "Monitoring", "AdditionalPackages",
    "DirectoryService", "DevSettings", "DeploymentSettings", "LoginNodes", "Imds", "CustomS3Bucket",
    "AdditionalResources",
})

# keys of the earlier pctl format (the Go implementation) that the current format spells differently
LEGACY_QUEUE_KEYS = {"capacity_type": "capacity"}


def looks_like_parallelcluster(data: Any) -> bool:
    """A ParallelCluster 3.x configuration rather than a pctl template."""
    if not isinstance(data, dict) or {"cluster", "compute"} & set(data):
        return False
    keys = set(data)
    return bool({"HeadNode", "Scheduling"} & keys) or (len(keys & PCLUSTER_TOP_KEYS) >= 2 and "Region" in keys)


def legacy_markers(data: Any) -> list[str]:
    """Field names of the earlier pctl format found in a template."""
    found: list[str] = []
    compute = data.get("compute") if isinstance(data, dict) else None
    queues = compute.get("queues") if isinstance(compute, dict) else None
    for q in queues if isinstance(queues, list) else []:
        if isinstance(q, dict):
            for k in LEGACY_QUEUE_KEYS:
                if k in q and k not in found:
                    found.append(k)
    return found
