"""`pctl registry ...`: find, share and publish templates."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from pctl.cli.common import emit_json, json_option, output_option, write_output


@click.group()
def registry():
    """Find, share and publish templates: the bundled library plus git, HTTPS and folder sources.

    Sources are downloaded by 'pctl registry update'; every other command works offline from the
    local cache. Every command that takes -t accepts a registry name (SOURCE/NAME, or NAME when only
    one source has it).

    \b
    Examples:
      pctl registry search bioinformatics
      pctl registry get bioinformatics/gatk-pipeline > gatk-cluster.yaml
      pctl registry add team https://github.com/org/hpc-templates.git --ref main
      pctl registry add web https://templates.example.org/index.json
      pctl registry update
      pctl registry show team/chemistry/gromacs
      pctl registry index ./seeds        # CI: validate every template, write seeds/index.json
    """


def _width() -> int:
    return max(60, min(shutil.get_terminal_size((100, 24)).columns, 160))


def _table(rows: list[list[str]], headers: list[str], flex: int) -> None:
    """Print columns; column ``flex`` is shortened to fit the terminal. Cells are data from template sources:
    escape sequences and line breaks are removed (pctl.ui.safe_text)."""
    from pctl.ui import safe_text

    rows = [[safe_text(c, single_line=True) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    total = sum(widths) + 2 * (len(widths) - 1)
    over = total - _width()
    if over > 0:
        widths[flex] = max(len(headers[flex]), widths[flex] - over)

    def cut(text, w):
        return text if len(text) <= w else text[: max(0, w - 1)] + "…"

    def line(cells):
        return "  ".join(cut(c, widths[i]).ljust(widths[i]) if i < len(cells) - 1 else cut(c, widths[i])
                         for i, c in enumerate(cells)).rstrip()

    click.secho(line(headers), bold=True)
    for r in rows:
        click.echo(line(r))


def _age_notes(states, names: set[str] | None = None) -> None:
    for st in states:
        if st.kind == "bundled" or (names is not None and st.name not in names and st.cached):
            continue
        click.echo(f"{st.name}: {st.age()}", err=True)


def _states():
    from pctl.registry import store

    return store.states()


# ---------------------------------------------------------------- sources


@registry.command("sources")
@json_option
def sources_cmd(as_json):
    """List the template sources (the bundled library first) and how old each cache is.

    \b
    Examples:
      pctl registry sources
      pctl registry sources --json
    """
    from pctl.registry.sources import describe_location

    sts = _states()
    if as_json:
        emit_json({"schema_version": 1, "sources": [s.to_dict() for s in sts]})
        return
    rows = []
    for s in sts:
        where = "bundled with pctl" if s.kind == "bundled" else describe_location(s.kind, s.location, s.ref)
        rows.append([s.name, where, str(len(s.entries)) if s.cached else "-", s.age()])
    _table(rows, ["NAME", "LOCATION", "TEMPLATES", "CACHE"], 1)


@registry.command("add")
@click.argument("name")
@click.argument("location")
@click.option("--ref", default=None, metavar="BRANCH_OR_TAG", help="Git branch or tag (default: the remote's default branch).")
@click.option("--kind", type=click.Choice(["git", "index", "dir"]), default=None,
              help="What LOCATION is (default: guessed: *.json URL = index, other URLs = git, a folder = dir).")
@click.option("--no-update", is_flag=True, help="Only record the source; download it later with 'pctl registry update'.")
@json_option
def add_cmd(name, location, ref, kind, no_update, as_json):
    """Add a template source NAME at LOCATION: a git repository, an https://.../index.json or a folder.

    The source is downloaded right away (unless --no-update); if that fails nothing is added.

    \b
    Examples:
      pctl registry add team https://github.com/org/hpc-templates.git --ref v2.0
      pctl registry add team git@github.com:org/hpc-templates.git
      pctl registry add web https://templates.example.org/index.json
      pctl registry add lab /shared/lab-templates
    """
    from pctl.errors import UsageError
    from pctl.registry import config
    from pctl.registry.sources import check_name, classify

    check_name(name)
    kind, loc = classify(location, kind)
    if ref is not None:
        if kind != "git":
            raise UsageError("--ref applies only to git sources")
        from pctl.registry.sources import check_ref

        check_ref(ref, where="--ref: ")
    current = config.load_sources()
    if any(s.name == name for s in current):
        raise UsageError(f"a source named {name!r} already exists", hint=f"pctl registry remove {name} first")
    from pctl import library

    if (library.ROOT / name).is_dir():
        from pctl.cli.common import warn

        warn(f"the library has a folder {name!r}: a name such as {name}/x means the library's template when both "
             f"have it (use {name}/{name}/x or the unique template name)")
    new = config.SourceConfig(name, loc, kind, ref)
    path = config.save_sources(current + [new])
    meta = None
    if not no_update:
        from pctl.registry.fetch import UpdateError, remove_cache, update

        try:
            meta = update(new)
        except UpdateError as exc:
            config.save_sources([s for s in config.load_sources() if s.name != name])
            remove_cache(name)
            raise type(exc)(f"{name}: {exc.message}; the source was not added", hint=exc.hint) from None
        except BaseException:
            config.save_sources([s for s in config.load_sources() if s.name != name])
            remove_cache(name)
            raise
    if as_json:
        emit_json({"schema_version": 1, "added": {"name": name, "kind": kind, "location": loc, "ref": ref},
                   "config": str(path), "templates": meta["templates"] if meta else None,
                   "commit": meta.get("commit") if meta else None})
        return
    click.echo(f"added {name} ({kind} {loc}{' @ ' + ref if ref else ''}) to {path}")
    if meta:
        _report_update(name, meta)


@registry.command("remove")
@click.argument("name")
def remove_cmd(name):
    """Remove source NAME and delete its cached templates.

    \b
    Examples:
      pctl registry remove team
    """
    from pctl.errors import UsageError
    from pctl.registry import config
    from pctl.registry.fetch import remove_cache

    if name == "library":
        raise UsageError("the bundled library cannot be removed")
    current = config.load_sources(check=False)  # a source with a broken ref must be removable
    if not any(s.name == name for s in current):
        names = ", ".join(s.name for s in current) or "none"
        raise UsageError(f"no source named {name!r} (configured: {names})")
    config.save_sources([s for s in current if s.name != name])
    remove_cache(name)
    click.echo(f"removed {name}")


def _report_update(name: str, meta: dict) -> None:
    extra = f", commit {meta['commit'][:10]}" if meta.get("commit") else ""
    click.secho("✓ ", fg="green", nl=False)
    click.echo(f"{name}: {meta['templates']} template{'s' if meta['templates'] != 1 else ''}{extra}")
    for s in meta.get("skipped") or []:
        from pctl.cli.common import warn

        warn(f"{name}: skipped {s}")


@registry.command("update")
@click.argument("name", required=False)
@json_option
def update_cmd(name, as_json):
    """Download every source (or only NAME) into the local cache.

    \b
    Examples:
      pctl registry update
      pctl registry update team --json
    """
    from pctl.errors import PctlError, UsageError
    from pctl.registry.config import load_sources
    from pctl.registry.fetch import update

    srcs = load_sources()
    if name == "library":
        srcs = []
    elif name is not None:
        srcs = [s for s in srcs if s.name == name]
        if not srcs:
            raise UsageError(f"no source named {name!r}", hint="list them with: pctl registry sources")
    results, failed = [], 0
    if not as_json and (name is None or name == "library"):
        click.echo("library: bundled with pctl, nothing to update")
    for s in srcs:
        try:
            meta = update(s)
        except PctlError as exc:
            failed += 1
            results.append({"name": s.name, "ok": False, "error": exc.message, "hint": exc.hint})
            if not as_json:
                from pctl.ui import safe_text  # git's and the server's words

                click.secho("✗ ", fg="red", nl=False, err=True)
                click.echo(f"{s.name}: {safe_text(exc.message)}", err=True)
                if exc.hint:
                    click.echo(f"  hint: {safe_text(exc.hint)}", err=True)
            continue
        results.append({"name": s.name, "ok": True, "templates": meta["templates"], "commit": meta.get("commit"),
                        "updated": meta["updated"], "skipped": meta.get("skipped") or []})
        if not as_json:
            _report_update(s.name, meta)
    if as_json:
        emit_json({"schema_version": 1, "ok": failed == 0, "sources": results})
    if not srcs and not as_json and name is None:
        click.echo("no other sources; add one with: pctl registry add NAME LOCATION")
    raise SystemExit(1 if failed else 0)


# ---------------------------------------------------------------- browsing


def _rows(entries):
    return [[e.source, e.qualified, e.title or "-", str(len(e.packages))] for e in entries]


@registry.command("search")
@click.argument("query", nargs=-1)
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Only templates with this tag (repeatable).")
@click.option("--source", default=None, metavar="SOURCE", help="Only this source.")
@json_option
def search_cmd(query, tags, source, as_json):
    """Search templates by name, tags, title, description and Spack packages.

    \b
    Examples:
      pctl registry search bioinformatics
      pctl registry search gatk                 # templates that install GATK
      pctl registry search molecular dynamics --tag gpu

    Exit codes: 0 something matched, 1 nothing matched, 2 usage error.
    """
    from pctl.errors import UsageError
    from pctl.registry.search import search

    q = " ".join(query)
    if not q.strip() and not tags:
        raise UsageError("give a search word or --tag", hint="pctl registry search bioinformatics")
    sts = _states()
    if source is not None:
        sts = [s for s in sts if s.name == source]
        if not sts:
            raise UsageError(f"no source named {source!r}")
    hits = search([e for s in sts for e in s.entries], q, tags=tuple(tags))
    if as_json:
        emit_json({"schema_version": 1, "query": q, "tags": list(tags),
                   "results": [{**h.entry.to_dict(), "score": h.score} for h in hits],
                   "sources": [s.to_dict() for s in sts]})
        raise SystemExit(0 if hits else 1)
    if not hits:
        click.echo(f"no template matches {q!r}" + (f" with tags {', '.join(tags)}" if tags else ""), err=True)
        _age_notes(sts)
        raise SystemExit(1)
    _table(_rows([h.entry for h in hits]), ["SOURCE", "NAME", "TITLE", "PACKAGES"], 2)
    click.echo(f"\n{len(hits)} template{'s' if len(hits) != 1 else ''}. "
               "Details: pctl registry show NAME · copy: pctl registry get NAME > my-cluster.yaml", err=True)
    _age_notes(sts, {h.entry.source for h in hits})


@registry.command("list")
@click.option("--source", default=None, metavar="SOURCE", help="Only this source (library, or a source name).")
@json_option
def list_cmd(source, as_json):
    """List every template of every source (or of --source).

    \b
    Examples:
      pctl registry list
      pctl registry list --source library --json
    """
    from pctl.errors import UsageError

    sts = _states()
    if source is not None:
        sts = [s for s in sts if s.name == source]
        if not sts:
            raise UsageError(f"no source named {source!r}", hint="list them with: pctl registry sources")
    entries = [e for s in sts for e in s.entries]
    if as_json:
        emit_json({"schema_version": 1, "templates": [e.to_dict() for e in entries],
                   "sources": [s.to_dict() for s in sts]})
        return
    _table(_rows(entries), ["SOURCE", "NAME", "TITLE", "PACKAGES"], 2)
    _age_notes(sts)


@registry.command("show")
@click.argument("name", metavar="NAME|FILE")
@json_option
def show_cmd(name, as_json):
    """Describe a template: description, queues, packages, an install-time estimate, and what it asks you
    to trust (sudo users with their SSH keys' fingerprints, every Spack mirror and whether it is signed).

    \b
    Examples:
      pctl registry show team/chemistry/gromacs
      pctl registry show bioinformatics --json
    """
    from pctl.cli.showing import show_template

    show_template(name, as_json)


@registry.command("get")
@click.argument("name", metavar="NAME")
@output_option
@click.option("--resolved", is_flag=True, help="Print the template with its extends: parents merged in (self-contained).")
def get_cmd(name, output, resolved):
    """Print a template's text (verbatim) to stdout or -o FILE.

    NAME is a library or registry name (a file in the current folder never shadows it). Prefer -o FILE to
    '> FILE': the file is written only when the template was found, never left empty.

    \b
    Examples:
      pctl registry get bioinformatics/gatk-pipeline -o gatk-cluster.yaml
      pctl registry get team/chemistry/gromacs -o gromacs.yaml
      pctl registry get team/projects/genomics --resolved -o genomics.yaml
      pctl registry get starter > starter.yaml          # also works
    """
    from pctl.errors import PctlError
    from pctl.template.load import LoadFailed, decode
    from pctl.registry.names import resolve

    tref = resolve(name)
    if tref.path.is_dir():
        raise PctlError(f"{name} is a directory")
    if resolved:
        from pctl.registry.templates import resolve_template
        from pctl.template.extends import dump_yaml

        _, loaded = resolve_template(name)
        chain = list(getattr(loaded, "chain", []) or [tref.display])
        text = dump_yaml(loaded.data, header=f"{tref.name}, resolved from: " + " -> ".join(chain))
    else:
        try:
            from pctl.template.load import STDIN_PATH, read_stdin

            text = decode(read_stdin() if tref.path == STDIN_PATH else tref.path.read_bytes(), tref.display)
        except LoadFailed as exc:
            raise PctlError(exc.diagnostic.format()) from None
        except OSError as exc:
            raise PctlError(f"cannot read {tref.path}: {exc.strerror or exc}") from None
        if tref.origin != "file" and "extends" in text:
            from pctl.template.load import load_text

            try:
                ext = load_text(text, tref.display).data.get("extends")
            except LoadFailed:
                ext = None
            if ext:
                from pctl.cli.common import warn

                warn(f"{tref.name} extends {ext}; a copy resolves that name from your folder, the library and your "
                     "registry sources (use --resolved for a self-contained template)")
    if not text.strip():
        raise PctlError(f"{tref.display} is empty: nothing to print" + (f"; {output} not written" if output else ""),
                        hint="a file made with '> FILE' is created by the shell before pctl runs: use -o FILE")
    write_output(text, output)
    if tref.origin == "registry":
        _flag_fetched(name, tref)


def _flag_fetched(name: str, tref) -> None:
    """A template fetched from a registry that grants sudo or adds Spack mirrors is flagged on stderr."""
    from pctl.cli.showing import flag_trust
    from pctl.errors import PctlError
    from pctl.registry.templates import resolve_template
    from pctl.template.trust import summary

    try:
        _, loaded = resolve_template(name)  # with its extends: parents (they can add sudo users too)
        data = loaded.data
    except PctlError:
        from pctl.template.load import LoadFailed, load_file

        try:
            data = load_file(tref.path, tref.display).data
        except LoadFailed:
            return
    if isinstance(data, dict):
        flag_trust(tref.display, summary(data))


# ---------------------------------------------------------------- publishing


@registry.command("index")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the index (default: DIRECTORY/index.json).")
@click.option("--catalog", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Spack catalog JSON to check specs against (default: PCTL_SPACK_INDEX, config, cache).")
@click.option("--no-catalog", is_flag=True, help="Do not check Spack specs against a catalog.")
@json_option
def index_cmd(directory, output, catalog, no_catalog, as_json):
    """Validate every template in DIRECTORY and write its index.json (for an HTTPS source).

    Names come from the paths (chemistry/gromacs.yaml -> chemistry/gromacs); title, description,
    tags and version from each template's metadata:; sha256 from the file's bytes. Run it in CI
    before publishing: exit 1 (and no index written) when any template is invalid.

    \b
    Examples:
      pctl registry index seeds/ && aws s3 sync seeds/ s3://templates.example.org/
      pctl registry index seeds/ -o public/index.json --json
    """
    import json

    from pctl.errors import PctlError, UsageError
    from pctl.registry.index import build

    from pctl.cli.common import load_catalog

    cat = load_catalog(catalog, no_catalog)
    target = output or directory / "index.json"
    index, results = build(directory, catalog=cat, use_catalog=not no_catalog, exclude=(target,))
    bad = [(n, r) for n, r in results if not r.ok]
    if not results:
        raise UsageError(f"{directory}: no templates (*.yaml with cluster:, compute: or extends:)")
    if as_json:
        emit_json({"schema_version": 1, "valid": not bad, "index": str(target) if not bad else None,
                   "templates": len(results), "results": [r.to_dict() for _, r in results]})
    else:
        for _, r in results:
            for d in r.diagnostics:
                if d.is_error:
                    click.echo(d.format())
    if bad:
        if not as_json:
            click.secho(f"✗ {len(bad)} of {len(results)} templates are invalid: "
                        + ", ".join(n for n, _ in bad) + f"; {target} not written", fg="red", err=True)
        raise SystemExit(1)
    text = json.dumps(index, indent=2, ensure_ascii=False) + "\n"
    try:
        from pctl.fsio import atomic_write

        atomic_write(target, text)
    except OSError as exc:
        raise PctlError(f"cannot write {target}: {exc.strerror or exc}") from None
    if not as_json:
        click.secho("✓ ", fg="green", nl=False)
        click.echo(f"{len(results)} template{'s' if len(results) != 1 else ''} valid; wrote {target}")
