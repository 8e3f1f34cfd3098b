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
        what = (f"stopped (pctl start resumes; stopped it costs {money(cost['stopped_monthly'], per='month')} for "
                "storage and network)" if idle["action"] == "auto_stop" else "deleted")
        row("Idle timer", f"after {idle['after']} without jobs or logins the cluster is {what}; no pctl needs to run")
    for note in cost.get("notes", []):
        row("", f"  ! {note}")


def build_cost_line(cost: dict) -> str:
    """`pctl ami build`: the builder's cost for the expected time, its worst case, the image's storage."""
    at_most = f", at most {money(cost['at_most'])} (lifetime limit)" if cost.get("at_most") is not None else ""
    image = f"; the image then costs {money(cost['image_monthly'], per='month')} in snapshots" \
        if cost.get("image_monthly") is not None else ""
    return (f"cost: builder {cost['instance_type']} {money(cost['hourly'], per='hour')} x ~{cost['hours']:.1f} h "
            f"= ~{money(cost['build'])}{at_most}{image} (prices: {cost['prices']})")


def print_spend(out: dict) -> None:
    """`pctl cost`: one line per cluster or project, the total, and what to do when tags are not active."""
    from pctl.ui.table import print_table

    end = out["end"]
    what = f"cluster {out['cluster']}" if out.get("cluster") else (f"project {out['project']}" if out.get("project")
                                                                   else f"pctl clusters by {out['group_by']}")
    click.echo(f"spend of {what}, {out['start']} to {end} (exclusive), {out['unit']}"
               + (" — estimated, not final" if out["estimated"] else ""))
    if out["groups"]:
        print_table([out["group_by"].upper(), "SPEND"], [[g["name"], money(g["total"])] for g in out["groups"]]
                    + [["total", money(out["total"])]])
    else:
        click.echo("  no spend found")
    if out.get("untagged"):
        click.echo(f"  {money(out['untagged'])} carried no {out['group_by']} tag", err=True)
    if out.get("activate_hint"):
        click.secho("note: ", fg="yellow", bold=True, err=True, nl=False)
        click.echo(out["activate_hint"], err=True)


def print_prices(out: dict) -> None:
    from pctl.ui.table import print_table

    if out.get("refresh"):
        r = out["refresh"]
        click.echo(f"refreshed {r['instance_types']} instance type(s) into {r['cache']}"
                   + (f"; no Price List entry for {', '.join(r['missing'])}" if r["missing"] else ""), err=True)
    click.echo(f"prices in {out['region']} (USD per hour; snapshot shipped with pctl: {out['snapshot_date']})")
    print_table(["INSTANCE TYPE", "ON-DEMAND", "SPOT", "SOURCE"],
                [[r["instance_type"], money(r["ondemand"]), money(r["spot"]) if r["spot"] is not None else "-",
                  r["source"] or "no price"] for r in out["instances"]])
    for k, v in out["other"].items():
        click.echo(f"  {k:<30} {money(v['usd']) if v['usd'] is not None else '?':>10}  {v['source'] or ''}")


def print_status_cost(s: dict) -> None:
    """The cost lines of `pctl status`: usage of the last day, the idle countdown, the spend so far."""
    from pctl.cost.duration import format_duration

    for q, u in (s.get("usage_last_day") or {}).items():
        gpu = ""
        if u["gpu_hours"]:
            gpu = (f", GPU-hours {u['gpu_hours']:.1f} ({u['gpu_alloc_hours']:.1f} used by jobs, "
                   f"{u['gpu_idle_hours']:.1f} idle)")
        click.echo(f"  last 24 h   {q}: {u['node_hours']:.1f} node-hours{gpu}")
    if not s.get("usage_last_day") and s.get("heartbeat") is None and s.get("cost"):
        click.echo("  last 24 h   no usage reported yet (the head node reports every minute once it is up)")
    c = s.get("cost")
    if c:
        so = c.get("so_far") or {}
        click.echo(f"  cost       idle {money(c['idle_hourly'], per='hour')}, full scale "
                   f"{money((c.get('full_scale_hourly') or {}).get('as_configured'), per='hour')}"
                   + (f"; about {money(so['usd'])} so far ({so['hours']:.0f} h)" if so else ""))
    t = s.get("idle_timer")
    if t and not t.get("error"):
        d = t["decision"]
        what = t["action"].replace("_", " ")
        if t.get("last_action") == "stop" and t.get("head_node") in ("stopped", "stopping"):
            click.echo(f"  idle timer stopped the cluster at {t.get('last_action_at')}; resume: pctl start {s['name']}")
        elif d["busy"]:
            click.echo(f"  idle timer {what} after {format_duration(t['timeout_s'])} idle; busy now ({d['reason']})")
        else:
            click.echo(f"  idle timer {what} in {format_duration(d['remaining_s'])} (at {d['deadline']}; idle since "
                       f"{d['idle_since']}: {d['reason']}); postpone: pctl keep {s['name']} --for 4h")
    elif t and t.get("error"):
        click.echo(f"  idle timer  unknown ({t['error']})")
