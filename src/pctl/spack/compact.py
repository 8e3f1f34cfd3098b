"""pctl's compact catalog format, and the catalog that ships inside pctl.

The catalog built by :mod:`pctl.spack.index_build` (and the one published with spack-packages
releases in the same shape) stores every package as a JSON object of lists. Shipped with pctl, that
is 2.3 MB and 15 ms to parse. The compact form keeps exactly the same information in one JSON array
per package, with the lists joined by commas (no Spack version or variant name contains a comma)::

    {"format": "pctl-spack-catalog/1", "release": "v2026.06.0", "commit": "...", "source": "...",
     "packages": {"samtools": ["1.23.1,1.22.1,...", "", "AutotoolsPackage", "SAM Tools provide..."],
                  "lammps": ["...", "...", "CMakePackage,CudaPackage", "...", "variants"], ...}}

Each entry is ``[versions, variants, build_systems, description]`` plus an optional fifth string
naming the lists known to be incomplete (``"versions,variants"``). Versions keep the package file's
order (newest first); lists are split only when a package is looked at, so loading the whole catalog
is one ``json.loads`` of about 9,000 short arrays. The shipped file is gzip-compressed
(``data/spack-packages.json.gz``, about 0.6 MB).

``scripts/update-catalog`` regenerates the shipped file from a full catalog (for example
``../shared/data/spack-packages.json`` or the output of ``pctl spack index build``).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

FORMAT = "pctl-spack-catalog/1"
BUNDLED_NAME = "spack-packages.json.gz"
LIST_FIELDS = ("versions", "variants", "build_systems")


def bundled_path() -> Path:
    """The catalog shipped in pctl's package data."""
    return Path(__file__).with_name("data") / BUNDLED_NAME


def is_compact(data: Any) -> bool:
    return isinstance(data, dict) and data.get("format") == FORMAT


def _join(items, where: str) -> str:
    out = []
    for item in items or []:
        text = str(item)
        if "," in text:
            raise ValueError(f"{where}: {text!r} contains a comma and cannot be stored in the compact catalog")
        out.append(text)
    return ",".join(out)


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split(",")) if text else ()


def compact(data: dict) -> dict:
    """The compact form of a full catalog (the shape :func:`pctl.spack.index_build.build_index`
    writes). Names written with a leading hyphen (``-3dtk``) are stored under the real Spack name."""
    packages = data.get("packages")
    if not isinstance(packages, dict):
        raise ValueError("not a Spack catalog: no 'packages' mapping")
    out: dict[str, list[str]] = {}
    for raw_name in sorted(packages, key=lambda n: n.lstrip("-")):
        entry = packages[raw_name]
        name = raw_name[1:] if raw_name.startswith("-") else raw_name
        if name in out:
            continue
        row = [_join(entry.get(f), f"{name}.{f}") for f in LIST_FIELDS]
        row.append(str(entry.get("description") or ""))
        incomplete = entry.get("incomplete")
        if isinstance(incomplete, list) and incomplete:
            row.append(_join(sorted(incomplete), f"{name}.incomplete"))
        out[name] = row
    meta = {k: data.get(k) for k in ("release", "commit", "source")}
    return {"format": FORMAT, **{k: v for k, v in meta.items() if v}, "packages": out}


def encode(data: dict) -> bytes:
    """Deterministic gzip bytes of a compact catalog (no timestamp: rebuilding gives the same file)."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, sort_keys=False) + "\n"
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def write(data: dict, path: Path | str) -> Path:
    from pctl.fsio import atomic_write

    return atomic_write(Path(path), encode(data if is_compact(data) else compact(data)))


def check_shape(packages: dict, where: str) -> str | None:
    """None when every entry is a compact row, else what is wrong (for CatalogError)."""
    for name, row in packages.items():
        if type(row) is not list or not 4 <= len(row) <= 5 or any(type(x) is not str for x in row):
            return (f"Spack package catalog{where} has the wrong shape: entry {name!r} is not a list of "
                    "4 or 5 strings (versions, variants, build systems, description[, incomplete])")
    return None


def decode_entry(row: list[str]) -> dict:
    """A compact row as the full form's entry (lists are tuples)."""
    entry: dict[str, Any] = {f: _split(row[i]) for i, f in enumerate(LIST_FIELDS)}
    entry["description"] = row[3]
    if len(row) > 4 and row[4]:
        entry["incomplete"] = list(_split(row[4]))
    return entry


def description_of(entry) -> str:
    """The description of a raw entry of either form."""
    if type(entry) is list:
        return entry[3]
    return str(entry.get("description", "") or "")
