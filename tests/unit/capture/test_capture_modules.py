"""Module-listing parser: project fixtures, real-world listings (when ../shared exists), traps."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from pctl.capture.parsers.modules import Module, parse_listing, split_full_name

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "capture" / "modules"
SHARED = ROOT.parent / "shared"
REALWORLD = SHARED / "data" / "realworld-modules"
SAMPLES = SHARED / "reference" / "onprem-sim" / "samples"


def _read(p: Path) -> str:
    return p.read_text(encoding="utf-8", errors="replace")


def _by_name(mods: list[Module]) -> dict[str, Module]:
    return {m.full_name: m for m in mods}


# --------------------------------------------------------------------------- project fixtures

FIXTURE_FILES = sorted(p for p in FIXTURES.glob("*") if not p.name.endswith(".expected.json"))


def test_fixtures_present():
    assert len(FIXTURE_FILES) >= 15


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.name)
def test_fixture(path: Path):
    exp = json.loads((path.parent / (path.name + ".expected.json")).read_text())
    res = parse_listing(_read(path))
    assert Counter(res.full_names()) == Counter(exp["modules"]), res.warnings
    if "format" in exp:
        assert res.format == exp["format"]
    mods = _by_name(res.modules)
    for key in ("default", "loaded", "hidden"):
        if key in exp:
            got = sorted(m.full_name for m in res.modules if getattr(m, key))
            assert got == sorted(exp[key]), key
    for name, markers in exp.get("markers", {}).items():
        for mk in markers:
            assert mk in mods[name].markers, (name, mods[name].markers)
    for name, parents in exp.get("parents", {}).items():
        assert mods[name].parents == parents, name
    for name, (n, v) in exp.get("split", {}).items():
        assert (mods[name].name, mods[name].version) == (n, v)
    if "sections" in exp:
        assert sorted(s.header for s in res.sections) == sorted(exp["sections"])
    for frag in exp.get("warnings_contain", []):
        assert any(frag in w for w in res.warnings), res.warnings


def test_explicit_format_argument_matches_auto():
    text = _read(FIXTURES / "lmod_terse.txt")
    auto = parse_listing(text)
    forced = parse_listing(text, fmt="lmod_terse")
    assert forced.format == "lmod_terse"
    assert forced.full_names() == auto.full_names()
    alias = parse_listing(text, fmt="terse")
    assert alias.format == "lmod_terse"


def test_unknown_format_argument_warns_and_autodetects():
    res = parse_listing(_read(FIXTURES / "lmod_avail_german.txt"), fmt="klingon")
    assert res.format == "lmod_avail"
    assert any("klingon" in w for w in res.warnings)


def test_json_format_forced_on_text_falls_back():
    res = parse_listing(_read(FIXTURES / "lmod_avail_german.txt"), fmt="spider-json")
    assert len(res.modules) == 4
    assert any("not valid JSON" in w for w in res.warnings)


# --------------------------------------------------------------------------- focused traps


@pytest.mark.parametrize(
    "full,name,version",
    [
        ("gcc/12.4.0", "gcc", "12.4.0"),
        ("fftw3/openmpi/gcc/64/3.3.8", "fftw3/openmpi/gcc/64", "3.3.8"),
        ("dot", "dot", None),
        ("genomics/bowtie", "genomics", "bowtie"),
        ("python/.3.9.16", "python", ".3.9.16"),
    ],
)
def test_split_full_name(full, name, version):
    assert split_full_name(full) == (name, version)


def test_legend_alias_example_is_not_a_module():
    text = "--- /p ---\n   a/1 (D)\n\n  Where:\n   Aliases:  Aliases exist: foo/1.2.3 (1.2) means that\n"
    assert parse_listing(text).full_names() == ["a/1"]


def test_single_space_columns():
    text = "---- /usr/share/Modules/modulefiles ----\ndot     modules null    use.own\n"
    assert parse_listing(text).full_names() == ["dot", "modules", "null", "use.own"]


def test_marker_separated_by_one_space():
    res = parse_listing("---- /usr/share/modulefiles ----\n   DefaultModules (L)    gct/6.2\n")
    m = _by_name(res.modules)
    assert m["DefaultModules"].loaded and m["DefaultModules"].markers == ["L"]
    assert m["gct/6.2"].markers == []


def test_alias_marker_is_not_default():
    res = parse_listing("---- /apps ----\n   Java/11.0.2     (11)\n   Java/17 (D)\n")
    m = _by_name(res.modules)
    assert not m["Java/11.0.2"].default and m["Java/11.0.2"].markers == ["11"]
    assert m["Java/17"].default


def test_glued_default_and_literal_default_version():
    res = parse_listing("---- /opt/mf ----\nant/1.10.8(default)  autotools/default\n")
    m = _by_name(res.modules)
    assert m["ant/1.10.8"].default
    assert not m["autotools/default"].default
    assert m["autotools/default"].version == "default"


def test_same_name_in_two_paths_kept_with_own_default():
    text = (
        "---- /a ----\n   gcc/9.2.0    gcc/10.2.0 (D)\n\n"
        "---- /b ----\n   gcc/9.2.0 (D)\n"
    )
    res = parse_listing(text)
    assert Counter(res.full_names()) == Counter(["gcc/9.2.0", "gcc/9.2.0", "gcc/10.2.0"])
    per = {(m.section, m.full_name): m.default for m in res.modules}
    assert per[("/a", "gcc/9.2.0")] is False
    assert per[("/b", "gcc/9.2.0")] is True


def test_repeated_section_is_merged_with_warning():
    block = "---- /p ----\na/1  b/2\n"
    res = parse_listing(block + ":...skipping...\n" + block + "c/3\n")
    assert sorted(res.full_names()) == ["a/1", "b/2", "c/3"]
    assert any("printed 2 times" in w for w in res.warnings)


def test_trailing_spaces_and_no_final_newline():
    res = parse_listing("---- /p ----\na/1      b/2(default)      ")
    assert res.full_names() == ["a/1", "b/2"]


def test_crlf_and_tabs():
    res = parse_listing("---- /p ----\r\n   a/1\t(D)\tb/2\r\n")
    assert res.full_names() == ["a/1", "b/2"]
    assert _by_name(res.modules)["a/1"].default


def test_hidden_marker_H():
    res = parse_listing("---- /p ----\n   secret/1.0 (H)   .x/2\n")
    assert all(m.hidden for m in res.modules)


def test_footer_without_legend_stops_parsing():
    text = "---- /p ----\n   a/1    b/2\n\nUse \"module spider\" to find all possible modules.\nany of the \"keys\".\n"
    assert parse_listing(text).full_names() == ["a/1", "b/2"]


def test_unindented_footer_in_lmod_section():
    text = "---- /p ----\n   a/1    b/2\nSome site message here\n"
    assert parse_listing(text).full_names() == ["a/1", "b/2"]


def test_terse_name_only_lines_are_not_modules():
    res = parse_listing("/p:\nR/\nR/4.3.1\nlmod\n")
    assert res.full_names() == ["R/4.3.1", "lmod"]


def test_spider_truncated_list_warns():
    res = parse_listing("  esmf: esmf/8.4.2, esmf/8.5.0, ...\n")
    assert res.full_names() == ["esmf/8.4.2", "esmf/8.5.0"]
    assert any("esmf" in w for w in res.warnings)


def test_spider_description_line_is_not_a_continuation():
    text = "  cuda: cuda/11.8.0, cuda/12.1.1\n    NVIDIA CUDA toolkit\n  gcc: gcc/12\n"
    assert parse_listing(text).full_names() == ["cuda/11.8.0", "cuda/12.1.1", "gcc/12"]


def test_empty_and_none_inputs():
    for t in ("", "   \n\n", None, b""):
        res = parse_listing(t)
        assert res.modules == []


def test_bytes_input_with_bad_utf8():
    res = parse_listing(b"---- /p ----\n   caf\xe9/1.0   gcc/12\n")
    assert "gcc/12" in res.full_names()


def test_to_dict_is_json_serialisable():
    res = parse_listing(_read(FIXTURES / "spider.json"))
    json.dumps(res.to_dict())
    assert res.names()[0]
    assert res.defaults()


# --------------------------------------------------------------------------- real-world data

REAL_FILES = sorted(
    p for p in REALWORLD.glob("*.txt") if (p.parent / (p.name + ".expected.json")).exists()
) if REALWORLD.is_dir() else []


@pytest.mark.skipif(not REAL_FILES, reason="../shared/data/realworld-modules not available")
@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
def test_realworld_listing(path: Path):
    exp = json.loads((path.parent / (path.name + ".expected.json")).read_text())
    expected = exp.get("modules")
    if expected is None:  # spider overview: versions shown per name
        expected = [v for s in exp["spider"] for v in s["versions_shown"]]
    res = parse_listing(_read(path))
    got = Counter(res.full_names())
    want = Counter(expected)
    assert got == want, {"missing": list((want - got).elements())[:20], "extra": list((got - want).elements())[:20]}
    # per-section entries and markers, where the expected file lists them
    for sec in exp.get("sections", []):
        want_sec = Counter((e["name"], tuple(sorted(e.get("markers") or []))) for e in sec["entries"])
        got_sec = Counter((m.full_name, tuple(sorted(m.markers))) for m in res.modules if m.section == sec["header"])
        assert got_sec == want_sec, sec["header"]


@pytest.mark.skipif(not REAL_FILES, reason="../shared/data/realworld-modules not available")
def test_realworld_formats_detected():
    fmts = {p.name: parse_listing(_read(p)).format for p in REAL_FILES}
    for name, fmt in fmts.items():
        prefix = name.split("-")[0] + "-" + name.split("-")[1]
        expected = {
            "lmod-avail": "lmod_avail",
            "tcl-avail": "tcl_avail",
            "lmod-terse": "lmod_terse",
            "lmod-spider": "lmod_spider",
        }[prefix]
        assert fmt == expected, name


SAMPLE_SPIDER_JSON = SAMPLES / "spider-json.json"


@pytest.mark.skipif(not SAMPLE_SPIDER_JSON.exists(), reason="onprem-sim samples not available")
def test_sample_spider_json_hierarchy():
    res = parse_listing(_read(SAMPLE_SPIDER_JSON))
    assert res.format == "lmod_spider_json"
    m = {(x.full_name, x.section): x for x in res.modules}
    gro = [x for x in res.modules if x.full_name == "gromacs/2023.1"][0]
    assert gro.parents == [["gcc/11.3.0", "openmpi/4.1.4"]]
    assert [x for x in res.modules if x.full_name == "python/.3.9.16"][0].hidden
    assert sum(1 for x in res.modules if x.full_name == "lammps/20230802") == 2
    assert m  # sections filled
    assert all(x.section for x in res.modules)


@pytest.mark.skipif(not (SAMPLES / "spider-jsonSoftwarePage.json").exists(), reason="onprem-sim samples not available")
def test_sample_software_page_defaults():
    res = parse_listing(_read(SAMPLES / "spider-jsonSoftwarePage.json"))
    defaults = {m.full_name for m in res.modules if m.default}
    assert {"gcc/11.3.0", "java/11.0.19", "python/3.11.4", "cuda/12.1.1"} <= defaults
    assert "gcc/12.2.0" not in defaults


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="onprem-sim samples not available")
@pytest.mark.parametrize(
    "name,fmt,count",
    [
        ("module_avail.txt", "lmod_avail", 15),
        ("module_t_avail.txt", "lmod_terse", 15),
        ("module_show_hidden_t_avail.txt", "lmod_terse", 16),
        ("module_spider.txt", "lmod_spider", 24),
        ("module_t_spider.txt", "lmod_spider_terse", 24),
        ("module_avail_after_load_gcc_openmpi.txt", "lmod_avail", 21),
        ("module_spider_gromacs.txt", "lmod_spider", 2),
        ("module_spider_gromacs_2023_1.txt", "lmod_spider", 1),
        ("module_t_default_avail_and_overview.txt", "lmod_terse", 11),
        ("module_version.txt", "unknown", 0),
        ("module_help.txt", "unknown", 0),
    ],
)
def test_onprem_samples(name, fmt, count):
    res = parse_listing(_read(SAMPLES / name))
    assert res.format == fmt
    assert len(res.modules) == count


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="onprem-sim samples not available")
def test_onprem_after_load_marks_loaded():
    res = parse_listing(_read(SAMPLES / "module_avail_after_load_gcc_openmpi.txt"))
    loaded = sorted(m.full_name for m in res.modules if m.loaded)
    assert loaded == ["gcc/11.3.0", "openmpi/4.1.4"]
    assert [m.full_name for m in res.modules if m.section and "MPI/gcc" in m.section] == [
        "fftw/3.3.10",
        "gromacs/2023.1",
        "lammps/20230802",
    ]


def test_alias_arrow_keeps_alias_drops_target():
    res = parse_listing("---- /p ----\n   mod/alias -> mod/1.0    other/2\n")
    assert res.full_names() == ["mod/alias", "other/2"]
    assert "@" in res.modules[0].markers


def test_legend_items_without_header_are_not_modules():
    res = parse_listing("---- /p ----\n   a/1 (D)\n\n   D:  Default Module\n   L:  Module is loaded\n")
    assert res.full_names() == ["a/1"]


def test_spider_detail_with_hierarchical_name():
    text = (
        "-------------------------------\n"
        "  fftw3/openmpi/gcc/64: fftw3/openmpi/gcc/64/3.3.8\n"
        "-------------------------------\n"
        '    You will need to load all module(s) on any one of the lines below before the "fftw3/openmpi/gcc/64/3.3.8" module is available to load.\n'
        "\n"
        "      gcc/9.2.0  openmpi/gcc/64/4.0.2\n"
        "\n"
    )
    res = parse_listing(text)
    assert res.full_names() == ["fftw3/openmpi/gcc/64/3.3.8"]
    assert res.modules[0].parents == [["gcc/9.2.0", "openmpi/gcc/64/4.0.2"]]
    assert res.modules[0].name == "fftw3/openmpi/gcc/64"


def test_huge_repeated_listing_is_fast():
    import time

    block = "---- /p ----\n" + "\n".join(f"pkg{i}/1.{i}  pkg{i}/2.{i}" for i in range(3000)) + "\n"
    t = time.perf_counter()
    res = parse_listing(block * 3)
    assert len(res.modules) == 6000
    assert time.perf_counter() - t < 10
