"""EC2 calls used by cost and the idle timer (spot prices; the cluster's instances by tag)."""

from __future__ import annotations

import datetime as dt

from pctl.aws.session import aws_errors


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


def cluster_instances(aws, cluster: str, *, states=("pending", "running", "stopping", "stopped")) -> list[dict]:
    """Instances ParallelCluster launched for CLUSTER (tag parallelcluster:cluster-name), any node type."""
    ec2 = aws.client("ec2")
    out: list[dict] = []
    with aws_errors():
        pages = ec2.get_paginator("describe_instances").paginate(Filters=[
            {"Name": "tag:parallelcluster:cluster-name", "Values": [cluster]},
            {"Name": "instance-state-name", "Values": list(states)}])
        for page in pages:
            for r in page.get("Reservations", []):
                out += r.get("Instances", [])
    return out


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
    ec2 = aws.client("ec2")
    out: dict[str, int] = {}
    with aws_errors():
        pages = ec2.get_paginator("describe_instances").paginate(Filters=[
            {"Name": "tag:parallelcluster:node-type", "Values": ["Compute"]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]}])
        for page in pages:
            for r in page.get("Reservations", []):
                for i in r.get("Instances", []):
                    tags = {t["Key"]: t["Value"] for t in i.get("Tags", [])}
                    name = tags.get("parallelcluster:cluster-name")
                    if name:
                        out[name] = out.get(name, 0) + 1
    return out

