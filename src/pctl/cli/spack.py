from __future__ import annotations

from pathlib import Path

import click

from pctl.cli.common import emit_json, json_option


@click.group()
def spack():
    """Spack helpers: the package catalog pctl checks specs against, and spec checks.

    \b
    Examples:
      git clone --depth 1 -b v2026.06.0 https://github.com/spack/spack-packages
      pctl spack info                              # the catalog in use and its release (one ships with pctl)
      pctl spack index build spack-packages        # writes pctl's cached catalog (overrides the shipped one)
      pctl spack check "gromacs@2025.2 +mpi ^openmpi" samtools@1.21
    """


@spack.group()
def index():
    """Build or inspect the Spack package catalog (pctl ships one; a built one overrides it)."""


@index.command("build")
@click.argument("repo_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the catalog (default: pctl's cache, used automatically).")
@json_option
def index_build(repo_dir, output, as_json):
    """Build a catalog from a spack-packages checkout (REPO_DIR).

    Reads every package.py statically (nothing is imported or executed) and writes a JSON index of
    package names, versions, variants and descriptions. It overrides the catalog shipped with pctl.

    \b
    Examples:
      git clone --depth 1 -b v2026.06.0 https://github.com/spack/spack-packages
      pctl spack index build spack-packages
      pctl spack index build spack-packages -o spack-index.json   # then PCTL_SPACK_INDEX=spack-index.json
    """
    from pctl.errors import PctlError
    from pctl.spack import PINNED_PACKAGES_RELEASE
    from pctl.spack.catalog import default_cache_path
    from pctl.spack.index_build import IndexBuildError, build_index, write_index

    try:
        data = build_index(repo_dir)
    except IndexBuildError as exc:
        raise PctlError(str(exc), hint="point at a spack-packages checkout (it has repos/spack_repo/builtin/packages)") from None
    target = output or default_cache_path()
    try:
        write_index(data, target)
    except OSError as exc:
        raise PctlError(f"cannot write {target}: {exc.strerror or exc}") from None
    n = len(data.get("packages", {}))
    skipped = data.get("skipped", []) or []
    if as_json:
        emit_json({"path": str(target), "packages": n, "release": data.get("release"), "commit": data.get("commit"),
                   "skipped": skipped})
        return
    click.echo(f"wrote {target}: {n:,} packages, release {data.get('release')}"
               + (f", {len(skipped)} package file(s) skipped (unparsable)" if skipped else ""))
    if data.get("release") not in (None, "unknown", PINNED_PACKAGES_RELEASE):
        click.secho(f"note: pctl pins spack-packages {PINNED_PACKAGES_RELEASE}; this checkout is {data.get('release')}",
                    fg="yellow", err=True)


def _info(catalog, as_json):
    from pctl.errors import PctlError
    from pctl.spack import PINNED_PACKAGES_RELEASE, PINNED_SPACK_RELEASE
    from pctl.spack.catalog import CatalogError, catalog_search_paths, find_catalog

    try:
        cat = find_catalog(catalog)
    except CatalogError as exc:
        raise PctlError(str(exc), hint="fix or unset the path named there; 'pctl spack info' lists where pctl looks"
                        ) from None
    paths = [{"source": s, "path": str(p), "exists": p.is_file()} for s, p in catalog_search_paths(catalog)]
    info = {
        "pinned": {"spack": PINNED_SPACK_RELEASE, "spack_packages": PINNED_PACKAGES_RELEASE},
        "catalog": None if cat is None else {
            "path": str(cat.source_path), "origin": cat.origin, "release": cat.release, "commit": cat.commit,
            "packages": len(cat), "matches_pinned": cat.release == PINNED_PACKAGES_RELEASE,
        },
        "search_paths": paths,
    }
    if as_json:
        emit_json(info)
        if cat is None:
            raise SystemExit(1)
        return
    click.echo(f"pinned: Spack {PINNED_SPACK_RELEASE}, spack-packages {PINNED_PACKAGES_RELEASE}")
    if cat is None:
        click.secho("no catalog found; specs are not checked (the catalog shipped with pctl is missing: reinstall "
                    "pctl)", fg="yellow")
    else:
        what = {"bundled": "shipped with pctl"}.get(cat.origin or "", f"from {cat.origin}")
        click.echo(f"catalog: spack-packages {cat.release} ({len(cat):,} packages), {what}: {cat.source_path}")
        if cat.release != PINNED_PACKAGES_RELEASE:
            click.secho(f"  note: pctl installs spack-packages {PINNED_PACKAGES_RELEASE}; specs checked against "
                        f"{cat.release} may differ from what the cluster gets", fg="yellow")
    click.echo("looked in (first found wins):")
    for p in paths:
        mark = "  <- used" if cat is not None and p["path"] == str(cat.source_path) else (
            "" if p["exists"] else "  (missing)")
        click.echo(f"  {p['source']:16s} {p['path']}{mark}")
    if cat is None:
        raise SystemExit(1)


@spack.command("info")
@click.option("--catalog", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Inspect this catalog file instead of the one pctl finds.")
@json_option
def info(catalog, as_json):
    """Which Spack catalog pctl checks specs against: its spack-packages release, where it came from.

    \b
    Examples:
      pctl spack info
      pctl spack info --json | jq -r .catalog.release
      PCTL_SPACK_INDEX=~/spack-index.json pctl spack info
    """
    _info(catalog, as_json)


@index.command("info")
@click.option("--catalog", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Inspect this catalog file instead of the one pctl finds.")
@json_option
def index_info(catalog, as_json):
    """Show which catalog pctl uses and where it looks for one (same as 'pctl spack info').

    \b
    Examples:
      pctl spack index info
      pctl spack index info --json
    """
    _info(catalog, as_json)


@spack.command("check")
@click.argument("specs", nargs=-1, required=True)
@click.option("--catalog", type=click.Path(dir_okay=False, path_type=Path), default=None)
@json_option
def check(specs, catalog, as_json):
    """Check Spack specs: grammar, and package/version/variants against the catalog.

    \b
    Examples:
      pctl spack check samtools@1.21 "gromacs@2025.2 +mpi ^openmpi"
      pctl spack check samtols --json        # unknown package: the closest names
    """
    from pctl.errors import PctlError
    from pctl.spack.catalog import CatalogError, check_spec, find_catalog
    from pctl.spack.spec import SpecSyntaxError, parse_spec

    try:
        cat = find_catalog(catalog)
    except CatalogError as exc:
        raise PctlError(str(exc)) from None
    results = []
    for text in specs:
        entry = {"spec": text, "valid": True, "normalized": None, "problems": []}
        try:
            spec = parse_spec(text)
            entry["normalized"] = str(spec)
            if cat is not None:
                for p in check_spec(cat, spec):
                    entry["problems"].append({"kind": p.kind, "message": p.message, "hint": p.hint})
        except SpecSyntaxError as exc:
            entry["problems"].append({"kind": "syntax", "message": str(exc), "hint": None})
        entry["valid"] = not entry["problems"]
        results.append(entry)
    ok = all(r["valid"] for r in results)
    if as_json:
        emit_json({"catalog": None if cat is None else cat.release, "valid": ok, "results": results})
    else:
        if cat is None:
            click.secho("warning: no Spack catalog found; only the grammar was checked", fg="yellow", err=True)
        for r in results:
            if r["valid"]:
                click.secho(f"✓ {r['normalized']}", fg="green")
            else:
                click.secho(f"✗ {r['spec']}", fg="red")
                for p in r["problems"]:
                    click.echo(f"    {p['message']}")
                    if p.get("hint"):
                        click.echo(f"    hint: {p['hint']}")
    raise SystemExit(0 if ok else 1)
