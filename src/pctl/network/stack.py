"""The region's pctl network as one CloudFormation stack: create, adopt, wait for, describe, delete.

Concurrency: the stack name is the lock. The first run's CreateStack wins; every other run finds the stack (or
gets AlreadyExists), waits for it to finish, and uses it. A run that made the network and then fails deletes
it only through CloudFormation, which refuses while any cluster's pctl stack imports the network's exports:
a network in use is never deleted under a cluster. A network made by an earlier pctl (tagged resources, no
stack) is used as it is, read-only; `pctl network delete` removes it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from pctl.aws import cloudformation as cfn
from pctl.aws import ec2
from pctl.aws.errors import AwsError
from pctl.errors import PctlError
from pctl.network.template import export_name, network_template, stack_name

Progress = Callable[[str], None]


@dataclass
class Network:
    region: str
    vpc_id: str
    public_subnets: list[tuple[str, str]]  # (subnet id, zone), the head node's zone first
    private_subnets: list[tuple[str, str]] = field(default_factory=list)
    nat_gateway_id: str | None = None
    stack: str | None = None  # None for a network made by an earlier pctl (no stack)
    status: str = "CREATE_COMPLETE"
    created: bool = False  # this run created it

    @property
    def public_only(self) -> bool:
        return not self.private_subnets

    @property
    def legacy(self) -> bool:
        return self.stack is None

    def compute_subnets(self, public_only: bool) -> list[tuple[str, str]]:
        return list(self.public_subnets if public_only or self.public_only else self.private_subnets)

    def to_dict(self) -> dict:
        return {"region": self.region, "stack": self.stack, "status": self.status, "vpc_id": self.vpc_id,
                "public_subnets": [{"id": i, "zone": z} for i, z in self.public_subnets],
                "private_subnets": [{"id": i, "zone": z} for i, z in self.private_subnets],
                "nat_gateway_id": self.nat_gateway_id, "public_only": self.public_only,
                "legacy": self.legacy, "created": self.created}


def _from_stack(region: str, stack: dict, *, created: bool = False) -> Network:
    out = cfn.outputs(stack)
    pub = [(out[f"PublicSubnet{n}"], out.get(f"Zone{n}", "?")) for n in (1, 2) if f"PublicSubnet{n}" in out]
    priv = [(out[f"PrivateSubnet{n}"], out.get(f"Zone{n}", "?")) for n in (1, 2) if f"PrivateSubnet{n}" in out]
    return Network(region=region, vpc_id=out.get("VpcId", "?"), public_subnets=pub, private_subnets=priv,
                   nat_gateway_id=out.get("NatGateway"), stack=stack["StackName"], status=stack["StackStatus"],
                   created=created)


def describe(aws) -> Network | None:
    """The region's pctl network: its stack, else a network made by an earlier pctl, else None."""
    stack = cfn.describe_stack(aws, stack_name(aws.region))
    if stack is not None and cfn.outputs(stack).get("VpcId"):
        return _from_stack(aws.region, stack)
    if stack is not None:  # in progress or failed: no outputs yet
        return Network(region=aws.region, vpc_id="?", public_subnets=[], stack=stack["StackName"],
                       status=stack["StackStatus"])
    return legacy_network(aws)


def legacy_network(aws) -> Network | None:
    """A network made by pctl before the network became a stack (resources tagged pctl:network, no stack)."""
    from pctl.network.legacy import find_legacy

    return find_legacy(aws)


def _usable(stack: dict | None, public_only: bool) -> bool:
    if stack is None:
        return False
    status = stack["StackStatus"]
    usable_status = status in cfn.DONE or (status == "DELETE_FAILED" and cfn.outputs(stack).get("VpcId"))
    return bool(usable_status) and (public_only or cfn.outputs(stack).get("PublicOnly") == "false")


def choose_zones(aws, types: list[str] | None) -> list[str]:
    """Two zones for a new network: those that offer most of the instance types about to use it (the head node's
    first), by name among equals. Later clusters use the zones the network has."""
    zones = ec2.availability_zones(aws)
    if len(zones) < 2:
        raise PctlError(f"region {aws.region} has fewer than two availability zones available")
    if not types:
        return zones[:2]
    offered = ec2.zones_offering(aws, types)
    head = types[0]

    def score(z):
        return (z in offered.get(head, set()), sum(z in offered.get(t, set()) for t in types))

    return sorted(zones, key=lambda z: (-score(z)[0], -score(z)[1], z))[:2]


def ensure(aws, *, public_only: bool = False, tags: dict[str, str] | None = None, progress: Progress | None = None,
           poll: float = 5.0, timeout: float = 1800, types: list[str] | None = None) -> Network:
    """Create the region's pctl network, or wait for and adopt the one that exists (or is being made).
    `types` (head node type first) steer a new network to zones that offer them."""
    say = progress or (lambda _m: None)
    name = stack_name(aws.region)
    deadline = time.monotonic() + timeout
    conflict = ""
    for _attempt in range(6):
        stack = cfn.describe_stack(aws, name)
        if stack is None:
            legacy = legacy_network(aws)
            if legacy is not None:
                say(f"using the pctl network {legacy.vpc_id} made by an earlier pctl (no stack; "
                    "'pctl network delete' removes it)")
                return legacy
            zones = choose_zones(aws, types)
            template = network_template(aws.region, zones, public_only=public_only, tags=tags)
            try:
                cfn.create_stack(aws, name, template, tags={"pctl:network": aws.region, "pctl:managed": "true",
                                                            **(tags or {})}, on_failure="DELETE")
                say(f"creating the pctl network stack {name} in {', '.join(zones[:2])}")
                made = True
            except cfn.StackExists:
                say(f"another pctl run is creating the network {name}: waiting for it")
                made = False
            except AwsError as exc:
                # Another run's stack of this name registered the exports first (a CreateStack race), or a
                # stranger's stack exports them: wait for ours; if none appears, try again.
                if exc.code != "ValidationError" or "export" not in exc.message.lower():
                    raise
                conflict = exc.message
                say(f"the network's exports are taken ({exc.message}): waiting for the stack {name}")
                made = False
            stack = cfn.wait(aws, name, poll=poll, timeout=max(1.0, deadline - time.monotonic()), progress=say)
            if stack is None or stack["StackStatus"] not in cfn.DONE:
                reason = cfn.failure_reason(aws, name)
                if made:
                    raise PctlError(f"the pctl network could not be created in {aws.region}"
                                    + (f": {reason}" if reason else ""),
                                    hint="CloudFormation removed what it had made; fix the cause and run again")
                continue  # the other run's network failed and was removed: try ourselves
            return _from_stack(aws.region, stack, created=made)
        status = stack["StackStatus"]
        if status.endswith("_IN_PROGRESS"):
            say(f"the pctl network {name} is {status}: waiting")
            cfn.wait(aws, name, until=cfn.DONE | {"DELETE_COMPLETE"}, poll=poll,
                     timeout=max(1.0, deadline - time.monotonic()), progress=say)
            continue
        if status == "ROLLBACK_COMPLETE":  # a failed create kept by CloudFormation: remove it, then make ours
            cfn.delete_stack(aws, name)
            cfn.wait(aws, name, until=frozenset({"DELETE_COMPLETE"}), poll=poll, progress=say)
            continue
        if _usable(stack, public_only):
            return _from_stack(aws.region, stack)
        if status in cfn.DONE and not public_only:  # public-only network, a private one is wanted: add the NAT
            zones = [cfn.outputs(stack).get(f"Zone{n}") for n in (1, 2)]
            if None in zones:
                zones = ec2.availability_zones(aws)[:2]
            template = network_template(aws.region, zones, public_only=False, tags=tags)
            say(f"adding private subnets and a NAT gateway to {name}")
            try:
                cfn.update_stack(aws, name, template, tags=cfn.tags_of(stack))
            except PctlError as exc:
                if "IN_PROGRESS" not in exc.message:
                    raise
            cfn.wait(aws, name, poll=poll, timeout=max(1.0, deadline - time.monotonic()), progress=say)
            continue
        raise PctlError(f"the pctl network stack {name} is {status}",
                        hint="see its events in the CloudFormation console; 'pctl network delete' removes it")
    if conflict:
        raise PctlError(f"could not create the pctl network of {aws.region}: {conflict}",
                        hint=f"another CloudFormation stack exports names starting '{export_name(aws.region, '')}'; "
                             "delete it, or the pctl network stack of another tool version, and run again")
    raise PctlError(f"could not get the pctl network of {aws.region} ready after several attempts",
                    hint="another pctl run may be creating and deleting it; try again in a few minutes")


def release(aws, network: Network, *, progress: Progress | None = None, poll: float = 5.0) -> str:
    """Undo a network this run created, unless someone uses it by now. Returns what happened, in words."""
    if not network.created or network.stack is None:
        return "kept (not made by this run)"
    stack = cfn.describe_stack(aws, network.stack)
    if stack is None:
        return "already gone"
    in_use = users(aws, network.region)
    if in_use:
        return f"kept: in use by {', '.join(in_use)}"
    ec2.delete_pctl_security_groups(aws, network.vpc_id)
    cfn.delete_stack(aws, network.stack)
    final = cfn.wait(aws, network.stack, until=frozenset({"DELETE_COMPLETE"}), poll=poll, progress=progress)
    if final is None:
        return "deleted"
    reason = cfn.failure_reason(aws, network.stack) or final["StackStatus"]
    return f"kept: {reason.split(': ', 1)[-1] if 'in use by' in reason else reason}"


CLUSTER_STACK_PREFIX = "pctl-cluster-"


def users(aws, region: str) -> list[str]:
    """Clusters whose pctl stack imports this network (the same relation CloudFormation enforces)."""
    want = export_name(region, "VpcId")
    out = []
    for s in cfn.list_stacks(aws, prefix=CLUSTER_STACK_PREFIX):
        if cfn.tags_of(s).get("pctl:network-export") == want:
            out.append(cfn.tags_of(s).get("pctl:cluster") or s["StackName"][len(CLUSTER_STACK_PREFIX):])
    return sorted(out)


def delete(aws, *, progress: Progress | None = None, poll: float = 5.0) -> dict:
    """`pctl network delete`: refused while any cluster uses the network."""
    net = describe(aws)
    if net is None:
        raise PctlError(f"no pctl network in {aws.region}", hint="list networks with 'pctl network list'")
    in_use = users(aws, aws.region)
    if in_use:
        raise PctlError(f"the pctl network of {aws.region} is in use by cluster(s): {', '.join(in_use)}",
                        hint="delete them first (pctl delete NAME); then run this again")
    if net.legacy:
        from pctl.network.legacy import delete_legacy

        deleted = delete_legacy(aws, progress=progress, poll=poll)
        return {"region": aws.region, "stack": None, "deleted": [f"{k} {i}" for k, i in deleted]}
    if net.vpc_id and net.vpc_id != "?":
        ec2.delete_pctl_security_groups(aws, net.vpc_id)
    cfn.delete_stack(aws, net.stack)
    final = cfn.wait(aws, net.stack, until=frozenset({"DELETE_COMPLETE"}), poll=poll, progress=progress)
    if final is not None:
        reason = cfn.failure_reason(aws, net.stack) or final["StackStatus"]
        raise PctlError(f"the pctl network stack {net.stack} could not be deleted: {reason}",
                        hint="delete what uses it first, then run 'pctl network delete' again")
    return {"region": aws.region, "stack": net.stack, "deleted": [f"stack {net.stack}", f"vpc {net.vpc_id}"]}


def list_networks(aws) -> list[dict]:
    """`pctl network list`: the region's pctl network (stack or earlier-pctl) with the clusters that use it."""
    net = describe(aws)
    if net is None:
        return []
    row = net.to_dict()
    row["in_use_by"] = users(aws, aws.region)
    return [row]
