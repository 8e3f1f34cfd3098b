"""Template -> AWS ParallelCluster 3.x cluster configuration (a plain dict). Pure: no I/O, no AWS, no clock.

Everything a later stage fills in at create time (subnets, the bucket holding the node scripts, the
resolved AMI) comes in through RenderContext, so `create --dry-run` runs exactly this code.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from pctl.template import rules

SOFTWARE_ROOT = rules.SOFTWARE_ROOT
DEFAULT_HEAD_BOOTSTRAP_TIMEOUT = 2100  # ParallelCluster's default, seconds
MAX_HEAD_BOOTSTRAP_TIMEOUT = 4 * 3600
AMI_RECOMMENDED_MINUTES = 45


@dataclass(frozen=True)
class RenderContext:
    region: str
    head_subnet_id: str
    compute_subnet_ids: tuple[str, ...]
    scripts_bucket: str  # the private pctl bucket that holds the node scripts
    scripts_prefix: str  # key prefix of this cluster's objects, e.g. clusters/genomics/3f2a…/
    cluster_name: str
    template_name: str
    fingerprint: str
    pctl_version: str
    software_mode: str  # "boot" | "ami" | "none"
    key_name: str | None = None
    ssh_allowed_cidr: str | None = None
    custom_ami: str | None = None
    install_minutes: float | None = None  # expected software install time at boot
    extra_tags: tuple[tuple[str, str], ...] = ()
    status_key: str | None = None  # where the head node publishes install progress (in scripts_bucket)

    def script_uri(self, name: str) -> str:
        return f"s3://{self.scripts_bucket}/{self.scripts_prefix}{name}"


@dataclass
class ComputeResourcePlan:
    name: str
    instance_types: list[str]
    min_count: int
    max_count: int


@dataclass
class QueuePlan:
    name: str
    capacity: str
    min_count: int
    max_count: int
    compute_resources: list[ComputeResourcePlan]
    notes: list[str] = field(default_factory=list)


@dataclass
class RenderedConfig:
    config: dict
    queues: list[QueuePlan]
    software_volume_gb: int | None
    head_bootstrap_timeout: int | None
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ compute resources

def _cr_name(types: list[str], used: set[str]) -> str:
    base = re.sub(r"[^a-z0-9-]", "-", types[0].lower())
    if len(types) > 1:
        base = f"{base}-flex"
    base = base[:25].rstrip("-")
    if not base[0].isalpha():
        base = ("cr-" + base)[:25]
    name, i = base, 2
    while name in used:
        suffix = f"-{i}"
        name = base[: 25 - len(suffix)].rstrip("-") + suffix
        i += 1
    used.add(name)
    return name


def group_instance_types(types: list[str]) -> list[list[str]]:
    """Types that may share one compute resource (ParallelCluster 'Instances'): same vCPU count, no GPUs
    or accelerators (those differ in accelerator counts), same architecture. Order of first appearance."""
    groups: list[list[str]] = []
    keys: list[tuple] = []
    for t in types:
        n = rules.vcpus(t)
        special = rules.is_gpu(t) or rules.instance_family(t) in rules.ACCEL_FAMILIES or n is None
        key = ("solo", t) if special else ("cpu", n, rules.instance_arch(t))
        if key in keys:
            groups[keys.index(key)].append(t)
        else:
            keys.append(key)
            groups.append([t])
    return groups


def split_counts(min_count: int, max_count: int, n_groups: int) -> tuple[list[tuple[int, int]], int]:
    """Split a queue's min/max over compute resources so the sums are exactly min and max.

    Every compute resource needs MaxCount >= 1, so at most max_count resources are used; the second
    value is how many groups had to be left out (reported, never silent)."""
    used = min(n_groups, max_count)
    base, extra = divmod(max_count, used)
    maxes = [base + (1 if i < extra else 0) for i in range(used)]
    mins, remaining = [], min_count
    for mx in maxes:
        take = min(mx, remaining)
        mins.append(take)
        remaining -= take
    return list(zip(mins, maxes)), n_groups - used


def plan_queue(queue) -> QueuePlan:
    groups = group_instance_types(list(queue.instance_types))
    counts, dropped = split_counts(queue.min_count, queue.max_count, len(groups))
    used: set[str] = set()
    crs = [ComputeResourcePlan(_cr_name(g, used), g, mn, mx) for g, (mn, mx) in zip(groups, counts)]
    notes = []
    if dropped:
        left = [t for g in groups[len(counts):] for t in g]
        notes.append(f"max_count {queue.max_count} allows only {len(counts)} compute resource(s); "
                     f"not used: {', '.join(left)} (raise max_count to use them)")
    if len(crs) > 1:
        notes.append("counts split over compute resources: " + ", ".join(
            f"{c.name} {c.min_count}-{c.max_count}" for c in crs) + f" (total {queue.min_count}-{queue.max_count})")
    return QueuePlan(queue.name, queue.capacity, queue.min_count, queue.max_count, crs, notes)


# ------------------------------------------------------------------ storage

def software_volume_gb(specs: list[str]) -> int:
    """Size of the shared EBS volume for the Spack tree: Spack, caches and the installs."""
    heavy = ("cuda", "py-torch", "py-tensorflow", "nvhpc", "intel-oneapi", "llvm", "gcc", "openfoam", "paraview",
             "root", "trilinos", "cudnn", "nccl", "py-jax", "aocc", "matlab")
    gb = 60
    for s in specs:
        name = re.split(r"[@%+~^ =]", s.strip(), maxsplit=1)[0]
        gb += 20 if name.startswith(heavy) else 3
    return int(min(2000, math.ceil(gb / 10) * 10))


def _storage_entry(s, index: int) -> dict:
    kind = {"efs": "Efs", "fsx_lustre": "FsxLustre", "ebs": "Ebs"}[s.type]
    name = s.name or f"{s.type.replace('_', '-')}-{index}"
    policy = {"delete": "Delete", "retain": "Retain", "snapshot": "Snapshot"}[s.deletion_policy]
    entry: dict = {"Name": name, "StorageType": kind, "MountDir": rules.normalize_mount(s.mount_point)}
    if s.type == "efs":
        entry["EfsSettings"] = {"FileSystemId": s.id} if s.id else {"Encrypted": True, "DeletionPolicy": policy}
    elif s.type == "fsx_lustre":
        if s.id:
            entry["FsxLustreSettings"] = {"FileSystemId": s.id}
        else:
            dt = s.deployment_type or "SCRATCH_2"
            st: dict = {"StorageCapacity": s.size_gb or 1200, "DeploymentType": dt, "DeletionPolicy": policy}
            if dt == "PERSISTENT_1":
                st["PerUnitStorageThroughput"] = 50
            elif dt == "PERSISTENT_2":
                st["PerUnitStorageThroughput"] = 125
            entry["FsxLustreSettings"] = st
    else:
        if s.id:
            entry["EbsSettings"] = {"VolumeId": s.id, "DeletionPolicy": policy}
        else:
            entry["EbsSettings"] = {"VolumeType": s.volume_type or "gp3", "Size": s.size_gb or 100, "Encrypted": True,
                                    "DeletionPolicy": policy}
    return entry


# ------------------------------------------------------------------ the config

def _s3_access(template, ctx: RenderContext) -> list[dict]:
    access = [{"BucketName": ctx.scripts_bucket, "KeyName": f"{ctx.scripts_prefix}*", "EnableWriteAccess": False}]
    seen = {}
    for m in template.data.s3_mounts:
        write = not m.read_only
        if m.bucket in seen:
            seen[m.bucket]["EnableWriteAccess"] = seen[m.bucket]["EnableWriteAccess"] or write
            continue
        entry = {"BucketName": m.bucket, "EnableWriteAccess": write}
        seen[m.bucket] = entry
        access.append(entry)
    return access


def head_bootstrap_timeout(install_minutes: float | None) -> int:
    if not install_minutes:
        return DEFAULT_HEAD_BOOTSTRAP_TIMEOUT
    need = int(install_minutes * 60 * 1.5) + 900  # 50% margin plus node setup
    return max(DEFAULT_HEAD_BOOTSTRAP_TIMEOUT, min(MAX_HEAD_BOOTSTRAP_TIMEOUT, need))


def render_config(template, ctx: RenderContext) -> RenderedConfig:
    notes: list[str] = []
    image: dict = {"Os": template.cluster.os}
    if ctx.custom_ami:
        image["CustomAmi"] = ctx.custom_ami
    s3 = _s3_access(template, ctx)
    head: dict = {
        "InstanceType": template.compute.head_node,
        "Networking": {"SubnetId": ctx.head_subnet_id},
        "LocalStorage": {"RootVolume": {"Size": 40, "Encrypted": True, "VolumeType": "gp3"}},
        "Iam": {"S3Access": [dict(x) for x in s3]},
        "CustomActions": {"OnNodeConfigured": {"Script": ctx.script_uri("head.sh"), "Args": ["head"]}},
        "Imds": {"Secured": True},
    }
    if ctx.status_key and ctx.software_mode in ("boot", "layer"):
        # the head node may write exactly its progress file, nothing else in the bucket
        head["CustomActions"]["OnNodeConfigured"]["Args"].append(f"s3://{ctx.scripts_bucket}/{ctx.status_key}")
        head["Iam"]["S3Access"].append({"BucketName": ctx.scripts_bucket, "KeyName": ctx.status_key,
                                        "EnableWriteAccess": True})
    ssh: dict = {}
    if ctx.key_name:
        ssh["KeyName"] = ctx.key_name
    if ctx.ssh_allowed_cidr:
        ssh["AllowedIps"] = ctx.ssh_allowed_cidr
    if ssh:
        head["Ssh"] = ssh
    queues_cfg, plans = [], []
    for q in template.compute.queues:
        plan = plan_queue(q)
        plans.append(plan)
        crs = []
        for cr in plan.compute_resources:
            entry: dict = {"Name": cr.name}
            if len(cr.instance_types) == 1:
                entry["InstanceType"] = cr.instance_types[0]
            else:
                entry["Instances"] = [{"InstanceType": t} for t in cr.instance_types]
            entry["MinCount"] = cr.min_count
            entry["MaxCount"] = cr.max_count
            if q.efa:
                entry["Efa"] = {"Enabled": True}
            if q.disable_hyperthreading:
                entry["DisableSimultaneousMultithreading"] = True
            crs.append(entry)
        subnets = [q.subnet] if q.subnet else list(ctx.compute_subnet_ids)
        networking: dict = {"SubnetIds": subnets}
        if q.efa:
            networking["PlacementGroup"] = {"Enabled": True}
        qcfg: dict = {
            "Name": q.name,
            "CapacityType": "SPOT" if q.capacity == "spot" else "ONDEMAND",
            "Networking": networking,
            "ComputeResources": crs,
            "CustomActions": {"OnNodeConfigured": {"Script": ctx.script_uri("compute.sh"), "Args": ["compute", q.name]}},
            "Iam": {"S3Access": [dict(x) for x in s3]},
            "ComputeSettings": {"LocalStorage": {"RootVolume": {"Encrypted": True}}},
        }
        if q.capacity == "spot" and any(len(c.instance_types) > 1 for c in plan.compute_resources):
            qcfg["AllocationStrategy"] = "capacity-optimized"
        queues_cfg.append(qcfg)
    config: dict = {
        "Region": ctx.region,
        "Image": image,
        "Imds": {"ImdsSupport": "v2.0"},
        "HeadNode": head,
        "Scheduling": {
            "Scheduler": "slurm",
            "SlurmSettings": {"ScaledownIdletime": 10},
            "SlurmQueues": queues_cfg,
        },
    }
    storage = [_storage_entry(s, i) for i, s in enumerate(template.data.shared_storage)]
    sw_gb = None
    timeout = None
    if ctx.software_mode in ("boot", "layer"):
        from pctl.software.layers import software_mount  # issue 11: a layer mounts beside the AMI's /opt/pctl

        sw_gb = software_volume_gb(list(template.software.spack_packages))
        storage.append({"Name": "pctl-software", "StorageType": "Ebs", "MountDir": software_mount(ctx.software_mode),
                        "EbsSettings": {"VolumeType": "gp3", "Size": sw_gb, "Encrypted": True,
                                        "DeletionPolicy": "Delete"}})
        timeout = head_bootstrap_timeout(ctx.install_minutes)
        config["DevSettings"] = {"Timeouts": {"HeadNodeBootstrapTimeout": timeout}}
        if ctx.install_minutes and ctx.install_minutes > AMI_RECOMMENDED_MINUTES:
            notes.append(f"software install at boot is estimated at ~{ctx.install_minutes:.0f} min (head-node "
                         f"bootstrap timeout raised to {timeout // 60} min); build a custom AMI once with "
                         "'pctl ami build' and clusters start in minutes")
        if ctx.install_minutes and ctx.install_minutes * 60 * 1.5 + 900 > MAX_HEAD_BOOTSTRAP_TIMEOUT:
            notes.append("the estimated install exceeds the longest bootstrap pctl allows at boot "
                         f"({MAX_HEAD_BOOTSTRAP_TIMEOUT // 3600} h): use 'pctl ami build'")
    if storage:
        config["SharedStorage"] = storage
    tags = [
        {"Key": "pctl:template", "Value": ctx.template_name[:256]},
        {"Key": "pctl:fingerprint", "Value": ctx.fingerprint},
        {"Key": "pctl:version", "Value": ctx.pctl_version},
        {"Key": "pctl:software", "Value": ctx.software_mode},
    ]
    for k, v in sorted(template.cluster.tags.items()):
        tags.append({"Key": k, "Value": v})
    for k, v in ctx.extra_tags:
        tags.append({"Key": k, "Value": v})
    config["Tags"] = tags
    for p in plans:
        notes.extend(f"queue {p.name}: {n}" for n in p.notes)
    return RenderedConfig(config=config, queues=plans, software_volume_gb=sw_gb, head_bootstrap_timeout=timeout,
                          notes=notes)


def to_yaml(config: dict) -> str:
    import io

    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.width = 4096
    yaml.sort_base_mapping_type_on_output = False
    buf = io.StringIO()
    yaml.dump(config, buf)
    return buf.getvalue()
