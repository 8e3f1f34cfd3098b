"""EC2 calls pctl makes (zones, subnets, key pairs, images, snapshots, security groups, instances, instance type
offerings), with error translation."""

from __future__ import annotations

import datetime as dt

from pctl.aws.errors import AwsError
from pctl.aws.session import aws_errors


def availability_zones(aws) -> list[str]:
    """Available zones (not Local/Wavelength zones) of the region, by name."""
    with aws_errors():
        zs = aws.client("ec2").describe_availability_zones(
            Filters=[{"Name": "state", "Values": ["available"]}])["AvailabilityZones"]
    return sorted(z["ZoneName"] for z in zs if z.get("ZoneType", "availability-zone") == "availability-zone")


def subnets(aws, ids: list[str]) -> list[dict]:
    """{id, zone, vpc, public} for each subnet id; a missing subnet is an error that names it."""
    if not ids:
        return []
    try:
        with aws_errors():
            found = aws.client("ec2").describe_subnets(SubnetIds=list(dict.fromkeys(ids)))["Subnets"]
    except AwsError as exc:
        if exc.code in ("InvalidSubnetID.NotFound", "InvalidSubnetID.Malformed"):
            raise AwsError(f"subnet not found: {exc.message}", code=exc.code,
                           hint="check --subnet-id / networking.subnet_id / the queue's subnet (pctl network list)") \
                from None
        raise
    by_id = {s["SubnetId"]: {"id": s["SubnetId"], "zone": s["AvailabilityZone"], "vpc": s["VpcId"],
                             "public": bool(s.get("MapPublicIpOnLaunch"))} for s in found}
    return [by_id[i] for i in ids if i in by_id]


def key_pair_exists(aws, name: str) -> bool:
    try:
        with aws_errors():
            return bool(aws.client("ec2").describe_key_pairs(KeyNames=[name])["KeyPairs"])
    except AwsError as exc:
        if exc.code == "InvalidKeyPair.NotFound":
            return False
        raise


def key_pair_names(aws) -> list[str]:
    with aws_errors():
        return sorted(k["KeyName"] for k in aws.client("ec2").describe_key_pairs()["KeyPairs"])


def image(aws, image_id: str, *, missing_ok: bool = True) -> dict | None:
    """The image, or None when there is no such image (missing_ok=False: the translated error instead)."""
    try:
        with aws_errors():
            imgs = aws.client("ec2").describe_images(ImageIds=[image_id])["Images"]
    except AwsError as exc:
        if missing_ok and exc.code in ("InvalidAMIID.NotFound", "InvalidAMIID.Unavailable", "InvalidAMIID.Malformed"):
            return None
        raise
    return imgs[0] if imgs else None


def images(aws, *, owners: list[str], filters: list[dict]) -> list[dict]:
    """Images owned by OWNERS ("self", "amazon", account ids) that match FILTERS."""
    with aws_errors():
        return aws.client("ec2").describe_images(Owners=list(owners), Filters=filters)["Images"]


def own_images(aws, filters: list[dict]) -> list[dict]:
    return images(aws, owners=["self"], filters=filters)


def deregister_image(aws, image_id: str) -> None:
    with aws_errors():
        aws.client("ec2").deregister_image(ImageId=image_id)


def own_snapshots(aws, filters: list[dict]) -> list[dict]:
    """This account's EBS snapshots that match FILTERS (every page)."""
    out: list[dict] = []
    with aws_errors():
        for page in aws.client("ec2").get_paginator("describe_snapshots").paginate(OwnerIds=["self"], Filters=filters):
            out += page.get("Snapshots", [])
    return out


def delete_snapshot(aws, snapshot_id: str, *, missing_ok: bool = False) -> bool:
    """Delete the snapshot. False when it was already gone and missing_ok (else that is an error too)."""
    try:
        with aws_errors():
            aws.client("ec2").delete_snapshot(SnapshotId=snapshot_id)
    except AwsError as exc:
        if missing_ok and exc.code == "InvalidSnapshot.NotFound":
            return False
        raise
    return True


def image_tags(img: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in img.get("Tags", []) or []}


def tags_of(resource: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", []) or []}


def find_image(aws, ref: str) -> dict | None:
    """The newest available image for ``ref``: an AMI id, or the name given to ``pctl ami build --name``
    (its ``pctl:name`` tag, also written ``ami-NAME``), or an image name in this account."""
    from pctl.template import rules

    if rules.AMI_ID_RE.fullmatch(ref):
        img = image(aws, ref)
        imgs = [img] if img else []
    else:
        names = [ref] + ([ref[4:]] if ref.startswith("ami-") else [])
        imgs = own_images(aws, [{"Name": "tag:pctl:name", "Values": names}]) or \
            own_images(aws, [{"Name": "name", "Values": names}])
    imgs = [i for i in imgs if i.get("State", "available") == "available"]
    if not imgs:
        return None
    return sorted(imgs, key=lambda i: i.get("CreationDate", ""))[-1]


def image_root_gb(img: dict) -> int | None:
    """Size of the image's root snapshot (what RootVolumeSizeValidator compares with)."""
    root = img.get("RootDeviceName")
    for bdm in img.get("BlockDeviceMappings", []) or []:
        ebs = bdm.get("Ebs") or {}
        if ebs.get("VolumeSize") and (root is None or bdm.get("DeviceName") == root):
            return int(ebs["VolumeSize"])
    return None


def offered_types(aws, types: list[str]) -> set[str]:
    """Which of the instance types are offered in the region."""
    out: set[str] = set()
    uniq = sorted(set(types))
    with aws_errors():
        pages = aws.client("ec2").get_paginator("describe_instance_type_offerings").paginate(
            LocationType="region", Filters=[{"Name": "instance-type", "Values": uniq}])
        for page in pages:
            out |= {o["InstanceType"] for o in page.get("InstanceTypeOfferings", [])}
    return out


def zones_offering(aws, types: list[str]) -> dict[str, set[str]]:
    """instance type -> the availability zones that offer it."""
    out: dict[str, set[str]] = {t: set() for t in types}
    with aws_errors():
        pages = aws.client("ec2").get_paginator("describe_instance_type_offerings").paginate(
            LocationType="availability-zone", Filters=[{"Name": "instance-type", "Values": sorted(set(types))}])
        for page in pages:
            for o in page.get("InstanceTypeOfferings", []):
                out.setdefault(o["InstanceType"], set()).add(o["Location"])
    return out


def cluster_nodes(aws, cluster: str) -> list[dict]:
    """Running or pending instances of the cluster, summarized: {id, type, node_type, queue, state}."""
    out = []
    for i in cluster_instances(aws, cluster, states=("pending", "running")):
        tags = {t["Key"]: t["Value"] for t in i.get("Tags", [])}
        out.append({"id": i["InstanceId"], "type": i.get("InstanceType"),
                    "node_type": tags.get("parallelcluster:node-type"),
                    "queue": tags.get("parallelcluster:queue-name"), "state": i["State"]["Name"]})
    return out


def security_groups(aws, filters: list[dict]) -> list[dict]:
    """Security groups that match FILTERS (every page)."""
    out: list[dict] = []
    with aws_errors():
        for page in aws.client("ec2").get_paginator("describe_security_groups").paginate(Filters=filters):
            out += page.get("SecurityGroups", [])
    return out


def create_security_group(aws, *, name: str, vpc_id: str, description: str, tags: dict[str, str]) -> str:
    """A new security group (tagged at creation); returns its id. It has no inbound rules."""
    kwargs: dict = {}
    if tags:  # EC2 refuses a tag specification without tags
        kwargs["TagSpecifications"] = [{"ResourceType": "security-group",
                                        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]
    with aws_errors():
        return aws.client("ec2").create_security_group(GroupName=name, VpcId=vpc_id, Description=description,
                                                       **kwargs)["GroupId"]


def revoke_ingress(aws, group_id: str, permissions: list[dict]) -> None:
    """Remove inbound rules (IpPermissions as DescribeSecurityGroups gives them) from the group."""
    with aws_errors():
        aws.client("ec2").revoke_security_group_ingress(GroupId=group_id, IpPermissions=permissions)


def delete_pctl_security_groups(aws, vpc_id: str) -> list[str]:
    """pctl's own security groups made outside the network stack (AMI builders) in the VPC: they would keep
    CloudFormation from deleting it. Groups still attached to something are left (the delete then fails clearly)."""
    deleted = []
    ec2 = aws.client("ec2")
    groups = security_groups(aws, [{"Name": "vpc-id", "Values": [vpc_id]},
                                   {"Name": "tag:pctl:managed", "Values": ["true"]}])
    for g in groups:
        if g.get("GroupName") == "default":
            continue
        try:
            with aws_errors():
                ec2.delete_security_group(GroupId=g["GroupId"])
            deleted.append(g["GroupId"])
        except AwsError as exc:
            if exc.code not in ("DependencyViolation", "InvalidGroup.NotFound"):
                raise
    return deleted


def vpc_count(aws) -> int:
    with aws_errors():
        return len(aws.client("ec2").describe_vpcs()["Vpcs"])


def address_count(aws) -> int:
    with aws_errors():
        return len(aws.client("ec2").describe_addresses()["Addresses"])


def spot_price_history(aws, instance_types: list[str], *, hours: int = 6) -> list[dict]:
    """Linux/UNIX spot prices of the last HOURS for INSTANCE_TYPES in every availability zone."""
    if not instance_types:
        return []
    ec2 = aws.client("ec2")
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=hours)
    out: list[dict] = []
    with aws_errors():
        for i in range(0, len(instance_types), 100):
            pages = ec2.get_paginator("describe_spot_price_history").paginate(
                InstanceTypes=instance_types[i:i + 100], ProductDescriptions=["Linux/UNIX"], StartTime=start)
            for page in pages:
                out += page.get("SpotPriceHistory", [])
    return out


def instances(aws, filters: list[dict]) -> list[dict]:
    """Instances that match FILTERS (every page, every reservation), as DescribeInstances gives them."""
    out: list[dict] = []
    with aws_errors():
        for page in aws.client("ec2").get_paginator("describe_instances").paginate(Filters=filters):
            for r in page.get("Reservations", []):
                out += r.get("Instances", [])
    return out


def cluster_instances(aws, cluster: str, *, states=("pending", "running", "stopping", "stopped")) -> list[dict]:
    """Instances ParallelCluster launched for CLUSTER (tag parallelcluster:cluster-name), any node type."""
    return instances(aws, [{"Name": "tag:parallelcluster:cluster-name", "Values": [cluster]},
                           {"Name": "instance-state-name", "Values": list(states)}])


def run_instance(aws, *, client_token: str, **params) -> str:
    """RunInstances for one instance (MinCount=MaxCount=1 and the rest of PARAMS as the API takes them); its id.
    CLIENT_TOKEN makes the call idempotent: the same token never launches a second instance."""
    with aws_errors():
        r = aws.client("ec2").run_instances(ClientToken=client_token, MinCount=1, MaxCount=1, **params)
    return r["Instances"][0]["InstanceId"]


def start_instances(aws, instance_ids: list[str]) -> None:
    with aws_errors():
        aws.client("ec2").start_instances(InstanceIds=instance_ids)


def stop_instances(aws, instance_ids: list[str]) -> None:
    with aws_errors():
        aws.client("ec2").stop_instances(InstanceIds=instance_ids)


def terminate_instances(aws, instance_ids: list[str]) -> None:
    with aws_errors():
        for i in range(0, len(instance_ids), 100):
            aws.client("ec2").terminate_instances(InstanceIds=instance_ids[i:i + 100])


def running_nodes_by_cluster(aws) -> dict[str, int]:
    """{cluster: running or pending compute nodes} for every ParallelCluster cluster of the region (one call)."""
    out: dict[str, int] = {}
    for i in instances(aws, [{"Name": "tag:parallelcluster:node-type", "Values": ["Compute"]},
                             {"Name": "instance-state-name", "Values": ["pending", "running"]}]):
        name = tags_of(i).get("parallelcluster:cluster-name")
        if name:
            out[name] = out.get(name, 0) + 1
    return out

