"""The idle timer's IAM: exactly what stopping or deleting ONE cluster needs, nothing else.

Identities involved (README "Idle clusters stop costing" prints them):

1. ``pctl-idle-<cluster>`` (role of the timer's function, trusted by Lambda only): the policy below.
2. The EventBridge rule ``pctl-idle-<cluster>``: no role at all; the function's resource policy lets
   events.amazonaws.com invoke it for that rule's ARN only.
3. The head node's instance role (ParallelCluster's): may write one object (its heartbeat) and read
   one (pctl's control document) in the pctl bucket. No stop, terminate or delete permission at all.

The function's policy for ``auto_stop``: read the cluster's status documents and write its own state;
describe instances (EC2 has no resource-level permission for Describe*); stop instances tagged as this
cluster's head node; terminate instances tagged as this cluster's compute nodes; flip this cluster's
compute-fleet flag in ParallelCluster's table; read this cluster's stack status; write its own logs.

For ``auto_delete``: CloudFormation deletes a stack with the caller's permissions, so the function also
needs the delete permission of every resource type ParallelCluster puts in a cluster stack
(``DELETE_ACTIONS``, derived from the stacks ParallelCluster synthesizes; tests check it against them).
Each is limited to this cluster's resources: by its stack ARN, by the names ParallelCluster gives them
(``parallelcluster-<cluster>`` tables, ``/parallelcluster/<cluster>/`` IAM paths, ``<cluster>-HeadNode*``
alarms, the cleanup functions named after the stack id), by the hosted zone id read from the stack, and,
for EC2/EFS/FSx resources (whose ids are not known in advance), by the tag ParallelCluster puts on
everything of the cluster: ``parallelcluster:cluster-name = <cluster>``. Then it removes the cluster's
objects in the pctl bucket, its budget, its rule and itself.
"""

from __future__ import annotations

from pctl.regions import partition

#: resource type in a ParallelCluster cluster stack (root or the queues' nested stack) -> the actions
#: CloudFormation calls, with the caller's permissions, to delete it. [] = nothing to call.
DELETE_ACTIONS: dict[str, list[str]] = {
    "AWS::CloudFormation::Stack": ["cloudformation:DeleteStack", "cloudformation:DescribeStacks"],
    # custom resources: CloudFormation invokes their function (ParallelCluster's cleanup functions) as the caller
    "AWS::CloudFormation::CustomResource": ["lambda:InvokeFunction"],
    "AWS::CloudFormation::WaitCondition": [],
    "AWS::CloudFormation::WaitConditionHandle": [],
    "AWS::CloudWatch::Alarm": ["cloudwatch:DeleteAlarms"],
    "AWS::CloudWatch::CompositeAlarm": ["cloudwatch:DeleteAlarms"],
    "AWS::CloudWatch::Dashboard": ["cloudwatch:DeleteDashboards"],
    "AWS::DynamoDB::Table": ["dynamodb:DeleteTable", "dynamodb:DescribeTable"],
    "AWS::EC2::Instance": ["ec2:TerminateInstances"],
    "AWS::EC2::LaunchTemplate": ["ec2:DeleteLaunchTemplate"],
    "AWS::EC2::NetworkInterface": ["ec2:DeleteNetworkInterface"],
    "AWS::EC2::SecurityGroup": ["ec2:DeleteSecurityGroup"],
    "AWS::EC2::SecurityGroupIngress": ["ec2:RevokeSecurityGroupIngress"],
    "AWS::EC2::SecurityGroupEgress": ["ec2:RevokeSecurityGroupEgress"],
    "AWS::EC2::Volume": ["ec2:DeleteVolume", "ec2:DetachVolume"],
    "AWS::EC2::PlacementGroup": ["ec2:DeletePlacementGroup"],
    "AWS::EFS::FileSystem": ["elasticfilesystem:DeleteFileSystem"],
    "AWS::EFS::MountTarget": ["elasticfilesystem:DeleteMountTarget"],
    "AWS::FSx::FileSystem": ["fsx:DeleteFileSystem"],
    "AWS::IAM::InstanceProfile": ["iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile"],
    "AWS::IAM::Policy": ["iam:DeleteRolePolicy"],
    "AWS::IAM::Role": ["iam:DeleteRole", "iam:DetachRolePolicy", "iam:ListRolePolicies",
                       "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole"],
    "AWS::Lambda::Function": ["lambda:DeleteFunction", "lambda:GetFunction"],
    "AWS::Logs::LogGroup": [],  # ParallelCluster retains its log groups (DeletionPolicy Retain): nothing to call
    "AWS::Logs::MetricFilter": ["logs:DeleteMetricFilter"],
    "AWS::Route53::HostedZone": ["route53:DeleteHostedZone", "route53:GetHostedZone"],
}

#: Read-only calls CloudFormation and the function make while deleting, which AWS does not allow to be
#: scoped to a resource (no resource-level permissions): the only statements with Resource "*".
UNSCOPABLE = ["ec2:DescribeInstances", "ec2:DescribeVolumes", "ec2:DescribeSecurityGroups",
              "ec2:DescribeNetworkInterfaces", "ec2:DescribeLaunchTemplates", "ec2:DescribePlacementGroups",
              "elasticfilesystem:DescribeMountTargets", "fsx:DescribeFileSystems", "cloudwatch:DescribeAlarms"]
UNSCOPABLE_FOR_STOP = ["ec2:DescribeInstances"]
#: which read-only call goes with which deletable type (only included when the type is in the stack)
DESCRIBE_FOR = {"AWS::EC2::Volume": "ec2:DescribeVolumes", "AWS::EC2::SecurityGroup": "ec2:DescribeSecurityGroups",
                "AWS::EC2::NetworkInterface": "ec2:DescribeNetworkInterfaces",
                "AWS::EC2::LaunchTemplate": "ec2:DescribeLaunchTemplates",
                "AWS::EC2::PlacementGroup": "ec2:DescribePlacementGroups",
                "AWS::EFS::MountTarget": "elasticfilesystem:DescribeMountTargets",
                "AWS::FSx::FileSystem": "fsx:DescribeFileSystems", "AWS::CloudWatch::Alarm": "cloudwatch:DescribeAlarms"}

#: the resource types of a cluster stack as ParallelCluster 3.x synthesizes them (root + queues' nested
#: stack) for clusters pctl renders (EFS/EBS/FSx storage, EFA placement groups): every key of
#: DELETE_ACTIONS. Used when the stack's own resources cannot be listed yet. The tests check the table
#: against stacks synthesized by the installed ParallelCluster, both ways.
PCLUSTER_STACK_TYPES = sorted(DELETE_ACTIONS)

CLUSTER_TAG = "parallelcluster:cluster-name"
NODE_TAG = "parallelcluster:node-type"


def _fit(text: str, limit: int = 64) -> str:
    """TEXT when it fits AWS's 64-character names, else its start and a digest of the whole."""
    import hashlib

    if len(text) <= limit:
        return text
    return text[: limit - 9].rstrip("-") + "-" + hashlib.sha256(text.encode()).hexdigest()[:8]


def names(cluster: str, region: str) -> dict:
    """Function, rule and log group are regional: named after the cluster. The role is global (IAM):
    named after the region and the cluster, so equal cluster names in two regions do not collide."""
    fn = _fit(f"pctl-idle-{cluster}")
    return {"role": _fit(f"pctl-idle-{region}-{cluster}"), "function": fn, "rule": fn,
            "log_group": f"/aws/lambda/{fn}"}


def trust_policy() -> dict:
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def _tagged(cluster: str, node_type: str | None = None) -> dict:
    cond = {f"aws:ResourceTag/{CLUSTER_TAG}": cluster}
    if node_type:
        cond[f"aws:ResourceTag/{NODE_TAG}"] = node_type
    return {"StringEquals": cond}


HEAD_NODE_ALARMS = ("HeadNode", "HeadNode-ClustermgtdHeartbeat", "HeadNode-Cpu", "HeadNode-Disk", "HeadNode-Health",
                    "HeadNode-Mem")


def function_policy(*, cluster: str, region: str, account: str, bucket: str, action: str,
                    stack_types: list[str] | None = None, stack_id: str | None = None,
                    resources: list[dict] | None = None, budget: str | None = None) -> dict:
    """The policy of the function's role.

    For auto_delete: STACK_TYPES are the resource types of the cluster's stacks (default: every type
    ParallelCluster uses), STACK_ID the cluster stack's id (it names ParallelCluster's cleanup functions),
    RESOURCES the stacks' resources as CloudFormation lists them ({type, physical}) once created: then
    the nested stack, the IAM roles, the log group and the hosted zone are named exactly; before, by the
    names ParallelCluster gives them (the hosted zone has no predictable name: without RESOURCES the
    function cannot delete it, and CloudFormation reports the stack DELETE_FAILED)."""
    p = partition(region)
    ec2 = f"arn:{p}:ec2:{region}:{account}"
    n = names(cluster, region)
    status = f"arn:{p}:s3:::{bucket}/clusters/{cluster}/status/"
    stack_arn = f"arn:{p}:cloudformation:{region}:{account}:stack/{cluster}/*"
    st: list[dict] = [
        {"Sid": "ReadStatus", "Effect": "Allow", "Action": "s3:GetObject",
         "Resource": [status + "heartbeat.json", status + "control.json", status + "idle-state.json"]},
        {"Sid": "WriteOwnState", "Effect": "Allow", "Action": "s3:PutObject", "Resource": status + "idle-state.json"},
        {"Sid": "OwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": f"arn:{p}:logs:{region}:{account}:log-group:{n['log_group']}:*"},
        {"Sid": "StackStatus", "Effect": "Allow", "Action": "cloudformation:DescribeStacks", "Resource": stack_arn},
    ]
    if action == "auto_stop":
        st += [
            {"Sid": "FindClusterInstances", "Effect": "Allow", "Action": UNSCOPABLE_FOR_STOP, "Resource": "*"},
            {"Sid": "StopHeadNode", "Effect": "Allow", "Action": "ec2:StopInstances",
             "Resource": f"{ec2}:instance/*", "Condition": _tagged(cluster, "HeadNode")},
            {"Sid": "TerminateComputeNodes", "Effect": "Allow", "Action": "ec2:TerminateInstances",
             "Resource": f"{ec2}:instance/*", "Condition": _tagged(cluster, "Compute")},
            {"Sid": "ComputeFleetFlag", "Effect": "Allow", "Action": "dynamodb:UpdateItem",
             "Resource": f"arn:{p}:dynamodb:{region}:{account}:table/parallelcluster-{cluster}"},
        ]
        return {"Version": "2012-10-17", "Statement": st}
    if action != "auto_delete":
        raise ValueError(f"unknown idle action {action!r}")
    types = sorted(set(stack_types or PCLUSTER_STACK_TYPES) | {"AWS::CloudFormation::Stack", "AWS::EC2::Instance"})
    want = {a for t in types for a in DELETE_ACTIONS.get(t, [])}
    physical: dict[str, list[str]] = {}
    for r in resources or []:
        if r.get("physical"):
            physical.setdefault(r.get("type"), []).append(r["physical"])

    def add(sid, actions, resource, condition=None):
        acts = [a for a in actions if a in want]
        if not acts or not resource:
            return
        s = {"Sid": sid, "Effect": "Allow", "Action": acts if len(acts) > 1 else acts[0], "Resource": resource}
        if condition:
            s["Condition"] = condition
        st.append(s)

    describes = sorted({"ec2:DescribeInstances"} | {DESCRIBE_FOR[t] for t in types if t in DESCRIBE_FOR})
    st.append({"Sid": "ReadOnlyUnscopable", "Effect": "Allow", "Action": describes, "Resource": "*"})
    # the stack and the queues' nested stack (named <cluster>-ComputeFleetQueuesNestedStack...-<id>)
    nested = [a for a in physical.get("AWS::CloudFormation::Stack", []) if a.startswith("arn:")] or \
        [f"arn:{p}:cloudformation:{region}:{account}:stack/{cluster}-ComputeFleetQueuesNestedStack*/*"]
    add("DeleteClusterStacks", ["cloudformation:DeleteStack", "cloudformation:DescribeStacks"], [stack_arn] + nested)
    # EC2, EFS, FSx: ids unknown in advance (compute nodes come and go); all carry the cluster-name tag
    add("TerminateClusterInstances", ["ec2:TerminateInstances"], f"{ec2}:instance/*", _tagged(cluster))
    add("DeleteClusterVolumes", ["ec2:DeleteVolume", "ec2:DetachVolume"], [f"{ec2}:volume/*", f"{ec2}:instance/*"],
        _tagged(cluster))
    add("DeleteClusterSecurityGroups", ["ec2:DeleteSecurityGroup", "ec2:RevokeSecurityGroupIngress",
                                        "ec2:RevokeSecurityGroupEgress"], f"{ec2}:security-group/*", _tagged(cluster))
    add("DeleteClusterNetworkInterfaces", ["ec2:DeleteNetworkInterface"], f"{ec2}:network-interface/*", _tagged(cluster))
    add("DeleteClusterLaunchTemplates", ["ec2:DeleteLaunchTemplate"], f"{ec2}:launch-template/*", _tagged(cluster))
    add("DeleteClusterPlacementGroups", ["ec2:DeletePlacementGroup"], f"{ec2}:placement-group/*", _tagged(cluster))
    add("DeleteClusterFileSystems", ["elasticfilesystem:DeleteFileSystem", "elasticfilesystem:DeleteMountTarget"],
        f"arn:{p}:elasticfilesystem:{region}:{account}:file-system/*", _tagged(cluster))
    add("DeleteClusterFsx", ["fsx:DeleteFileSystem"], f"arn:{p}:fsx:{region}:{account}:file-system/*", _tagged(cluster))
    # named by ParallelCluster after the cluster
    add("DeleteClusterTables", ["dynamodb:DeleteTable", "dynamodb:DescribeTable"],
        [f"arn:{p}:dynamodb:{region}:{account}:table/parallelcluster-{cluster}",
         f"arn:{p}:dynamodb:{region}:{account}:table/parallelcluster-slurm-{cluster}"])
    add("DeleteClusterAlarms", ["cloudwatch:DeleteAlarms"],
        [f"arn:{p}:cloudwatch:{region}:{account}:alarm:{cluster}-{a}" for a in HEAD_NODE_ALARMS])
    add("DeleteClusterDashboard", ["cloudwatch:DeleteDashboards"],
        f"arn:{p}:cloudwatch::{account}:dashboard/{cluster}-{region}")
    iam = f"arn:{p}:iam::{account}"
    roles = [f"{iam}:role/parallelcluster/{cluster}/*"]
    cleanup_roles = [r for r in physical.get("AWS::IAM::Role", []) if not r.startswith("arn:")]
    roles += [f"{iam}:role/parallelcluster/{r}" for r in sorted(cleanup_roles) if r.startswith(f"{cluster}-")] or \
        [f"{iam}:role/parallelcluster/{cluster}-Cleanup*"]
    add("DeleteClusterRoles", ["iam:DeleteRole", "iam:DetachRolePolicy", "iam:DeleteRolePolicy", "iam:ListRolePolicies",
                               "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole"], roles)
    add("DeleteClusterInstanceProfiles", ["iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile"],
        f"{iam}:instance-profile/parallelcluster/{cluster}/*")
    fn = f"arn:{p}:lambda:{region}:{account}:function:pcluster-"
    uuid = stack_id.rsplit("/", 1)[-1] if stack_id else "*"
    add("ClusterCleanupFunctions", ["lambda:InvokeFunction", "lambda:DeleteFunction", "lambda:GetFunction"],
        [f"{fn}CleanupResources-{uuid}", f"{fn}CleanupRoute53-{uuid}"])
    logs = f"arn:{p}:logs:{region}:{account}:log-group:"
    groups = [g for g in physical.get("AWS::Logs::LogGroup", []) if g.startswith(f"/aws/parallelcluster/{cluster}-")]
    add("DeleteClusterMetricFilters", ["logs:DeleteMetricFilter"],
        [f"{logs}{g}:*" for g in sorted(groups)] or [f"{logs}/aws/parallelcluster/{cluster}-????????????:*"])
    zones = sorted({z.rsplit("/", 1)[-1] for z in physical.get("AWS::Route53::HostedZone", [])})
    add("DeleteClusterHostedZone", ["route53:DeleteHostedZone", "route53:GetHostedZone"],
        [f"arn:{p}:route53:::hostedzone/{z}" for z in zones])
    # after the stack: what pctl keeps for the cluster, and the timer itself
    st += [
        {"Sid": "RemoveClusterObjects", "Effect": "Allow", "Action": "s3:DeleteObject",
         "Resource": f"arn:{p}:s3:::{bucket}/clusters/{cluster}/*"},
        {"Sid": "ListClusterObjects", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:{p}:s3:::{bucket}",
         "Condition": {"StringLike": {"s3:prefix": [f"clusters/{cluster}/*"]}}},
        {"Sid": "RemoveOwnRule", "Effect": "Allow", "Action": ["events:RemoveTargets", "events:DeleteRule"],
         "Resource": f"arn:{p}:events:{region}:{account}:rule/{n['rule']}"},
        {"Sid": "RemoveItself", "Effect": "Allow", "Action": "lambda:DeleteFunction",
         "Resource": f"arn:{p}:lambda:{region}:{account}:function:{n['function']}"},
    ]
    if budget:
        st.append({"Sid": "RemoveClusterBudget", "Effect": "Allow", "Action": "budgets:ModifyBudget",
                   "Resource": f"arn:{p}:budgets::{account}:budget/{budget}"})
    return {"Version": "2012-10-17", "Statement": st}


def actions_of(policy: dict) -> set[str]:
    out = set()
    for s in policy["Statement"]:
        a = s["Action"]
        out |= set(a if isinstance(a, list) else [a])
    return out


def head_node_s3_access(bucket: str, cluster: str) -> list[dict]:
    """What the head node's role gets in the pctl bucket for the timer (ParallelCluster Iam.S3Access
    entries): write its heartbeat, read pctl's control document. Nothing else."""
    prefix = f"clusters/{cluster}/status/"
    return [{"BucketName": bucket, "KeyName": prefix + "heartbeat.json", "EnableWriteAccess": True},
            {"BucketName": bucket, "KeyName": prefix + "control.json", "EnableWriteAccess": False}]
