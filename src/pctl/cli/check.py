"""pctl check: prove that a live cluster works (modules, users, mounts, queues), with real Slurm jobs."""

from __future__ import annotations

from pathlib import Path

import click

from pctl.cli.aws_opts import aws_options
from pctl.cli.common import emit_json, json_option, template_option


def check_options(f):
    """The options that shape a run (shared with `pctl create --check`)."""
    f = click.option("--strict", is_flag=True, help="Skipped checks fail the run too (exit 1).")(f)
    f = click.option("--ssh-between-nodes", is_flag=True,
                     help="Also check that a compute node can ssh back to the head node (MPI launchers, users).")(f)
    f = click.option("--job-time", type=click.IntRange(1, 240), default=15, show_default=True, metavar="MINUTES",
                     help="Slurm time limit of each check job.")(f)
    f = click.option("--wait", "wait_seconds", type=click.IntRange(30, 21600), default=1800, show_default=True,
                     metavar="SECONDS", help="How long a job may wait for its node to start.")(f)
    f = click.option("--no-scale", is_flag=True,
                     help="Launch no node: queues with no running node are skipped (never passed).")(f)
    f = click.option("--queue", "queues", multiple=True, metavar="QUEUE",
                     help="Check only this queue (repeatable; default: every queue).")(f)
    return f


@click.command("check")
@click.argument("name", required=False)
@template_option(required=False)
@click.option("--host", default=None, metavar="[USER@]HOST",
              help="Connect to this head node instead of looking NAME up in ParallelCluster "
                   "(clusters not made by pctl, or a Host alias of your ssh config).")
@click.option("-u", "--user", default=None, help="Login user (default: the OS's default user, or USER@ of --host).")
@click.option("-p", "--port", type=click.IntRange(1, 65535), default=None, help="SSH port.")
@click.option("-i", "--identity", default=None, metavar="KEY", help="Private key file (ssh -i).")
@click.option("-J", "--jump", default=None, metavar="JUMP", help="Jump host(s) (ssh -J).")
@click.option("-F", "--ssh-config", default=None, metavar="FILE", help="ssh config file (ssh -F).")
@click.option("--ssh-option", "ssh_options", multiple=True, metavar="KEY=VALUE",
              help="Extra ssh -o option, repeatable (e.g. UserKnownHostsFile=./known_hosts).")
@click.option("--connect-timeout", type=click.IntRange(1, 600), default=15, show_default=True,
              help="Seconds to wait for the connection.")
@check_options
@click.option("--dry-run", is_flag=True, help="Show the checks and write nothing remote: connect to nothing.")
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With --dry-run: write the probe scripts to DIR for review.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the JSON report to FILE.")
@click.option("-v", "--verbose", is_flag=True, help="Also show what each passed check saw.")
@aws_options
@json_option
def check(name, template, host, user, port, identity, jump, ssh_config, ssh_options, connect_timeout, queues,
          no_scale, wait_seconds, job_time, ssh_between_nodes, strict, dry_run, output_dir, output, verbose, profile,
          region, as_json):
    """Prove that a live cluster works, on your own account: with real Slurm jobs on every queue.

    Connects to the head node with your OpenSSH client (one connection, multiplexed) and checks, on the
    head node and inside a job on each queue: every package's module loads and a trivial command of it
    runs, every user has the template's UID/GID and the same home, every S3 mount and shared storage is
    mounted and readable (S3: writable exactly when read-write), the queue starts a node (scale-up
    time), GPU queues see their GPUs, MPI queues run a 2-node hello. Prints a table (pass, FAIL with the
    evidence, skip with why); exit 0 only when nothing failed. Jobs are cancelled and probe files removed
    at the end and on Ctrl-C; nodes started for the check stop after the queue's idle time.

    \b
    Examples:
      pctl check my-cluster                                  # a cluster made by pctl create
      pctl check my-cluster --no-scale                       # launch nothing: queues at zero are skipped
      pctl check my-cluster -v                               # also what each passed check saw
      pctl check my-cluster --queue gpu --json > check.json  # CI: stable JSON (pctl schema check)
      pctl check lab -t lab.yaml --host alice@login.example.org -i ~/.ssh/id_ed25519
      pctl check lab -t lab.yaml --host mycluster -F ~/.ssh/config --queue debug
      pctl check -t bioinformatics --dry-run --output-dir probes/   # the checks and scripts, no connection
    """
    from pctl.check import load_template, new_plan
    from pctl.check.plan import CheckOptions
    from pctl.errors import UsageError

    if output_dir is not None and not dry_run:
        raise UsageError("--output-dir goes with --dry-run")
    if not name and not host and not dry_run:
        raise UsageError("give a cluster NAME, or --host [USER@]HOST with -t TEMPLATE",
                         hint="pctl check my-cluster   |   pctl check -t lab.yaml --host alice@login.example.org")
    info = None
    if not dry_run and host is None:
        info = _describe(name, profile, region)
    if template is None:
        from pctl.check.target import template_ref

        template = template_ref(info) if info else None
        if template is None:
            raise UsageError("which template should the cluster match? pass -t TEMPLATE",
                             hint="pctl check NAME finds the template of clusters made by pctl create")
    display, tmpl = load_template(template)
    options = CheckOptions(no_scale=no_scale, wait_seconds=wait_seconds, job_minutes=job_time, queues=tuple(queues),
                           ssh_between_nodes=ssh_between_nodes)
    plan = new_plan(tmpl, options)
    if dry_run:
        _dry_run(plan, display, output_dir, as_json)
        return
    if host is not None:
        from pctl.check.connection import make_target

        target = make_target(host, user=user, port=port, identity=identity, config=ssh_config, jump=jump,
                             options=ssh_options)
    else:
        from pctl.check.target import cluster_target, fingerprint

        if port or ssh_config:
            raise UsageError("-p/-F go with --host (a pctl cluster's address comes from ParallelCluster)")
        target = cluster_target(name, info, user=user, identity=identity, options=ssh_options, jump=jump)
        fp, mine = fingerprint(info), _fingerprint(tmpl)
        if fp and mine and not mine.startswith(fp):
            from pctl.cli.common import warn

            warn(f"the software of {display} differs from what {name} was created with (fingerprint): "
                 f"checking against {display} as it is now")
    code = run_and_show(plan, target, cluster=name, template=display, strict=strict, as_json=as_json, output=output,
                        connect_timeout=connect_timeout, verbose=verbose)
    return code


def run_and_show(plan, target, *, cluster, template, strict, as_json, output=None, connect_timeout=15,
                 verbose=False) -> int:
    """Run the plan and print the result (table on stdout, or JSON); returns the exit code."""
    import json

    from pctl.check.run import run_check

    def progress(msg: str) -> None:
        if not as_json:
            click.echo(f"  {msg}", err=True)

    with _terminate_as_interrupt():
        report = run_check(plan, target, cluster=cluster, template=template, progress=progress,
                           connect_timeout=connect_timeout, strict=strict)
    data = report.to_json()
    if output is not None:
        from pctl.cli.common import write_output

        write_output(json.dumps(data, indent=2, ensure_ascii=False), output)
    if as_json:
        emit_json(data)
    else:
        from pctl.ui.check import print_report

        print_report(report, verbose=verbose)
    if report.interrupted:
        return 130
    return report.exit_code


class _terminate_as_interrupt:
    """SIGTERM/SIGHUP (a CI job cancelled, a closed terminal) clean up like Ctrl-C does."""

    def __enter__(self):
        import signal
        import threading

        self.saved = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGHUP):
                self.saved[sig] = signal.signal(sig, self._raise)
        return self

    @staticmethod
    def _raise(signum, frame):
        raise KeyboardInterrupt

    def __exit__(self, *exc):
        import signal

        for sig, handler in self.saved.items():
            signal.signal(sig, handler)
        return False


def _describe(name, profile, region):
    from pctl.check.target import describe
    from pctl.cli.aws_opts import make_aws

    aws = make_aws(profile, region)
    return describe(name, aws=aws)


def _fingerprint(template) -> str:
    try:
        from pctl.template.fingerprint import fingerprint

        return fingerprint(template)
    except Exception:  # a warning only
        return ""


def _dry_run(plan, display, output_dir, as_json) -> None:
    from pctl.check.plan import static_skips
    from pctl.check.probes import render_all

    scripts = render_all(plan)
    if output_dir is not None:
        from pctl.errors import PctlError
        from pctl.fsio import atomic_write

        try:
            output_dir.mkdir(parents=True, exist_ok=True)
            for fname, text in scripts.items():
                atomic_write(output_dir / fname, text, mode=0o755)
        except OSError as exc:
            raise PctlError(f"cannot write {output_dir}: {exc.strerror or exc}") from None
    skips = static_skips(plan)
    if as_json:
        emit_json({"dry_run": True, "template": display, "columns": plan.columns,
                   "checks": [{"id": c.id, "kind": c.kind, "title": c.title, "columns": list(c.columns),
                               "skipped": {col: why for (cid, col), why in skips.items() if cid == c.id}}
                              for c in plan.checks],
                   "scripts": {k: {"bytes": len(v.encode())} for k, v in scripts.items()},
                   "output_dir": str(output_dir) if output_dir else None})
        return
    from pctl.ui.table import print_table

    cols = plan.columns
    rows = [[c.title] + [("skip" if (c.id, col) in skips else "run") if col in c.columns else "-" for col in cols]
            for c in plan.checks]
    print_table(["CHECK"] + ["head node" if col == "head" else col.split(":", 1)[1] for col in cols], rows,
                title=f"pctl check plan for {display}")
    for (cid, col), why in skips.items():
        click.echo(f"  skip  {cid} [{col}]: {why}")
    if output_dir is not None:
        click.echo(f"wrote {len(scripts)} probe script(s) to {output_dir}/", err=True)


def after_create(record: dict, template: str, *, profile, region, as_json: bool) -> int:
    """`pctl create --check`: the checks of `pctl check NAME` on the cluster just created. Returns the exit
    code; with --json prints {"create": record, "check": report}."""
    from pctl.check import load_template, new_plan
    from pctl.check.plan import CheckOptions
    from pctl.check.target import cluster_target

    name = record["name"]
    if record.get("status") != "CREATE_COMPLETE":
        if as_json:
            emit_json({"create": record, "check": None})
        return 1
    if not as_json:
        click.echo(f"checking {name}: modules, users and mounts on the head node and in a job on every queue "
                   "(queues at zero start a node)", err=True)
    info = _describe(name, profile, region or record.get("region"))
    display, tmpl = load_template(template)
    plan = new_plan(tmpl, CheckOptions())
    target = cluster_target(name, info)
    if as_json:
        import io
        import json

        buf = io.StringIO()
        import contextlib

        with contextlib.redirect_stdout(buf):
            code = run_and_show(plan, target, cluster=name, template=display, strict=False, as_json=True)
        emit_json({"create": record, "check": json.loads(buf.getvalue())})
        return code
    code = run_and_show(plan, target, cluster=name, template=display, strict=False, as_json=False)
    if code:
        click.echo(f"{name} was created, but the check failed: see above. Re-run with 'pctl check {name}'; "
                   f"remove it with 'pctl delete {name}'", err=True)
    return code
