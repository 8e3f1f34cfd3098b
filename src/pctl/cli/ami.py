"""`pctl ami ...`: build the software once into a custom AMI, then create clusters in minutes."""

from __future__ import annotations

import sys

import click

from pctl.cli.aws_opts import aws_options, make_aws
from pctl.cli.common import confirm, emit_json, interactive, json_option, template_option, yes_option


@click.group()
def ami():
    """Custom AMIs with a template's software baked in (built once, reused by fingerprint).

    \b
    Examples:
      pctl ami build -t bioinformatics --detach      # prints the build id; nothing runs locally
      pctl ami status b-20260101-120000-3fa9 --watch # from any machine; short ids work: 3fa9
      pctl ami list-builds | tail -1 | awk '{print $1}'   # the latest build id
      pctl ami list                                  # pctl AMIs: template, fingerprint, size, age
      pctl create -t bioinformatics                  # picks the matching AMI automatically
    """


# ------------------------------------------------------------------------------------------ build

@ami.command("build")
@template_option()
@click.option("--name", default=None, help="AMI name to use with 'pctl create --custom-ami NAME' (default: the "
                                           "template name).")
@click.option("--detach", is_flag=True, help="Print the build id and return; the build finishes on its own.")
@click.option("--force", is_flag=True, help="Build even if an AMI with this software already exists.")
@click.option("--instance-type", default=None, help="Builder instance type (default c6i.4xlarge, or c7g.4xlarge "
                                                    "for Graviton templates).")
@click.option("--subnet-id", default=None, help="Build in this subnet (default: a public subnet of the pctl network).")
@click.option("--notify-webhook", default=None, metavar="URL",
              help="POST a Slack-compatible {\"text\": ...} to this https URL when the build ends (sent by the "
                   "builder itself, so it works with --detach).")
@click.option("--notify", is_flag=True, help="Desktop notification when the build ends (while watching).")
@click.option("--max-hours", type=float, default=8.0, show_default=True,
              help="Hard limit on the builder's lifetime (the estimate x 2, at most this).")
@click.option("--interval", type=float, default=10.0, show_default=True, help="Seconds between progress checks.")
@click.option("--no-catalog", is_flag=True, help="Do not check Spack specs against a catalog.")
@aws_options
@json_option
def build(template, name, detach, force, instance_type, subnet_id, notify_webhook, notify, max_hours, interval,
          no_catalog, profile, region, as_json):
    """Build an AMI with the template's Spack software (30-90 minutes), or reuse the one that exists.

    Starts from the official ParallelCluster AMI for the template's OS, architecture and the installed
    ParallelCluster version. Without --detach, watches the build to its end (Ctrl-C stops watching,
    not the build). Exit status: 0 available, 1 failed.
    """
    import os

    from pctl.ami.builder import BuildOptions, start_build

    catalog = _catalog(no_catalog)
    opts = BuildOptions(template=template, name=name, force=force, instance_type=instance_type, subnet_id=subnet_id,
                        notify_webhook=notify_webhook, region=region, max_hours=max_hours,
                        builder_root=os.environ.get("PCTL_AMI_BUILDER_ROOT") or "/")
    aws = make_aws(profile, region) if region else None
    say = (lambda m: click.echo(m, err=True))
    result = start_build(opts, aws=aws, profile=profile, catalog=catalog, use_catalog=not no_catalog, progress=say)
    action = result["action"]
    if action == "reused":
        if as_json:
            emit_json(result)
        else:
            say(f"{result['ami_id']} already has this software (fingerprint {result['fingerprint'][:12]}, "
                f"ParallelCluster {result['pcluster_version']}): nothing to build; --force builds anyway")
            click.echo(result["ami_id"])
        return 0
    build_id = result["build_id"]
    if action == "in-progress":
        say(f"build {build_id} of the same software is already running; following it (--force starts another)")
    else:
        say(f"build {build_id} started: pctl ami status {build_id} --watch")
    if detach:
        if as_json:
            emit_json(result)
        else:
            click.echo(build_id)
        return 0
    from pctl.aws import Aws

    aws = aws or Aws(profile=profile, region=result["region"])
    return _watch(aws, build_id, interval=interval, notify=notify, as_json=as_json, finish=action == "launched")


def _catalog(no_catalog: bool):
    if no_catalog:
        return None
    from pctl.errors import PctlError
    from pctl.spack.catalog import CatalogError, find_catalog

    try:
        return find_catalog()
    except CatalogError as exc:
        raise PctlError(str(exc)) from None


# ------------------------------------------------------------------------------------------ status

@ami.command("status")
@click.argument("build_id", required=False)
@click.option("--watch", is_flag=True, help="Follow the build to its end; exit status 0 available, 1 failed.")
@click.option("--notify", is_flag=True, help="With --watch: desktop notification when the build ends.")
@click.option("--interval", type=float, default=10.0, show_default=True, help="Seconds between checks (--watch).")
@aws_options
@json_option
def status(build_id, watch, notify, interval, profile, region, as_json):
    """A build's step, package, elapsed and remaining time (default: the latest build).

    Works from any machine (the record is in S3); short ids work when unambiguous.
    """
    from pctl.ami import status as st
    from pctl.ami.ids import resolve_build_id
    from pctl.ami.store import BuildStore

    aws = make_aws(profile, region)
    store = BuildStore(aws)
    bid = resolve_build_id(build_id, store.ids()) if build_id else st.latest_id(store)
    if watch:
        return _watch(aws, bid, interval=interval, notify=notify, as_json=as_json, store=store, finish=True)
    v = st.load(aws, bid, store=store)
    from pctl.ami.builder import finish_ended

    finish_ended(aws, v)  # the ended build's emptied role (a role cannot delete itself)
    if as_json:
        emit_json(_public(v))
    else:
        _print_view(v)
    return 0


def _public(v: dict) -> dict:
    out = dict(v)
    out.pop("_tags", None)
    return out


def _print_view(v: dict) -> None:
    from pctl.ami.estimates import fmt_minutes

    p = v["progress"]
    rows = [("build", v["build_id"]), ("status", v.get("status")), ("template", v.get("template")),
            ("fingerprint", (v.get("fingerprint") or "")[:16]), ("ParallelCluster", v.get("pcluster_version")),
            ("os / arch", f"{v.get('os')} / {v.get('arch')}"), ("instance", f"{v.get('instance_id') or '-'} "
                                                                        f"({v.get('instance_type')})")]
    if v.get("status") not in ("available", "failed"):
        pkg = ""
        if p.get("packages_total"):
            pkg = f"{p['packages_done']}/{p['packages_total']}" + (f" ({p['current_package']})"
                                                                   if p.get("current_package") else "")
        rows += [("step", p["step"] + (f" / {p['software_step']}" if p.get("software_step") else "")),
                 ("progress", f"{p['percent']:.0f}%"), ("packages", pkg or "-"),
                 ("elapsed", fmt_minutes(p["elapsed_minutes"])),
                 ("remaining", ("about " + fmt_minutes(p["remaining_minutes"])) if p.get("remaining_minutes") is not None
                  else "?")]
    else:
        rows.append(("duration", fmt_minutes(p["elapsed_minutes"])))
    est = v.get("estimate") or {}
    if est:
        rows.append(("estimate", fmt_minutes(est.get("total_minutes"))))
    if v.get("status") == "available":
        rows.append(("ami", v.get("ami_id")))
    failure = v.get("failure")
    if v.get("status") == "failed" and failure:
        rows.append(("failed at", f"step {failure.get('step')}: {failure.get('message')}"))
    w = max(len(k) for k, _ in rows)
    for k, val in rows:
        click.echo(f"{k.ljust(w)}  {val}")
    if v.get("status") == "failed" and failure and failure.get("log_tail"):
        click.echo("\nlast lines of the log:")
        for line in failure["log_tail"][-15:]:
            click.echo("  " + line)


def _watch(aws, build_id, *, interval, notify, as_json, store=None, finish=False) -> int:
    from pctl.ami import status as st
    from pctl.ami.store import BuildStore

    store = store or BuildStore(aws)
    tty = sys.stdout.isatty() and not as_json
    try:
        if tty:
            final = _watch_rich(aws, build_id, interval, store)
        else:
            out = (lambda s: click.echo(s, err=True)) if as_json else click.echo

            def on_view(v, changed):
                if changed:
                    out(st.line(v))

            final = st.watch(aws, build_id, interval=interval, on_view=on_view, store=store)
    except KeyboardInterrupt:
        click.echo(f"\nstopped watching; the build goes on: pctl ami status {build_id} --watch", err=True)
        return 130
    if finish:
        from pctl.ami.builder import finish as finish_build

        problems = finish_build(aws, final)
        if problems:
            click.echo("warning: could not remove " + "; ".join(problems) + " (pctl ami cleanup does)", err=True)
    ok = final.get("status") == "available"
    if as_json:
        emit_json(_public(final))
    elif tty:
        _print_view(final)
    if notify:
        from pctl.ami.notify import desktop_notify

        msg = (f"{build_id}: {final.get('ami_id')} is available" if ok else
               f"{build_id} failed at step {(final.get('failure') or {}).get('step')}")
        why = desktop_notify("pctl ami build", msg)
        if why:
            click.echo(f"note: {why}", err=True)
    return 0 if ok else 1


def _watch_rich(aws, build_id, interval, store) -> dict:
    from rich.progress import BarColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn

    from pctl.ami import status as st
    from pctl.ami.estimates import fmt_minutes

    cols = [SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
            TextColumn("{task.fields[elapsed]} elapsed"), TextColumn("{task.fields[remaining]}")]
    with Progress(*cols, transient=False) as bar:
        task = bar.add_task(build_id, total=100, elapsed="0 s", remaining="")

        def on_view(v, changed):
            p = v["progress"]
            desc = f"{v['build_id']} {p['step']}"
            if p.get("packages_total"):
                desc += f" {p['packages_done']}/{p['packages_total']}"
                if p.get("current_package"):
                    desc += f" {p['current_package']}"
            rem = p.get("remaining_minutes")
            bar.update(task, completed=p["percent"], description=desc, elapsed=fmt_minutes(p["elapsed_minutes"]),
                       remaining=(f"about {fmt_minutes(rem)} left" if rem else "") if v.get("status") not in
                       ("available", "failed") else v.get("status"))

        return st.watch(aws, build_id, interval=interval, on_view=on_view, store=store)


# ------------------------------------------------------------------------------------------ lists

def _table(headers: list[str], rows: list[list], keep: tuple[int, ...] = (0,)) -> None:
    """On a terminal a Rich table whose `keep` columns (ids) are never shortened; otherwise the plain
    aligned columns of pctl.ui.table (no borders: `| tail -1 | awk '{print $1}'` works)."""
    if not sys.stdout.isatty():
        from pctl.ui.table import print_table

        print_table(headers, rows)
        return
    from rich.console import Console
    from rich.table import Table

    t = Table()
    for i, h in enumerate(headers):
        if i in keep:
            t.add_column(h, no_wrap=True, min_width=max([len(h)] + [len(str(r[i])) for r in rows]))
        else:
            t.add_column(h, overflow="fold")
    for r in rows:
        t.add_row(*[str(c) for c in r])
    Console().print(t)


@ami.command("list-builds")
@aws_options
@json_option
def list_builds(profile, region, as_json):
    """Builds in this account and region, oldest first (from S3: any machine sees them)."""
    from pctl.ami import status as st
    from pctl.ami.estimates import fmt_minutes
    from pctl.ami.store import TERMINAL, BuildStore

    aws = make_aws(profile, region)
    store = BuildStore(aws)
    records = store.records()
    pending = [r["build_id"] for r in records if r.get("status") not in TERMINAL]
    insts = st.builder_instances(aws, pending) if pending else {}
    views = [st.view(store, r, insts.get(r["build_id"]), progress={}) for r in records]
    if as_json:
        emit_json({"region": aws.region, "bucket": store.bucket, "builds": [_public(v) for v in views]})
        return 0
    if not views:
        click.echo(f"no AMI builds in {aws.region}", err=True)
        return 0
    _table(["BUILD", "STATUS", "TEMPLATE", "AMI", "DURATION", "STARTED"],
           [[v["build_id"], v.get("status") or "-", v.get("template") or "-", v.get("ami_id") or "-",
             fmt_minutes(v["progress"]["elapsed_minutes"]).replace(" ", ""),
             (v.get("created_at") or "-").replace("T", " ").rstrip("Z")[:16]] for v in views], keep=(0, 3))
    return 0


@ami.command("list")
@aws_options
@json_option
def list_(profile, region, as_json):
    """pctl AMIs: template, fingerprint, ParallelCluster version, size, age."""
    from pctl.ami.manage import list_amis

    aws = make_aws(profile, region)
    rows = list_amis(aws)
    if as_json:
        emit_json({"region": aws.region, "amis": rows})
        return 0
    if not rows:
        click.echo(f"no pctl AMIs in {aws.region}", err=True)
        return 0
    _table(["AMI", "NAME", "TEMPLATE", "FINGERPRINT", "PCLUSTER", "OS/ARCH", "SIZE", "AGE", "STATE"],
           [[r["ami_id"], r["name"] or "-", r["template"] or "-", (r["fingerprint"] or "-")[:12],
             r["pcluster_version"] or "-", f"{r['os']}/{r['arch']}", f"{r['size_gb']}GB", r["age"], r["state"]]
            for r in rows])
    return 0


# ------------------------------------------------------------------------------------------ delete, logs, cleanup

@ami.command("delete")
@click.argument("ami_ref", metavar="AMI")
@click.option("--force", is_flag=True, help="Delete even if running instances were launched from it.")
@aws_options
@yes_option
@json_option
def delete(ami_ref, force, profile, region, yes, as_json):
    """Deregister a pctl AMI (id or name) and delete its snapshots."""
    from pctl.ami.manage import delete_image, images_in_use, resolve_pctl_ami
    from pctl.errors import PctlError

    aws = make_aws(profile, region)
    img = resolve_pctl_ami(aws, ami_ref)
    iid = img["ImageId"]
    users = images_in_use(aws, iid)
    if users and not force:
        raise PctlError(f"{iid} is used by running instances: {', '.join(users[:10])}",
                        hint="clusters made from it cannot add compute nodes once it is gone; delete them first, "
                             "or pass --force")
    if not confirm(f"Deregister {iid} ({img.get('Name')}) and delete its snapshots?", yes=yes):
        raise PctlError("not deleted" if interactive() else "refusing to delete without confirmation",
                        hint=None if interactive() else "pass --yes")
    done = delete_image(aws, iid)
    if as_json:
        emit_json({"ami_id": iid, "deleted": done})
    else:
        for d in done:
            click.echo(d)
    return 0


@ami.command("logs")
@click.argument("build_id", required=False)
@click.option("--follow", "-f", is_flag=True, help="Keep printing as the log grows, until the build ends.")
@click.option("--interval", type=float, default=5.0, show_default=True, help="Seconds between checks (--follow).")
@aws_options
def logs(build_id, follow, interval, profile, region):
    """A build's full log (default: the latest build), from S3."""
    from pctl.ami import status as st
    from pctl.ami.ids import resolve_build_id
    from pctl.ami.manage import follow_log, read_log
    from pctl.ami.store import BuildStore

    aws = make_aws(profile, region)
    store = BuildStore(aws)
    bid = resolve_build_id(build_id, store.ids()) if build_id else st.latest_id(store)
    out = click.get_binary_stream("stdout")

    def write(b):
        out.write(b)
        out.flush()

    if follow:
        follow_log(aws, store, bid, write, interval=interval)
    else:
        data = read_log(store, bid)
        if not data:
            click.echo(f"no log for {bid} yet (the builder writes it once it has started)", err=True)
        write(data)
    return 0


@ami.command("cleanup")
@click.option("--dry-run", is_flag=True, help="Show what would be removed; remove nothing.")
@aws_options
@yes_option
@json_option
def cleanup(dry_run, profile, region, yes, as_json):
    """Remove what builds left behind: builders past their deadline or whose build ended, failed and
    half-made images (and snapshots), per-build IAM roles, stale build objects in S3."""
    from pctl.ami.manage import cleanup_plan, run_cleanup
    from pctl.errors import PctlError

    aws = make_aws(profile, region)
    actions = cleanup_plan(aws)
    if not actions:
        if as_json:
            emit_json({"region": aws.region, "dry_run": dry_run, "actions": []})
        else:
            click.echo(f"nothing to clean up in {aws.region}", err=True)
        return 0
    if dry_run or not as_json:
        if not as_json:
            _table(["ACTION", "TARGET", "BUILD", "WHY"],
                   [[a.kind, a.target, a.build_id or "-", a.reason] for a in actions], keep=(0, 1))
    if dry_run:
        if as_json:
            emit_json({"region": aws.region, "dry_run": True, "actions": [a.to_dict() for a in actions]})
        return 0
    if not confirm(f"Do these {len(actions)} action(s)?", yes=yes):
        raise PctlError("nothing removed" if interactive() else "refusing to remove without confirmation",
                        hint=None if interactive() else "pass --yes (or --dry-run to look)")
    results = run_cleanup(aws, actions)
    failed = [r for r in results if not r.get("ok")]
    if as_json:
        emit_json({"region": aws.region, "dry_run": False, "actions": results})
    else:
        click.echo(f"done: {len(results) - len(failed)} action(s)" + (f", {len(failed)} failed" if failed else ""),
                   err=True)
        for r in failed:
            click.echo(f"  {r['kind']} {r['target']}: {r.get('error')}", err=True)
    return 1 if failed else 0
