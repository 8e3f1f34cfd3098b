"""AWS Lambda: the idle timer's function."""

from __future__ import annotations

import json

from pctl.aws.session import aws_errors


def _not_found(exc) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("ResourceNotFoundException", "404")


def get_function(aws, name: str) -> dict | None:
    from botocore.exceptions import ClientError

    with aws_errors():
        try:
            return aws.client("lambda").get_function(FunctionName=name)
        except ClientError as exc:
            if _not_found(exc):
                return None
            raise


def create_or_update_function(aws, *, name: str, role_arn: str, zip_bytes: bytes, handler: str, env: dict[str, str],
                              tags: dict[str, str], description: str, timeout: int = 120, memory: int = 128,
                              runtime: str = "python3.12", attempts: int = 10, wait=None) -> str:
    """Create the function (retrying while a new role propagates through IAM) or update its code and
    configuration. Returns its ARN."""
    import time

    from botocore.exceptions import ClientError

    client = aws.client("lambda")
    wait = wait or time.sleep
    with aws_errors():
        if get_function(aws, name) is not None:
            client.update_function_code(FunctionName=name, ZipFile=zip_bytes)
            _wait_updated(client, name, wait)
            out = client.update_function_configuration(FunctionName=name, Role=role_arn, Handler=handler,
                                                       Environment={"Variables": env}, Timeout=timeout,
                                                       MemorySize=memory, Runtime=runtime, Description=description)
            client.tag_resource(Resource=out["FunctionArn"], Tags=tags)
            return out["FunctionArn"]
        for i in range(attempts):
            try:
                out = client.create_function(FunctionName=name, Role=role_arn, Handler=handler, Runtime=runtime,
                                             Code={"ZipFile": zip_bytes}, Environment={"Variables": env},
                                             Timeout=timeout, MemorySize=memory, Tags=tags, Description=description,
                                             Publish=False)
                return out["FunctionArn"]
            except ClientError as exc:
                msg = exc.response.get("Error", {}).get("Message", "")
                if "cannot be assumed" in msg and i < attempts - 1:  # a role just created: IAM is eventually consistent
                    wait(3)
                    continue
                raise
    raise AssertionError("unreachable")


def _wait_updated(client, name, wait) -> None:
    for _ in range(30):
        cfg = client.get_function_configuration(FunctionName=name)
        if cfg.get("LastUpdateStatus", "Successful") != "InProgress":
            return
        wait(2)


def allow_rule(aws, *, function: str, rule_arn: str, statement_id: str = "pctl-idle-rule") -> None:
    """Resource policy: EventBridge may invoke FUNCTION for RULE_ARN only."""
    from botocore.exceptions import ClientError

    client = aws.client("lambda")
    with aws_errors():
        try:
            client.remove_permission(FunctionName=function, StatementId=statement_id)
        except ClientError as exc:
            if not _not_found(exc):
                raise
        client.add_permission(FunctionName=function, StatementId=statement_id, Action="lambda:InvokeFunction",
                              Principal="events.amazonaws.com", SourceArn=rule_arn)


def resource_policy(aws, function: str) -> dict | None:
    from botocore.exceptions import ClientError

    with aws_errors():
        try:
            return json.loads(aws.client("lambda").get_policy(FunctionName=function)["Policy"])
        except ClientError as exc:
            if _not_found(exc):
                return None
            raise


def delete_function(aws, name: str) -> bool:
    from botocore.exceptions import ClientError

    with aws_errors():
        try:
            aws.client("lambda").delete_function(FunctionName=name)
            return True
        except ClientError as exc:
            if _not_found(exc):
                return False
            raise
