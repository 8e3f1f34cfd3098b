"""Delete the pctl network of a region in dependency order, and find what is left."""

from __future__ import annotations

import time

from pctl.aws import aws_errors
from pctl.network.ensure import TAG_NETWORK, _filters


def _gone(exc) -> bool:
    code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
    return code.endswith((".NotFound", "NotFound")) or "NotFound" in code or code in ("InvalidAllocationID.NotFound",)


def _wait_nat_deleted(ec2, nid: str, poll: float = 5.0, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            gws = ec2.describe_nat_gateways(NatGatewayIds=[nid])["NatGateways"]
        except Exception as exc:
            if _gone(exc):
                return
            raise
        if not gws or gws[0]["State"] in ("deleted", "failed"):
            return
        time.sleep(poll)
    raise TimeoutError(f"NAT gateway {nid} still deleting after {timeout:.0f} s")


def delete_resource(aws, kind: str, rid: str, *, poll: float = 2.0) -> None:
    """Delete one network resource, first removing what depends on it. Missing = done."""
    from botocore.exceptions import ClientError

    ec2 = aws.client("ec2")
    try:
        if kind == "nat-gateway":
            ec2.delete_nat_gateway(NatGatewayId=rid)
            _wait_nat_deleted(ec2, rid, poll=poll)
        elif kind == "elastic-ip":
            ec2.release_address(AllocationId=rid)
        elif kind == "route-table":
            rts = ec2.describe_route_tables(RouteTableIds=[rid])["RouteTables"]
            for a in (rts[0].get("Associations", []) if rts else []):
                if not a.get("Main"):
                    ec2.disassociate_route_table(AssociationId=a["RouteTableAssociationId"])
            ec2.delete_route_table(RouteTableId=rid)
        elif kind == "subnet":
            ec2.delete_subnet(SubnetId=rid)
        elif kind == "internet-gateway":
            igws = ec2.describe_internet_gateways(InternetGatewayIds=[rid])["InternetGateways"]
            for a in (igws[0].get("Attachments", []) if igws else []):
                ec2.detach_internet_gateway(InternetGatewayId=rid, VpcId=a["VpcId"])
            ec2.delete_internet_gateway(InternetGatewayId=rid)
        elif kind == "security-group":
            ec2.delete_security_group(GroupId=rid)
        elif kind == "vpc":
            ec2.delete_vpc(VpcId=rid)
        else:  # pragma: no cover - programming error
            raise ValueError(f"unknown network resource kind {kind}")
    except ClientError as exc:
        if not _gone(exc):
            raise


def tagged_resources(aws, region: str | None = None) -> list[tuple[str, str]]:
    """Every resource carrying the pctl:network tag of the region (what `delete` must remove)."""
    region = region or aws.region
    ec2 = aws.client("ec2")
    f = _filters(region)
    out: list[tuple[str, str]] = []
    with aws_errors():
        out += [("nat-gateway", n["NatGatewayId"]) for n in ec2.describe_nat_gateways(Filters=f)["NatGateways"]
                if n["State"] not in ("deleted", "failed")]
        out += [("elastic-ip", a["AllocationId"]) for a in ec2.describe_addresses(Filters=f)["Addresses"]]
        out += [("route-table", r["RouteTableId"]) for r in ec2.describe_route_tables(Filters=f)["RouteTables"]]
        out += [("subnet", s["SubnetId"]) for s in ec2.describe_subnets(Filters=f)["Subnets"]]
        out += [("internet-gateway", g["InternetGatewayId"]) for g in ec2.describe_internet_gateways(Filters=f)["InternetGateways"]]
        out += [("security-group", g["GroupId"]) for g in ec2.describe_security_groups(Filters=f)["SecurityGroups"]]
        out += [("vpc", v["VpcId"]) for v in ec2.describe_vpcs(Filters=f)["Vpcs"]]
    return out


ORDER = ["nat-gateway", "elastic-ip", "route-table", "subnet", "internet-gateway", "security-group", "vpc"]


def users_of(aws, vpc_id: str) -> list[str]:
    """Network interfaces in the VPC that are not pctl's own NAT gateway: clusters, builders, anything."""
    ec2 = aws.client("ec2")
    with aws_errors():
        enis = ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["NetworkInterfaces"]
        nats = ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["NatGateways"]
    nat_enis = {a.get("NetworkInterfaceId") for n in nats for a in n.get("NatGatewayAddresses", [])}
    nat_allocs = {a.get("AllocationId") for n in nats for a in n.get("NatGatewayAddresses", [])}
    users = []
    for e in enis:
        if (e.get("InterfaceType") == "nat_gateway" or e["NetworkInterfaceId"] in nat_enis
                or (e.get("Association") or {}).get("AllocationId") in nat_allocs):
            continue
        owner = (e.get("Attachment") or {}).get("InstanceId") or e.get("Description") or e["NetworkInterfaceId"]
        users.append(owner)
    return users


def delete_network(aws, *, region: str | None = None, force_in_use: bool = False, progress=None,
                   poll: float = 2.0) -> list[tuple[str, str]]:
    """Delete everything tagged as the region's pctl network. Refuses while something uses the VPC."""
    from pctl.errors import PctlError

    resources = tagged_resources(aws, region)
    vpcs = [rid for kind, rid in resources if kind == "vpc"]
    if not force_in_use:
        for vpc in vpcs:
            users = users_of(aws, vpc)
            if users:
                raise PctlError(f"the pctl network {vpc} is still in use by: {', '.join(sorted(set(users))[:10])}",
                                hint="delete its clusters first (pctl list, pctl delete NAME); then run this again")
    deleted = []
    with aws_errors():
        for kind in ORDER:
            for k, rid in resources:
                if k != kind:
                    continue
                if kind == "security-group" and _is_default_sg(aws, rid):
                    continue
                delete_resource(aws, kind, rid, poll=poll)
                deleted.append((kind, rid))
                if progress:
                    progress(f"deleted {kind} {rid}")
    return deleted


def _is_default_sg(aws, gid: str) -> bool:
    try:
        sgs = aws.client("ec2").describe_security_groups(GroupIds=[gid])["SecurityGroups"]
        return bool(sgs) and sgs[0].get("GroupName") == "default"
    except Exception:
        return False


def list_networks(aws) -> list[dict]:
    ec2 = aws.client("ec2")
    with aws_errors():
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag-key", "Values": [TAG_NETWORK]}])["Vpcs"]
    out = []
    for v in vpcs:
        tags = {t["Key"]: t["Value"] for t in v.get("Tags", [])}
        with aws_errors():
            subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [v["VpcId"]]}])["Subnets"]
            nats = [n for n in ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [v["VpcId"]]}])["NatGateways"]
                    if n["State"] in ("pending", "available")]
        out.append({"region": tags.get(TAG_NETWORK), "vpc_id": v["VpcId"], "cidr": v.get("CidrBlock"),
                    "subnets": len(subnets), "nat": bool(nats), "in_use_by": users_of(aws, v["VpcId"])})
    return out
