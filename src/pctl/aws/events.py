"""Amazon EventBridge rules: the idle timer's schedule."""

from __future__ import annotations

from pctl.aws.session import aws_errors


def put_schedule(aws, *, name: str, expression: str, target_arn: str, description: str,
                 tags: dict[str, str]) -> str:
    """Create or update the scheduled rule NAME invoking TARGET_ARN. Returns the rule ARN."""
    client = aws.client("events")
    with aws_errors():
        arn = client.put_rule(Name=name, ScheduleExpression=expression, State="ENABLED", Description=description,
                              Tags=[{"Key": k, "Value": v} for k, v in tags.items()])["RuleArn"]
        client.put_targets(Rule=name, Targets=[{"Id": "pctl-idle", "Arn": target_arn}])
    return arn


def describe_rule(aws, name: str) -> dict | None:
    from botocore.exceptions import ClientError

    with aws_errors():
        try:
            return aws.client("events").describe_rule(Name=name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise


def targets(aws, name: str) -> list[dict]:
    with aws_errors():
        return aws.client("events").list_targets_by_rule(Rule=name).get("Targets", [])


def delete_rule(aws, name: str) -> bool:
    from botocore.exceptions import ClientError

    client = aws.client("events")
    with aws_errors():
        try:
            ids = [t["Id"] for t in client.list_targets_by_rule(Rule=name).get("Targets", [])]
            if ids:
                client.remove_targets(Rule=name, Ids=ids)
            client.delete_rule(Name=name)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return False
            raise


def list_rules(aws, prefix: str) -> list[dict]:
    out: list[dict] = []
    with aws_errors():
        for page in aws.client("events").get_paginator("list_rules").paginate(NamePrefix=prefix):
            out += page.get("Rules", [])
    return out
