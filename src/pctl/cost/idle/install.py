"""Install, show, postpone and remove a cluster's idle timer; stop and start a cluster by hand.

What ``arm`` makes (all tagged pctl:cluster / pctl:template / pctl:project and pctl:role=idle-timer):

* role ``/pctl/pctl-idle-<cluster>`` with one inline policy (policy.function_policy), trusted by Lambda;
* log group ``/aws/lambda/pctl-idle-<cluster>`` (30 days);
* function ``pctl-idle-<cluster>`` (function.py + decide.py, Python 3.12, 128 MB, 2 min);
* EventBridge rule ``pctl-idle-<cluster>`` (rate 5 minutes) and the function's resource policy that
  lets that rule, and nothing else, invoke it;
* ``clusters/<cluster>/status/control.json`` in the pctl bucket (armed_at; later keep_until, resumed_at).
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

from pctl.cost.idle import policy as pol
from pctl.cost.idle.decide import decide, iso
from pctl.errors import PctlError

HERE = Path(__file__).resolve().parent
ROLE_PATH = "/pctl/"
POLICY_NAME = "pctl-idle"
SCHEDULE = "rate(5 minutes)"
LOG_RETENTION_DAYS = 30
STATUS = "clusters/{name}/status/"


def function_zip() -> bytes:
    """function.py + decide.py, byte-for-byte the same for the same pctl (fixed timestamps)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in ("function.py", "decide.py"):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            z.writestr(info, (HERE / name).read_bytes())
    return buf.getvalue()


def _tags(template, cluster_name: str, template_name: str | None) -> dict[str, str]:
    from pctl.cost.tags import resource_tags

    tags = {k: v for k, v in resource_tags(template, cluster_name, template_name).items()}
    tags.update({"pctl:managed": "true", "pctl:role": "idle-timer"})
    return tags


def _role_tags(aws, role: str) -> dict:
    from pctl.aws import iam

    return iam.role_tags(aws, role)


def _stack_facts(aws, name: str) -> dict:
    from pctl.aws import cloudformation as cfn

    stack = cfn.describe_stack(aws, name)
    resources = cfn.stack_resources(aws, name) if stack else []
    types = sorted({r["type"] for r in resources if r.get("type")})
    zones = sorted({r["physical"].rsplit("/", 1)[-1] for r in resources
                    if r.get("type") == "AWS::Route53::HostedZone" and r.get("physical")})
    known = [t for t in types if t in pol.DELETE_ACTIONS]
    unknown = [t for t in types if t not in pol.DELETE_ACTIONS]
    return {"stack_id": (stack or {}).get("StackId"), "status": (stack or {}).get("StackStatus"),
            "types": known or None, "unknown_types": unknown, "hosted_zones": zones, "resources": resources}


def control_key(name: str) -> str:
    return STATUS.format(name=name) + "control.json"


def _update_control(aws, bucket: str, name: str, **changes) -> dict:
    from pctl.aws import s3

    doc = s3.get_json(aws, bucket, control_key(name)) or {}
    for k, v in changes.items():
        if v is None:
            doc.pop(k, None)
        else:
            doc[k] = v
    s3.put_json(aws, bucket, control_key(name), doc)
    return doc


def arm(aws, template, *, cluster_name: str, bucket: str | None, template_name: str | None = None,
        progress=None) -> dict:
    """Install (or update) the idle timer of a created cluster. Idempotent."""
    from pctl.aws import awslambda, events, iam, logs
    from pctl.cost.budgets import budget_name, scope_of
    from pctl.cost.duration import parse_duration

    if not template.cluster.idle_timeout:
        raise PctlError(f"{cluster_name} has no cluster.idle_timeout", hint="set cluster.idle_timeout: 2h in the template")
    timeout_s = parse_duration(template.cluster.idle_timeout)
    action = template.cluster.idle_action
    bucket = bucket or aws.pctl_bucket()
    n = pol.names(cluster_name, aws.region)
    facts = _stack_facts(aws, cluster_name)
    budget = (budget_name(cluster=cluster_name, region=aws.region)
              if template.budget is not None and scope_of(template) == "cluster" else None)
    document = pol.function_policy(cluster=cluster_name, region=aws.region, account=aws.account_id, bucket=bucket,
                                   action=action, stack_types=facts["types"], stack_id=facts["stack_id"],
                                   resources=facts["resources"], budget=budget)
    tags = dict(_tags(template, cluster_name, template_name), **{"pctl:region": aws.region})
    say = progress or (lambda m: None)
    role_arn = iam.ensure_role(aws, name=n["role"], path=ROLE_PATH, trust=pol.trust_policy(), policy_name=POLICY_NAME,
                               policy=document, tags=tags,
                               description=f"pctl idle timer of {cluster_name}: may {action.replace('_', ' ')} "
                                           "this cluster only")
    say(f"idle timer: role {n['role']} ({len(document['Statement'])} statements, this cluster only)")
    logs.ensure_log_group(aws, n["log_group"], retention_days=LOG_RETENTION_DAYS, tags=tags)
    env = {"PCTL_CLUSTER": cluster_name, "PCTL_BUCKET": bucket, "PCTL_TIMEOUT_S": str(timeout_s),
           "PCTL_ACTION": action, "PCTL_RULE": n["rule"], "PCTL_ACCOUNT": aws.account_id}
    if budget:
        env["PCTL_BUDGET"] = budget
    fn_arn = awslambda.create_or_update_function(
        aws, name=n["function"], role_arn=role_arn, zip_bytes=function_zip(), handler="function.handler", env=env,
        tags=tags, description=f"pctl idle timer: {action} {cluster_name} after {template.cluster.idle_timeout} idle")
    rule_arn = events.put_schedule(aws, name=n["rule"], expression=SCHEDULE, target_arn=fn_arn, tags=tags,
                                   description=f"pctl idle timer of {cluster_name}")
    awslambda.allow_rule(aws, function=n["function"], rule_arn=rule_arn)
    complete = _complete(action, facts)
    _update_control(aws, bucket, cluster_name, armed_at=iso(time.time()), timeout_s=timeout_s, action=action,
                    policy_complete=complete)
    say(f"idle timer: {action} after {template.cluster.idle_timeout} without jobs or logins (checked every 5 min)")
    return {"function": n["function"], "role": n["role"], "rule": n["rule"], "action": action,
            "timeout": template.cluster.idle_timeout, "timeout_s": timeout_s, "policy": document,
            "stack_types": facts["types"], "unknown_stack_types": facts["unknown_types"], "complete": complete}


def _complete(action: str, facts: dict) -> bool:
    """auto_delete can remove the whole stack only once its resources (the hosted zone above all) exist
    and are named in the policy."""
    return action == "auto_stop" or (facts["status"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE",
                                                          "UPDATE_ROLLBACK_COMPLETE") and facts["types"] is not None)


def refresh_policy(aws, name: str) -> bool | None:
    """Rewrite the function's policy from the stack as it is now (armed while the stack was still being
    created: `pctl create --no-wait`). True when the policy is now complete; None without a timer."""
    from pctl.aws import awslambda, iam

    fn = awslambda.get_function(aws, pol.names(name, aws.region)["function"])
    if fn is None:
        return None
    env = ((fn.get("Configuration") or {}).get("Environment") or {}).get("Variables") or {}
    facts = _stack_facts(aws, name)
    if not _complete(env.get("PCTL_ACTION", "auto_stop"), facts):
        return False
    bucket = env.get("PCTL_BUCKET") or aws.pctl_bucket()
    document = pol.function_policy(cluster=name, region=aws.region, account=aws.account_id, bucket=bucket,
                                   action=env.get("PCTL_ACTION", "auto_stop"), stack_types=facts["types"],
                                   stack_id=facts["stack_id"], resources=facts["resources"],
                                   budget=env.get("PCTL_BUDGET") or None)
    iam.put_role_policy(aws, pol.names(name, aws.region)["role"], POLICY_NAME, document)
    _update_control(aws, bucket, name, policy_complete=True)
    return True


def disarm(aws, name: str, *, progress=None) -> list[str]:
    """Remove the timer's rule, function, role and log group. Returns what was removed."""
    from pctl.aws import awslambda, events, iam, logs

    n = pol.names(name, aws.region)
    removed = []
    if events.delete_rule(aws, n["rule"]):
        removed.append(f"rule {n['rule']}")
    if awslambda.delete_function(aws, n["function"]):
        removed.append(f"function {n['function']}")
    if iam.delete_role(aws, n["role"]):
        removed.append(f"role {n['role']}")
    if logs.delete_log_group(aws, n["log_group"]):
        removed.append(f"log group {n['log_group']}")
    if removed and progress:
        progress("idle timer removed: " + ", ".join(removed))
    return removed


def armed(aws, name: str) -> dict | None:
    from pctl.aws import awslambda

    fn = awslambda.get_function(aws, pol.names(name, aws.region)["function"])
    if fn is None:
        return None
    env = ((fn.get("Configuration") or {}).get("Environment") or {}).get("Variables") or {}
    return {"action": env.get("PCTL_ACTION"), "timeout_s": int(env.get("PCTL_TIMEOUT_S") or 0),
            "bucket": env.get("PCTL_BUCKET")}


def keep(aws, name: str, seconds: int | None, *, bucket: str | None = None) -> dict:
    """Postpone the timer: not before now + SECONDS (None: cancel an earlier keep)."""
    timer = armed(aws, name)
    if timer is None:
        raise PctlError(f"{name} has no idle timer in {aws.region}",
                        hint="set cluster.idle_timeout in the template; list clusters with: pctl list")
    bucket = bucket or timer["bucket"] or aws.pctl_bucket()
    until = iso(time.time() + seconds) if seconds else None
    doc = _update_control(aws, bucket, name, keep_until=until)
    return {"name": name, "keep_until": doc.get("keep_until"), "action": timer["action"]}


def view(aws, name: str, *, bucket: str | None = None, compute_running: int | None = None,
         now: float | None = None) -> dict | None:
    """The countdown for `pctl status`: None when the cluster has no idle timer."""
    from pctl.aws import s3

    timer = armed(aws, name)
    if timer is None:
        return None
    bucket = timer["bucket"] or bucket or aws.pctl_bucket()
    prefix = STATUS.format(name=name)
    hb = s3.get_json(aws, bucket, prefix + "heartbeat.json")
    control = s3.get_json(aws, bucket, prefix + "control.json")
    state = s3.get_json(aws, bucket, prefix + "idle-state.json") or {}
    if control is not None and control.get("policy_complete") is False:
        if refresh_policy(aws, name):
            control["policy_complete"] = True
    d = decide(now=now or time.time(), timeout_s=timer["timeout_s"], heartbeat=hb, control=control, state=state,
               compute_running=compute_running)
    return {"action": timer["action"], "timeout_s": timer["timeout_s"], "decision": d,
            "last_check": state.get("checked"), "last_action": state.get("did"), "last_action_at": state.get("did_at"),
            "head_node": state.get("head_node"), "heartbeat": (hb or {}).get("updated"),
            "policy_complete": (control or {}).get("policy_complete", True)}


# ------------------------------------------------------------------------------------ stop / start by hand

def stop_cluster(aws, name: str) -> dict:
    """What auto_stop does, with your credentials: fleet flag, compute nodes terminated, head node stopped."""
    from pctl.aws import dynamodb, ec2

    insts = ec2.cluster_instances(aws, name)
    heads = [i for i in insts if _tag(i, "parallelcluster:node-type") == "HeadNode"]
    if not heads:
        raise PctlError(f"no head node found for a cluster named {name!r} in {aws.region}",
                        hint="list clusters with: pctl list")
    try:
        dynamodb.set_fleet_status(aws, name, "STOP_REQUESTED")
    except PctlError:
        pass  # no fleet table (not a ParallelCluster 3 cluster): the instances still stop
    compute = [i["InstanceId"] for i in insts if _tag(i, "parallelcluster:node-type") == "Compute"
               and i["State"]["Name"] != "terminated"]
    if compute:
        ec2.terminate_instances(aws, compute)
    running = [h["InstanceId"] for h in heads if h["State"]["Name"] in ("pending", "running")]
    if running:
        ec2.stop_instances(aws, running)
    return {"name": name, "head_node": heads[0]["InstanceId"], "stopped": running, "terminated": compute}


def start_cluster(aws, name: str, *, bucket: str | None = None, wait: bool = True, poll: float = 5.0,
                  timeout: float = 900) -> dict:
    """Start a stopped head node, let the compute fleet run again, restart the idle clock."""
    from pctl.aws import dynamodb, ec2

    heads = [i for i in ec2.cluster_instances(aws, name) if _tag(i, "parallelcluster:node-type") == "HeadNode"]
    if not heads:
        raise PctlError(f"no head node found for a cluster named {name!r} in {aws.region}",
                        hint="list clusters with: pctl list")
    head = heads[0]
    if head["State"]["Name"] in ("stopped", "stopping"):
        ec2.start_instances(aws, [head["InstanceId"]])
    deadline = time.monotonic() + timeout
    while wait:
        head = next((i for i in ec2.cluster_instances(aws, name) if i["InstanceId"] == head["InstanceId"]), head)
        if head["State"]["Name"] == "running":
            break
        if time.monotonic() > deadline:
            raise PctlError(f"the head node of {name} did not start within {timeout / 60:.0f} min",
                            hint=f"check it in the EC2 console; pctl status {name}")
        time.sleep(poll)
    try:
        dynamodb.set_fleet_status(aws, name, "START_REQUESTED")
    except PctlError:
        pass
    timer = armed(aws, name)
    if timer is not None:
        _update_control(aws, timer["bucket"] or bucket or aws.pctl_bucket(), name, resumed_at=iso(time.time()))
    return {"name": name, "head_node": head["InstanceId"], "state": head["State"]["Name"],
            "public_ip": head.get("PublicIpAddress"), "private_ip": head.get("PrivateIpAddress"),
            "idle_timer": bool(timer)}


def _tag(instance: dict, key: str) -> str | None:
    return next((t["Value"] for t in instance.get("Tags", []) if t["Key"] == key), None)


def leftovers(aws, live: set[str]) -> list[str]:
    """Clusters of this region whose idle timer role exists but whose cluster does not (auto-deleted, or
    deleted outside pctl): 'pctl delete NAME' removes what is left."""
    from pctl.aws import iam

    out = []
    for r in iam.list_roles(aws, ROLE_PATH):
        if not r["RoleName"].startswith("pctl-idle-"):
            continue
        tags = _role_tags(aws, r["RoleName"])
        cluster = tags.get("pctl:cluster")
        if cluster and tags.get("pctl:region") == aws.region and cluster not in live:
            out.append(cluster)
    return sorted(set(out))


def policy_json(policy: dict) -> str:
    return json.dumps(policy, indent=2)
