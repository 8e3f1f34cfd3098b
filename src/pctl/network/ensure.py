"""Create or adopt the pctl network of a region. Idempotent and resumable: every resource carries
pctl:* tags, a re-run adopts what exists, and a failure rolls back what this run created."""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field

from pctl.aws import aws_errors

TAG_NETWORK = "pctl:network"
TAG_ROLE = "pctl:role"
VPC_CIDR = "10.0.0.0/16"
PUBLIC_CIDRS = ("10.0.0.0/20", "10.0.16.0/20")
PRIVATE_CIDRS = ("10.0.64.0/18", "10.0.128.0/18")


@dataclass
class Network:
    region: str
    vpc_id: str
    public_subnets: list[str]
    private_subnets: list[str] = field(default_factory=list)
    nat_gateway_id: str | None = None
    security_group_id: str | None = None
    created: list[tuple[str, str]] = field(default_factory=list)  # (kind, id) made by this run
    adopted: list[tuple[str, str]] = field(default_factory=list)

    @property
    def public_only(self) -> bool:
        return not (self.private_subnets and self.nat_gateway_id)

    def compute_subnets(self, public_only: bool) -> list[str]:
        return list(self.public_subnets if public_only or self.public_only else self.private_subnets)

    def to_dict(self) -> dict:
        return {"region": self.region, "vpc_id": self.vpc_id, "public_subnets": self.public_subnets,
                "private_subnets": self.private_subnets, "nat_gateway_id": self.nat_gateway_id,
                "security_group_id": self.security_group_id, "public_only": self.public_only,
                "created": [f"{k} {i}" for k, i in self.created], "adopted": [f"{k} {i}" for k, i in self.adopted]}


class NetworkError(Exception):
    pass


def _tags(region: str, role: str, extra: dict | None = None) -> list[dict]:
    tags = {"Name": f"pctl-{role}", TAG_NETWORK: region, TAG_ROLE: role, "pctl:managed": "true"}
    tags.update(extra or {})
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _spec(resource: str, region: str, role: str) -> list[dict]:
    return [{"ResourceType": resource, "Tags": _tags(region, role)}]


def _filters(region: str, role: str | None = None) -> list[dict]:
    f = [{"Name": f"tag:{TAG_NETWORK}", "Values": [region]}]
    if role:
        f.append({"Name": f"tag:{TAG_ROLE}", "Values": [role]})
    return f


class _Builder:
    def __init__(self, aws, *, progress=None, poll: float = 5.0, timeout: float = 900):
        self.aws = aws
        self.ec2 = aws.client("ec2")
        self.region = aws.region
        self.created: list[tuple[str, str]] = []
        self.adopted: list[tuple[str, str]] = []
        self.progress = progress or (lambda msg: None)
        self.poll = poll
        self.timeout = timeout

    def _adopt(self, kind, rid):
        self.adopted.append((kind, rid))
        return rid

    def _made(self, kind, rid):
        self.created.append((kind, rid))
        self.progress(f"created {kind} {rid}")
        return rid

    def vpc(self) -> str:
        vpcs = self.ec2.describe_vpcs(Filters=_filters(self.region, "vpc"))["Vpcs"]
        if vpcs:
            vid = sorted(vpcs, key=lambda v: v["VpcId"])[0]["VpcId"]
            self._adopt("vpc", vid)
        else:
            vid = self._made("vpc", self.ec2.create_vpc(CidrBlock=VPC_CIDR, TagSpecifications=_spec("vpc", self.region, "vpc"))["Vpc"]["VpcId"])
        # ParallelCluster needs DNS support and hostnames
        self.ec2.modify_vpc_attribute(VpcId=vid, EnableDnsSupport={"Value": True})
        self.ec2.modify_vpc_attribute(VpcId=vid, EnableDnsHostnames={"Value": True})
        return vid

    def igw(self, vpc_id: str) -> str:
        igws = self.ec2.describe_internet_gateways(Filters=_filters(self.region, "igw"))["InternetGateways"]
        if igws:
            gid = igws[0]["InternetGatewayId"]
            self._adopt("internet-gateway", gid)
            attached = {a["VpcId"] for a in igws[0].get("Attachments", [])}
        else:
            gid = self._made("internet-gateway", self.ec2.create_internet_gateway(
                TagSpecifications=_spec("internet-gateway", self.region, "igw"))["InternetGateway"]["InternetGatewayId"])
            attached = set()
        if vpc_id not in attached:
            self.ec2.attach_internet_gateway(InternetGatewayId=gid, VpcId=vpc_id)
        return gid

    def zones(self) -> list[str]:
        zs = self.ec2.describe_availability_zones(Filters=[{"Name": "state", "Values": ["available"]}])["AvailabilityZones"]
        names = sorted(z["ZoneName"] for z in zs if z.get("ZoneType", "availability-zone") == "availability-zone")
        if len(names) < 2:
            raise NetworkError(f"region {self.region} has fewer than two availability zones available")
        return names[:2]

    def subnet(self, vpc_id: str, role: str, cidr: str, zone: str, public: bool) -> str:
        found = self.ec2.describe_subnets(Filters=_filters(self.region, role) + [{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
        if found:
            return self._adopt("subnet", found[0]["SubnetId"])
        sid = self._made("subnet", self.ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=zone,
                                                          TagSpecifications=_spec("subnet", self.region, role))["Subnet"]["SubnetId"])
        if public:
            self.ec2.modify_subnet_attribute(SubnetId=sid, MapPublicIpOnLaunch={"Value": True})
        return sid

    def route_table(self, vpc_id: str, role: str, subnets: list[str], *, gateway: str | None = None,
                    nat: str | None = None) -> str:
        found = self.ec2.describe_route_tables(Filters=_filters(self.region, role))["RouteTables"]
        if found:
            rt = found[0]
            rid = self._adopt("route-table", rt["RouteTableId"])
        else:
            rt = self.ec2.create_route_table(VpcId=vpc_id, TagSpecifications=_spec("route-table", self.region, role))["RouteTable"]
            rid = self._made("route-table", rt["RouteTableId"])
        routes = {r.get("DestinationCidrBlock"): r for r in rt.get("Routes", [])}
        target = {"GatewayId": gateway} if gateway else {"NatGatewayId": nat}
        current = routes.get("0.0.0.0/0")
        if current is None:
            self.ec2.create_route(RouteTableId=rid, DestinationCidrBlock="0.0.0.0/0", **target)
        elif (gateway and current.get("GatewayId") != gateway) or (nat and current.get("NatGatewayId") != nat):
            self.ec2.replace_route(RouteTableId=rid, DestinationCidrBlock="0.0.0.0/0", **target)
        associated = {a.get("SubnetId") for a in rt.get("Associations", [])}
        for s in subnets:
            if s not in associated:
                self.ec2.associate_route_table(RouteTableId=rid, SubnetId=s)
        return rid

    def nat(self, public_subnet: str) -> str:
        found = [n for n in self.ec2.describe_nat_gateways(Filters=_filters(self.region, "nat"))["NatGateways"]
                 if n["State"] in ("pending", "available")]
        if found:
            nid = self._adopt("nat-gateway", found[0]["NatGatewayId"])
        else:
            eips = self.ec2.describe_addresses(Filters=_filters(self.region, "nat-eip"))["Addresses"]
            free = [a for a in eips if not a.get("AssociationId") and not a.get("NetworkInterfaceId")]
            if free:
                alloc = self._adopt("elastic-ip", free[0]["AllocationId"])
            else:
                alloc = self._made("elastic-ip", self.ec2.allocate_address(
                    Domain="vpc", TagSpecifications=_spec("elastic-ip", self.region, "nat-eip"))["AllocationId"])
            nid = self._made("nat-gateway", self.ec2.create_nat_gateway(
                SubnetId=public_subnet, AllocationId=alloc,
                TagSpecifications=_spec("natgateway", self.region, "nat"))["NatGateway"]["NatGatewayId"])
        self._wait_nat(nid)
        return nid

    def _wait_nat(self, nid: str) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            state = self.ec2.describe_nat_gateways(NatGatewayIds=[nid])["NatGateways"][0]["State"]
            if state == "available":
                return
            if state in ("failed", "deleting", "deleted"):
                raise NetworkError(f"NAT gateway {nid} is {state}")
            if time.monotonic() > deadline:
                raise NetworkError(f"NAT gateway {nid} did not become available in {self.timeout:.0f} s")
            self.progress(f"waiting for NAT gateway {nid} ({state})")
            time.sleep(self.poll)

    def security_group(self, vpc_id: str, ssh_cidr: str | None) -> str:
        found = self.ec2.describe_security_groups(Filters=_filters(self.region, "ssh") + [{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]
        if found:
            sg = found[0]
            gid = self._adopt("security-group", sg["GroupId"])
            have = {r.get("CidrIp") for p in sg.get("IpPermissions", []) if p.get("FromPort") == 22 for r in p.get("IpRanges", [])}
        else:
            gid = self._made("security-group", self.ec2.create_security_group(
                GroupName=f"pctl-ssh-{self.region}", Description="pctl: SSH to head nodes from allowed addresses",
                VpcId=vpc_id, TagSpecifications=_spec("security-group", self.region, "ssh"))["GroupId"])
            have = set()
        if ssh_cidr and ssh_cidr not in have:
            ipaddress.ip_network(ssh_cidr)  # validated upstream; fail loudly if not
            self.ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[{
                "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                "IpRanges": [{"CidrIp": ssh_cidr, "Description": "pctl ssh"}]}])
        return gid


def ensure_network(aws, *, public_only: bool = False, ssh_cidr: str | None = None, progress=None,
                   poll: float = 5.0) -> Network:
    """Create the region's pctl network, or adopt and complete the one that exists."""
    b = _Builder(aws, progress=progress, poll=poll)
    try:
        with aws_errors():
            vpc = b.vpc()
            igw = b.igw(vpc)
            zones = b.zones()
            public = [b.subnet(vpc, f"public-{i}", PUBLIC_CIDRS[i], z, True) for i, z in enumerate(zones)]
            b.route_table(vpc, "public-rt", public, gateway=igw)
            private: list[str] = []
            nat = None
            existing_nat = b.ec2.describe_nat_gateways(Filters=_filters(aws.region, "nat"))["NatGateways"]
            if not public_only or any(n["State"] in ("pending", "available") for n in existing_nat):
                private = [b.subnet(vpc, f"private-{i}", PRIVATE_CIDRS[i], z, False) for i, z in enumerate(zones)]
                nat = b.nat(public[0])
                b.route_table(vpc, "private-rt", private, nat=nat)
            sg = b.security_group(vpc, ssh_cidr)
    except BaseException as exc:
        rollback(aws, b.created, progress=progress)
        if isinstance(exc, NetworkError):
            from pctl.errors import PctlError

            raise PctlError(f"network: {exc}", hint="nothing this run created was kept") from None
        raise
    return Network(region=aws.region, vpc_id=vpc, public_subnets=public, private_subnets=private, nat_gateway_id=nat,
                   security_group_id=sg, created=b.created, adopted=b.adopted)


def rollback(aws, created: list[tuple[str, str]], *, progress=None) -> list[str]:
    """Delete, newest first, what a failed run created. Returns what could not be deleted."""
    from pctl.network.delete import delete_resource

    left = []
    for kind, rid in reversed(created):
        try:
            delete_resource(aws, kind, rid)
            if progress:
                progress(f"rolled back {kind} {rid}")
        except Exception as exc:  # keep going: report what is left
            left.append(f"{kind} {rid}: {exc}")
    return left
