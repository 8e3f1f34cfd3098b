"""Where moto 5 differs from AWS in ways pctl's tests depend on, make it behave as AWS documents. Each shim
names the AWS behaviour it restores; none of them makes a call succeed that AWS would refuse.

1. Bucket policies (IAM condition evaluation). moto puts no aws:SecureTransport into its condition context
   and answers DENIED for any statement whose condition does not match, whatever its Effect: the standard
   TLS-only statement then denies every call. AWS sets SecureTransport=true for HTTPS, a Deny whose condition
   does not match does not apply, and a statement for an AWS service principal never applies to an IAM
   caller (ParallelCluster's own bucket policy relies on both).
2. CloudFormation EC2 resources. moto's CloudFormation ignores Subnet.MapPublicIpOnLaunch, VPC DNS
   attributes and the tags of NAT gateways, Elastic IPs and internet gateways; it records subnet/route-table
   associations without associating; and it cannot delete NAT gateways, Elastic IPs, internet gateways, their
   attachments, route tables, routes or associations, so deleting a network stack fails with
   DependencyViolation. AWS does all of these.
3. Exports in use. AWS refuses to delete a stack while another stack imports one of its exports (the stack
   ends DELETE_FAILED with "Export X cannot be deleted as it is in use by Y"); moto deletes it.
4. CloudFormation-made IAM managed policies are deleted with their stack (moto keeps them).
5. A deleted stack has no outputs or resources (moto makes its resources again when asked for them).
6. A template error rejects CreateStack and leaves nothing (moto keeps a half-made stack and its resources).
7. An update that adds outputs adds their exports.
8. ParallelCluster's official AMIs exist (owner amazon), as they do in every AWS region.
9. FSx file systems have AWS-shaped ids (fs- and 17 hex digits) and a network interface in their subnet.

With PCTL_MOTO_HOLLOW_STACKS=1 (a second server for lifecycle tests, never the create tests), a stack moto cannot
make is recorded with its parameters and no resources, so ParallelCluster's create completes and describe, list,
status and delete run for real against it (the test launches the head node instance CloudFormation would have).
"""

from __future__ import annotations

import json
import os


def install_policy_shim() -> None:
    from moto.iam import access_control as _ac

    orig = _ac.IAMPolicyStatement.is_action_permitted

    def permitted(self, action, resource="*", principal=None, incoming_condition_values=None):
        values = dict(incoming_condition_values or {})
        values.setdefault("aws:SecureTransport", "true")
        who = self._statement.get("Principal")
        if isinstance(who, dict) and set(who) == {"Service"}:
            return _ac.PermissionResult.NEUTRAL  # a service principal is never the IAM caller
        cond = self._statement.get("Condition") or {}
        if set(cond) == {"Bool"}:
            for key, want in cond["Bool"].items():
                if key not in values:
                    break
                wants = [str(x).lower() for x in (want if isinstance(want, list) else [want])]
                if str(values[key]).lower() not in wants:
                    return _ac.PermissionResult.NEUTRAL  # the statement does not apply to this request
        return orig(self, action, resource, principal, values)

    _ac.IAMPolicyStatement.is_action_permitted = permitted


def _tag(obj, props) -> None:
    for t in props.get("Tags", []) or []:
        obj.add_tag(t["Key"], t["Value"])


def install_cloudformation_ec2_shim() -> None:
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.elastic_ip_addresses import ElasticAddress
    from moto.ec2.models.internet_gateways import InternetGateway
    from moto.ec2.models.nat_gateways import NatGateway
    from moto.ec2.models.route_tables import Route, RouteTable
    from moto.ec2.models.subnets import Subnet, SubnetRouteTableAssociation
    from moto.ec2.models.vpcs import VPC
    from moto.ec2.models.vpn_gateway import VPCGatewayAttachment

    def wrap_create(cls, after):
        orig = cls.create_from_cloudformation_json.__func__

        def create(klass, resource_name, cloudformation_json, account_id, region_name, **kw):
            obj = orig(klass, resource_name, cloudformation_json, account_id, region_name, **kw)
            return after(obj, cloudformation_json.get("Properties", {}), ec2_backends[account_id][region_name]) or obj

        cls.create_from_cloudformation_json = classmethod(create)

    def subnet_after(subnet, props, backend):
        if str(props.get("MapPublicIpOnLaunch", "")).lower() == "true":
            subnet.map_public_ip_on_launch = True

    def vpc_after(vpc, props, backend):
        for key, attr in (("EnableDnsSupport", "enable_dns_support"), ("EnableDnsHostnames", "enable_dns_hostnames")):
            if key in props:
                setattr(vpc, attr, str(props[key]).lower() == "true")

    def tagged_after(obj, props, backend):
        _tag(obj, props)

    def association_after(assoc, props, backend):
        backend.subnet_associations.pop(f"{assoc.route_table_id}:{assoc.subnet_id}", None)
        assoc.association_id = backend.associate_route_table(assoc.route_table_id, subnet_id=assoc.subnet_id)

    wrap_create(Subnet, subnet_after)
    wrap_create(VPC, vpc_after)
    wrap_create(NatGateway, tagged_after)
    wrap_create(ElasticAddress, tagged_after)
    wrap_create(InternetGateway, tagged_after)
    wrap_create(RouteTable, tagged_after)
    wrap_create(SubnetRouteTableAssociation, association_after)

    def nat_delete(self, account_id, region_name):
        backend = ec2_backends[account_id][region_name]
        backend.delete_nat_gateway(self.id)
        for eip in backend.addresses:
            if eip.allocation_id in {a.get("allocationId") for a in self.address_set}:
                eip.eni = eip.instance = eip.association_id = None
        eni = getattr(self, "_eni", None)
        if eni is not None and eni.id in backend.enis:
            backend.delete_network_interface(eni.id)

    def eip_delete(self, account_id, region_name):
        from moto.ec2.exceptions import DependencyViolationError

        backend = ec2_backends[account_id][region_name]
        for nat in backend.nat_gateways.values():  # AWS: an address in use by a NAT gateway cannot be released
            if nat.state != "deleted" and self.allocation_id in {a.get("allocationId") for a in nat.address_set}:
                raise DependencyViolationError(f"{self.allocation_id} is in use by {nat.id}")
        backend.release_address(allocation_id=self.allocation_id)

    def igw_delete(self, account_id, region_name):
        backend = ec2_backends[account_id][region_name]
        if self.vpc is not None:
            backend.detach_internet_gateway(self.id, self.vpc.id)
        backend.delete_internet_gateway(self.id)

    def attachment_delete(self, account_id, region_name):
        backend = ec2_backends[account_id][region_name]
        igw = backend.internet_gateways.get(self.gateway_id) if self.gateway_id else None
        if igw is not None and igw.vpc is not None:
            backend.detach_internet_gateway(self.gateway_id, self.vpc_id)

    def rt_delete(self, account_id, region_name):
        ec2_backends[account_id][region_name].delete_route_table(self.id)

    def route_delete(self, account_id, region_name):
        backend = ec2_backends[account_id][region_name]
        if self.route_table.id in backend.route_tables:  # a route goes with its table
            backend.delete_route(self.route_table.id, self.destination_cidr_block)

    def association_delete(self, account_id, region_name):
        if getattr(self, "association_id", None):
            ec2_backends[account_id][region_name].disassociate_route_table(self.association_id)

    NatGateway.delete = nat_delete
    ElasticAddress.delete = eip_delete
    InternetGateway.delete = igw_delete
    VPCGatewayAttachment.delete = attachment_delete
    RouteTable.delete = rt_delete
    Route.delete = route_delete
    SubnetRouteTableAssociation.delete = association_delete


def install_iam_cloudformation_shim() -> None:
    """moto's CloudFormation cannot delete AWS::IAM::ManagedPolicy; AWS detaches and deletes it with its stack."""
    from moto.iam.models import ManagedPolicy

    def policy_delete(self, account_id, region_name):
        self.backend.delete_policy(self.arn)

    ManagedPolicy.delete = policy_delete


def _imports(template_dict) -> set[str]:
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "Fn::ImportValue" and isinstance(v, str):
                    found.add(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(template_dict)
    return found


def install_exports_in_use_shim() -> None:
    from moto.cloudformation.models import CloudFormationBackend

    orig = CloudFormationBackend.delete_stack

    def delete_stack(self, name_or_stack_id):
        stack = self.stacks.get(name_or_stack_id) or next(
            (s for s in self.stacks.values() if s.name == name_or_stack_id), None)
        if stack is not None:
            names = {e.name for e in stack.exports}
            for other in self.stacks.values():
                if other is stack or other.status.startswith("DELETE_COMPLETE"):
                    continue
                used = sorted(names & _imports(other.template_dict))
                if used:
                    reason = f"Export {used[0]} cannot be deleted as it is in use by {other.name}"
                    stack._add_stack_event("DELETE_IN_PROGRESS", resource_status_reason="User Initiated")
                    stack.status = "DELETE_FAILED"
                    stack._add_stack_event("DELETE_FAILED", resource_status_reason=reason)
                    return None
        return orig(self, name_or_stack_id)

    CloudFormationBackend.delete_stack = delete_stack


def _getatt_to_unsupported(template_dict: dict) -> str | None:
    """The first resource reached by Fn::GetAtt whose type moto cannot make (moto then refuses the template)."""
    from moto.cloudformation.parsing import NULL_MODELS, get_model_map

    resources = template_dict.get("Resources") or {}
    unsupported = {name for name, r in resources.items() if isinstance(r, dict)
                   and r.get("Type") not in get_model_map() and r.get("Type") not in NULL_MODELS
                   and not str(r.get("Type", "")).startswith("Custom::")}
    found: list[str] = []

    def walk(node):
        if found:
            return
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "Fn::GetAtt":
                    target = v[0] if isinstance(v, list) else str(v).split(".")[0]
                    if target in unsupported:
                        found.append(target)
                        return
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(resources)
    walk(template_dict.get("Outputs") or {})
    return found[0] if found else None


HOLLOW = os.environ.get("PCTL_MOTO_HOLLOW_STACKS") == "1"
FAIL_TAG = "pctl-test:fail-stack"  # on the lifecycle server, a stack with this tag fails with its value as reason


def _hollow(template_dict: dict) -> dict:
    """A stack moto cannot make, as CloudFormation's record of it: its description and parameters, no resources.
    Only for the lifecycle server (PCTL_MOTO_HOLLOW_STACKS=1): ParallelCluster's create then completes, and its
    describe/list/delete run for real against the stack it made."""
    return {"Description": template_dict.get("Description", ""), "Parameters": template_dict.get("Parameters") or {},
            "Resources": {"Hollow": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}


def install_template_error_shim() -> None:
    """AWS validates a template before it makes anything: a template error rejects CreateStack and leaves nothing.
    moto meets such errors half-way through making the resources and keeps what it made (and the stack). Here a
    template whose Fn::GetAtt reaches a resource moto cannot make is refused up front with moto's own message,
    and any other error while creating removes the half-made stack."""
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import CloudFormationBackend, Stack

    orig = CloudFormationBackend.create_stack

    def create_stack(self, name, template, *args, **kwargs):
        try:
            parsed = Stack.parse_template(template) if isinstance(template, str) else template
        except Exception:  # noqa: BLE001 - moto reports it
            parsed = None
        target = _getatt_to_unsupported(parsed) if isinstance(parsed, dict) else None
        if target and HOLLOW:
            template = json.dumps(_hollow(parsed))
        elif target:
            raise ValidationError(name, message=f"Template error: instance of Fn::GetAtt references undefined "
                                                f"resource {target}")
        before = set(self.stacks)
        try:
            stack = orig(self, name, template, *args, **kwargs)
            reason = (stack.tags or {}).get(FAIL_TAG) if target and HOLLOW else None
            if reason:  # the lifecycle server's way to make a cluster stack fail, as AWS can (capacity, quotas)
                stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
                from moto.cloudformation.models import Event

                stack.events.append(Event(
                    stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id="HeadNode",
                    physical_resource_id="", resource_type="AWS::EC2::Instance", resource_status="CREATE_FAILED",
                    resource_status_reason=reason, resource_properties=None))
                stack._add_stack_event("ROLLBACK_COMPLETE")
                stack.status = "ROLLBACK_COMPLETE"
            return stack
        except Exception:
            for sid in set(self.stacks) - before:
                stack = self.stacks.pop(sid)
                try:
                    stack.resource_map.delete()
                except Exception:  # noqa: BLE001 - best effort
                    pass
                for export in list(self.exports.values()):
                    if export.exporting_stack_id == sid:
                        self.exports.pop(export.name, None)
            raise

    CloudFormationBackend.create_stack = create_stack


def install_update_exports_shim() -> None:
    """AWS adds a stack's new exports when an update adds outputs; moto keeps the old export list (and then
    fails to delete the stack)."""
    from moto.cloudformation.models import Stack, cloudformation_backends

    orig = Stack.update

    def update(self, *args, **kwargs):
        out = orig(self, *args, **kwargs)
        backend = cloudformation_backends[self.account_id][self.region_name]
        for export in self.exports:
            backend.exports[export.name] = export
        return out

    Stack.update = update


def install_deleted_stack_shim() -> None:
    """moto evaluates a deleted stack's outputs (DescribeStacks by stack id, ListStackResources) by creating
    its resources again; AWS shows a deleted stack without outputs or resources."""
    from moto.cloudformation.models import Stack

    outputs, resources = Stack.outputs.fget, Stack.stack_resources.fget

    Stack.outputs = property(lambda self: None if self.status == "DELETE_COMPLETE" else outputs(self))
    Stack.stack_resources = property(lambda self: [] if self.status == "DELETE_COMPLETE" else resources(self))


PCLUSTER_OS_PARTS = {"alinux2023": "amzn2023", "ubuntu2204": "ubuntu-2204-lts", "ubuntu2404": "ubuntu-2404-lts",
                     "rhel8": "rhel8", "rhel9": "rhel9"}


def install_official_pcluster_amis() -> None:
    """AWS publishes ParallelCluster's official AMIs (owner amazon, `aws-parallelcluster-<version>-<os>-hvm-<arch>-...`,
    tagged parallelcluster:*) in every region, for every OS but Rocky; moto has none. They are added for the
    installed ParallelCluster version, so a create without --custom-ami runs as it does on AWS."""
    import hashlib
    from importlib.metadata import version

    from moto.ec2.models import amis

    try:
        pc = version("aws-parallelcluster")
    except Exception:  # noqa: BLE001 - no ParallelCluster: nothing to publish
        return
    for os_name, part in PCLUSTER_OS_PARTS.items():
        for arch in ("x86_64", "arm64"):
            name = f"aws-parallelcluster-{pc}-{part}-hvm-{arch}-202601010000 2026-01-01T00-00-00.000Z"
            ami_id = "ami-" + hashlib.sha256(name.encode()).hexdigest()[:17]
            amis.AMIS.append({
                "ami_id": ami_id, "name": name, "description": f"AWS ParallelCluster AMI for {os_name}",
                "owner_id": "247102896272", "public": True, "virtualization_type": "hvm", "architecture": arch,
                "state": "available", "platform": None, "image_location": f"amazon/{name}",
                "root_device_type": "ebs", "root_device_name": "/dev/xvda", "sriov": "simple",
                "hypervisor": "xen", "tags": {"parallelcluster:version": pc, "parallelcluster:os": os_name,
                                              "parallelcluster:build_status": "available"}})


def install_fsx_shim() -> None:
    """FSx file systems as AWS makes them: ids of fs- and 17 hex digits (moto 5 makes 8, which ParallelCluster's
    own schema rejects for FSx for Lustre), and an elastic network interface in the first subnet with the file
    system's security groups, reported as VpcId/NetworkInterfaceIds (ParallelCluster checks an existing file
    system's network through them)."""
    import uuid

    from moto.fsx import models as _fsx

    original = _fsx.FileSystem.__init__

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        old = self.file_system_id
        new = "fs-" + uuid.uuid4().hex[:17]
        self.file_system_id = new
        self.dns_name = self.dns_name.replace(old, new)
        self.resource_arn = self.resource_arn.replace(old, new)

        from moto.ec2.models import ec2_backends

        ec2 = ec2_backends[self.backend.account_id][self.backend.region_name]
        subnet = ec2.get_subnet(self.subnet_ids[0])
        eni = ec2.create_network_interface(subnet, None, group_ids=list(self.security_group_ids or []),
                                           description=f"ENI for FSx file system {new}")
        self.vpc_id = subnet.vpc_id
        self.network_interface_ids = [eni.id]

    original_to_dict = _fsx.FileSystem.to_dict

    def to_dict(self):
        d = original_to_dict(self)
        d.setdefault("VpcId", getattr(self, "vpc_id", None))
        d.setdefault("NetworkInterfaceIds", getattr(self, "network_interface_ids", []))
        return d

    _fsx.FileSystem.__init__ = __init__
    _fsx.FileSystem.to_dict = to_dict


def install_all() -> None:
    install_policy_shim()
    install_cloudformation_ec2_shim()
    install_exports_in_use_shim()
    install_iam_cloudformation_shim()
    install_deleted_stack_shim()
    install_template_error_shim()
    install_update_exports_shim()
    install_official_pcluster_amis()
    install_fsx_shim()


if __name__ == "__main__":  # pragma: no cover - used by moto_tls_server
    print(json.dumps({"shims": ["policy", "cloudformation-ec2", "exports-in-use"]}))
