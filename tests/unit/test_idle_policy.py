"""The idle timer's IAM: exactly what stopping or deleting ONE cluster needs.

The resource types come from the stacks aws-parallelcluster synthesized for library templates
(tests/fixtures/cost/pcluster-stacks.json; tests/integration/test_idle_policy_pcluster.py re-synthesizes
them with the installed ParallelCluster)."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import pytest

from pctl.cost.idle import policy as pol

STACKS = json.loads((Path(__file__).parents[1] / "fixtures" / "cost" / "pcluster-stacks.json").read_text())["stacks"]
ACCOUNT, REGION, BUCKET = "123456789012", "us-east-1", "pctl-123456789012-us-east-1"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/lab/0f8c5d40-d2a1-11ef-9d3a-0affd3b8f1a3"

ALWAYS = {"s3:GetObject", "s3:PutObject", "logs:CreateLogStream", "logs:PutLogEvents", "cloudformation:DescribeStacks"}
STOP = ALWAYS | {"ec2:DescribeInstances", "ec2:StopInstances", "ec2:TerminateInstances", "dynamodb:UpdateItem"}
AFTER_DELETE = {"s3:DeleteObject", "s3:ListBucket", "events:RemoveTargets", "events:DeleteRule", "lambda:DeleteFunction"}


def _statements(doc):
    for s in doc["Statement"]:
        acts = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        res = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        yield s, acts, res


def _delete_policy(types, **kw):
    return pol.function_policy(cluster="lab", region=REGION, account=ACCOUNT, bucket=BUCKET, action="auto_delete",
                               stack_types=types, stack_id=STACK_ID, **kw)


def test_every_type_parallelcluster_makes_has_delete_actions_and_nothing_extra():
    seen = set()
    for name, stack in STACKS.items():
        missing = set(stack["types"]) - set(pol.DELETE_ACTIONS)
        assert not missing, f"{name}: ParallelCluster makes {missing}; add their delete actions"
        seen |= set(stack["types"])
    assert set(pol.DELETE_ACTIONS) == seen, "the table names a type no ParallelCluster stack has"
    for name, stack in STACKS.items():  # ParallelCluster keeps its log groups: no DeleteLogGroup needed
        lg = stack["types"].get("AWS::Logs::LogGroup")
        assert lg is None or lg["retain"] == lg["count"], name


@pytest.mark.parametrize("name", sorted(STACKS))
def test_delete_policy_is_exactly_what_the_stack_needs(name):
    types = sorted(STACKS[name]["types"])
    doc = _delete_policy(types)
    wanted = ALWAYS | AFTER_DELETE | {a for t in types for a in pol.DELETE_ACTIONS[t]}
    wanted |= {"ec2:DescribeInstances"} | {pol.DESCRIBE_FOR[t] for t in types if t in pol.DESCRIBE_FOR}
    wanted -= {"route53:DeleteHostedZone", "route53:GetHostedZone"}  # zone id unknown before it exists (below)
    assert pol.actions_of(doc) == wanted
    assert not any(a.endswith("*") or a == "*" for a in pol.actions_of(doc)), "no wildcard actions"
    assert "iam:PassRole" not in pol.actions_of(doc) and not any(a.startswith(("iam:Create", "iam:Put", "iam:Attach"))
                                                                for a in pol.actions_of(doc))


def test_only_unscopable_reads_use_star():
    for action in ("auto_stop", "auto_delete"):
        doc = pol.function_policy(cluster="lab", region=REGION, account=ACCOUNT, bucket=BUCKET, action=action)
        for s, acts, res in _statements(doc):
            if "*" in res:
                assert set(acts) <= set(pol.UNSCOPABLE), s
                assert all(a.split(":")[1].startswith("Describe") for a in acts), s


def test_every_scoped_statement_names_this_cluster():
    resources = [{"type": "AWS::Route53::HostedZone", "physical": "Z0123456789ABCDEFGHIJ"},
                 {"type": "AWS::CloudFormation::Stack",
                  "physical": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/lab-ComputeFleetQueuesNestedStackQueues"
                              "NestedStackResource4C142E85-1ABCDEF/11111111-2222-3333-4444-555555555555"},
                 {"type": "AWS::IAM::Role", "physical": "lab-CleanupResourcesFunctionExecutio-AbC123"},
                 {"type": "AWS::Logs::LogGroup", "physical": "/aws/parallelcluster/lab-202612040721"}]
    doc = _delete_policy(sorted(pol.DELETE_ACTIONS), resources=resources, budget="pctl-cluster-us-east-1-lab")
    uuid = STACK_ID.rsplit("/", 1)[1]
    for s, acts, res in _statements(doc):
        if res == ["*"]:
            continue
        cond = s.get("Condition", {}).get("StringEquals", {})
        for r in res:
            named = any(tok in r for tok in ("/lab/", "/lab-", "-lab", ":lab-", "stack/lab")) or uuid in r \
                or "Z0123456789ABCDEFGHIJ" in r
            tagged = cond.get("aws:ResourceTag/parallelcluster:cluster-name") == "lab"
            prefixed = s.get("Condition", {}).get("StringLike", {}).get("s3:prefix") == ["clusters/lab/*"]
            assert named or tagged or prefixed, (s["Sid"], r)
            if any(k in r for k in (":instance/", ":volume/", ":security-group/", ":network-interface/",
                                    ":launch-template/", ":placement-group/", ":file-system/")):
                assert tagged, f"{s['Sid']}: {r} must be limited by the cluster tag"
    hz = next(s for s in doc["Statement"] if s["Sid"] == "DeleteClusterHostedZone")
    assert hz["Resource"] == ["arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ"]


# What another cluster's resources are called: "lab-gpu", "lab-2024", "lab-HeadNode" next to "lab".
OTHER = ["lab-gpu", "lab-2024", "labx"]


def _other_arns(c):
    return [
        f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{c}/aaaa",
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/parallelcluster-{c}",
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/parallelcluster-slurm-{c}",
        f"arn:aws:iam::{ACCOUNT}:role/parallelcluster/{c}/RoleHeadNode-X",
        f"arn:aws:iam::{ACCOUNT}:instance-profile/parallelcluster/{c}/InstanceProfileHeadNode-X",
        f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{c}-HeadNode",
        f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{c}-HeadNode-Cpu",
        f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/{c}-{REGION}",
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/parallelcluster/{c}-202612040721:*",
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:pcluster-CleanupResources-99999999-2222-3333-4444-555555555555",
        f"arn:aws:s3:::{BUCKET}/clusters/{c}/status/heartbeat.json",
        f"arn:aws:events:{REGION}:{ACCOUNT}:rule/pctl-idle-{c}",
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:pctl-idle-{c}",
    ]


@pytest.mark.parametrize("action", ["auto_stop", "auto_delete"])
def test_no_resource_of_another_cluster_matches(action):
    doc = pol.function_policy(cluster="lab", region=REGION, account=ACCOUNT, bucket=BUCKET, action=action,
                              stack_id=STACK_ID)
    patterns = [r for _, _, res in _statements(doc) for r in res if r != "*"]
    for c in OTHER:
        for arn in _other_arns(c):
            hits = [p for p in patterns if fnmatch.fnmatchcase(arn, p)]
            assert not hits, f"{arn} (cluster {c}) matches {hits}"
    # and this cluster's own resources do match
    own = [a.replace("/lab-gpu", "/lab").replace("-lab-gpu", "-lab").replace(":lab-gpu", ":lab")
           .replace("lab-gpu-", "lab-") for a in _other_arns("lab-gpu")]
    if action == "auto_delete":
        for arn in own[1:9]:
            assert any(fnmatch.fnmatchcase(arn, p) for p in patterns), arn


def test_ec2_conditions_are_on_this_clusters_tag():
    for action in ("auto_stop", "auto_delete"):
        doc = pol.function_policy(cluster="lab", region=REGION, account=ACCOUNT, bucket=BUCKET, action=action)
        for s, acts, res in _statements(doc):
            if any(a.startswith(("ec2:Terminate", "ec2:Stop", "ec2:Delete", "ec2:Revoke", "ec2:Detach",
                                 "elasticfilesystem:Delete", "fsx:Delete")) for a in acts):
                assert s["Condition"]["StringEquals"]["aws:ResourceTag/parallelcluster:cluster-name"] == "lab", s


def test_auto_stop_can_only_stop_the_head_and_end_compute_nodes():
    doc = pol.function_policy(cluster="lab", region=REGION, account=ACCOUNT, bucket=BUCKET, action="auto_stop")
    assert pol.actions_of(doc) == STOP
    stop = next(s for s in doc["Statement"] if s["Action"] == "ec2:StopInstances")
    term = next(s for s in doc["Statement"] if s["Action"] == "ec2:TerminateInstances")
    assert stop["Condition"]["StringEquals"]["aws:ResourceTag/parallelcluster:node-type"] == "HeadNode"
    assert term["Condition"]["StringEquals"]["aws:ResourceTag/parallelcluster:node-type"] == "Compute"


def test_head_node_gets_one_writable_object():
    access = pol.head_node_s3_access(BUCKET, "lab")
    assert [a for a in access if a["EnableWriteAccess"]] == [
        {"BucketName": BUCKET, "KeyName": "clusters/lab/status/heartbeat.json", "EnableWriteAccess": True}]


def test_trust_is_lambda_only_and_names_fit_aws_limits():
    assert pol.trust_policy()["Statement"] == [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]
    long = "a" + "b" * 59
    n = pol.names(long, "ap-southeast-2")
    assert all(len(n[k]) <= 64 for k in ("role", "function", "rule"))
    assert pol.names(long, "us-east-1")["role"] != pol.names(long, "us-west-2")["role"]


def test_readme_prints_the_policy_pctl_installs():
    """README 'Idle clusters stop costing' shows the auto_delete policy of a cluster named lab; it must be
    the one pctl builds (same actions, statement by statement)."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    start = readme.index("<!-- idle-policy:auto_delete -->")
    block = readme[start:].split("```json", 1)[1].split("```", 1)[0]
    shown = json.loads(block)
    built = pol.function_policy(cluster="lab", region=REGION, account=ACCOUNT, bucket=BUCKET, action="auto_delete")
    assert shown == built
    start = readme.index("<!-- idle-policy:auto_stop -->")
    shown = json.loads(readme[start:].split("```json", 1)[1].split("```", 1)[0])
    assert shown == pol.function_policy(cluster="lab", region=REGION, account=ACCOUNT, bucket=BUCKET, action="auto_stop")
