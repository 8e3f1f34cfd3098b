"""CloudFormation calls pctl makes (its network and per-cluster stacks), with their error translation."""

from __future__ import annotations

import json
import time
from typing import Callable

from pctl.aws.errors import AwsError
from pctl.aws.session import aws_errors

DONE = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"})
FAILED = frozenset({"CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED",
                    "UPDATE_ROLLBACK_FAILED", "IMPORT_ROLLBACK_COMPLETE", "IMPORT_ROLLBACK_FAILED"})
GONE = "DELETE_COMPLETE"


class StackExists(AwsError):
    """CreateStack refused: a stack of that name exists (made by another run, or earlier)."""


def describe_stack(aws, name: str) -> dict | None:
    """The live stack of that name (None when there is none: never made, or deleted)."""
    cfn = aws.client("cloudformation")
    try:
        with aws_errors():
            stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except AwsError as exc:
        if exc.code == "ValidationError" and "does not exist" in exc.message:
            return None
        raise
    live = [s for s in stacks if s.get("StackStatus") != GONE]
    return live[0] if live else None


def outputs(stack: dict) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}


def tags_of(stack: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in stack.get("Tags") or []}


def _tag_list(tags: dict[str, str]) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def create_stack(aws, name: str, template: dict, *, tags: dict[str, str], on_failure: str = "DELETE",
                 capabilities: tuple[str, ...] = ()) -> str:
    """Start creating a stack; its name is a lock: StackExists when another run (or an earlier one) has it."""
    cfn = aws.client("cloudformation")
    try:
        with aws_errors():
            resp = cfn.create_stack(StackName=name, TemplateBody=json.dumps(template, separators=(",", ":")),
                                    Tags=_tag_list(tags), OnFailure=on_failure,
                                    Capabilities=list(capabilities))
    except AwsError as exc:
        if exc.code in ("AlreadyExistsException", "AlreadyExists"):
            raise StackExists(f"stack {name} already exists", code=exc.code, operation=exc.operation) from None
        raise
    return resp["StackId"]


def update_stack(aws, name: str, template: dict, *, tags: dict[str, str],
                 capabilities: tuple[str, ...] = ()) -> bool:
    """Start an update; False when there was nothing to change."""
    cfn = aws.client("cloudformation")
    try:
        with aws_errors():
            cfn.update_stack(StackName=name, TemplateBody=json.dumps(template, separators=(",", ":")),
                             Tags=_tag_list(tags), Capabilities=list(capabilities))
    except AwsError as exc:
        if exc.code == "ValidationError" and "No updates are to be performed" in exc.message:
            return False
        raise
    return True


def delete_stack(aws, name_or_id: str) -> None:
    with aws_errors():
        aws.client("cloudformation").delete_stack(StackName=name_or_id)


def events(aws, name_or_id: str) -> list[dict]:
    """The stack's events, newest first ([] when the stack is not there)."""
    try:
        with aws_errors():
            return aws.client("cloudformation").describe_stack_events(StackName=name_or_id)["StackEvents"]
    except AwsError as exc:
        if exc.code == "ValidationError":
            return []
        raise


def failure_reason(aws, name_or_id: str) -> str | None:
    """The first failure (the one that caused the others): a resource's when there is one, else the stack's."""
    oldest_first = list(reversed(events(aws, name_or_id)))
    failed = [e for e in oldest_first if str(e.get("ResourceStatus", "")).endswith("FAILED")
              and e.get("ResourceStatusReason")]
    resources = [e for e in failed if e.get("LogicalResourceId") != e.get("StackName")]
    if not failed:
        return None
    e = (resources or failed)[0]
    return f"{e.get('LogicalResourceId')}: {e.get('ResourceStatusReason')}"


def list_stacks(aws, *, prefix: str = "") -> list[dict]:
    """Live stacks (not deleted) whose name starts with prefix."""
    cfn = aws.client("cloudformation")
    out = []
    with aws_errors():
        for page in cfn.get_paginator("describe_stacks").paginate():
            out += [s for s in page.get("Stacks", []) if s["StackName"].startswith(prefix)
                    and s.get("StackStatus") != GONE]
    return out


def wait(aws, name_or_id: str, *, until: frozenset | set = DONE, poll: float = 5.0, timeout: float = 1800,
         progress: Callable[[str], None] | None = None) -> dict | None:
    """Poll until the stack reaches a status in `until`, a failure, or disappears (None). Reports new events."""
    deadline = time.monotonic() + timeout
    seen: set[str] = set()
    last = None
    while True:
        stack = None
        cfn = aws.client("cloudformation")
        try:
            with aws_errors():
                stacks = cfn.describe_stacks(StackName=name_or_id)["Stacks"]
            stack = stacks[0] if stacks else None
        except AwsError as exc:
            if not (exc.code == "ValidationError" and "does not exist" in exc.message):
                raise
        status = stack.get("StackStatus") if stack else GONE
        if progress is not None:
            for e in reversed(events(aws, name_or_id) if stack else []):
                if e.get("EventId") in seen:
                    continue
                seen.add(e.get("EventId"))
                if e.get("LogicalResourceId") != e.get("StackName"):
                    reason = f" ({e['ResourceStatusReason']})" if e.get("ResourceStatusReason") else ""
                    progress(f"{e.get('LogicalResourceId')}: {e.get('ResourceStatus')}{reason}")
            if status != last:
                progress(f"{stack.get('StackName') if stack else name_or_id}: {status}")
        last = status
        if status == GONE:
            return None
        if status in until or status in FAILED:
            return stack
        if time.monotonic() > deadline:
            raise AwsError(f"stack {name_or_id} is still {status} after {timeout / 60:.0f} min",
                           hint="check it in the CloudFormation console, or run the command again later")
        time.sleep(poll)


def stack_resources(aws, name: str) -> list[dict]:
    """Every resource of the stack and of its nested stacks: {type, logical, physical, stack}."""
    out: list[dict] = []
    todo, seen = [name], set()
    client = aws.client("cloudformation")
    while todo:
        stack = todo.pop()
        if stack in seen:
            continue
        seen.add(stack)
        try:
            with aws_errors():
                for page in client.get_paginator("list_stack_resources").paginate(StackName=stack):
                    for r in page.get("StackResourceSummaries", []):
                        out.append({"type": r.get("ResourceType"), "logical": r.get("LogicalResourceId"),
                                    "physical": r.get("PhysicalResourceId"), "stack": stack})
                        if r.get("ResourceType") == "AWS::CloudFormation::Stack" and r.get("PhysicalResourceId"):
                            todo.append(r["PhysicalResourceId"])
        except AwsError as exc:
            if "does not exist" not in exc.message:
                raise
    return out


def stacks_with_tag(aws, key: str, value: str, *, region: str | None = None) -> list[dict]:
    """Live stacks of REGION (default: the session's) tagged KEY=VALUE."""
    client = aws.client("cloudformation", region=region)
    out: list[dict] = []
    with aws_errors():
        for page in client.get_paginator("describe_stacks").paginate():
            for st in page.get("Stacks", []):
                if tags_of(st).get(key) == value and st.get("StackStatus") != GONE:
                    out.append(st)
    return out
