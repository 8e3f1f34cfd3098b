"""The AWS Budget of a cluster or a project: a monthly cost budget filtered on the pctl:cluster (or
pctl:project) cost allocation tag, with e-mail/SNS alerts at 80 % and 100 % of actual spend.

Names: ``pctl-cluster-<region>-<name>`` (cluster names are unique per region; budgets are per account)
and ``pctl-project-<project>``. A cluster budget is deleted with its cluster. A project budget stays
while any cluster of the project exists in any region, and is deleted with the last one.

The tag filter counts spend only once ``pctl:cluster``/``pctl:project`` are active cost allocation tags
(``pctl cost activate-tags``); until then AWS reports zero for the budget.
"""

from __future__ import annotations

from pctl.cost.tags import CLUSTER, PROJECT

THRESHOLDS = (80.0, 100.0)


def budget_name(*, cluster: str | None = None, region: str | None = None, project: str | None = None) -> str:
    """Budget names may not contain ':' or '\\'."""
    import re

    name = f"pctl-project-{project}" if project else f"pctl-cluster-{region}-{cluster}"
    return re.sub(r"[:\\]", "_", name)[:100]


def scope_of(template) -> str:
    """budget.scope, else project when cluster.project names one, else cluster."""
    b = template.budget
    return b.scope or ("project" if template.cluster.project else "cluster")


def budget_spec(template, *, cluster_name: str, region: str) -> tuple[str, dict, list[dict], dict]:
    """(name, Budget, notifications with subscribers, resource tags) for the template's budget. Pure."""
    from pctl.cost.tags import project_of, resource_tags

    b = template.budget
    scope = scope_of(template)
    if scope == "project":
        project = project_of(template)
        name = budget_name(project=project)
        filters = {"TagKeyValue": [f"user:{PROJECT}${project}"]}
        tags = {PROJECT: project, "pctl:managed": "true"}
    else:
        name = budget_name(cluster=cluster_name, region=region)
        filters = {"TagKeyValue": [f"user:{CLUSTER}${cluster_name}"], "Region": [region]}
        tags = dict(resource_tags(template, cluster_name), **{"pctl:managed": "true"})
        tags = {k: v for k, v in tags.items() if k.startswith("pctl:")}
    budget = {
        "BudgetName": name,
        "BudgetType": "COST",
        "TimeUnit": "MONTHLY",
        "BudgetLimit": {"Amount": f"{b.monthly_usd:.2f}", "Unit": "USD"},
        "CostFilters": filters,
    }
    subs = [{"SubscriptionType": "SNS" if n.startswith("arn:") else "EMAIL", "Address": n} for n in b.notify]
    notes = []
    if subs:
        for pct in THRESHOLDS:
            notes.append({"Notification": {"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN",
                                           "Threshold": pct, "ThresholdType": "PERCENTAGE"},
                          "Subscribers": subs})
    return name, budget, notes, tags


def ensure_budget(aws, template, *, cluster_name: str) -> dict:
    """Create the budget, or bring an existing one (same name) to the template's amount, filter and
    alerts. Returns {name, scope, monthly_usd, created|updated}."""
    from pctl.aws import budgets as api

    name, budget, notes, tags = budget_spec(template, cluster_name=cluster_name, region=aws.region)
    current = api.describe_budget(aws, name)
    if current is None:
        api.create_budget(aws, budget, notes, tags)
        action = "created"
    else:
        if _differs(current, budget):
            api.update_budget(aws, budget)
        have = {_key(n) for n in api.notifications(aws, name)}
        for n in notes:
            if _key(n["Notification"]) not in have:
                api.create_notification(aws, name, n["Notification"], n["Subscribers"])
        action = "updated"
    return {"name": name, "scope": scope_of(template), "monthly_usd": template.budget.monthly_usd,
            "filter": budget["CostFilters"], "alerts": [n["Notification"]["Threshold"] for n in notes],
            "notify": list(template.budget.notify), "action": action}


def _differs(current: dict, wanted: dict) -> bool:
    have_limit = float((current.get("BudgetLimit") or {}).get("Amount") or -1)
    return (abs(have_limit - float(wanted["BudgetLimit"]["Amount"])) > 0.005
            or (current.get("CostFilters") or {}) != wanted["CostFilters"]
            or current.get("TimeUnit") != wanted["TimeUnit"])


def _key(n: dict) -> tuple:
    return (n.get("NotificationType"), n.get("ComparisonOperator"), float(n.get("Threshold", 0)),
            n.get("ThresholdType", "PERCENTAGE"))


def remove_budget(aws, *, cluster_name: str, project: str | None = None, others=None, progress=None) -> list[str]:
    """Delete the cluster's budget; delete the project's budget when no other cluster of the project
    exists (OTHERS: (cluster, region) found; None = look them up by tag). Returns the deleted names."""
    from pctl.aws import budgets as api

    deleted = []
    name = budget_name(cluster=cluster_name, region=aws.region)
    if api.delete_budget(aws, name):
        deleted.append(name)
    if project:
        if others is None:
            others = other_project_clusters(aws, project, cluster_name)
        if not others:
            pname = budget_name(project=project)
            if api.delete_budget(aws, pname):
                deleted.append(pname)
        elif progress:
            progress(f"kept budget {budget_name(project=project)}: {len(others)} other cluster(s) of project "
                     f"{project} still exist")
    return deleted


def project_clusters(aws, project: str, *, regions: list[str] | None = None) -> list[tuple[str, str]]:
    """(cluster, region) of every cluster stack tagged pctl:project=PROJECT: this region first; when none
    is left here, every other enabled region too (a project may span regions)."""
    from pctl.aws import cloudformation as cfn
    from pctl.errors import PctlError

    def scan(region):
        try:
            stacks = cfn.stacks_with_tag(aws, PROJECT, project, region=region)
        except PctlError:
            return []
        out = []
        for st in stacks:
            tags = {t["Key"]: t["Value"] for t in st.get("Tags", [])}
            if tags.get(CLUSTER) == st["StackName"] and st.get("StackStatus") != "DELETE_IN_PROGRESS":
                out.append((st["StackName"], region))
        return out

    if regions is not None:
        return [c for r in regions for c in scan(r)]
    return scan(aws.region)


def other_project_clusters(aws, project: str, cluster_name: str) -> list[tuple[str, str]]:
    """Clusters of PROJECT other than CLUSTER_NAME here, then (only if none here) in other regions."""
    from pctl.aws import s3
    from pctl.errors import PctlError

    here = [c for c in project_clusters(aws, project) if c != (cluster_name, aws.region)]
    if here:
        return here
    try:  # pctl keeps a bucket in every region it made a cluster in: look there only
        regions = [r for r in s3.pctl_bucket_regions(aws) if r != aws.region]
    except PctlError:
        return []
    return project_clusters(aws, project, regions=regions)
