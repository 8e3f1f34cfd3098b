"""The pctl network against the moto server: create, reuse, delete, fault injection, adoption."""

from __future__ import annotations

import pytest

from pctl.network.delete import delete_network, tagged_resources
from pctl.network.ensure import ensure_network

STEPS = ["CreateVpc", "CreateInternetGateway", "AttachInternetGateway", "CreateSubnet", "CreateRouteTable",
         "CreateRoute", "AssociateRouteTable", "AllocateAddress", "CreateNatGateway", "CreateSecurityGroup",
         "AuthorizeSecurityGroupIngress", "ModifySubnetAttribute"]


def count_vpcs(aws):
    return len(aws.client("ec2").describe_vpcs()["Vpcs"])


def test_create_reuse_delete(aws):
    before = count_vpcs(aws)
    net = ensure_network(aws, ssh_cidr="203.0.113.0/24", poll=0)
    assert net.vpc_id and len(net.public_subnets) == 2 and len(net.private_subnets) == 2 and net.nat_gateway_id
    assert count_vpcs(aws) == before + 1
    ec2 = aws.client("ec2")
    vpc = ec2.describe_vpc_attribute(VpcId=net.vpc_id, Attribute="enableDnsHostnames")
    assert vpc["EnableDnsHostnames"]["Value"] is True
    sg = ec2.describe_security_groups(GroupIds=[net.security_group_id])["SecurityGroups"][0]
    cidrs = [r["CidrIp"] for p in sg["IpPermissions"] for r in p["IpRanges"]]
    assert cidrs == ["203.0.113.0/24"]
    # a second cluster reuses it: no new VPC, nothing created
    again = ensure_network(aws, ssh_cidr="203.0.113.0/24", poll=0)
    assert again.vpc_id == net.vpc_id and again.created == []
    assert count_vpcs(aws) == before + 1
    # private subnets route through the NAT gateway, public through the internet gateway
    rts = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [net.vpc_id]}])["RouteTables"]
    targets = {r.get("NatGatewayId") or r.get("GatewayId") for rt in rts for r in rt["Routes"]
               if r.get("DestinationCidrBlock") == "0.0.0.0/0"}
    assert net.nat_gateway_id in targets and any(t and t.startswith("igw-") for t in targets)
    deleted = delete_network(aws, poll=0)
    assert {k for k, _ in deleted} >= {"vpc", "subnet", "nat-gateway", "elastic-ip", "internet-gateway", "route-table"}
    assert tagged_resources(aws) == []
    assert count_vpcs(aws) == before


def test_public_only_has_no_nat(aws):
    net = ensure_network(aws, public_only=True, poll=0)
    assert net.nat_gateway_id is None and net.private_subnets == [] and net.public_only
    assert aws.client("ec2").describe_addresses()["Addresses"] == []
    delete_network(aws, poll=0)
    assert tagged_resources(aws) == []


@pytest.mark.parametrize("operation", STEPS)
def test_fault_at_every_step_leaves_nothing(aws, operation):
    from botocore.exceptions import ClientError

    ec2 = aws.client("ec2")

    def fail(**kwargs):
        raise ClientError({"Error": {"Code": "InternalError", "Message": f"injected failure in {operation}"}}, operation)

    ec2.meta.events.register(f"before-call.ec2.{operation}", fail)
    from pctl.errors import PctlError

    with pytest.raises(PctlError) as exc:
        ensure_network(aws, ssh_cidr="198.51.100.0/24", poll=0)
    assert operation in str(exc.value) or "InternalError" in str(exc.value)
    ec2.meta.events.unregister(f"before-call.ec2.{operation}", fail)
    assert tagged_resources(aws) == [], f"left behind after a failure in {operation}"


def test_interrupted_run_is_adopted(aws):
    ec2 = aws.client("ec2")

    def interrupt(**kwargs):
        raise KeyboardInterrupt

    # simulate a run killed hard (no rollback): create the VPC and a subnet by hand, tagged as pctl would
    from pctl.network.ensure import _spec

    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=_spec("vpc", "us-east-1", "vpc"))["Vpc"]["VpcId"]
    net = ensure_network(aws, poll=0)
    assert net.vpc_id == vpc and ("vpc", vpc) in net.adopted
    assert count_vpcs(aws) == 2  # the default VPC and ours
    # Ctrl-C during a run rolls back only what that run made
    delete_network(aws, poll=0)
    ec2.meta.events.register("before-call.ec2.CreateNatGateway", interrupt)
    with pytest.raises(KeyboardInterrupt):
        ensure_network(aws, poll=0)
    ec2.meta.events.unregister("before-call.ec2.CreateNatGateway", interrupt)
    assert tagged_resources(aws) == []


def test_delete_refuses_while_in_use(aws):
    from pctl.errors import PctlError

    net = ensure_network(aws, public_only=True, poll=0)
    ec2 = aws.client("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1, SubnetId=net.public_subnets[0])
    with pytest.raises(PctlError, match="still in use"):
        delete_network(aws, poll=0)
    assert tagged_resources(aws)
