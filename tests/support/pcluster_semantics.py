"""What a ParallelCluster configuration means for the people using the cluster, independent of YAML shape:
queues with their capacity and allocation strategy, compute resources (instance types, counts, EFA,
hyper-threading), placement groups, shared storage and the head node. Used to check that an imported
template renders a configuration that matches the original."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pcluster-configs"


def fixture_names() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.yaml"))


def load(name: str) -> dict:
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load((FIXTURES / f"{name}.yaml").read_text())


def _types(cr: dict) -> tuple[str, ...]:
    if cr.get("Instances"):
        return tuple(sorted(i["InstanceType"] for i in cr["Instances"]))
    return (cr["InstanceType"],)


def _pg(q: dict) -> bool:
    if ((q.get("Networking") or {}).get("PlacementGroup") or {}).get("Enabled"):
        return True
    return any((((c.get("Networking") or {}).get("PlacementGroup") or {}).get("Enabled")) for c in q["ComputeResources"])


def queues(cfg: dict) -> dict:
    out = {}
    for q in cfg["Scheduling"]["SlurmQueues"]:
        cap = q.get("CapacityType", "ONDEMAND")
        crs = sorted((_types(c), int(c.get("MinCount", 0)), int(c.get("MaxCount", 10)),
                      bool((c.get("Efa") or {}).get("Enabled")), bool(c.get("DisableSimultaneousMultithreading")))
                     for c in q["ComputeResources"])
        out[q["Name"]] = {"capacity": cap, "allocation": q.get("AllocationStrategy", "lowest-price"),
                          "compute_resources": crs, "placement_group": _pg(q)}
    return out


def storage(cfg: dict, *, skip_mounts=("/opt/pctl",)) -> list[tuple]:
    out = []
    for s in cfg.get("SharedStorage") or []:
        if s["MountDir"] in skip_mounts:
            continue
        kind = s["StorageType"]
        st = s.get(f"{kind}Settings") or {}
        if kind == "Ebs":
            what = (st.get("VolumeId"),) if st.get("VolumeId") else (int(st.get("Size", 40)), st.get("VolumeType", "gp3"))
        elif kind == "Efs":
            what = (st.get("FileSystemId"),)
        else:
            what = ((st.get("FileSystemId"),) if st.get("FileSystemId") else
                    (int(st.get("StorageCapacity", 1200)), st.get("DeploymentType", "SCRATCH_2")))
        existing = bool(st.get("VolumeId") or st.get("FileSystemId"))
        policy = None if existing else st.get("DeletionPolicy", "Delete")  # existing storage is never deleted
        out.append((s["MountDir"].rstrip("/"), kind, what, policy))
    return sorted(out, key=str)


def summary(cfg: dict) -> dict:
    return {"head_node": cfg["HeadNode"]["InstanceType"], "queues": queues(cfg), "storage": storage(cfg)}
