"""CloudWatch Logs: log groups of pctl's functions (created with a retention, so they do not grow forever)."""

from __future__ import annotations

from pctl.aws.session import aws_errors


def ensure_log_group(aws, name: str, *, retention_days: int, tags: dict[str, str]) -> None:
    from botocore.exceptions import ClientError

    client = aws.client("logs")
    with aws_errors():
        try:
            client.create_log_group(logGroupName=name, tags=tags)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
                raise
        client.put_retention_policy(logGroupName=name, retentionInDays=retention_days)


def delete_log_group(aws, name: str) -> bool:
    from botocore.exceptions import ClientError

    with aws_errors():
        try:
            aws.client("logs").delete_log_group(logGroupName=name)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return False
            raise
