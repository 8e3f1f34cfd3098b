"""Template rules about cost (run by `pctl validate` on a valid template)."""

from __future__ import annotations


def cost_diagnostics(template) -> list:
    from pctl.cost.checks import budget_diagnostics
    from pctl.cost.tags import project_of
    from pctl.template.diagnostics import error, warning

    out = list(budget_diagnostics(template))
    b = template.budget
    if b is not None:
        if b.scope == "project" and not project_of(template):
            out.append(error("budget.scope is project but the template names no project", ("budget", "scope"),
                             code="budget", hint="name the project: cluster.project: genomics"))
        sns = [n for n in b.notify if n.startswith("arn:")]
        if len(sns) > 1:
            out.append(error(f"budget.notify has {len(sns)} SNS topics; AWS Budgets sends each alert to one topic "
                             "(and up to 10 e-mail addresses)", ("budget", "notify"), code="budget"))
        if not b.notify:
            out.append(warning("budget.notify is empty: the budget is tracked but nobody is told at 80 % and 100 %",
                               ("budget", "notify"), code="budget",
                               hint="add an e-mail address or an SNS topic ARN"))
    if template.cluster.idle_timeout and template.cluster.idle_action == "auto_delete":
        doomed = [s.mount_point for s in template.data.shared_storage if not s.id and s.deletion_policy == "delete"]
        if doomed:
            out.append(warning(
                f"idle_action auto_delete deletes the cluster's storage with it ({', '.join(doomed)}: "
                "deletion_policy delete)", ("cluster", "idle_action"), code="idle",
                hint="set deletion_policy: retain (or snapshot) on storage that must survive, or use auto_stop"))
    return out
