"""The catalog shipped with pctl: the pinned spack-packages release in pctl's compact format."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from pctl.spack import PINNED_PACKAGES_RELEASE
from pctl.spack.catalog import Catalog, CatalogError, check_spec, find_catalog
from pctl.spack.compact import FORMAT, bundled_path, compact, encode
from pctl.spack.spec import parse_spec

SHARED_FULL = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "spack-packages.json"


@pytest.fixture(scope="module")
def shipped():
    return Catalog.load(bundled_path())


def test_shipped_catalog_names_its_release(shipped):
    raw = json.loads(gzip.decompress(bundled_path().read_bytes()))
    assert raw["format"] == FORMAT and raw["release"] == PINNED_PACKAGES_RELEASE and len(raw["commit"]) == 40
    assert shipped.release == PINNED_PACKAGES_RELEASE and len(shipped) == 8917
    assert bundled_path().stat().st_size < 1_000_000, "the shipped catalog stays compact"


def test_shipped_catalog_checks_what_a_newcomer_types(shipped):
    def problems(text):
        return check_spec(shipped, parse_spec(text))

    assert problems("samtools@1.21") == [] and problems("bwa") == [] and problems("gatk@4.5.0.0") == []
    typo, = problems("samtols@1.21")
    assert typo.kind == "unknown-package" and typo.hint == "did you mean 'samtools'?"
    ver, = problems("gatk@99")
    assert ver.kind == "unknown-version" and "available:" in ver.message
    var, = problems("gromacs@2024 +cudaa")
    assert var.kind == "unknown-variant" and "'cuda'" in var.message
    # names spack-packages keeps in _-prefixed directories are under their real names
    assert shipped.has("3dtk") and not any(n.startswith("-") for n in shipped.names())
    # lists known to be incomplete in the index are kept incomplete
    assert "variants" in shipped.package("lammps").incomplete


@pytest.mark.skipif(not SHARED_FULL.is_file(), reason="../shared/data/spack-packages.json is not available")
def test_shipped_catalog_is_exactly_the_shared_release():
    """Regenerating from ../shared gives the same bytes (scripts/update-catalog), and every package reads back
    identical to the full form."""
    data = json.loads(SHARED_FULL.read_bytes())
    assert encode(compact(data)) == bundled_path().read_bytes(), "run scripts/update-catalog"
    full, small = Catalog.load(SHARED_FULL), Catalog.load(bundled_path())
    assert full.names() == small.names()
    for name in full.names():
        assert full.package(name) == small.package(name), name


def test_compact_roundtrip_and_plain_json(tmp_path):
    data = {"release": "v1", "commit": "c", "packages": {
        "-3dtk": {"versions": ["trunk", "1.2"], "variants": ["cuda"], "build_systems": ["CMakePackage"],
                  "description": "3D toolkit"},
        "zlib": {"versions": ["1.3.1"], "variants": [], "build_systems": [], "description": "",
                 "incomplete": ["variants"]}}}
    plain = tmp_path / "c.json"
    plain.write_text(json.dumps(compact(data)))  # compact, not gzipped
    gz = tmp_path / "c.json.gz"
    gz.write_bytes(encode(compact(data)))
    for p in (plain, gz):
        cat = Catalog.load(p)
        assert cat.release == "v1" and cat.names() == ["3dtk", "zlib"]
        assert cat.package("3dtk").versions == ("trunk", "1.2") and cat.package("3dtk").variants == ("cuda",)
        assert cat.package("zlib").incomplete == frozenset({"variants"}) and cat.package("zlib").variants == ()
        assert [p.name for p in cat.search("toolkit")] == ["3dtk"]
    with pytest.raises(ValueError, match="comma"):
        compact({"packages": {"x": {"versions": ["1,2"]}}})


def test_broken_compact_files_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": FORMAT, "packages": {"x": ["1.0"]}}))
    with pytest.raises(CatalogError, match="entry 'x' is not a list of 4 or 5 strings"):
        Catalog.load(bad)
    trunc = tmp_path / "trunc.json.gz"
    trunc.write_bytes(bundled_path().read_bytes()[:5000])
    with pytest.raises(CatalogError, match="cannot read"):
        Catalog.load(trunc)


def test_overrides_still_win(tmp_path, monkeypatch):
    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps({"release": "v2099.01.0", "packages": {"foo": {"versions": ["1"]}}}))
    monkeypatch.setenv("PCTL_SPACK_INDEX", str(mine))
    cat = find_catalog()
    assert cat.origin == "PCTL_SPACK_INDEX" and cat.release == "v2099.01.0"
    monkeypatch.delenv("PCTL_SPACK_INDEX")
    assert find_catalog().origin == "bundled"
