"""Template -> AWS ParallelCluster 3.x cluster configuration (a plain dict). Pure: no I/O, no AWS, no clock.

Everything a later stage fills in at create time (subnets, the bucket holding the node scripts, the
resolved AMI) comes in through RenderContext, so `create --dry-run` runs exactly this code.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from pctl.render import queue_options as qopt
from pctl.template import rules

SOFTWARE_ROOT = rules.SOFTWARE_ROOT
DEFAULT_HEAD_BOOTSTRAP_TIMEOUT = 2100  # ParallelCluster's default, seconds
MAX_HEAD_BOOTSTRAP_TIMEOUT = 4 * 3600
AMI_RECOMMENDED_MINUTES = 45


@dataclass(frozen=True)
class Subnet:
    id: str
    zone: str  # availability zone name (or "zone 1"/"zone 2" in a dry run without AWS)
    public: bool = False


@dataclass(frozen=True)
class NetworkLayout:
    """Where nodes go: the head node's subnet, and the compute subnets, the head node's zone first."""

    head: Subnet
    compute: tuple[Subnet, ...]
    source: str = "pctl"  # "pctl" (the region's pctl network) | "existing" (--subnet-id) | "legacy"

    @property
    def zones(self) -> list[str]:
        return list(dict.fromkeys(s.zone for s in self.compute))


@dataclass(frozen=True)
class RenderContext:
    region: str
    network: NetworkLayout
    scripts_bucket: str  # the private pctl bucket that holds the node scripts
    scripts_prefix: str  # key prefix of this run's objects, e.g. clusters/genomics/runs/<run-id>/
    cluster_name: str
    template_name: str
    fingerprint: str
    pctl_version: str
    software_mode: str  # "boot" | "ami" | "none"
    account_id: str = "ACCOUNT"  # for the ARNs of pctl's IAM policies ("ACCOUNT" in a dry run without AWS)
    key_name: str | None = None
    ssh_allowed_cidr: str | None = None
    custom_ami: str | None = None
    ami_root_gb: int | None = None  # the AMI's root snapshot size, when known
    install_minutes: float | None = None  # expected software install time at boot
    extra_tags: tuple[tuple[str, str], ...] = ()
    status_key: str | None = None  # where the head node publishes install progress (in scripts_bucket)
    run_id: str | None = None
    offerings: dict | None = None  # instance type -> zones that offer it (known at create)

    def script_uri(self, name: str) -> str:
        return f"s3://{self.scripts_bucket}/{self.scripts_prefix}{name}"


@dataclass
class Placement:
    """Which subnets a queue uses, and why."""

    subnets: list[str]
    zones: list[str]
    reason: str


@dataclass
class ComputeResourcePlan:
    name: str
    instance_types: list[str]
    min_count: int
    max_count: int
    efa: bool | None = None  # None: the queue's
    disable_hyperthreading: bool | None = None  # None: the queue's


@dataclass
class QueuePlan:
    name: str
    capacity: str
    min_count: int
    max_count: int  # the queue's total: the sum of its compute resources' MaxCount
    compute_resources: list[ComputeResourcePlan]
    notes: list[str] = field(default_factory=list)
    placement: Placement | None = None


@dataclass
class RenderedConfig:
    config: dict
    queues: list[QueuePlan]
    software_volume_gb: int | None
    head_bootstrap_timeout: int | None
    notes: list[str] = field(default_factory=list)
    policies: list = field(default_factory=list)  # pctl.render.iam.Policy: made in the cluster's pctl stack
    root_volumes: dict = field(default_factory=dict)  # {"head": GiB or None, queue name: GiB or None}


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
    """(min, max) per compute resource, as a template means them.

    ``max_count`` is per instance type: every compute resource (one instance type, or one pool of types
    that stand in for each other, see :func:`group_instance_types`) may scale to ``max_count`` nodes.
    ParallelCluster limits nodes per compute resource (``MaxCount``) and has no queue-wide limit (Slurm
    has none without accounting), so the queue's total is ``max_count`` x the number of compute
    resources. ``min_count`` is the queue's total of nodes that always run; they are on the first
    resource (the first type listed). The second value is kept for callers: no resource is ever left out.
    """
    counts = [(min_count if i == 0 else 0, max_count) for i in range(n_groups)]
    return counts, 0


def plan_queue(queue) -> QueuePlan:
    explicit = qopt.explicit_compute_resources(queue, ComputeResourcePlan, _cr_name)
    if explicit is not None:
        return QueuePlan(queue.name, queue.capacity, queue.min_count, queue.max_count, explicit, [])
    groups = group_instance_types(list(queue.instance_types))
    counts, _ = split_counts(queue.min_count, queue.max_count, len(groups))
    used: set[str] = set()
    crs = [ComputeResourcePlan(_cr_name(g, used), g, mn, mx) for g, (mn, mx) in zip(groups, counts)]
    total_max = sum(c.max_count for c in crs)
    notes = []
    if len(crs) > 1:
        pools = [", ".join(c.instance_types) if len(c.instance_types) > 1 else c.instance_types[0] for c in crs]
        notes.append(
            f"each instance type scales to {queue.max_count} node{'s' if queue.max_count != 1 else ''} on its own ("
            + "; ".join(f"{queue.max_count} x {p}" for p in pools)
            + f"): at most {total_max} nodes in this queue (max_count is per type; ParallelCluster has no "
            "queue-wide limit)"
            + (f"; the {queue.min_count} always-on node{'s' if queue.min_count != 1 else ''} "
               f"{'are' if queue.min_count != 1 else 'is'} {crs[0].instance_types[0]}" if queue.min_count else ""))
    elif len(crs[0].instance_types) > 1 if crs else False:
        notes.append(f"{', '.join(crs[0].instance_types)} stand in for each other (same vCPUs): one pool of at most "
                     f"{queue.max_count} nodes, whichever type EC2 has")
    return QueuePlan(queue.name, queue.capacity, queue.min_count, total_max, crs, notes)


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

def managed_fsx(template) -> bool:
    """The cluster creates a new FSx for Lustre file system (one zone, one subnet for every queue)."""
    return any(st.type == "fsx_lustre" and not st.id for st in template.data.shared_storage)


def _offered(subnet: Subnet, types, offerings) -> bool:
    return offerings is None or all(subnet.zone in offerings.get(t, ()) for t in types)


def _no_zone(types, network: NetworkLayout, offerings, what: str):
    from pctl.errors import PctlError

    where = "; ".join(f"{t}: {', '.join(sorted(offerings.get(t, ()))) or 'no zone'}" for t in types)
    return PctlError(f"{what}: no zone of the network ({', '.join(network.zones)}) offers {', '.join(types)}",
                     hint=f"zones that offer them: {where}; choose other instance types, or pass --subnet-id with a "
                          "subnet in one of those zones")


def place_queue(queue, template, network: NetworkLayout, offerings: dict | None = None) -> Placement:
    """ParallelCluster's multi-AZ rules decide which queues may span zones: EFA and placement groups need one
    subnet, and a managed FSx file system needs every queue in one subnet. Everything else is spread over the
    network's zones, so that capacity in one zone does not limit the queue. With `offerings` (instance type ->
    zones that offer it; known at create, not in a dry run without AWS) only zones that offer a queue's every
    instance type are used, the head node's zone first."""
    by_id = {s.id: s for s in network.compute}
    types = list(queue.instance_types)
    if queue.subnet:
        return Placement([queue.subnet], [by_id[queue.subnet].zone] if queue.subnet in by_id else ["(its own)"],
                         "the template sets this queue's subnet")
    usable = [s for s in network.compute if _offered(s, types, offerings)]
    if managed_fsx(template):
        every = [t for q in template.compute.queues for t in q.instance_types]
        common = [s for s in network.compute if _offered(s, every, offerings)]
        if not common:
            raise _no_zone(sorted(set(every)), network, offerings, "the cluster's new FSx for Lustre file system "
                                                                   "needs every queue in one zone")
        first = common[0]
        return Placement([first.id], [first.zone], "the cluster's new FSx for Lustre file system lives in one zone; "
                                                   "ParallelCluster keeps every queue in its subnet")
    if not usable:
        raise _no_zone(types, network, offerings, f"queue {queue.name}")
    first = usable[0]
    head_zone = first.zone == network.compute[0].zone
    efa = queue.efa or any(getattr(c, "efa", None) for c in (getattr(queue, "compute_resources", None) or []))
    if getattr(queue, "placement_group", None) and not efa:
        return Placement([first.id], [first.zone], "a placement group needs its nodes in one zone; "
                         + ("the head node's zone" if head_zone else f"{first.zone}"))
    if efa:
        return Placement([first.id], [first.zone], "EFA needs its nodes in one zone (with a placement group); "
                         + ("the head node's zone" if head_zone else f"{first.zone}, the zone that offers "
                                                                     f"{', '.join(types)}"))
    if len(network.compute) == 1:
        why = ("the subnet given with --subnet-id / networking.subnet_id" if network.source == "existing"
               else "the network has one subnet for compute nodes")
        return Placement([first.id], [first.zone], why)
    if len(usable) == 1:
        return Placement([first.id], [first.zone], f"only {first.zone} of the network's zones offers "
                                                   f"{', '.join(types)}")
    zones = list(dict.fromkeys(s.zone for s in usable))
    return Placement([s.id for s in usable], zones, f"spread over {len(zones)} zones for capacity")


def root_volume_size(asked: int | None, ami_gb: int | None) -> tuple[int | None, str | None]:
    """A root volume may never be smaller than the AMI's snapshot (RootVolumeSizeValidator). Without a size in
    the template ParallelCluster uses the AMI's own; a smaller size in the template is raised to the AMI's."""
    if asked is None:
        return None, None
    if ami_gb is not None and asked < ami_gb:
        return ami_gb, f"root volume raised from {asked} to {ami_gb} GiB, the size of the AMI's snapshot"
    return asked, None


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
    from pctl.regions import partition
    from pctl.render.iam import node_policies

    policies = node_policies(template, region=ctx.region, cluster=ctx.cluster_name, bucket=ctx.scripts_bucket,
                             scripts_prefix=ctx.scripts_prefix,
                             status_key=ctx.status_key if ctx.software_mode in ("boot", "layer") else None)
    part = partition(ctx.region)

    def iam_for(role: str) -> dict:
        return {"AdditionalIamPolicies": [{"Policy": p.arn(ctx.account_id, part)} for p in policies if p.role == role]}

    root_volumes: dict = {}
    head_root: dict = {"Encrypted": True, "VolumeType": "gp3"}
    size, note = root_volume_size(template.compute.head_node_root_volume_gb, ctx.ami_root_gb)
    if size:
        head_root["Size"] = size
    if note:
        notes.append(f"head node: {note}")
    root_volumes["head"] = size
    head: dict = {
        "InstanceType": template.compute.head_node,
        "Networking": {"SubnetId": ctx.network.head.id},
        "LocalStorage": {"RootVolume": head_root},
        "Iam": iam_for("head"),
        "Imds": {"Secured": True},
    }
    head_action = {"Script": ctx.script_uri("head.sh"), "Args": ["head"]}
    if ctx.status_key and ctx.software_mode in ("boot", "layer"):
        # the head node may write exactly its progress file, nothing else in the bucket (see render.iam)
        head_action["Args"].append(f"s3://{ctx.scripts_bucket}/{ctx.status_key}")
    head_user_actions = template.compute.head_node_custom_actions
    head["CustomActions"] = qopt.custom_actions(head_action, head_user_actions, head=True)
    if qopt.action_script_access(head_user_actions):  # read exactly the user's own action scripts
        head["Iam"]["S3Access"] = qopt.action_script_access(head_user_actions)
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
        plan.placement = place_queue(q, template, ctx.network, ctx.offerings)
        plans.append(plan)
        crs = []
        for cr in plan.compute_resources:
            # always an Instances list: ParallelCluster refuses InstanceType on a queue that spans subnets
            entry: dict = {"Name": cr.name, "Instances": [{"InstanceType": t} for t in cr.instance_types]}
            entry["MinCount"] = cr.min_count
            entry["MaxCount"] = cr.max_count
            if qopt.compute_resource_efa(q, cr):
                entry["Efa"] = {"Enabled": True}
            if qopt.compute_resource_dht(q, cr):
                entry["DisableSimultaneousMultithreading"] = True
            crs.append(entry)
        networking: dict = {"SubnetIds": list(plan.placement.subnets)}
        placement = qopt.placement_group(q, plan)
        if placement is not None:
            networking["PlacementGroup"] = placement
        q_root: dict = {"Encrypted": True, "VolumeType": "gp3"}
        size, note = root_volume_size(q.root_volume_gb, ctx.ami_root_gb)
        if size:
            q_root["Size"] = size
        if note:
            notes.append(f"queue {q.name}: {note}")
        root_volumes[q.name] = size
        qcfg: dict = {
            "Name": q.name,
            "CapacityType": "SPOT" if q.capacity == "spot" else "ONDEMAND",
            "Networking": networking,
            "ComputeResources": crs,
            "CustomActions": qopt.custom_actions(
                {"Script": ctx.script_uri("compute.sh"), "Args": ["compute", q.name]}, q.custom_actions),
            "Iam": iam_for("compute") | ({"S3Access": qopt.action_script_access(q.custom_actions)}
                                         if qopt.action_script_access(q.custom_actions) else {}),
            "ComputeSettings": {"LocalStorage": {"RootVolume": q_root}},
        }
        strategy = qopt.allocation_strategy(q, plan)
        if strategy:
            qcfg["AllocationStrategy"] = strategy
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
    from pctl.cost.tags import resource_tags  # issue 15: pctl:cluster, pctl:template, pctl:project + user tags

    cost_tags = resource_tags(template, ctx.cluster_name, ctx.template_name)
    tags = [{"Key": k, "Value": v} for k, v in cost_tags.items() if k.startswith("pctl:")]
    tags += [
        {"Key": "pctl:fingerprint", "Value": ctx.fingerprint},
        {"Key": "pctl:version", "Value": ctx.pctl_version},
        {"Key": "pctl:software", "Value": ctx.software_mode},
    ]
    tags += [{"Key": k, "Value": v} for k, v in cost_tags.items() if not k.startswith("pctl:")]
    for k, v in ctx.extra_tags:
        tags.append({"Key": k, "Value": v})
    config["Tags"] = tags
    for p in plans:
        notes.extend(f"queue {p.name}: {n}" for n in p.notes)
    return RenderedConfig(config=config, queues=plans, software_volume_gb=sw_gb, head_bootstrap_timeout=timeout,
                          notes=notes, policies=policies, root_volumes=root_volumes)


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
