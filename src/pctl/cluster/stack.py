"""Each cluster's own pctl stack, `pctl-cluster-<name>`: what pctl makes for one cluster besides ParallelCluster's
stack, created before it and deleted after it.

- The name is a lock: a second create of the same cluster fails at CreateStack, cleanly, before it touches
  anything the first one owns.
- It holds the least-privilege IAM policies of the cluster's nodes (pctl.render.iam), so they live and die with
  the cluster.
- It imports the region's network exports, so CloudFormation refuses to delete the network while the cluster
  exists (and pctl can list a network's users by the stack's tags).
"""

from __future__ import annotations

from pctl.render.iam import POLICY_PATH

PREFIX = "pctl-cluster-"
CAPABILITIES = ("CAPABILITY_NAMED_IAM",)


def stack_name(cluster: str) -> str:
    return f"{PREFIX}{cluster}"


def template(cluster: str, policies: list, *, network_export: str | None, run_id: str) -> dict:
    """The stack's template (pure). `network_export` is the network's VpcId export (None: not a pctl network)."""
    resources: dict = {}
    counts: dict[str, int] = {}
    for p in policies:
        counts[p.role] = counts.get(p.role, 0) + 1
        logical = f"{p.role.capitalize()}Policy{counts[p.role]}"
        description: object = f"pctl: {p.role} nodes of cluster {cluster}"
        if network_export:
            description = {"Fn::Join": ["", [f"pctl: {p.role} nodes of cluster {cluster} in ",
                                             {"Fn::ImportValue": network_export}]]}
        resources[logical] = {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
            "ManagedPolicyName": p.name, "Path": POLICY_PATH, "Description": description,
            "PolicyDocument": p.document}}
    if not resources:  # every cluster has node policies; keep the stack valid regardless
        resources["Marker"] = {"Type": "AWS::CloudFormation::WaitConditionHandle"}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"pctl: resources of cluster {cluster} besides ParallelCluster's own stack (run {run_id}); "
                       f"removed by 'pctl delete {cluster}'",
        "Resources": resources,
        "Outputs": {"RunId": {"Value": run_id}, "Cluster": {"Value": cluster}},
    }


def tags(cluster: str, run_id: str, *, network_export: str | None, extra: dict[str, str] | None = None) -> dict:
    out = {"pctl:cluster": cluster, "pctl:run": run_id, "pctl:managed": "true"}
    if network_export:
        out["pctl:network-export"] = network_export
    out.update(extra or {})
    return out
