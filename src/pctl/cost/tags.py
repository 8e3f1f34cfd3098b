"""The tags every resource of a cluster carries, so spend can be grouped by cluster and by project.

ParallelCluster copies its config's ``Tags`` to the cluster's CloudFormation stack, and CloudFormation
propagates stack tags to every resource of the stack that supports tags (instances, volumes, file
systems, security groups, roles, functions, tables, alarms, ...); compute nodes get them from their
launch templates. pctl puts the same set on what it makes itself for the cluster (the idle function,
its role, rule and log group, the budget).

Activate ``pctl:cluster`` and ``pctl:project`` as cost allocation tags once per account (``pctl cost
activate-tags``) and Cost Explorer groups spend by them.
"""

from __future__ import annotations

CLUSTER = "pctl:cluster"
TEMPLATE = "pctl:template"
PROJECT = "pctl:project"
COST_TAGS = (CLUSTER, PROJECT, TEMPLATE)
#: Every key pctl itself puts in a cluster config's Tags (render/pcluster.py and cluster/plan.py).
PCTL_CONFIG_TAG_KEYS = (CLUSTER, TEMPLATE, PROJECT, "pctl:fingerprint", "pctl:version", "pctl:software",
                        "pctl:run", "pctl:bucket", "pctl:bucket-prefix", "pctl:os", "pctl:key-name")
#: ParallelCluster refuses more than 40 tag keys on a compute resource (pcluster.constants.MAX_TAGS_COUNT:
#: EC2 allows 50, it keeps 10 for its own); what pctl uses leaves the rest to cluster.tags.
PCLUSTER_MAX_TAGS = 40
MAX_USER_TAGS = PCLUSTER_MAX_TAGS - len(PCTL_CONFIG_TAG_KEYS)


def resource_tags(template, cluster_name: str | None = None, template_name: str | None = None) -> dict[str, str]:
    """{"pctl:cluster": NAME, "pctl:template": TEMPLATE, "pctl:project": PROJECT (when set), **user tags}.

    The user's own ``cluster.tags`` come last but can never replace a pctl: key (the template model
    refuses pctl: keys)."""
    name = cluster_name or template.cluster.name
    out = {CLUSTER: name, TEMPLATE: (template_name or name)[:256]}
    project = project_of(template)
    if project:
        out[PROJECT] = project
    for k, v in sorted((template.cluster.tags or {}).items()):
        out.setdefault(k, v)
    return out


def project_of(template) -> str | None:
    """cluster.project, else a user tag named project (many templates already say tags: {project: X})."""
    project = getattr(template.cluster, "project", None)
    if project:
        return project
    for k, v in (template.cluster.tags or {}).items():
        if k.lower() == "project" and v:
            return v[:256]
    return None


def as_aws_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def as_map(tags) -> dict[str, str]:
    """A tag list in any AWS spelling ({Key, Value} / {key, value}) or a dict -> dict."""
    if isinstance(tags, dict):
        return dict(tags)
    return {t.get("Key", t.get("key")): t.get("Value", t.get("value")) for t in tags or []}
