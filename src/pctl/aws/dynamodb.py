"""DynamoDB: ParallelCluster's compute-fleet switch (table parallelcluster-<cluster>, item COMPUTE_FLEET)."""

from __future__ import annotations

import datetime as dt

from pctl.aws.session import aws_errors


def fleet_status(aws, cluster: str) -> str | None:
    from botocore.exceptions import ClientError

    with aws_errors():
        try:
            item = aws.client("dynamodb").get_item(TableName=f"parallelcluster-{cluster}",
                                                   Key={"Id": {"S": "COMPUTE_FLEET"}}, ConsistentRead=True).get("Item")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise
    if not item:
        return None
    data = item.get("Data", {}).get("M", {})
    return data.get("status", {}).get("S") or item.get("Status", {}).get("S")


def set_fleet_status(aws, cluster: str, status: str) -> None:
    """What `pcluster update-compute-fleet --status` writes (START_REQUESTED / STOP_REQUESTED)."""
    now = str(dt.datetime.now(dt.timezone.utc))
    with aws_errors():
        aws.client("dynamodb").update_item(
            TableName=f"parallelcluster-{cluster}", Key={"Id": {"S": "COMPUTE_FLEET"}},
            UpdateExpression="SET #dt = if_not_exists(#dt, :empty)", ExpressionAttributeNames={"#dt": "Data"},
            ExpressionAttributeValues={":empty": {"M": {}}})
        aws.client("dynamodb").update_item(
            TableName=f"parallelcluster-{cluster}", Key={"Id": {"S": "COMPUTE_FLEET"}},
            UpdateExpression="SET #dt.#st = :s, #dt.#lut = :t",
            ExpressionAttributeNames={"#dt": "Data", "#st": "status", "#lut": "lastStatusUpdatedTime"},
            ExpressionAttributeValues={":s": {"S": status}, ":t": {"S": now}})
