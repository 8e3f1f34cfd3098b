"""ParallelCluster's validation messages in pctl's terms: the template field they are about, the message,
and what to do. Pure: works on the messages, the template and the rendered config."""

from __future__ import annotations

import re

# validator -> (template field, hint)
FIELDS: dict[str, tuple[str, str | None]] = {
    "InstanceTypeValidator": ("compute.queues[].instance_types", "check the instance type name; 'pctl validate' "
                                                                 "suggests the closest"),
    "InstanceTypeBaseAMICompatibleValidator": ("compute", "the AMI's architecture must match the instance types"),
    "InstancesCPUValidator": ("compute.queues[].instance_types", "instance types that share a queue's compute "
                                                                 "resource need the same number of vCPUs"),
    "InstancesAcceleratorsValidator": ("compute.queues[].instance_types", "put GPU types in their own queue"),
    "InstancesEFAValidator": ("compute.queues[].efa", "EFA needs instance types that support it (c5n, c6in, hpc6a, "
                                                      "hpc7a, p4d, ...) in every queue that sets efa: true"),
    "EfaValidator": ("compute.queues[].efa", "choose EFA-capable instance types (c5n, hpc6a, p4d, ...) or efa: false"),
    "EfaMultiAzValidator": ("compute.queues[].efa", None),
    "MultiAzPlacementGroupValidator": ("compute.queues[].efa", None),
    "SingleInstanceTypeSubnetValidator": ("compute.queues[]", None),
    "ManagedFsxMultiAzValidator": ("data.shared_storage", None),
    "KeyPairValidator": ("cluster.key_name", "create the key pair in this region (EC2 console > Key Pairs) or pass "
                                             "--key-name with an existing one"),
    "SubnetsValidator": ("networking.subnet_id", "pass --subnet-id with a subnet of this region"),
    "ComputeResourceSizeValidator": ("compute.queues[].min_count", "min_count must not exceed max_count"),
    "MaxCountValidator": ("compute.queues", "at most 50 queues, 50 instance-type groups per queue"),
    "NameValidator": ("compute.queues[].name", None),
    "ClusterNameValidator": ("cluster.name", "pass --name with a shorter name (letters, digits, hyphens)"),
    "S3BucketValidator": ("data.s3_mounts[].bucket", "check the bucket name and that your account may read it"),
    "S3BucketRegionValidator": ("data.s3_mounts[].bucket", None),
    "UrlValidator": ("data.s3_mounts", None),
    "CustomAmiTagValidator": ("cluster.custom_ami", "use an AMI built by 'pctl ami build' or 'pcluster build-image'"),
    "AmiOsCompatibleValidator": ("cluster.os", "set cluster.os to the AMI's operating system"),
    "OsCustomAmiValidator": ("cluster.os", "Rocky Linux needs a custom AMI (cluster.custom_ami / --custom-ami), or "
                                           "use rhel8/rhel9"),
    "RootVolumeSizeValidator": ("compute.head_node_root_volume_gb", "leave the root volume size out (the AMI's own "
                                                                     "size is used) or make it at least the AMI's"),
    "HeadNodeLaunchTemplateValidator": ("compute.head_node", None),
    "ComputeResourceLaunchTemplateValidator": ("compute.queues[].instance_types", None),
    "FsxArchitectureOsValidator": ("data.shared_storage", None),
    "SharedStorageMountDirValidator": ("data.shared_storage[].mount_point", None),
    "DuplicateMountDirValidator": ("data.shared_storage[].mount_point", "each file system needs its own mount point"),
    "AdditionalIamPolicyValidator": ("data.s3_mounts", "pctl's IAM policies are made in the cluster's pctl stack "
                                                       "before ParallelCluster runs; check that it exists"),
    "HeadNodeImdsValidator": ("cluster", None),
    "RegionValidator": ("cluster.region", "choose a region ParallelCluster supports"),
    "SchedulerOsValidator": ("cluster.os", None),
    "CapacityTypeValidator": ("compute.queues[].capacity", None),
    "InstanceTypeOSCompatibleValidator": ("cluster.os", "choose a larger instance type or another OS"),
    "ConfigSchemaValidator": ("", "this is a bug in pctl's rendering: please report it with 'pctl create --dry-run "
                                  "--output-dir' output"),
}


def _queue_index(message: str, template, rendered_config: dict | None) -> int | None:
    """The queue a message is about: a queue or compute resource named in it (quoted first, then as a word)."""
    queues = [q.name for q in template.compute.queues]
    crs: list[tuple[str, int]] = []
    if rendered_config:  # compute resource names (pctl names them after the instance types)
        for i, q in enumerate(rendered_config.get("Scheduling", {}).get("SlurmQueues", [])):
            crs += [(cr.get("Name", ""), i) for cr in q.get("ComputeResources", [])]
    quoted = set(re.findall(r"'([^']+)'", message))
    for i, n in enumerate(queues):
        if n in quoted:
            return i
    for n, i in crs:
        if n in quoted:
            return i
    words = set(re.findall(r"[A-Za-z0-9][A-Za-z0-9-]*", message))
    for n, i in crs:
        if n in words:
            return i
    for i, n in enumerate(queues):
        if n in words:
            return i
    return None


def translate(messages: list[dict], template, rendered_config: dict | None = None) -> list[dict]:
    """[{level, validator, path, message, hint}] for ParallelCluster's {level, type, message} list."""
    out = []
    for m in messages:
        vtype = str(m.get("type") or "")
        base, hint = FIELDS.get(vtype, ("", None))
        msg = " ".join(str(m.get("message") or "").split())
        path = base
        if "[]" in base:
            i = _queue_index(msg, template, rendered_config)
            path = base.replace("[]", f"[{i}]", 1) if i is not None else base.replace("[]", "")
        out.append({"level": str(m.get("level") or "ERROR").upper(), "validator": vtype, "path": path,
                    "message": msg, "hint": hint})
    return out


def format_line(d: dict) -> str:
    where = f"{d['path']}: " if d.get("path") else ""
    text = f"{d['level'].lower()}: {where}{d['message']} [{d['validator']}]"
    if d.get("hint"):
        text += f"\n  hint: {d['hint']}"
    return text
