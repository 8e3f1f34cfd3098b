"""The idle timer against the moto server: the function's decision and actions on a simulated cluster (a
CloudFormation stack named after it, head and compute instances tagged as ParallelCluster tags them,
ParallelCluster's fleet table, the head node's heartbeat in the pctl bucket), arming and removing it,
pctl keep / start / stop."""

from __future__ import annotations

import json
import time

import pytest

from pctl.cost.idle import function as fn
from pctl.cost.idle import install
from pctl.cost.idle.decide import iso

CLUSTER = "lab"
STACK = json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}})  # moto supports it: stands in for pcluster's


@pytest.fixture
def cluster(aws):
    """A cluster as the timer sees it: stack, head node, two compute nodes, fleet table, bucket."""
    ec2, s3 = aws.client("ec2"), aws.client("s3")
    aws.client("cloudformation").create_stack(StackName=CLUSTER, TemplateBody=STACK, Tags=[
        {"Key": "pctl:cluster", "Value": CLUSTER}, {"Key": "parallelcluster:cluster-name", "Value": CLUSTER}])
    ami = "ami-03cf127a"  # one of moto's built-in images (listing them all takes seconds)

    def launch(node_type, n=1):
        return [i["InstanceId"] for i in ec2.run_instances(
            ImageId=ami, InstanceType="t3.micro", MinCount=n, MaxCount=n, TagSpecifications=[{
                "ResourceType": "instance", "Tags": [{"Key": "parallelcluster:cluster-name", "Value": CLUSTER},
                                                     {"Key": "parallelcluster:node-type", "Value": node_type}]}])["Instances"]]

    head = launch("HeadNode")[0]
    compute = launch("Compute", 2)
    other = launch("Compute")  # another cluster's node: never touched
    ec2.create_tags(Resources=other, Tags=[{"Key": "parallelcluster:cluster-name", "Value": "other"}])
    aws.client("dynamodb").create_table(TableName=f"parallelcluster-{CLUSTER}", BillingMode="PAY_PER_REQUEST",
                                        KeySchema=[{"AttributeName": "Id", "KeyType": "HASH"}],
                                        AttributeDefinitions=[{"AttributeName": "Id", "AttributeType": "S"}])
    aws.client("dynamodb").put_item(TableName=f"parallelcluster-{CLUSTER}", Item={
        "Id": {"S": "COMPUTE_FLEET"}, "Data": {"M": {"status": {"S": "RUNNING"}}}})
    bucket = aws.pctl_bucket()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=f"clusters/{CLUSTER}/cluster.json", Body=b"{}")
    return {"head": head, "compute": compute, "other": other[0], "bucket": bucket, "ec2": ec2, "s3": s3}


def _put(aws, bucket, name, doc):
    aws.client("s3").put_object(Bucket=bucket, Key=f"clusters/{CLUSTER}/status/{name}", Body=json.dumps(doc).encode())


def _heartbeat(now, *, running=0, pending=0, sessions=0, last_active=None, age=60):
    return {"updated": iso(now - age), "jobs": {"running": running, "pending": pending}, "sessions": sessions,
            "last_active": iso(last_active if last_active is not None else now - age)}


def _state(ec2, ids):
    res = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    return {i["InstanceId"]: i["State"]["Name"] for r in res for i in r["Instances"]}


def _cfg(bucket, action, timeout_s=7200):
    return {"cluster": CLUSTER, "bucket": bucket, "timeout_s": timeout_s, "action": action, "budget": None,
            "rule": f"pctl-idle-{CLUSTER}", "function": f"pctl-idle-{CLUSTER}", "account": "123456789012"}


def test_auto_delete_fires_on_an_idle_cluster_and_cleans_up(aws, cluster):
    now = time.time()
    b = cluster["bucket"]
    _put(aws, b, "control.json", {"armed_at": iso(now - 5 * 3600)})
    _put(aws, b, "heartbeat.json", _heartbeat(now, last_active=now - 3 * 3600))  # idle 3 h > 2 h
    c = fn.Clients("us-east-1")
    state = fn.run(c, _cfg(b, "auto_delete"), now=now)
    assert state["decision"]["fire"] and state["did"] == "delete", state
    ec2 = cluster["ec2"]
    assert set(state["terminated"]) == set(cluster["compute"])
    states = _state(ec2, cluster["compute"] + [cluster["other"]])
    assert all(states[i] in ("shutting-down", "terminated") for i in cluster["compute"])
    assert states[cluster["other"]] == "running", "another cluster's node is never touched"
    cfn = aws.client("cloudformation")
    assert not [s for s in cfn.list_stacks()["StackSummaries"]
                if s["StackName"] == CLUSTER and s["StackStatus"] != "DELETE_COMPLETE"]
    # next run: the stack is gone -> the cluster's objects go, then the timer itself
    state = fn.run(c, _cfg(b, "auto_delete"), now=now + 300)
    assert state["did"] == "deleted" and state["removed_objects"] >= 3
    assert aws.client("s3").list_objects_v2(Bucket=b, Prefix=f"clusters/{CLUSTER}/").get("KeyCount", 0) == 0


def test_pending_job_keeps_the_cluster(aws, cluster):
    now = time.time()
    b = cluster["bucket"]
    _put(aws, b, "control.json", {"armed_at": iso(now - 5 * 3600)})
    _put(aws, b, "heartbeat.json", _heartbeat(now, pending=1, last_active=now - 60))
    state = fn.run(fn.Clients("us-east-1"), _cfg(b, "auto_delete"), now=now)
    assert not state["decision"]["fire"] and state["decision"]["busy"] and "1 pending" in state["decision"]["reason"]
    assert aws.client("cloudformation").describe_stacks(StackName=CLUSTER)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert set(_state(cluster["ec2"], cluster["compute"]).values()) == {"running"}


def test_logged_in_user_keeps_the_cluster(aws, cluster):
    now = time.time()
    _put(aws, cluster["bucket"], "control.json", {"armed_at": iso(now - 5 * 3600)})
    _put(aws, cluster["bucket"], "heartbeat.json", _heartbeat(now, sessions=1))
    state = fn.run(fn.Clients("us-east-1"), _cfg(cluster["bucket"], "auto_delete"), now=now)
    assert not state["decision"]["fire"] and "1 login session" in state["decision"]["reason"]


def test_keep_postpones_the_deadline(aws, cluster):
    now = time.time()
    b = cluster["bucket"]
    _put(aws, b, "control.json", {"armed_at": iso(now - 5 * 3600), "keep_until": iso(now + 4 * 3600)})
    _put(aws, b, "heartbeat.json", _heartbeat(now, last_active=now - 3 * 3600))
    state = fn.run(fn.Clients("us-east-1"), _cfg(b, "auto_delete"), now=now)
    d = state["decision"]
    assert not d["fire"] and "kept until" in d["reason"] and 4 * 3600 - 120 < d["remaining_s"] <= 4 * 3600
    assert aws.client("cloudformation").describe_stacks(StackName=CLUSTER)["Stacks"]
    # once the keep has passed (the head node still reports no activity), the timer fires
    later = now + 4 * 3600 + 60
    _put(aws, b, "heartbeat.json", _heartbeat(later, last_active=now - 3 * 3600))
    state = fn.run(fn.Clients("us-east-1"), _cfg(b, "auto_delete"), now=later)
    assert state["did"] == "delete"


def test_silent_head_node_with_running_compute_nodes_is_not_idle(aws, cluster):
    now = time.time()
    b = cluster["bucket"]
    _put(aws, b, "control.json", {"armed_at": iso(now - 10 * 3600)})
    _put(aws, b, "heartbeat.json", _heartbeat(now, age=5 * 3600, last_active=now - 5 * 3600))  # stale
    state = fn.run(fn.Clients("us-east-1"), _cfg(b, "auto_delete"), now=now)
    assert not state["decision"]["fire"] and "compute node" in state["decision"]["reason"]
    # the compute nodes are gone (ParallelCluster's nodes stop without their head node): the clock ran
    cluster["ec2"].terminate_instances(InstanceIds=cluster["compute"])
    state = fn.run(fn.Clients("us-east-1"), _cfg(b, "auto_delete"), now=now)
    assert state["decision"]["fire"] and state["did"] == "delete"


def test_auto_stop_stops_head_terminates_compute_and_flags_the_fleet(aws, cluster):
    now = time.time()
    b = cluster["bucket"]
    _put(aws, b, "control.json", {"armed_at": iso(now - 5 * 3600)})
    _put(aws, b, "heartbeat.json", _heartbeat(now, last_active=now - 3 * 3600))
    state = fn.run(fn.Clients("us-east-1"), _cfg(b, "auto_stop"), now=now)
    assert state["did"] == "stop" and state["stopped"] == [cluster["head"]]
    states = _state(cluster["ec2"], [cluster["head"]] + cluster["compute"])
    assert states[cluster["head"]] in ("stopping", "stopped")
    assert all(states[i] in ("shutting-down", "terminated") for i in cluster["compute"])
    item = aws.client("dynamodb").get_item(TableName=f"parallelcluster-{CLUSTER}", Key={"Id": {"S": "COMPUTE_FLEET"}})
    assert item["Item"]["Data"]["M"]["status"]["S"] == "STOP_REQUESTED"
    assert aws.client("cloudformation").describe_stacks(StackName=CLUSTER)["Stacks"], "auto_stop keeps the stack"
    again = fn.run(fn.Clients("us-east-1"), _cfg(b, "auto_stop"), now=now + 300)
    assert "stopped" in again["decision"]["reason"] and again.get("did") == "stop"  # nothing more to do


def test_stack_in_progress_is_left_alone(aws, cluster):
    now = time.time()
    b = cluster["bucket"]
    _put(aws, b, "control.json", {"armed_at": iso(now - 5 * 3600)})
    aws.client("cloudformation").update_stack(StackName=CLUSTER, TemplateBody=json.dumps(
        {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}, "Q2": {"Type": "AWS::SQS::Queue"}}}))
    status = aws.client("cloudformation").describe_stacks(StackName=CLUSTER)["Stacks"][0]["StackStatus"]
    state = fn.run(fn.Clients("us-east-1"), _cfg(b, "auto_delete"), now=now)
    if status.endswith("_IN_PROGRESS"):
        assert not state["decision"]["fire"]
    else:  # moto completes updates at once
        assert state["stack_status"] == status


# ------------------------------------------------------------------------------------ arming, pctl keep/start/stop

def _template(text):
    from pctl.template.validate import validate_text

    r = validate_text(text, "t.yaml", use_catalog=False)
    assert r.ok, [d.format() for d in r.errors]
    return r.template


TEMPLATE = """
cluster: {name: lab, region: us-east-1, project: genomics, idle_timeout: 2h, idle_action: auto_delete,
          tags: {team: hpc}}
compute: {head_node: t3.large, queues: [{name: cpu, instance_types: [c6i.xlarge], max_count: 4}]}
budget: {monthly_usd: 500, notify: [lab@example.org], scope: cluster}
"""


def test_arm_makes_a_tagged_function_rule_and_scoped_role_then_disarm_removes_them(aws, cluster):
    t = _template(TEMPLATE)
    rep = install.arm(aws, t, cluster_name=CLUSTER, bucket=cluster["bucket"], template_name="lab-template")
    n = install.pol.names(CLUSTER, "us-east-1")
    lam, events, iam = aws.client("lambda"), aws.client("events"), aws.client("iam")
    fn_cfg = lam.get_function(FunctionName=n["function"])
    env = fn_cfg["Configuration"]["Environment"]["Variables"]
    assert env["PCTL_ACTION"] == "auto_delete" and env["PCTL_TIMEOUT_S"] == "7200" and env["PCTL_CLUSTER"] == CLUSTER
    assert fn_cfg["Configuration"]["Role"].endswith(f"role/pctl/{n['role']}")
    rule = events.describe_rule(Name=n["rule"])
    assert rule["ScheduleExpression"] == "rate(5 minutes)"
    assert events.list_targets_by_rule(Rule=n["rule"])["Targets"][0]["Arn"] == fn_cfg["Configuration"]["FunctionArn"]
    perm = json.loads(lam.get_policy(FunctionName=n["function"])["Policy"])["Statement"]
    assert [s["Principal"]["Service"] for s in perm] == ["events.amazonaws.com"]
    assert perm[0]["Condition"]["ArnLike"]["AWS:SourceArn"] == rule["Arn"]
    doc = iam.get_role_policy(RoleName=n["role"], PolicyName="pctl-idle")["PolicyDocument"]
    doc = json.loads(doc) if isinstance(doc, str) else doc
    assert doc == rep["policy"]
    trust = iam.get_role(RoleName=n["role"])["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    # tags: per resource type, the cluster's cost tags
    want = {"pctl:cluster": CLUSTER, "pctl:template": "lab-template", "pctl:project": "genomics", "team": "hpc"}
    role_tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=n["role"])["Tags"]}
    fn_tags = lam.list_tags(Resource=fn_cfg["Configuration"]["FunctionArn"])["Tags"]
    rule_tags = {t["Key"]: t["Value"] for t in events.list_tags_for_resource(ResourceARN=rule["Arn"])["Tags"]}
    log_tags = aws.client("logs").list_tags_log_group(logGroupName=n["log_group"])["tags"]
    for tags in (role_tags, fn_tags, rule_tags, log_tags):
        assert want.items() <= tags.items(), tags
    control = json.loads(aws.client("s3").get_object(Bucket=cluster["bucket"],
                                                     Key=f"clusters/{CLUSTER}/status/control.json")["Body"].read())
    assert control["armed_at"] and control["action"] == "auto_delete"
    # the zip the function runs is the code tested above
    import io
    import urllib.request
    import zipfile

    assert set(zipfile.ZipFile(io.BytesIO(install.function_zip())).namelist()) == {"function.py", "decide.py"}
    assert urllib.request  # (the code location is moto's; the zip is checked directly)
    removed = install.disarm(aws, CLUSTER)
    assert len(removed) == 4
    assert install.armed(aws, CLUSTER) is None and install.disarm(aws, CLUSTER) == []


def test_keep_start_and_status_countdown(aws, cluster):
    t = _template(TEMPLATE.replace("auto_delete", "auto_stop"))
    install.arm(aws, t, cluster_name=CLUSTER, bucket=cluster["bucket"])
    now = time.time()
    _put(aws, cluster["bucket"], "control.json", {"armed_at": iso(now - 3 * 3600)})  # armed 3 h ago
    _put(aws, cluster["bucket"], "heartbeat.json", _heartbeat(now, last_active=now - 1800))
    v = install.view(aws, CLUSTER, compute_running=0)
    assert v["action"] == "auto_stop" and not v["decision"]["busy"]
    assert 5400 - 120 < v["decision"]["remaining_s"] <= 5400  # 2 h after the last activity, 30 min ago
    kept = install.keep(aws, CLUSTER, 4 * 3600)
    assert kept["keep_until"]
    v = install.view(aws, CLUSTER, compute_running=0)
    assert v["decision"]["kept_until"] and v["decision"]["remaining_s"] > 3 * 3600 + 3000
    install.keep(aws, CLUSTER, None)
    assert install.view(aws, CLUSTER, compute_running=0)["decision"]["kept_until"] is None
    stopped = install.stop_cluster(aws, CLUSTER)
    assert stopped["stopped"] == [cluster["head"]] and set(stopped["terminated"]) == set(cluster["compute"])
    started = install.start_cluster(aws, CLUSTER, poll=0.1, timeout=60)
    assert started["state"] == "running" and started["idle_timer"]
    item = aws.client("dynamodb").get_item(TableName=f"parallelcluster-{CLUSTER}", Key={"Id": {"S": "COMPUTE_FLEET"}})
    assert item["Item"]["Data"]["M"]["status"]["S"] == "START_REQUESTED"
    control = json.loads(aws.client("s3").get_object(Bucket=cluster["bucket"],
                                                     Key=f"clusters/{CLUSTER}/status/control.json")["Body"].read())
    assert control["resumed_at"]


def test_keep_without_a_timer_says_so(aws, cluster):
    from pctl.errors import PctlError

    with pytest.raises(PctlError, match="no idle timer"):
        install.keep(aws, CLUSTER, 3600)


# ------------------------------------------------------------------------------------ the policy is enough

SPECIAL = {("s3", "ListObjectsV2"): "s3:ListBucket", ("s3", "DeleteObjects"): "s3:DeleteObject",
           ("budgets", "DeleteBudget"): "budgets:ModifyBudget"}


class RecordingClients(fn.Clients):
    """The function's own clients, recording every API call it makes as an IAM action."""

    def __init__(self, region):
        super().__init__(region)
        self.actions: set[str] = set()

    def __getattr__(self, service):
        client = super().__getattr__(service)
        if not getattr(client, "_pctl_recorded", False):
            def record(model=None, **_):
                svc = model.service_model.service_name
                self.actions.add(SPECIAL.get((svc, model.name), f"{model.service_model.signing_name}:{model.name}"))
            client.meta.events.register("before-call.*.*", record)
            client._pctl_recorded = True
        return client


@pytest.mark.parametrize("action", ["auto_stop", "auto_delete"])
def test_every_call_the_function_makes_is_allowed_by_its_policy(aws, cluster, action):
    from pctl.cost.idle.policy import actions_of, function_policy

    now = time.time()
    b = cluster["bucket"]
    _put(aws, b, "control.json", {"armed_at": iso(now - 5 * 3600)})
    _put(aws, b, "heartbeat.json", _heartbeat(now, last_active=now - 3 * 3600))
    budget = "pctl-cluster-us-east-1-lab"
    aws.client("budgets", region="us-east-1").create_budget(AccountId="123456789012", Budget={
        "BudgetName": budget, "BudgetType": "COST", "TimeUnit": "MONTHLY",
        "BudgetLimit": {"Amount": "100", "Unit": "USD"}})
    cfg = dict(_cfg(b, action), budget=budget)
    c = RecordingClients("us-east-1")
    fn.run(c, cfg, now=now)
    fn.run(c, cfg, now=now + 300)  # auto_delete: the stack is gone -> cleanup and self-removal
    allowed = actions_of(function_policy(cluster=CLUSTER, region="us-east-1", account="123456789012", bucket=b,
                                         action=action, budget=budget))
    assert c.actions - allowed == set(), f"calls the policy does not allow: {c.actions - allowed}"
    assert "cloudformation:DeleteStack" in c.actions if action == "auto_delete" else "ec2:StopInstances" in c.actions


def test_missing_control_document_means_no_action(aws, cluster):
    now = time.time()
    _put(aws, cluster["bucket"], "heartbeat.json", _heartbeat(now, last_active=now - 30 * 3600))
    with pytest.raises(RuntimeError, match="control.json is missing"):
        fn.run(fn.Clients("us-east-1"), _cfg(cluster["bucket"], "auto_delete"), now=now)
    assert aws.client("cloudformation").describe_stacks(StackName=CLUSTER)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


# ------------------------------------------------------------------------------------ through the CLI

def test_cli_keep_stop_start_and_policy(aws, aws_env, cluster, tmp_path):
    from support.cli import run_pctl

    r = run_pctl("keep", CLUSTER, "--for", "4h", env=aws_env)
    assert r.returncode == 1 and "no idle timer" in r.stderr and "Traceback" not in r.stderr
    install.arm(aws, _template(TEMPLATE.replace("auto_delete", "auto_stop")), cluster_name=CLUSTER,
                bucket=cluster["bucket"])
    r = run_pctl("keep", CLUSTER, "--for", "4h", "--json", env=aws_env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["keep_until"]
    r = run_pctl("keep", CLUSTER, "--for", "4 fortnights", env=aws_env)
    assert r.returncode == 2 and "--for" in r.stderr
    r = run_pctl("keep", CLUSTER, "--cancel", env=aws_env)
    assert r.returncode == 0 and "cancelled" in r.stdout
    r = run_pctl("stop", CLUSTER, env=aws_env, input="")
    assert r.returncode == 1 and "--yes" in r.stderr  # no terminal, no --yes: nothing stopped
    assert _state(cluster["ec2"], [cluster["head"]])[cluster["head"]] == "running"
    r = run_pctl("stop", CLUSTER, "--yes", "--json", env=aws_env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["stopped"] == [cluster["head"]]
    r = run_pctl("start", CLUSTER, "--json", env=dict(aws_env, PCTL_SSH_DIR=str(tmp_path / "ssh")))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["state"] == "running" and out["idle_timer"]
    r = run_pctl("start", "nope", env=aws_env)
    assert r.returncode == 1 and "no head node found" in r.stderr
    t = tmp_path / "t.yaml"
    t.write_text(TEMPLATE)
    r = run_pctl("idle", "policy", "-t", str(t))
    assert r.returncode == 0 and json.loads(r.stdout)["Statement"][0]["Sid"] == "ReadStatus"
    r = run_pctl("idle", "remove", CLUSTER, "--json", env=aws_env)
    assert r.returncode == 0 and len(json.loads(r.stdout)["removed"]) == 4
