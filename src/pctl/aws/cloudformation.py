"""CloudFormation: the cluster's stack as ParallelCluster made it (read-only here)."""

from __future__ import annotations

from pctl.aws.session import aws_errors


def describe_stack(aws, name: str) -> dict | None:
    from botocore.exceptions import ClientError

    with aws_errors():
        try:
            stacks = aws.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
        except ClientError as exc:
            if "does not exist" in exc.response.get("Error", {}).get("Message", ""):
                return None
            raise
    return stacks[0] if stacks else None


def stack_resources(aws, name: str) -> list[dict]:
    """Every resource of the stack and of its nested stacks: {type, logical, physical, stack}."""
    from botocore.exceptions import ClientError

    out: list[dict] = []
    todo, seen = [name], set()
    client = aws.client("cloudformation")
    with aws_errors():
        while todo:
            stack = todo.pop()
            if stack in seen:
                continue
            seen.add(stack)
            try:
                pages = client.get_paginator("list_stack_resources").paginate(StackName=stack)
                for page in pages:
                    for r in page.get("StackResourceSummaries", []):
                        out.append({"type": r.get("ResourceType"), "logical": r.get("LogicalResourceId"),
                                    "physical": r.get("PhysicalResourceId"), "stack": stack})
                        if r.get("ResourceType") == "AWS::CloudFormation::Stack" and r.get("PhysicalResourceId"):
                            todo.append(r["PhysicalResourceId"])
            except ClientError as exc:
                if "does not exist" not in exc.response.get("Error", {}).get("Message", ""):
                    raise
    return out


def stacks_with_tag(aws, key: str, value: str, *, region: str | None = None) -> list[dict]:
    """Live stacks of REGION (default: the session's) tagged KEY=VALUE."""
    client = aws.client("cloudformation", region=region)
    out: list[dict] = []
    with aws_errors():
        for page in client.get_paginator("describe_stacks").paginate():
            for st in page.get("Stacks", []):
                tags = {t["Key"]: t["Value"] for t in st.get("Tags", [])}
                if tags.get(key) == value and st.get("StackStatus") != "DELETE_COMPLETE":
                    out.append(st)
    return out
