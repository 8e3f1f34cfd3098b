"""Print costs: the cost lines of a plan, an AMI build's cost, spend reports."""

from __future__ import annotations

import click

from pctl.cost.estimate import money


def print_plan_cost(cost: dict, row) -> None:
    """Rows for `create --dry-run`: idle per hour and month, full scale per hour, the budget."""
    fs = cost["full_scale_hourly"]
    lower = "" if cost["complete"] else "at least "
    row("Cost", f"idle {lower}{money(cost['idle_hourly'], per='hour')} = {lower}{money(cost['idle_monthly'], per='month')}"
                f"  (prices: {cost['prices']})")
    for line in cost["lines"]:
        if line["idle"]:
            detail = f"  ({line['detail']})" if line.get("detail") else ""
            row("", f"  {line['what']:<52} {money(line['hourly'], per='h'):>12}{detail}")
    row("", f"full scale {lower}{money(fs['ondemand'], per='hour')} on-demand, {money(fs['spot'], per='hour')} spot, "
            f"{money(fs['as_configured'], per='hour')} as configured")
    for q in cost["queues"]:
        qf = q["full_scale_hourly"]
        row("", f"  queue {q['name']:<14} {q['max_nodes']:>4} x {', '.join(q['instance_types'])}: "
                f"{money(qf['ondemand'], per='h')} on-demand, {money(qf['spot'], per='h')} spot")
    b = cost.get("budget")
    if b:
        state = click.style("OVER", fg="red", bold=True) if b["over"] else "within"
        row("Budget", f"${b['monthly_usd']:,.2f}/month ({b['scope']}): the idle month is {state} it "
                      f"({b['share'] * 100:.0f} %); AWS Budget alerts at 80 % and 100 %"
                      + (f" to {', '.join(b['notify'])}" if b["notify"] else ""))
    idle = cost.get("idle_timeout")
    if idle:
        what = "stopped (pctl start resumes)" if idle["action"] == "auto_stop" else "deleted"
        row("Idle timer", f"after {idle['after']} without jobs or logins the cluster is {what}; no pctl needs to run")
    for note in cost.get("notes", []):
        row("", f"  ! {note}")


def print_build_cost(cost: dict) -> None:
    at_most = f", at most {money(cost['at_most'])} (lifetime limit)" if cost.get("at_most") is not None else ""
    image = f"; the image then costs {money(cost['image_monthly'], per='month')} in snapshots" \
        if cost.get("image_monthly") is not None else ""
    click.echo(f"cost: builder {cost['instance_type']} {money(cost['hourly'], per='hour')} x ~{cost['hours']:.1f} h "
               f"= ~{money(cost['build'])}{at_most}{image} (prices: {cost['prices']})", err=True)
