"""A small, documented table of EC2 instance types and how a partition's nodes map onto them.

Offline on purpose (no pricing API): the table lists current x86_64 families ParallelCluster supports,
with vCPUs, memory (GiB), GPUs and GPU model, from the EC2 instance type pages. Graviton (arm64) types
are never chosen automatically: on-prem software is x86_64 and every node of a cluster runs one image.

Choice for a partition with C CPUs, M GiB and G GPUs per node, N nodes:

* G > 0: the GPU family matching the on-prem GPU model (A100 -> p4d, H100/H200 -> p5, L40S -> g6e,
  L4/T4 -> g6, others -> g5), smallest size with >= G GPUs, >= C vCPUs and >= M GiB (largest if none);
* many-core MPI partitions (C >= 64, N >= 2, at most 8 GiB per core): hpc7a (AMD, 768 GiB, EFA),
  smallest size with >= C cores;
* otherwise the cheapest fit among c7i, m7i, r7i and x2iedn: in each family the smallest size with >= C
  vCPUs and >= M GiB (memory given a 5 % tolerance: on-prem RealMemory excludes the OS share), ranked by
  vCPUs x the family's relative cost per vCPU (:data:`COST_PER_VCPU`, from us-east-1 on-demand list prices,
  used only to rank families, never shown as a price); the AMD sibling (c7a/m7a/r7a) of the same size is
  offered as a second type.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpus: int
    memory_gib: float
    gpus: int = 0
    gpu_model: str | None = None
    efa: bool = False
    note: str = ""


def _sizes(family: str, ratio: float, sizes=(("large", 2), ("xlarge", 4), ("2xlarge", 8), ("4xlarge", 16),
                                              ("8xlarge", 32), ("12xlarge", 48), ("16xlarge", 64),
                                              ("24xlarge", 96), ("48xlarge", 192)), efa_from: int = 192):
    return [InstanceType(f"{family}.{s}", v, v * ratio, efa=v >= efa_from) for s, v in sizes]


_C7A_SIZES = (("large", 2), ("xlarge", 4), ("2xlarge", 8), ("4xlarge", 16), ("8xlarge", 32), ("12xlarge", 48),
              ("16xlarge", 64), ("24xlarge", 96), ("32xlarge", 128), ("48xlarge", 192))

#: family -> sizes, smallest first
TABLE: dict[str, list[InstanceType]] = {
    # compute optimised, 2 GiB per vCPU (c7i: Intel Sapphire Rapids; c7a: AMD Genoa, one thread per core)
    "c7i": _sizes("c7i", 2),
    "c7a": _sizes("c7a", 2, _C7A_SIZES),
    # general purpose, 4 GiB per vCPU
    "m7i": _sizes("m7i", 4),
    "m7a": _sizes("m7a", 4, _C7A_SIZES),
    # memory optimised, 8 GiB per vCPU
    "r7i": _sizes("r7i", 8),
    "r7a": _sizes("r7a", 8, _C7A_SIZES),
    # very large memory, 32 GiB per vCPU
    "x2iedn": [InstanceType(f"x2iedn.{s}", v, v * 32) for s, v in
               (("xlarge", 4), ("2xlarge", 8), ("4xlarge", 16), ("8xlarge", 32), ("16xlarge", 64),
                ("24xlarge", 96), ("32xlarge", 128))],
    # HPC: AMD Genoa, 768 GiB at every size (sizes differ by enabled cores), 300 Gbps EFA
    "hpc7a": [InstanceType(f"hpc7a.{s}", v, 768, efa=True, note="HPC-optimised, limited regions")
              for s, v in (("12xlarge", 24), ("24xlarge", 48), ("48xlarge", 96), ("96xlarge", 192))],
    # GPUs
    "g5": [InstanceType("g5.xlarge", 4, 16, 1, "A10G"), InstanceType("g5.2xlarge", 8, 32, 1, "A10G"),
           InstanceType("g5.4xlarge", 16, 64, 1, "A10G"), InstanceType("g5.8xlarge", 32, 128, 1, "A10G"),
           InstanceType("g5.12xlarge", 48, 192, 4, "A10G"), InstanceType("g5.16xlarge", 64, 256, 1, "A10G"),
           InstanceType("g5.24xlarge", 96, 384, 4, "A10G"), InstanceType("g5.48xlarge", 192, 768, 8, "A10G", True)],
    "g6": [InstanceType("g6.xlarge", 4, 16, 1, "L4"), InstanceType("g6.2xlarge", 8, 32, 1, "L4"),
           InstanceType("g6.4xlarge", 16, 64, 1, "L4"), InstanceType("g6.8xlarge", 32, 128, 1, "L4"),
           InstanceType("g6.12xlarge", 48, 192, 4, "L4"), InstanceType("g6.16xlarge", 64, 256, 1, "L4"),
           InstanceType("g6.24xlarge", 96, 384, 4, "L4"), InstanceType("g6.48xlarge", 192, 768, 8, "L4")],
    "g6e": [InstanceType("g6e.xlarge", 4, 32, 1, "L40S"), InstanceType("g6e.2xlarge", 8, 64, 1, "L40S"),
            InstanceType("g6e.4xlarge", 16, 128, 1, "L40S"), InstanceType("g6e.12xlarge", 48, 384, 4, "L40S"),
            InstanceType("g6e.24xlarge", 96, 768, 4, "L40S"), InstanceType("g6e.48xlarge", 192, 1536, 8, "L40S", True)],
    "p4d": [InstanceType("p4d.24xlarge", 96, 1152, 8, "A100", True)],
    "p5": [InstanceType("p5.48xlarge", 192, 2048, 8, "H100", True)],
}

#: relative on-demand cost per vCPU (c7i = 1.0), for ranking families that fit a node; approximate
COST_PER_VCPU = {"c7i": 1.0, "m7i": 1.13, "r7i": 1.48, "x2iedn": 4.67}

#: alternative family offered next to the primary one (more capacity, especially for spot)
SIBLING = {"c7i": "c7a", "m7i": "m7a", "r7i": "r7a"}


def gpu_family(model: str | None) -> str:
    m = (model or "").lower()
    if "h100" in m or "h200" in m or "h800" in m:
        return "p5"
    if "a100" in m or "a800" in m:
        return "p4d"
    if "l40" in m:
        return "g6e"
    if "l4" in m or "t4" in m:
        return "g6"
    return "g5"  # A10/A10G, V100, P100, RTX, unknown


@dataclass
class Choice:
    instance_types: list[str]
    family: str
    why: str
    efa: bool = False
    vcpus: int | None = None
    memory_gib: float | None = None
    gpus: int = 0


def _smallest(sizes: list[InstanceType], cpus: int, mem: float, gpus: int = 0) -> tuple[InstanceType, bool]:
    for it in sizes:
        if it.vcpus >= cpus and it.memory_gib >= mem * 0.95 and it.gpus >= gpus:
            return it, True
    return sizes[-1], False


def choose(cpus: int | None, memory_mb: int | None, gpus: int | None = 0, gpu_model: str | None = None,
           nodes: int | None = None) -> Choice:
    c = max(1, int(cpus or 0)) if cpus else None
    mem = (memory_mb or 0) / 1024.0
    g = int(gpus or 0)
    if g > 0:
        fam = gpu_family(gpu_model)
        it, fits = _smallest(TABLE[fam], c or 1, mem, g)
        why = (f"{g} GPU{'s' if g != 1 else ''}" + (f" ({gpu_model})" if gpu_model else "") + f" per node -> {fam} "
               f"({it.gpus}x {it.gpu_model}, {it.vcpus} vCPUs, {it.memory_gib:g} GiB)")
        if not fits:
            why += "; the largest size is smaller than the on-prem node"
        return Choice([it.name], fam, why, efa=it.efa, vcpus=it.vcpus, memory_gib=it.memory_gib, gpus=it.gpus)
    if c is None:
        it = TABLE["c7i"][3]
        return Choice([it.name, "c7a.4xlarge"], "c7i", "node size unknown on-prem -> c7i.4xlarge (16 vCPUs, 32 GiB); "
                      "adjust to your jobs", vcpus=it.vcpus, memory_gib=it.memory_gib)
    per = mem / c if mem else 2.0
    if c >= 64 and (nodes or 0) >= 2 and per <= 8 and mem <= 768 / 0.95:
        it, fits = _smallest(TABLE["hpc7a"], c, mem)
        why = (f"{c} CPUs x {nodes} nodes, MPI-sized -> HPC family hpc7a ({it.vcpus} cores, 768 GiB, EFA); "
               "hpc7a is offered in a few regions only: else use c7a.48xlarge")
        if not fits:
            why += "; the on-prem nodes are larger than any hpc7a size"
        return Choice([it.name], "hpc7a", why, efa=True, vcpus=it.vcpus, memory_gib=it.memory_gib)
    fits_by_family = []
    for fam_name, weight in COST_PER_VCPU.items():
        cand, ok = _smallest(TABLE[fam_name], c, mem)
        if ok:
            fits_by_family.append((cand.vcpus * weight, fam_name, cand))
    if fits_by_family:
        _cost, fam, it = min(fits_by_family, key=lambda x: x[0])
        fits = True
    else:  # larger than anything in the table: the biggest memory-optimised size
        fam = "x2iedn" if per > 8 else "r7i"
        it, fits = TABLE[fam][-1], False
    names = [it.name]
    sib = SIBLING.get(fam)
    if sib:
        alt = next((x for x in TABLE[sib] if x.vcpus == it.vcpus), None)
        if alt is not None:
            names.append(alt.name)
    why = (f"{c} CPUs, {mem:.0f} GiB per node ({per:.1f} GiB/CPU) -> {fam} {it.vcpus} vCPUs, {it.memory_gib:g} GiB")
    if not fits:
        why += "; the on-prem nodes are larger than the largest size: jobs may need more nodes"
    return Choice(names, fam, why, efa=False, vcpus=it.vcpus, memory_gib=it.memory_gib)


def head_node_for(total_nodes: int) -> str:
    if total_nodes > 1000:
        return "c7i.4xlarge"
    if total_nodes > 200:
        return "c7i.2xlarge"
    return "c7i.xlarge"


def fsx_size_gb(size_gib: float | None, used_gib: float | None = None) -> int:
    """FSx for Lustre capacity: 1200, 2400 or a multiple of 2400 GB, at least the on-prem size."""
    want = max(size_gib or 0, (used_gib or 0) * 1.25)
    gb = math.ceil(want * 1.074) if want else 1200  # GiB -> GB
    if gb <= 1200:
        return 1200
    return int(math.ceil(gb / 2400.0) * 2400)
