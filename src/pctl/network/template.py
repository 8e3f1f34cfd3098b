"""The CloudFormation template of a region's pctl network (pure: no I/O, no AWS).

One stack per region, `pctl-network-<region>`: a VPC (DNS on, as ParallelCluster requires), public subnets in
two availability zones behind an internet gateway, and, unless the network is public-only, private subnets in
the same zones behind one NAT gateway. CloudFormation makes it atomic (all or nothing, rolled back by AWS), and
the stack name is a lock: two runs cannot both create it. Cluster stacks import its exports, so CloudFormation
refuses to delete the network while a cluster uses it.
"""

from __future__ import annotations

VPC_CIDR = "10.0.0.0/16"
PUBLIC_CIDRS = ("10.0.0.0/20", "10.0.16.0/20")
PRIVATE_CIDRS = ("10.0.64.0/18", "10.0.128.0/18")
TEMPLATE_VERSION = "1"


def stack_name(region: str) -> str:
    return f"pctl-network-{region}"


def export_name(region: str, key: str) -> str:
    return f"{stack_name(region)}-{key}"


def _tags(region: str, role: str, extra: dict[str, str] | None = None) -> list[dict]:
    tags = {"Name": f"pctl-{role}", "pctl:network": region, "pctl:role": role, "pctl:managed": "true"}
    tags.update(extra or {})
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def network_template(region: str, zones: list[str], *, public_only: bool,
                     tags: dict[str, str] | None = None) -> dict:
    """The network stack's template for two zones (names resolved by the caller, so the plan can show them)."""
    if len(zones) < 2:
        raise ValueError("the pctl network needs two availability zones")
    zones = zones[:2]
    res: dict = {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {
            "CidrBlock": VPC_CIDR, "EnableDnsSupport": True, "EnableDnsHostnames": True,
            "Tags": _tags(region, "vpc", tags)}},
        "InternetGateway": {"Type": "AWS::EC2::InternetGateway", "Properties": {"Tags": _tags(region, "igw", tags)}},
        "GatewayAttachment": {"Type": "AWS::EC2::VPCGatewayAttachment", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "InternetGatewayId": {"Ref": "InternetGateway"}}},
        "PublicRouteTable": {"Type": "AWS::EC2::RouteTable", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "Tags": _tags(region, "public-rt", tags)}},
        "PublicDefaultRoute": {"Type": "AWS::EC2::Route", "DependsOn": "GatewayAttachment", "Properties": {
            "RouteTableId": {"Ref": "PublicRouteTable"}, "DestinationCidrBlock": "0.0.0.0/0",
            "GatewayId": {"Ref": "InternetGateway"}}},
    }
    outputs: dict = {
        "VpcId": {"Value": {"Ref": "Vpc"}, "Export": {"Name": export_name(region, "VpcId")}},
        "PublicOnly": {"Value": "true" if public_only else "false"},
        "TemplateVersion": {"Value": TEMPLATE_VERSION},
    }
    for i, zone in enumerate(zones):
        n = i + 1
        res[f"PublicSubnet{n}"] = {"Type": "AWS::EC2::Subnet", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "CidrBlock": PUBLIC_CIDRS[i], "AvailabilityZone": zone,
            "MapPublicIpOnLaunch": True, "Tags": _tags(region, f"public-{i}", tags)}}
        res[f"PublicSubnet{n}Routes"] = {"Type": "AWS::EC2::SubnetRouteTableAssociation", "Properties": {
            "SubnetId": {"Ref": f"PublicSubnet{n}"}, "RouteTableId": {"Ref": "PublicRouteTable"}}}
        outputs[f"PublicSubnet{n}"] = {"Value": {"Ref": f"PublicSubnet{n}"},
                                       "Export": {"Name": export_name(region, f"PublicSubnet{n}")}}
        outputs[f"Zone{n}"] = {"Value": zone}
    if not public_only:
        res["NatAddress"] = {"Type": "AWS::EC2::EIP", "DependsOn": "GatewayAttachment", "Properties": {
            "Domain": "vpc", "Tags": _tags(region, "nat-eip", tags)}}
        res["NatGateway"] = {"Type": "AWS::EC2::NatGateway", "Properties": {
            "SubnetId": {"Ref": "PublicSubnet1"}, "AllocationId": {"Fn::GetAtt": ["NatAddress", "AllocationId"]},
            "Tags": _tags(region, "nat", tags)}}
        res["PrivateRouteTable"] = {"Type": "AWS::EC2::RouteTable", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "Tags": _tags(region, "private-rt", tags)}}
        res["PrivateDefaultRoute"] = {"Type": "AWS::EC2::Route", "Properties": {
            "RouteTableId": {"Ref": "PrivateRouteTable"}, "DestinationCidrBlock": "0.0.0.0/0",
            "NatGatewayId": {"Ref": "NatGateway"}}}
        for i, zone in enumerate(zones):
            n = i + 1
            res[f"PrivateSubnet{n}"] = {"Type": "AWS::EC2::Subnet", "Properties": {
                "VpcId": {"Ref": "Vpc"}, "CidrBlock": PRIVATE_CIDRS[i], "AvailabilityZone": zone,
                "MapPublicIpOnLaunch": False, "Tags": _tags(region, f"private-{i}", tags)}}
            res[f"PrivateSubnet{n}Routes"] = {"Type": "AWS::EC2::SubnetRouteTableAssociation", "Properties": {
                "SubnetId": {"Ref": f"PrivateSubnet{n}"}, "RouteTableId": {"Ref": "PrivateRouteTable"}}}
            outputs[f"PrivateSubnet{n}"] = {"Value": {"Ref": f"PrivateSubnet{n}"},
                                            "Export": {"Name": export_name(region, f"PrivateSubnet{n}")}}
        outputs["NatGateway"] = {"Value": {"Ref": "NatGateway"}}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"pctl network for {region}: VPC, subnets in two zones"
                       + ("" if public_only else ", NAT gateway") + " (managed by pctl; remove with "
                       "'pctl network delete')",
        "Resources": res,
        "Outputs": outputs,
    }
