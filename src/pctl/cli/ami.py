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
      BUILD_ID=$(pctl ami build -t bioinformatics --detach)   # the build id alone; nothing runs locally
      pctl ami status "$BUILD_ID" --watch            # any machine, any default region; short ids work: 3fa9
      pctl ami list-builds | tail -1 | awk '{print $1}'   # the build this machine started last
      pctl ami list                                  # pctl AMIs: template, fingerprint, size, age
      pctl create -t bioinformatics                  # picks the matching AMI automatically
    """


# ------------------------------------------------------------------------------------------ build

@ami.command("build")
@template_option()
@click.option("--name", default=None, help="AMI name to use with 'pctl create --custom-ami NAME' (default: the "
                                           "template name).")
@click.option("--detach", is_flag=True, help="Print the build id (alone, on stdout) and return; the build finishes "
                                             "on its own.")
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
@click.option("--retry-for", type=float, default=600.0, show_default=True, metavar="SECONDS",
              help="While watching: how long to keep asking when AWS cannot be reached before exit 3.")
@click.option("--no-catalog", is_flag=True, help="Do not check Spack specs against a catalog.")
@aws_options
@json_option
def build(template, name, detach, force, instance_type, subnet_id, notify_webhook, notify, max_hours, interval,
          retry_for, no_catalog, profile, region, as_json):
    """Build an AMI with the template's Spack software (30-90 minutes), or reuse the one that exists.

    Starts from the official ParallelCluster AMI for the template's OS, architecture and the installed
    ParallelCluster version, in the template's region (cluster.region; --region overrides). Every run has a
    build id, recorded in AWS: a new build, a build of the same software already running (joined), or the AMI
    that already has this software (reused: available at once). Without --detach, watches the build to its end
    (Ctrl-C stops watching, not the build).

    \b
    Examples:
      pctl ami build -t bioinformatics                     # build (or reuse) and watch to the end
      BUILD_ID=$(pctl ami build -t seeds/chemistry/gromacs.yaml --name gromacs-$(date +%Y%m%d) --detach)
      pctl ami status "$BUILD_ID" --watch                  # exit 0 available, 1 failed, 3 could not find out
      pctl ami build -t ml/pytorch-gpu --detach --json | jq -r .build_id
      pctl ami build -t bioinformatics --force             # build again even if an AMI has this software

    Exit status: 0 available (or started, with --detach), 1 failed, 3 could not find out while watching.
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
    action, build_id, where = result["action"], result["build_id"], result["region"]
    if action == "reused":
        say(f"{result['ami_id']} already has this software (fingerprint {result['fingerprint'][:12]}, "
            f"ParallelCluster {result['pcluster_version']}): nothing to build (--force builds anyway); "
            f"recorded as build {build_id} in {where}, available")
    elif action == "in-progress":
        say(f"build {build_id} of the same software is already running in {where}; following it "
            "(--force starts another)")
    else:
        say(f"build {build_id} started in {where}")
    if detach:
        say(f"next: pctl ami status {build_id} --watch")
        if as_json:
            emit_json(_json_result(result))
        else:
            click.echo(build_id)
        return 0
    from pctl.aws import Aws

    aws = aws or Aws(profile=profile, region=where)
    if action == "reused":
        from pctl.ami import status as st

        return _finish_view(st.load(aws, build_id), as_json=as_json, notify=notify)
    return _watch(aws, build_id, interval=interval, notify=notify, as_json=as_json, finish=action == "launched",
                  retry_for=retry_for)


def _json_result(result: dict) -> dict:
    from pctl.ami.builder import summary_json

    return summary_json(result)


def _catalog(no_catalog: bool):
    if no_catalog:
        return None
    from pctl.errors import PctlError
    from pctl.spack.catalog import CatalogError, find_catalog

    try:
        return find_catalog()
    except CatalogError as exc:
        raise PctlError(str(exc)) from None


def _locate_build(profile, region, build_id):
    """(Aws in the build's region, full build id): the id names its region; short ids are searched for."""
    from pctl import regions
    from pctl.ami import journal

    aws = regions.session(profile, region)
    if not build_id:  # the latest: what `pctl ami list-builds | tail -1` shows
        mine = journal.latest()
        if mine and not region:
            return aws.in_region(mine["region"]), mine["build_id"]
        from pctl.ami import status as st
        from pctl.ami.store import BuildStore

        return aws, st.latest_id(BuildStore(aws))
    where, bid = regions.build_location(aws, build_id, explicit_region=bool(region))
    if where.note:
        click.echo(f"note: {where.note}", err=True)
    return where.aws, bid


def _unknown(exc, build_id):
    """An AWS failure while reading a build: its outcome is unknown (exit 3), not failed."""
    from pctl.errors import CouldNotFindOut

    return CouldNotFindOut(f"could not find out about build {build_id}: {exc.message}", hint=exc.hint)


# ------------------------------------------------------------------------------------------ status

@ami.command("status")
@click.argument("build_id", required=False)
@click.option("--watch", is_flag=True, help="Follow the build to its end; exit status 0 available, 1 failed, "
                                            "3 could not find out.")
@click.option("--notify", is_flag=True, help="With --watch: desktop notification when the build ends.")
@click.option("--interval", type=float, default=10.0, show_default=True, help="Seconds between checks (--watch).")
@click.option("--retry-for", type=float, default=600.0, show_default=True, metavar="SECONDS",
              help="With --watch: how long to keep asking when AWS cannot be reached (network, throttling, "
                   "AWS errors) before giving up with exit status 3.")
@aws_options
@json_option
def status(build_id, watch, notify, interval, retry_for, profile, region, as_json):
    """A build's step, package, elapsed and remaining time (default: the last line of 'pctl ami list-builds').

    Works from any machine and any default region: the record is in S3 and the build id names its region;
    short ids work when unambiguous (every region pctl uses is searched).

    \b
    Examples:
      pctl ami status b-20260101-120000-us-west-2-3fa9 --watch
      pctl ami status 3fa9 --json | jq -r .status
      pctl ami status "$(pctl ami list-builds | tail -1 | awk '{print $1}')" --watch

    \b
    Exit status with --watch (a CI gate):
      0  the AMI is available
      1  the build failed
      2  usage error (no such build id, ambiguous short id)
      3  could not find out: AWS did not answer (network, throttling, AWS errors) for --retry-for
         seconds, or refused (credentials, permissions); the build itself goes on
    Without --watch: 0 once the status is shown, 3 when it could not be read.
    """
    from pctl.ami import status as st
    from pctl.aws.errors import AwsError

    try:
        aws, bid = _locate_build(profile, region, build_id)
    except AwsError as exc:
        raise _unknown(exc, build_id or "latest") from None
    if watch:
        return _watch(aws, bid, interval=interval, notify=notify, as_json=as_json, retry_for=retry_for, finish=True)
    try:
        v = st.load(aws, bid)
    except AwsError as exc:
        raise _unknown(exc, bid) from None
    from pctl.ami.builder import finish_ended

    finish_ended(aws, v)  # the ended build's emptied role (a role cannot delete itself)
    if as_json:
        emit_json(_public(v))
    else:
        _print_view(v)
        _next_steps(v)
    return 0


def _public(v: dict) -> dict:
    out = dict(v)
    out.pop("_tags", None)
    return out


def _print_view(v: dict) -> None:
    from pctl.ami.estimates import fmt_minutes

    p = v["progress"]
    rows = [("build", v["build_id"]), ("region", v.get("region") or "-"), ("status", v.get("status")),
            ("template", v.get("template")), ("fingerprint", (v.get("fingerprint") or "")[:16]),
            ("ParallelCluster", v.get("pcluster_version")), ("os / arch", f"{v.get('os')} / {v.get('arch')}")]
    if v.get("action") == "reused":
        rows.append(("reused", f"{v.get('ami_id')} already had this software"
                     + (f" (built by {v['reused_build_id']})" if v.get("reused_build_id") else "")))
    else:
        rows.append(("instance", f"{v.get('instance_id') or '-'} ({v.get('instance_type')})"))
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
    elif v.get("action") != "reused":
        rows.append(("duration", fmt_minutes(p["elapsed_minutes"])))
    est = v.get("estimate") or {}
    if est:
        rows.append(("estimate", fmt_minutes(est.get("total_minutes"))))
    if v.get("status") == "available":
        rows.append(("ami", v.get("ami_id")))
    failure = v.get("failure")
    if v.get("status") == "failed" and failure:
        rows.append(("failed at", f"step {failure.get('step')}: {failure.get('message')}"))
    from pctl.ui import safe_text  # the failure and the log come from the builder instance

    w = max(len(k) for k, _ in rows)
    for k, val in rows:
        click.echo(f"{k.ljust(w)}  {safe_text(val, single_line=True)}")
    if v.get("status") == "failed" and failure and failure.get("log_tail"):
        click.echo("\nlast lines of the log:")
        for line in failure["log_tail"][-15:]:
            click.echo("  " + safe_text(line, single_line=True))


def _next_steps(v: dict) -> None:
    """What to run next, as commands that work verbatim (on stderr)."""
    bid, st_ = v["build_id"], v.get("status")
    if st_ == "available" and v.get("ami_id"):
        region = v.get("region")
        click.echo("next: pctl ami list" + (f" --region {region}" if region else ""), err=True)
    elif st_ == "failed":
        click.echo(f"next: pctl ami logs {bid}", err=True)
    elif st_ not in ("available", "failed"):
        click.echo(f"next: pctl ami status {bid} --watch", err=True)


def _finish_view(final: dict, *, as_json: bool, notify: bool) -> int:
    """Print an ended build like the end of a watch (reused AMIs end at once)."""
    if as_json:
        emit_json(_public(final))
    elif sys.stdout.isatty():
        _print_view(final)
    else:
        from pctl.ami import status as st

        click.echo(st.line(final))
    return _end(final, notify)


def _watch(aws, build_id, *, interval, notify, as_json, store=None, finish=False, retry_for=600.0) -> int:
    from pctl.ami import status as st
    from pctl.ami.store import BuildStore

    store = store or BuildStore(aws)
    tty = sys.stdout.isatty() and not as_json

    def on_retry(exc, attempt, delay):
        click.echo(f"AWS did not answer ({exc.message}); asking again in {delay:.0f} s (attempt {attempt + 1})",
                   err=True)

    try:
        if tty:
            final = _watch_rich(aws, build_id, interval, store, retry_for, on_retry)
        else:
            out = (lambda s: click.echo(s, err=True)) if as_json else click.echo

            def on_view(v, changed):
                if changed:
                    out(st.line(v))

            final = st.watch(aws, build_id, interval=interval, on_view=on_view, store=store, retry_for=retry_for,
                             on_retry=on_retry)
    except KeyboardInterrupt:
        click.echo(f"\nstopped watching; the build goes on: pctl ami status {build_id} --watch", err=True)
        return 130
    final.setdefault("region", aws.region)
    if finish:
        from pctl.ami.builder import finish as finish_build

        problems = finish_build(aws, final)
        if problems:
            click.echo("warning: could not remove " + "; ".join(problems) + " (pctl ami cleanup does)", err=True)
    if tty:  # the Rich bar has shown the progress; print the summary
        _print_view(final)
    elif as_json:
        emit_json(_public(final))
    return _end(final, notify)


def _end(final: dict, notify: bool) -> int:
    ok = final.get("status") == "available"
    if notify:
        from pctl.ami.notify import desktop_notify

        bid = final["build_id"]
        msg = (f"{bid}: {final.get('ami_id')} is available" if ok else
               f"{bid} failed at step {(final.get('failure') or {}).get('step')}")
        why = desktop_notify("pctl ami build", msg)
        if why:
            click.echo(f"note: {why}", err=True)
    if not ok:
        click.echo(f"next: pctl ami logs {final['build_id']}", err=True)
    return 0 if ok else 1


def _watch_rich(aws, build_id, interval, store, retry_for, on_retry) -> dict:
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

        return st.watch(aws, build_id, interval=interval, on_view=on_view, store=store, retry_for=retry_for,
                        on_retry=on_retry)


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
@click.option("--all-regions", is_flag=True, help="Every region with a pctl bucket in this account.")
@aws_options
@json_option
def list_builds(all_regions, profile, region, as_json):
    """Builds in this account and region, oldest first (from S3: any machine sees them).

    The last line is always the build this machine's 'pctl ami build' returned last (new, joined or reused),
    wherever it runs: 'tail -1' is your build even when other jobs start builds at the same time or your
    template builds in another region. Without a terminal: plain columns, no borders.

    \b
    Examples:
      pctl ami list-builds
      BUILD_ID=$(pctl ami list-builds | tail -1 | awk '{print $1}')
      pctl ami list-builds --all-regions --json | jq -r '.builds[] | [.build_id, .status] | @tsv'
      pctl ami list-builds --region us-west-2
    """
    from pctl import regions as rg
    from pctl.ami.estimates import fmt_minutes
    from pctl.ami.listing import list_builds as do_list

    aws = rg.session(profile, region)
    note = None
    all_regions = all_regions or getattr(aws, "no_default_region", False)  # no region set: look everywhere
    if all_regions:
        where, note = rg.all_regions(aws)
    else:
        where = [aws.region]
    listing = do_list(aws, where, include_mine=not region or all_regions)
    if as_json:
        emit_json({"region": aws.region, "regions": listing.regions, "all_regions": all_regions,
                   "last_started_here": listing.last_started_here,
                   "builds": [_public(v) for v in listing.views]})
        return 0
    if note:
        click.echo(f"note: {note}", err=True)
    if not listing.views:
        looked = ", ".join(listing.regions)
        msg = f"no AMI builds in {looked}"
        if not all_regions:
            others = [r for r in (rg.pctl_regions(aws) or []) if r not in listing.regions]
            elsewhere = rg.builds_elsewhere(aws, others)
            if elsewhere:
                msg += "; builds in " + ", ".join(f"{r} ({n})" for r, n in elsewhere.items())
                click.echo(msg, err=True)
                click.echo("next: pctl ami list-builds --all-regions", err=True)
                return 0
        click.echo(msg, err=True)
        return 0
    multi = len({v["region"] for v in listing.views}) > 1 or all_regions
    headers = ["BUILD", "STATUS", "TEMPLATE", "AMI", "DURATION", "STARTED"] + (["REGION"] if multi else [])
    _table(headers,
           [[v["build_id"], v.get("status") or "-", v.get("template") or "-", v.get("ami_id") or "-",
             fmt_minutes(v["progress"]["elapsed_minutes"]).replace(" ", ""),
             (v.get("created_at") or "-").replace("T", " ").rstrip("Z")[:16]] + ([v["region"]] if multi else [])
            for v in listing.views], keep=(0, 3))
    for n in listing.notes:
        click.echo(f"note: {n}", err=True)
    if listing.out_of_order:
        click.echo(f"note: the last line is the build started from this machine ({listing.last_started_here}); "
                   "the others are oldest first", err=True)
    return 0


@ami.command("list")
@click.option("--all-regions", is_flag=True, help="Every region with a pctl bucket in this account.")
@aws_options
@json_option
def list_(all_regions, profile, region, as_json):
    """pctl AMIs: template, fingerprint, ParallelCluster version, size, age.

    \b
    Examples:
      pctl ami list
      pctl ami list --all-regions
      pctl ami list --region us-west-2 --json | jq -r '.amis[].ami_id'
    """
    from pctl import regions as rg
    from pctl.ami.manage import list_amis

    aws = rg.session(profile, region)
    all_regions = all_regions or getattr(aws, "no_default_region", False)  # no region set: look everywhere
    where, note = rg.all_regions(aws) if all_regions else ([aws.region], None)
    rows = [dict(row, region=r) for r in where for row in list_amis(aws.in_region(r))]
    if as_json:
        emit_json({"region": aws.region, "regions": where, "all_regions": all_regions, "amis": rows})
        return 0
    if note:
        click.echo(f"note: {note}", err=True)
    if not rows:
        click.echo(f"no pctl AMIs in {', '.join(where)}", err=True)
        others = [] if all_regions else [r for r in (rg.pctl_regions(aws) or []) if r not in where]
        if others:
            click.echo(f"next: pctl ami list --all-regions (pctl has used {', '.join(others)} too)", err=True)
        return 0
    _table(["AMI", "NAME", "TEMPLATE", "FINGERPRINT", "PCLUSTER", "OS/ARCH", "SIZE", "AGE", "STATE"]
           + (["REGION"] if all_regions else []),
           [[r["ami_id"], r["name"] or "-", r["template"] or "-", (r["fingerprint"] or "-")[:12],
             r["pcluster_version"] or "-", f"{r['os']}/{r['arch']}", f"{r['size_gb']}GB", r["age"], r["state"]]
            + ([r["region"]] if all_regions else [])
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
    """Deregister a pctl AMI (id or name) and delete its snapshots. Without --region it is looked for in
    the default region, then in every region pctl has used.

    \b
    Examples:
      pctl ami delete genomics-v1 --yes
      pctl ami delete ami-0123456789abcdef0 --region us-west-2 --yes
    """
    from pctl import regions as rg
    from pctl.ami.manage import delete_image, images_in_use
    from pctl.errors import PctlError

    loc, img = rg.ami_location(rg.session(profile, region), ami_ref, explicit_region=bool(region))
    aws = loc.aws
    if loc.note and not as_json:
        click.echo(f"note: {loc.note}", err=True)
    iid = img["ImageId"]
    users = images_in_use(aws, iid)
    if users and not force:
        raise PctlError(f"{iid} is used by running instances: {', '.join(users[:10])}",
                        hint="clusters made from it cannot add compute nodes once it is gone; delete them first, "
                             "or pass --force")
    if not confirm(f"Deregister {iid} ({img.get('Name')}) in {aws.region} and delete its snapshots?", yes=yes):
        raise PctlError("not deleted" if interactive() else "refusing to delete without confirmation",
                        hint=None if interactive() else "pass --yes")
    done = delete_image(aws, iid)
    if as_json:
        emit_json({"ami_id": iid, "region": aws.region, "deleted": done})
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
    """A build's full log (default: the last line of 'pctl ami list-builds'), from S3, in any region.

    \b
    Examples:
      pctl ami logs b-20260101-120000-us-west-2-3fa9
      pctl ami logs 3fa9 --follow
      pctl ami logs | tail -50
    """
    from pctl.ami.manage import follow_log, read_log
    from pctl.ami.store import BuildStore

    aws, bid = _locate_build(profile, region, build_id)
    store = BuildStore(aws)
    out = click.get_binary_stream("stdout")
    terminal = out.isatty()

    def write(b):
        if terminal:  # the log is the builder's text: no escape sequences on a terminal (a file gets it as is)
            from pctl.ui import safe_text

            b = safe_text(b.decode("utf-8", "replace")).encode("utf-8")
        out.write(b)
        out.flush()

    if follow:
        follow_log(aws, store, bid, write, interval=interval)
    else:
        data = read_log(store, bid)
        if not data:
            rec = store.get_json(bid, "state.json") or {}
            if rec.get("action") == "reused":
                click.echo(f"{bid} built nothing: {rec.get('ami_id')} already had this software"
                           + (f" (its log: pctl ami logs {rec['reused_build_id']})" if rec.get("reused_build_id")
                              else ""), err=True)
            else:
                click.echo(f"no log for {bid} yet (the builder writes it once it has started)", err=True)
        write(data)
    return 0


@ami.command("cleanup")
@click.option("--dry-run", is_flag=True, help="Show what would be removed; remove nothing.")
@click.option("--all-regions", is_flag=True, help="Every region with a pctl bucket in this account.")
@aws_options
@yes_option
@json_option
def cleanup(dry_run, all_regions, profile, region, yes, as_json):
    """Remove what builds left behind: builders past their deadline or whose build ended, failed and
    half-made images (and snapshots), per-build IAM roles, stale build objects in S3.

    \b
    Examples:
      pctl ami cleanup --dry-run
      pctl ami cleanup --all-regions --dry-run
      pctl ami cleanup --yes --json
    """
    from pctl import regions as rg
    from pctl.ami.manage import cleanup_plan, run_cleanup
    from pctl.errors import PctlError

    aws = rg.session(profile, region)
    all_regions = all_regions or getattr(aws, "no_default_region", False)  # no region set: look everywhere
    where, note = rg.all_regions(aws) if all_regions else ([aws.region], None)
    if note and not as_json:
        click.echo(f"note: {note}", err=True)
    sessions = [(r, aws.in_region(r)) for r in where]
    plans = [(r, there, cleanup_plan(there)) for r, there in sessions]
    actions = [(r, a) for r, _, acts in plans for a in acts]
    head = {"region": aws.region, "regions": where, "dry_run": dry_run}
    if not actions:
        if as_json:
            emit_json({**head, "actions": []})
        else:
            click.echo(f"nothing to clean up in {', '.join(where)}", err=True)
        return 0
    if not as_json:
        _table(["ACTION", "TARGET", "BUILD", "WHY"] + (["REGION"] if all_regions else []),
               [[a.kind, a.target, a.build_id or "-", a.reason] + ([r] if all_regions else []) for r, a in actions],
               keep=(0, 1))
    if dry_run:
        if as_json:
            emit_json({**head, "actions": [dict(a.to_dict(), region=r) for r, a in actions]})
        return 0
    if not confirm(f"Do these {len(actions)} action(s)?", yes=yes):
        raise PctlError("nothing removed" if interactive() else "refusing to remove without confirmation",
                        hint=None if interactive() else "pass --yes (or --dry-run to look)")
    results = [dict(res, region=r) for r, there, acts in plans if acts for res in run_cleanup(there, acts)]
    failed = [r for r in results if not r.get("ok")]
    if as_json:
        emit_json({**head, "actions": results})
    else:
        click.echo(f"done: {len(results) - len(failed)} action(s)" + (f", {len(failed)} failed" if failed else ""),
                   err=True)
        for r in failed:
            click.echo(f"  {r['kind']} {r['target']}: {r.get('error')}", err=True)
    return 1 if failed else 0
