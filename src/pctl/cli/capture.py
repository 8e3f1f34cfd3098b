"""pctl capture: record an on-prem cluster (modules, users, storage, scheduler) and turn it into a template."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pctl.cli.common import emit_json, json_option, output_option, warn, write_output


@click.group()
def capture():
    """Capture an on-prem cluster and turn it into a pctl template plus a migration report.

    \b
    Examples:
      pctl capture ssh cluster.example.org --user admin --output onprem-config.yaml
      pctl capture analyze onprem-config.yaml > aws-template.yaml      # report on stderr
      pctl capture analyze onprem-config.yaml --batch profile.yaml -o aws.yaml --report report.md
      pctl capture batch ~/jobs/ -o profile.yaml                        # what the job scripts ask for
      pctl capture modules --from module-avail.txt --json               # a listing saved by hand
      pctl capture local -o this-machine.yaml
    """


def _timeouts(f):
    f = click.option("--max-time", type=click.IntRange(10, 86400), default=1800, show_default=True,
                     help="Overall limit in seconds; what was captured by then is kept.")(f)
    f = click.option("--timeout", "section_timeout", type=click.IntRange(1, 3600), default=60, show_default=True,
                     help="Time limit per captured command, in seconds (a slow one is cut, the rest continue).")(f)
    return f


def _emit_capture(run, output: Path | None, as_json: bool) -> None:
    from pctl.capture.document import build_document, dump_yaml
    from pctl.capture.view import build_view

    view = build_view({s.name: s.to_dict() for s in run.sections})
    doc = build_document(run, view)
    if as_json:
        if output is not None:
            import json

            write_output(json.dumps(doc, indent=2, ensure_ascii=False), output)
        else:
            emit_json(doc)
    else:
        write_output(dump_yaml(doc), output)
    _summary(doc)
    if run.error:
        from pctl.errors import PctlError

        raise PctlError(f"partial capture of {run.target}: {run.error}",
                        hint="what was captured is kept" + (f" in {output}" if output else "") +
                             "; re-run to complete it (raise --max-time for slow hosts)")


def _summary(doc) -> None:
    p = doc.get("parsed") or {}
    meta = doc.get("meta") or {}
    mods = p.get("modules") or {}
    sched = p.get("scheduler") or {}
    n_sec = len(doc.get("sections") or {})
    parts = [f"{mods.get('count', 0)} modules" + (f" ({mods.get('system')} {mods.get('version') or ''})".replace(" )", ")")
                                                  if mods.get("system") not in (None, "none") else ""),
             f"{len(p.get('users') or [])} users", f"{len(p.get('mounts') or [])} file systems"]
    if sched:
        parts.append(f"{sched.get('type')} with {len(sched.get('queues') or [])} partitions")
    click.echo(f"captured {meta.get('target')} in {meta.get('duration_s')} s ({n_sec} sections): " + ", ".join(parts),
               err=True)
    for w in p.get("warnings") or []:
        warn(w)


@capture.command("ssh")
@click.argument("target", metavar="[USER@]HOST")
@click.option("--user", "-l", "user", default=None, help="Remote user (same as USER@HOST).")
@click.option("-p", "--port", type=click.IntRange(1, 65535), default=None, help="SSH port.")
@click.option("-i", "--identity", default=None, metavar="KEY", help="Private key file (ssh -i).")
@click.option("-J", "--jump", default=None, metavar="JUMP", help="Jump host(s) (ssh -J), e.g. bastion.example.org.")
@click.option("-F", "--ssh-config", default=None, metavar="FILE", help="ssh config file (ssh -F).")
@click.option("--ssh-option", "ssh_options", multiple=True, metavar="KEY=VALUE",
              help="Extra ssh -o option, repeatable (e.g. StrictHostKeyChecking=accept-new).")
@click.option("--connect-timeout", type=click.IntRange(1, 600), default=15, show_default=True,
              help="Seconds to wait for the connection (ssh ConnectTimeout).")
@_timeouts
@output_option
@json_option
def ssh_cmd(target, user, port, identity, jump, ssh_config, ssh_options, connect_timeout, section_timeout, max_time,
            output, as_json):
    """Capture a cluster over SSH: one connection, one read-only script in a login shell.

    Uses your OpenSSH client, so ~/.ssh/config, ProxyJump, agents and Kerberos work as usual (no password
    prompts: BatchMode). Records OS, CPUs/memory/GPUs, every module (the whole Lmod hierarchy with
    defaults and hidden modules, or Tcl modules), users with UID >= 1000 and their groups, mounts and
    sizes, the scheduler (Slurm, PBS/Torque, SGE, LSF), compilers, MPI and CUDA. Never reads secrets.
    Writes YAML (raw outputs beside pctl's reading of them) to stdout, or to -o FILE. Reads at most
    64 MiB of output whatever the host sends (16 MiB per command): beyond that the connection is closed
    and the capture is kept, marked truncated (exit status 1).

    \b
    Examples:
      pctl capture ssh cluster.example.org --user admin --output onprem-config.yaml
      pctl capture ssh admin@login1 -J bastion.example.org -o onprem.yaml
      pctl capture ssh mycluster -F ~/.ssh/config --timeout 300 -o onprem.yaml   # big module trees
    """
    from pctl.capture.collect import run_ssh

    run = run_ssh(target, user=user, port=port, identity=identity, jump=jump, config=ssh_config,
                  section_timeout=section_timeout, connect_timeout=connect_timeout, max_time=max_time,
                  options=list(ssh_options))
    _emit_capture(run, output, as_json)


@capture.command("local")
@_timeouts
@output_option
@json_option
def local_cmd(section_timeout, max_time, output, as_json):
    """Capture this machine with the same script (run in a login shell: bash -l).

    \b
    Examples:
      pctl capture local -o login-node.yaml
    """
    from pctl.capture.collect import run_local

    run = run_local(section_timeout=section_timeout, max_time=max_time)
    _emit_capture(run, output, as_json)


@capture.command("reparse")
@click.argument("capture_file", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@output_option
@json_option
def reparse_cmd(capture_file, output, as_json):
    """Re-read a capture's raw outputs with this pctl's parsers (rewrites the 'parsed' part).

    \b
    Examples:
      pctl capture reparse onprem.yaml -o onprem.yaml
    """
    from pctl.capture.document import dump_yaml, load_document, reparse

    doc = reparse(load_document(capture_file))
    if as_json:
        emit_json(doc)
    else:
        write_output(dump_yaml(doc), output)


@capture.command("modules")
@click.option("--from", "source", required=True, metavar="FILE",
              help="A saved listing: module avail / -t avail / spider / spider-json, Lmod or Tcl ('-' = stdin), "
                   "or a capture file.")
@click.option("--format", "fmt", default=None, metavar="FORMAT",
              help="Listing format instead of auto-detection: lmod_avail, tcl_avail, lmod_terse, lmod_spider, "
                   "lmod_spider_terse, lmod_spider_json, lmod_spider_json_softwarepage, tcl_json.")
@json_option
def modules_cmd(source, fmt, as_json):
    """Parse a saved module listing (for clusters pctl cannot reach).

    Lists every module with its name, version, full name, default/hidden flags and, when the listing
    says so (spider), the hierarchy parents that must be loaded first.

    \b
    Examples:
      ssh login1 'bash -lc "module -t avail"' 2> avail.txt; pctl capture modules --from avail.txt
      pctl capture modules --from spider.json --json | jq '.modules[] | select(.default)'
    """
    from pctl.capture.parsers.modules import FORMATS, _FMT_ALIASES, parse_listing
    from pctl.errors import PctlError, UsageError

    if fmt is not None:
        f = fmt.strip().lower()
        if f not in FORMATS and f not in _FMT_ALIASES and f.replace("-", "_") not in FORMATS:
            raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if source == "-":
        text = sys.stdin.buffer.read().decode("utf-8", errors="replace")
        name = "<stdin>"
    else:
        p = Path(source)
        try:
            if p.stat().st_size > 256 * 1024 * 1024:
                raise PctlError(f"{p} is larger than 256 MiB; is it a module listing?")
            text = p.read_bytes().decode("utf-8", errors="replace")
        except FileNotFoundError:
            raise UsageError(f"{source}: no such file") from None
        except IsADirectoryError:
            raise UsageError(f"{source} is a directory") from None
        except OSError as exc:
            raise PctlError(f"cannot read {source}: {exc.strerror or exc}") from None
        name = str(p)
    if text.lstrip().startswith(("# pctl capture", "pctl_capture:")) and fmt is None:
        from pctl.capture.document import parse_document, reparse

        doc = reparse(parse_document(text, name))
        mv = (doc.get("parsed") or {}).get("modules") or {}
        mods = mv.get("modules") or []
        result = {"source": name, "format": f"capture ({mv.get('source')})", "count": len(mods),
                  "modules": [_module_row(m) for m in mods], "warnings": list(mv.get("warnings") or [])}
    else:
        listing = parse_listing(text, fmt)
        result = {"source": name, "format": listing.format, "count": len(listing.modules),
                  "modules": [_module_row(m.to_dict()) for m in listing.modules], "warnings": list(listing.warnings)}
    if as_json:
        emit_json(result)
    else:
        rows = result["modules"]
        click.echo(f"{result['count']} modules ({result['format']}) in {name}")
        for m in rows:
            flags = ",".join(x for x, on in (("default", m["default"]), ("hidden", m["hidden"])) if on)
            par = ("  [after " + " | ".join(" ".join(r) for r in m["parents"]) + "]") if m.get("parents") else ""
            click.echo(f"  {m['full_name']}" + (f" ({flags})" if flags else "") + par)
        for w in result["warnings"]:
            warn(w)
    if not result["modules"]:
        raise PctlError(f"no modules found in {name}", hint="is it the output of `module avail`? Lmod prints it to "
                        "stderr: save it with 2>file or `module -t avail 2>&1`")


def _module_row(m: dict) -> dict:
    return {"name": m.get("name"), "version": m.get("version"), "full_name": m.get("full_name"),
            "default": bool(m.get("default")), "hidden": bool(m.get("hidden")), "parents": m.get("parents"),
            "section": m.get("section") if "section" in m else m.get("mpath")}


@capture.command("batch")
@click.argument("scripts", nargs=-1, metavar="SCRIPT|DIR|GLOB...")
@output_option
@json_option
def batch_cmd(scripts, output, as_json):
    """Profile job scripts (#SBATCH, #PBS, #$, #BSUB): per queue the typical and peak nodes, cores, memory,
    GPUs and walltime, and the modules and programs they use. Feed it to `capture analyze --batch`.

    Directories are searched recursively for job scripts; unreadable or binary files are reported, not fatal.

    \b
    Examples:
      pctl capture batch ~/jobs/ /shared/lab/*.slurm -o profile.yaml
      pctl capture batch 'runs/**/*.sh' --json | jq .profile.queues
    """
    from pctl.capture.batchprofile import build_profile
    from pctl.capture.document import dump_yaml
    from pctl.errors import PctlError, UsageError

    if not scripts:
        raise UsageError("give at least one job script, directory or glob", hint="pctl capture batch ~/jobs/ -o profile.yaml")
    prof = build_profile(list(scripts))
    if as_json:
        emit_json(prof)
    else:
        write_output(dump_yaml(prof, header="# pctl batch profile: use with `pctl capture analyze CAPTURE --batch FILE`\n"),
                     output)
    for s in prof["skipped"]:
        warn(f"{s['path']}: {s['reason']}")
    click.echo(f"profiled {prof['scripts']} job script(s), {len(prof['skipped'])} skipped", err=True)
    if prof["scripts"] == 0:
        raise PctlError("no job scripts could be read", hint="point at .sh/.slurm/.pbs files or directories of them")


@capture.command("analyze")
@click.argument("capture_file", metavar="CAPTURE", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--batch", "batch_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Batch profile from `pctl capture batch` (sizes queues from what jobs really ask for).")
@output_option
@click.option("--report", "report_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the migration report (Markdown) to FILE instead of stderr.")
@click.option("--catalog", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Spack catalog JSON (default: PCTL_SPACK_INDEX, config, cache).")
@click.option("--no-catalog", is_flag=True, help="Map names by rules only (versions not verified).")
@click.option("--remap-ids-from", type=click.IntRange(1001, 60000), default=None, metavar="N",
              help="Renumber UIDs/GIDs outside 1000-60000 (and uid 1000) from N instead of skipping those users.")
@click.option("--name", "cluster_name", default=None, help="Cluster name for the template (default: from the capture).")
@click.option("--region", default=None, help="AWS region to write into the template.")
@click.option("--max-packages", type=click.IntRange(1, 500), default=500, show_default=True, metavar="N",
              help="Most Spack packages the template carries; the rest are listed in the report as left out.")
@click.option("-q", "--quiet", is_flag=True, help="No report on stderr (only errors).")
@json_option
def analyze_cmd(capture_file, batch_file, output, report_file, catalog, no_catalog, remap_ids_from, cluster_name,
                region, max_packages, quiet, as_json):
    """Turn a capture into a commented pctl template and a migration report.

    Modules become Spack specs (through the Spack catalog: renames, versions kept or the nearest
    declared one), partitions become queues with EC2 instance types sized from their nodes, users and
    groups keep their UIDs/GIDs, file systems become EFS/FSx suggestions. The template is validated
    before it is printed. The report (mapped, approximated, not mappable and why) goes to stderr, or
    to --report FILE; --json prints {template, report}.

    When the site has more packages than --max-packages, the template keeps compilers and MPI, then the
    on-prem defaults, then what batch jobs load (--batch), then what users load in their shells, then
    packages across scientific domains in turn; every package left out is named in the report with its
    rank and why.

    \b
    Examples:
      pctl capture analyze onprem-config.yaml > aws-template.yaml
      pctl capture analyze onprem.yaml --batch profile.yaml -o aws.yaml --report migration.md
      pctl capture analyze big-site.yaml --batch profile.yaml --max-packages 200 -o aws.yaml
    """
    from pctl.capture.analyze import analyze
    from pctl.capture.document import load_document
    from pctl.errors import PctlError, UsageError

    if cluster_name is not None:
        from pctl.template import rules

        problem = rules.cluster_name_problem(cluster_name)
        if problem:
            raise UsageError(problem)
    if region is not None:
        from pctl.template import rules

        problem = rules.region_problem(region)
        if problem:
            raise UsageError(problem)
    doc = load_document(capture_file)
    profile = None
    if batch_file is not None:
        from pctl.capture.batchprofile import load_profile

        profile = load_profile(batch_file)
    from pctl.cli.common import load_catalog

    cat = load_catalog(catalog, no_catalog)
    result = analyze(doc, cat, profile, remap_ids_from=remap_ids_from, cluster_name=cluster_name, region=region,
                     max_packages=max_packages)
    if as_json:
        emit_json({"schema_version": 1, "valid": result.valid, "template": result.template, "report": result.report})
    else:
        write_output(result.template, output)
    if report_file is not None:
        write_output(result.markdown, report_file)
    elif not quiet and not as_json:
        click.echo(result.markdown, err=True, nl=False)
    if cat is None and not no_catalog and not quiet:
        warn("no Spack catalog found: package names were mapped by rules and versions were not verified "
             "(set PCTL_SPACK_INDEX or run `pctl spack index build DIR`)")
    if not result.valid:
        raise PctlError("the generated template does not validate: " + "; ".join(result.errors[:5]),
                        hint="this is a bug in pctl capture analyze; please report it with the capture file")
