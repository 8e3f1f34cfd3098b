"""Networks made by pctl before the network became a CloudFormation stack: resources tagged `pctl:network`,
created call by call. pctl uses such a network as it is (read-only) and `pctl network delete` removes it in
dependency order. New networks are always stacks (pctl.network.stack)."""

from __future__ import annotations

from pctl.aws import legacy_network as api


def find_legacy(aws):
    """The region's old-style pctl network, or None (a network that belongs to a stack is not legacy)."""
    from pctl.network.stack import Network

    found = api.describe(aws, aws.region)
    if found is None:
        return None
    return Network(region=aws.region, vpc_id=found["vpc_id"], public_subnets=found["public"],
                   private_subnets=found["private"] if found["nat"] else [], nat_gateway_id=found["nat"], stack=None)


def delete_legacy(aws, *, progress=None, poll: float = 2.0) -> list[tuple[str, str]]:
    return api.delete_all(aws, aws.region, progress=progress, poll=poll)
