"""EC2 calls for a pctl network made before networks became stacks (resources tagged pctl:network=<region>,
no CloudFormation stack): find it, list what is left of it, delete it in dependency order."""

from __future__ import annotations

import time

from pctl.aws.errors import AwsError
from pctl.aws.session import aws_errors

TAG_NETWORK = "pctl:network"
TAG_ROLE = "pctl:role"
CFN_TAG = "aws:cloudformation:stack-name"


def _filters(region: str, role: str | None = None) -> list[dict]:
    f = [{"Name": f"tag:{TAG_NETWORK}", "Values": [region]}]
    if role:
        f.append({"Name": f"tag:{TAG_ROLE}", "Values": [role]})
    return f


def _tags(obj: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in obj.get("Tags", []) or []}


def describe(aws, region: str) -> dict | None:
    """{vpc_id, public: [(id, zone)], private: [(id, zone)], nat} of an old-style network, else None."""
    ec2 = aws.client("ec2")
    with aws_errors():
        vpcs = [v for v in ec2.describe_vpcs(Filters=_filters(region, "vpc"))["Vpcs"] if CFN_TAG not in _tags(v)]
        if not vpcs:
            return None
        vpc = sorted(vpcs, key=lambda v: v["VpcId"])[0]["VpcId"]
        subnets = ec2.describe_subnets(Filters=_filters(region) + [{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
        nats = [n for n in ec2.describe_nat_gateways(Filters=_filters(region, "nat"))["NatGateways"]
                if n["State"] in ("pending", "available") and n.get("VpcId") in (vpc, None)]
    by_role = {_tags(s).get(TAG_ROLE): (s["SubnetId"], s["AvailabilityZone"]) for s in subnets}
    public = [by_role[r] for r in ("public-0", "public-1") if r in by_role]
    private = [by_role[r] for r in ("private-0", "private-1") if r in by_role]
    if not public:
        return None
    return {"vpc_id": vpc, "public": public, "private": private, "nat": nats[0]["NatGatewayId"] if nats else None}


def _gone(exc: AwsError) -> bool:
    return "NotFound" in str(exc.code or "")


def _wait_nat_deleted(ec2, nid: str, poll: float, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with aws_errors():
                gws = ec2.describe_nat_gateways(NatGatewayIds=[nid])["NatGateways"]
        except AwsError as exc:
            if _gone(exc):
                return
            raise
        if not gws or gws[0]["State"] in ("deleted", "failed"):
            return
        time.sleep(poll)
    raise AwsError(f"NAT gateway {nid} still deleting after {timeout:.0f} s", hint="run the command again later")


def delete_resource(aws, kind: str, rid: str, *, poll: float = 2.0) -> None:
    """Delete one network resource, first removing what depends on it. Missing = done."""
    ec2 = aws.client("ec2")
    try:
        with aws_errors():
            if kind == "nat-gateway":
                ec2.delete_nat_gateway(NatGatewayId=rid)
                _wait_nat_deleted(ec2, rid, poll)
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
    except AwsError as exc:
        if not _gone(exc):
            raise


ORDER = ["nat-gateway", "elastic-ip", "route-table", "subnet", "internet-gateway", "security-group", "vpc"]


def tagged_resources(aws, region: str, *, include_stacks: bool = False) -> list[tuple[str, str]]:
    """Every resource tagged pctl:network=<region> (by default only those outside a CloudFormation stack)."""
    ec2 = aws.client("ec2")
    f = _filters(region)

    def keep(obj):
        return include_stacks or CFN_TAG not in _tags(obj)

    out: list[tuple[str, str]] = []
    with aws_errors():
        out += [("nat-gateway", n["NatGatewayId"]) for n in ec2.describe_nat_gateways(Filters=f)["NatGateways"]
                if n["State"] not in ("deleted", "failed") and keep(n)]
        out += [("elastic-ip", a["AllocationId"]) for a in ec2.describe_addresses(Filters=f)["Addresses"] if keep(a)]
        out += [("route-table", r["RouteTableId"]) for r in ec2.describe_route_tables(Filters=f)["RouteTables"]
                if keep(r)]
        out += [("subnet", s["SubnetId"]) for s in ec2.describe_subnets(Filters=f)["Subnets"] if keep(s)]
        out += [("internet-gateway", g["InternetGatewayId"])
                for g in ec2.describe_internet_gateways(Filters=f)["InternetGateways"] if keep(g)]
        out += [("security-group", g["GroupId"]) for g in ec2.describe_security_groups(Filters=f)["SecurityGroups"]
                if keep(g) and g.get("GroupName") != "default"]
        out += [("vpc", v["VpcId"]) for v in ec2.describe_vpcs(Filters=f)["Vpcs"] if keep(v)]
    return out


def delete_all(aws, region: str, *, progress=None, poll: float = 2.0) -> list[tuple[str, str]]:
    resources = tagged_resources(aws, region)
    deleted = []
    for kind in ORDER:
        for k, rid in resources:
            if k == kind:
                delete_resource(aws, kind, rid, poll=poll)
                deleted.append((kind, rid))
                if progress:
                    progress(f"deleted {kind} {rid}")
    return deleted
