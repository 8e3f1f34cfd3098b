"""The idle timer's function: runs in the account every 5 minutes (an EventBridge rule invokes it), with
a role that may act on one cluster only (pctl.cost.idle.policy). No pctl process is needed anywhere.

Each run: read the head node's heartbeat, pctl's control document and its own state from the pctl
bucket; count the cluster's compute instances; decide (decide.py); when the timer fires:

* ``auto_stop``: mark the compute fleet stopped in ParallelCluster's table, terminate the compute
  nodes, stop the head node. ``pctl start NAME`` starts it again. Storage and the network stay.
* ``auto_delete``: terminate the compute nodes and delete the cluster's CloudFormation stack (what
  ``pcluster delete-cluster`` does; its log groups are retained as ParallelCluster retains them). When
  the stack is gone: the cluster's objects in the pctl bucket, its budget, then the rule and this
  function are removed. Its role stays (a role cannot delete itself); ``pctl delete NAME`` removes it.

Every run writes what it saw and did to clusters/NAME/status/idle-state.json (``pctl status`` shows
it). Configuration comes from the environment: PCTL_CLUSTER, PCTL_BUCKET, PCTL_TIMEOUT_S, PCTL_ACTION,
PCTL_BUDGET, PCTL_RULE. Standard library + boto3 (the Lambda runtime has it).
"""

from __future__ import annotations

import json
import os
import time

try:  # shipped next to this file in the function's zip
    from decide import decide, iso  # type: ignore
except ImportError:  # pragma: no cover - inside pctl
    from pctl.cost.idle.decide import decide, iso

STATUS = "clusters/{cluster}/status/"
DONE_STACK = ("DELETE_COMPLETE",)
BUSY_STACK_SUFFIX = "_IN_PROGRESS"


class Clients:
    """boto3 clients of the Lambda function. Exempt from the pctl.aws seam rule (tests/unit/test_aws_boundary.py):
    this file is zipped alone into the function and runs in AWS Lambda, where pctl.aws is not installed."""

    def __init__(self, region: str | None = None):
        import boto3

        self._session = boto3.session.Session(region_name=region or os.environ.get("AWS_REGION"))
        self._c: dict = {}

    def __getattr__(self, service):
        if service.startswith("_"):
            raise AttributeError(service)
        if service not in self._c:
            self._c[service] = self._session.client("lambda" if service == "awslambda" else service)
        return self._c[service]


def config_from_env(env=None) -> dict:
    env = env if env is not None else os.environ
    return {"cluster": env["PCTL_CLUSTER"], "bucket": env["PCTL_BUCKET"], "timeout_s": int(env["PCTL_TIMEOUT_S"]),
            "action": env.get("PCTL_ACTION", "auto_stop"), "budget": env.get("PCTL_BUDGET") or None,
            "rule": env.get("PCTL_RULE") or None, "function": env.get("AWS_LAMBDA_FUNCTION_NAME") or None,
            "account": env.get("PCTL_ACCOUNT") or None}


def _get_json(c: Clients, bucket: str, key: str, *, required: bool = False):
    """A JSON document, or None when absent. Without s3:ListBucket, S3 answers a missing key with
    AccessDenied instead of NoSuchKey: that counts as absent too, except for a REQUIRED document (pctl
    writes control.json when it arms the timer, so not reading it means the permissions are wrong, and
    the function then does nothing rather than act on a blind read)."""
    try:
        body = c.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as exc:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        if code in ("NoSuchKey", "404") or (code in ("AccessDenied", "403") and not required):
            return None
        raise
    try:
        return json.loads(body)
    except ValueError:
        return None


def _put_json(c: Clients, bucket: str, key: str, doc) -> None:
    c.s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(doc, indent=1).encode(), ServerSideEncryption="AES256",
                    ContentType="application/json")


def _instances(c: Clients, cluster: str, node_type: str, states=("pending", "running", "stopping", "stopped")):
    out = []
    pages = c.ec2.get_paginator("describe_instances").paginate(Filters=[
        {"Name": "tag:parallelcluster:cluster-name", "Values": [cluster]},
        {"Name": "tag:parallelcluster:node-type", "Values": [node_type]},
        {"Name": "instance-state-name", "Values": list(states)}])
    for page in pages:
        for r in page.get("Reservations", []):
            out += r.get("Instances", [])
    return out


def _stack_status(c: Clients, cluster: str) -> str | None:
    try:
        stacks = c.cloudformation.describe_stacks(StackName=cluster)["Stacks"]
    except Exception as exc:
        if "does not exist" in str(exc):
            return None
        raise
    return stacks[0]["StackStatus"] if stacks else None


def _stop_fleet(c: Clients, cluster: str) -> None:
    """ParallelCluster's compute-fleet switch (what `pcluster update-compute-fleet --status STOP_REQUESTED`
    writes), so a restarted head node does not relaunch nodes before `pctl start` asks for them."""
    c.dynamodb.update_item(
        TableName=f"parallelcluster-{cluster}", Key={"Id": {"S": "COMPUTE_FLEET"}},
        UpdateExpression="SET #dt.#st = :s, #dt.#lut = :t",
        ExpressionAttributeNames={"#dt": "Data", "#st": "status", "#lut": "lastStatusUpdatedTime"},
        ExpressionAttributeValues={":s": {"S": "STOP_REQUESTED"}, ":t": {"S": iso(time.time())}})


def _terminate_compute(c: Clients, cluster: str) -> list[str]:
    ids = [i["InstanceId"] for i in _instances(c, cluster, "Compute", ("pending", "running", "stopping", "stopped"))]
    for i in range(0, len(ids), 100):
        c.ec2.terminate_instances(InstanceIds=ids[i:i + 100])
    return ids


def _remove_prefix(c: Clients, bucket: str, prefix: str) -> int:
    n = 0
    for page in c.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        objs = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if objs:
            c.s3.delete_objects(Bucket=bucket, Delete={"Objects": objs, "Quiet": True})
            n += len(objs)
    return n


def _finish_delete(c: Clients, cfg: dict, state: dict) -> None:
    """The stack is gone: remove what pctl keeps for the cluster, then the timer itself."""
    cluster = cfg["cluster"]
    state["removed_objects"] = _remove_prefix(c, cfg["bucket"], f"clusters/{cluster}/")
    if cfg.get("budget") and cfg.get("account"):
        try:
            c.budgets.delete_budget(AccountId=cfg["account"], BudgetName=cfg["budget"])
            state["budget_deleted"] = cfg["budget"]
        except Exception as exc:
            if "NotFound" not in str(exc):
                state.setdefault("problems", []).append(f"budget: {exc}")
    if cfg.get("rule"):
        try:
            c.events.remove_targets(Rule=cfg["rule"], Ids=["pctl-idle"])
            c.events.delete_rule(Name=cfg["rule"])
        except Exception as exc:
            state.setdefault("problems", []).append(f"rule: {exc}")
    if cfg.get("function"):
        try:
            c.awslambda.delete_function(FunctionName=cfg["function"])
        except Exception as exc:
            state.setdefault("problems", []).append(f"function: {exc}")


def run(c: Clients, cfg: dict, now: float | None = None) -> dict:
    now = time.time() if now is None else now
    cluster, bucket = cfg["cluster"], cfg["bucket"]
    prefix = STATUS.format(cluster=cluster)
    state = _get_json(c, bucket, prefix + "idle-state.json") or {}
    control = _get_json(c, bucket, prefix + "control.json", required=True)
    if control is None:
        raise RuntimeError(f"s3://{bucket}/{prefix}control.json is missing: re-arm with 'pctl idle arm {cluster}'")
    heartbeat = _get_json(c, bucket, prefix + "heartbeat.json")
    stack = _stack_status(c, cluster)
    state.update(checked=iso(now), stack_status=stack, action=cfg["action"], timeout_s=cfg["timeout_s"])
    if stack in (None,) + DONE_STACK:
        if state.get("did") == "delete":
            _finish_delete(c, cfg, state)
            state["did"] = "deleted"
            return state  # the prefix (and this state) is gone with the cluster
        state["decision"] = {"fire": False, "reason": "the cluster's stack does not exist"}
        _put_json(c, bucket, prefix + "idle-state.json", state)
        return state
    retry_delete = stack == "DELETE_FAILED" and state.get("did") == "delete" and int(state.get("attempts") or 0) < 5
    if stack.endswith(BUSY_STACK_SUFFIX) or (stack.endswith("_FAILED") and not retry_delete):
        state["saw_in_progress"] = state.get("saw_in_progress") or stack.endswith(BUSY_STACK_SUFFIX)
        state["decision"] = {"fire": False, "reason": f"stack is {stack}: waiting"}
        _put_json(c, bucket, prefix + "idle-state.json", state)
        return state
    if state.pop("saw_in_progress", False):  # armed while the stack was being made (or updated): count from now
        state["complete_since"] = iso(now)
    heads = _instances(c, cluster, "HeadNode")
    compute = _instances(c, cluster, "Compute", ("pending", "running"))
    head_state = heads[0]["State"]["Name"] if heads else None
    state["head_node"] = head_state
    state["compute_running"] = len(compute)
    if cfg["action"] == "auto_stop" and head_state in ("stopped", "stopping") and not compute:
        state["decision"] = {"fire": False, "reason": "stopped: pctl start resumes it"}
        _put_json(c, bucket, prefix + "idle-state.json", state)
        return state
    d = decide(now=now, timeout_s=cfg["timeout_s"], heartbeat=heartbeat, control=control, state=state,
               compute_running=len(compute))
    state["decision"] = d
    if d["fire"] or retry_delete:
        if cfg["action"] == "auto_delete":
            state["terminated"] = _terminate_compute(c, cluster)
            c.cloudformation.delete_stack(StackName=cluster)
            state.update(did="delete", did_at=iso(now), attempts=int(state.get("attempts") or 0) + 1)
        else:
            try:
                _stop_fleet(c, cluster)
            except Exception as exc:  # the table is ParallelCluster's; stopping the nodes matters more
                state.setdefault("problems", []).append(f"compute fleet flag: {exc}")
            state["terminated"] = _terminate_compute(c, cluster)
            running_heads = [h["InstanceId"] for h in heads if h["State"]["Name"] in ("pending", "running")]
            if running_heads:
                c.ec2.stop_instances(InstanceIds=running_heads)
            state.update(did="stop", did_at=iso(now), stopped=running_heads)
    _put_json(c, bucket, prefix + "idle-state.json", state)
    return state


def handler(event, context):  # the Lambda entry point
    cfg = config_from_env()
    return run(Clients(), cfg)
