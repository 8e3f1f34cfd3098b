"""The pctl network as a CloudFormation stack, against the moto server: create, reuse, public-only to private,
concurrent runs, release only what a run made, never delete a network in use, earlier-pctl networks."""

from __future__ import annotations

import json
import threading

import pytest

from pctl.errors import PctlError
from pctl.network import stack as network_stack
from pctl.network.template import export_name, stack_name


def count_vpcs(aws):
    return len(aws.client("ec2").describe_vpcs()["Vpcs"])


def live_stacks(aws):
    return sorted(s["StackName"] for s in aws.client("cloudformation").describe_stacks()["Stacks"]
                  if s["StackStatus"] != "DELETE_COMPLETE")


def test_create_reuse_delete(aws):
    before = count_vpcs(aws)
    net = network_stack.ensure(aws, poll=0.01)
    assert net.created and net.stack == stack_name("us-east-1")
    assert len(net.public_subnets) == 2 and len(net.private_subnets) == 2 and net.nat_gateway_id
    assert len({z for _, z in net.public_subnets}) == 2, "two availability zones"
    assert [z for _, z in net.public_subnets] == [z for _, z in net.private_subnets]
    ec2 = aws.client("ec2")
    assert ec2.describe_vpc_attribute(VpcId=net.vpc_id, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"]
    subnets = {s["SubnetId"]: s for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [net.vpc_id]}])["Subnets"]}
    assert all(subnets[i]["MapPublicIpOnLaunch"] for i, _ in net.public_subnets)
    assert not any(subnets[i]["MapPublicIpOnLaunch"] for i, _ in net.private_subnets)
    # private subnets route through the NAT gateway, public ones through the internet gateway
    rts = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [net.vpc_id]}])["RouteTables"]
    route_of = {a["SubnetId"]: r for rt in rts for a in rt.get("Associations", []) if a.get("SubnetId")
                for r in rt["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"}
    assert all(route_of[i].get("NatGatewayId") == net.nat_gateway_id for i, _ in net.private_subnets)
    assert all(route_of[i].get("GatewayId", "").startswith("igw-") for i, _ in net.public_subnets)
    # a second cluster reuses it
    again = network_stack.ensure(aws, poll=0.01)
    assert again.vpc_id == net.vpc_id and not again.created
    assert count_vpcs(aws) == before + 1
    report = network_stack.delete(aws, poll=0.01)
    assert report["stack"] == net.stack
    assert count_vpcs(aws) == before and live_stacks(aws) == []
    assert [n for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] != "deleted"] == []
    assert ec2.describe_addresses()["Addresses"] == []


def test_public_only_then_a_private_cluster_adds_the_nat_gateway(aws):
    net = network_stack.ensure(aws, public_only=True, poll=0.01)
    assert net.public_only and net.nat_gateway_id is None
    assert aws.client("ec2").describe_addresses()["Addresses"] == []
    private = network_stack.ensure(aws, public_only=False, poll=0.01)
    assert private.vpc_id == net.vpc_id and len(private.private_subnets) == 2 and private.nat_gateway_id
    network_stack.delete(aws, poll=0.01)
    assert live_stacks(aws) == []


def test_concurrent_runs_make_one_network(aws_env):
    """Five runs in a fresh region at once: one creates the stack, the others wait for it and adopt it."""
    from pctl.aws import Aws

    results, errors = [], []

    def run():
        try:
            results.append(network_stack.ensure(Aws(region="us-east-1"), poll=0.01))
        except Exception as exc:  # noqa: BLE001 - collected and asserted
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len({r.vpc_id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    aws = Aws(region="us-east-1")
    assert len([v for v in aws.client("ec2").describe_vpcs()["Vpcs"] if not v.get("IsDefault")]) == 1



def test_losing_the_create_race_on_the_exports_adopts_the_winners_network(aws, monkeypatch):
    """CreateStack can refuse the loser of a race on its exports rather than its name (moto does, under load):
    the loser waits for the winner's stack and adopts it, it does not fail the user's create."""
    from pctl.aws import cloudformation as cfn
    from pctl.aws.errors import AwsError

    real = cfn.create_stack

    def winner_first(aws_, name, template, **kw):
        real(aws_, name, template, **kw)  # the other run's call lands first ...
        raise AwsError("AWS error during CreateStack: ValidationError: Export names must be unique across a "
                       "given region", code="ValidationError", operation="CreateStack")  # ... and ours loses

    monkeypatch.setattr(cfn, "create_stack", winner_first)
    net = network_stack.ensure(aws, poll=0.01)
    assert not net.created and net.stack == stack_name("us-east-1") and net.vpc_id
    assert live_stacks(aws) == [stack_name("us-east-1")]


def test_a_strangers_stack_holding_the_export_names_is_named_in_the_error(aws):
    stranger = {"Resources": {"T": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {"V": {"Value": "x", "Export": {"Name": export_name("us-east-1", "VpcId")}}}}
    aws.client("cloudformation").create_stack(StackName="someone-else", TemplateBody=json.dumps(stranger))
    with pytest.raises(PctlError) as err:
        network_stack.ensure(aws, poll=0.01)
    assert "Export names must be unique" in err.value.message
    assert export_name("us-east-1", "") in err.value.hint and "Traceback" not in str(err.value)
    assert live_stacks(aws) == ["someone-else"]

def _importer(aws, name: str):
    """A cluster's pctl stack importing the network (what create makes before ParallelCluster runs)."""
    tpl = {"Resources": {"P": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
        "ManagedPolicyName": f"pctl-test-{name}", "Path": "/pctl/",
        "Description": {"Fn::Join": ["", ["in ", {"Fn::ImportValue": export_name("us-east-1", "VpcId")}]]},
        "PolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}}}}}
    aws.client("cloudformation").create_stack(
        StackName=f"pctl-cluster-{name}", TemplateBody=json.dumps(tpl),
        Tags=[{"Key": "pctl:cluster", "Value": name}, {"Key": "pctl:network-export",
                                                       "Value": export_name("us-east-1", "VpcId")}])


def test_a_run_releases_only_its_own_network_and_never_one_in_use(aws):
    mine = network_stack.ensure(aws, poll=0.01)
    _importer(aws, "other")  # meanwhile another run adopted it and made its cluster stack
    assert network_stack.users(aws, "us-east-1") == ["other"]
    outcome = network_stack.release(aws, mine, poll=0.01)
    assert outcome.startswith("kept") and "other" in outcome
    assert network_stack.describe(aws).vpc_id == mine.vpc_id
    with pytest.raises(PctlError, match="in use by cluster"):
        network_stack.delete(aws, poll=0.01)
    # CloudFormation itself refuses too (the export is imported), even if pctl's own check were skipped
    aws.client("cloudformation").delete_stack(StackName=mine.stack)
    assert network_stack.describe(aws).status == "DELETE_FAILED"
    # a network that is merely adopted is never released by the adopting run
    adopted = network_stack.ensure(aws, poll=0.01)
    assert not adopted.created and network_stack.release(aws, adopted).startswith("kept")
    aws.client("cloudformation").delete_stack(StackName="pctl-cluster-other")
    assert network_stack.release(aws, mine, poll=0.01) == "deleted"
    assert live_stacks(aws) == []


def test_a_failed_network_stack_is_reported_and_gone(aws):
    """A stack that fails to create is rolled back by CloudFormation; the error says why."""
    ec2 = aws.client("ec2")

    def fail(**kwargs):
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "ValidationError", "Message": "injected: template refused"}},
                          "CreateStack")

    aws.client("cloudformation").meta.events.register("before-call.cloudformation.CreateStack", fail)
    with pytest.raises(PctlError) as exc:
        network_stack.ensure(aws, poll=0.01)
    assert "injected" in str(exc.value)
    assert [v for v in ec2.describe_vpcs()["Vpcs"] if not v.get("IsDefault")] == []


def test_a_network_made_by_an_earlier_pctl_is_used_as_is_and_deleted_by_network_delete(aws):
    """Earlier pctl made the network call by call (tagged resources, no stack): create uses it, read-only."""
    ec2 = aws.client("ec2")

    def tags(role):
        return [{"ResourceType": r, "Tags": [{"Key": "pctl:network", "Value": "us-east-1"},
                                             {"Key": "pctl:role", "Value": role}]}
                for r in ("vpc", "subnet", "internet-gateway")][:1]

    def spec(kind, role):
        return [{"ResourceType": kind, "Tags": [{"Key": "pctl:network", "Value": "us-east-1"},
                                                {"Key": "pctl:role", "Value": role}]}]

    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=spec("vpc", "vpc"))["Vpc"]["VpcId"]
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    pubs = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{16 * i}.0/20", AvailabilityZone=z,
                              TagSpecifications=spec("subnet", f"public-{i}"))["Subnet"]["SubnetId"]
            for i, z in enumerate(zones)]
    igw = ec2.create_internet_gateway(TagSpecifications=spec("internet-gateway", "igw"))["InternetGateway"]
    ec2.attach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=vpc)
    net = network_stack.ensure(aws, poll=0.01)
    assert net.legacy and net.vpc_id == vpc and [i for i, _ in net.public_subnets] == pubs and net.public_only
    assert live_stacks(aws) == []  # no stack made next to it
    report = network_stack.delete(aws, poll=0.01)
    assert report["stack"] is None and any(d.startswith("vpc ") for d in report["deleted"])
    assert [v for v in ec2.describe_vpcs()["Vpcs"] if not v.get("IsDefault")] == []
