"""Registry pieces: config TOML round trips, source names and URL policy, search ranking, name resolution."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pctl import library
from pctl.errors import PctlError, TemplateNotFound, UsageError
from pctl.registry import store
from pctl.registry.config import SourceConfig, dumps, load_sources, save_sources, toml_string
from pctl.registry.fetch import UpdateError, parse_index, update
from pctl.registry.search import search
from pctl.registry.sources import check_name, check_url, classify, is_loopback
from pctl.registry.names import display_for_path, resolve

# ---------------------------------------------------------------- config file


@given(st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_toml_string_round_trips(s):
    assert tomllib.loads(f"k = {toml_string(s)}\n")["k"] == s


def test_dumps_round_trips_nested_data():
    data = {"a": 1, "b": "x\"y\\z\n", "c": [1, 2], "when": dt.datetime(2024, 1, 2, 3, 4, 5),
            "t": {"x": True, "deep": {"y": 1.5, "z": {"w": "q"}}, "arr": [{"n": 1}, {"n": 2}]},
            "weird key": {"ä b": "c"}}
    assert tomllib.loads(dumps(data)) == data


SPACK_CFG = """\
# my pctl settings
[spack]
spack_index = "~/catalogs/spack.json"   # keep this comment

[aws]
profile = "lab"
text = '''
[registry.sources.fake]
not a table: inside a string
'''
"""


def test_save_sources_keeps_other_tables_and_comments(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text(SPACK_CFG)
    a = SourceConfig("team", "https://git.example.invalid/org/t.git", "git", "v1")
    b = SourceConfig("web", 'https://x.invalid/a "quoted"\\path/index.json', "index")
    save_sources([a, b], cfg)
    text = cfg.read_text()
    assert text.startswith(SPACK_CFG.rstrip("\n"))  # byte-for-byte, comments included
    assert load_sources(cfg) == [a, b]
    data = tomllib.loads(text)
    assert data["spack"]["spack_index"] == "~/catalogs/spack.json" and "[registry.sources.fake]" in data["aws"]["text"]
    save_sources([b], cfg)
    assert load_sources(cfg) == [b] and cfg.read_text().startswith(SPACK_CFG.rstrip("\n"))
    save_sources([], cfg)
    assert cfg.read_text().rstrip("\n") == SPACK_CFG.rstrip("\n")


def test_save_sources_rewrites_when_registry_is_a_dotted_key(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('registry.other = 1\n[spack]\nspack_index = "x"\n')
    save_sources([SourceConfig("lab", "/srv/t", "dir")], cfg)
    data = tomllib.loads(cfg.read_text())
    assert data["spack"] == {"spack_index": "x"} and data["registry"]["other"] == 1
    assert data["registry"]["sources"]["lab"] == {"location": "/srv/t", "kind": "dir"}


def test_broken_config_is_a_clear_error(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text("[spack\n")
    with pytest.raises(PctlError, match="not valid TOML"):
        load_sources(cfg)
    cfg.write_text('[registry.sources.x]\nlocation = 3\n')
    with pytest.raises(PctlError, match="needs location"):
        load_sources(cfg)


def test_config_location_follows_pctl_home(_isolated_home, monkeypatch):
    from pctl.registry.paths import cache_root, config_path

    assert config_path() == _isolated_home / "config.toml"
    assert cache_root() == _isolated_home / "cache" / "registry"
    monkeypatch.delenv("PCTL_HOME")
    monkeypatch.setenv("XDG_CONFIG_HOME", "/cfg")
    monkeypatch.setenv("XDG_CACHE_HOME", "/cache")
    assert config_path() == Path("/cfg/pctl/config.toml") and cache_root() == Path("/cache/pctl/registry")
    from pctl.spack.catalog import config_path as spack_config_path

    assert spack_config_path() == config_path()  # one file for both


# ---------------------------------------------------------------- names and locations


@pytest.mark.parametrize("name", ["a", "team", "lab-2024", "a" * 31])
def test_good_source_names(name):
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "library", "Team", "1lab", "-x", "a_b", "a/b", "a" * 32, "é"])
def test_bad_source_names(name):
    with pytest.raises(UsageError):
        check_name(name)


def test_classify_locations(tmp_path):
    assert classify("https://t.example.invalid/x/index.json") == ("index", "https://t.example.invalid/x/index.json")
    assert classify("http://127.0.0.1:8000/index.json")[0] == "index"
    assert classify("http://localhost/index.json")[0] == "index"
    assert classify("https://github.example.invalid/org/t.git")[0] == "git"
    assert classify("https://github.example.invalid/org/t")[0] == "git"
    assert classify("git@github.example.invalid:org/t.git")[0] == "git"
    assert classify("ssh://git@h.invalid/org/t.git")[0] == "git"
    assert classify("file:///srv/t.git")[0] == "git"
    assert classify(str(tmp_path)) == ("dir", str(tmp_path.resolve()))
    bare = tmp_path / "b.git"
    (bare / "objects").mkdir(parents=True)
    (bare / "HEAD").write_text("ref: refs/heads/main\n")
    assert classify(str(bare)) == ("git", bare.resolve().as_uri())
    assert classify(str(tmp_path), "git") == ("git", tmp_path.resolve().as_uri())


@pytest.mark.parametrize("loc", ["http://templates.example.invalid/index.json", "http://10.0.0.1/index.json",
                                 "http://t.example.invalid/repo.git", "git://t.example.invalid/repo.git"])
def test_plain_http_refused_except_loopback(loc):
    with pytest.raises(PctlError, match="http|unencrypted"):
        classify(loc)


@pytest.mark.parametrize("loc", ["ext::sh -c id", "-uhttps://x", "ftp://x/y", "", "a\nb"])
def test_odd_locations_refused(loc, tmp_path):
    with pytest.raises(PctlError):
        classify(loc)


def test_loopback_detection():
    assert is_loopback("127.0.0.1") and is_loopback("127.5.5.5") and is_loopback("::1") and is_loopback("[::1]")
    assert is_loopback("localhost") and not is_loopback("10.0.0.1") and not is_loopback("example.invalid")
    check_url("https://a.invalid/x")
    with pytest.raises(PctlError):
        check_url("file:///etc/passwd")


# ---------------------------------------------------------------- index parsing


@pytest.mark.parametrize("item,text", [
    ({"name": "x", "path": "../x.yaml", "sha256": "0" * 64}, "may contain only"),
    ({"name": "x", "path": "/etc/x.yaml", "sha256": "0" * 64}, "relative path"),
    ({"name": "x", "path": "a/./x.yaml", "sha256": "0" * 64}, "may contain only"),
    ({"name": "x", "path": "x.txt", "sha256": "0" * 64}, ".yaml"),
    ({"name": "x", "path": "x.yaml", "sha256": "abc"}, "sha256"),
    ({"name": "x", "path": "x.yaml"}, "sha256"),
    ({"name": "../up", "path": "x.yaml", "sha256": "0" * 64}, "not a template name"),
    ("x.yaml", "not an object"),
])
def test_bad_index_entries(item, text):
    with pytest.raises(UpdateError, match=text.replace(".", r"\.")):
        parse_index(f'{{"templates": [{__import__("json").dumps(item)}]}}'.encode(), "https://i.invalid/index.json")


def test_index_duplicates_and_shape():
    ok = {"name": "a", "path": "a.yaml", "sha256": "A" * 64}
    assert parse_index(__import__("json").dumps({"templates": [ok]}).encode(), "u")[0]["sha256"] == "a" * 64
    with pytest.raises(UpdateError, match="listed twice"):
        parse_index(__import__("json").dumps({"templates": [ok, ok]}).encode(), "u")
    with pytest.raises(UpdateError, match="not a JSON index"):
        parse_index(b"<html>", "u")


# ---------------------------------------------------------------- ages


def test_ago():
    now = dt.datetime(2024, 5, 10, 12, 0, tzinfo=dt.timezone.utc)
    assert store.ago(now - dt.timedelta(seconds=5), now) == "just now"
    assert store.ago(now - dt.timedelta(minutes=1), now) == "1 minute ago"
    assert store.ago(now - dt.timedelta(hours=5), now) == "5 hours ago"
    assert store.ago(now - dt.timedelta(days=3, hours=2), now) == "3 days ago"


# ---------------------------------------------------------------- search over the library


def _names(hits):
    return [h.entry.qualified for h in hits]


def test_search_gatk_finds_the_genomics_templates():
    hits = _names(search(store.library_entries(), "gatk"))
    assert hits[:2] == ["bioinformatics", "bioinformatics/gatk-pipeline"] or set(hits[:2]) == {
        "bioinformatics", "bioinformatics/gatk-pipeline"}


def test_search_bioinformatics_as_in_the_walkthrough():
    hits = _names(search(store.library_entries(), "bioinformatics"))
    assert hits[0] == "bioinformatics"
    assert "bioinformatics/gatk-pipeline" in hits and "bioinformatics/rnaseq" in hits
    assert all(h.startswith("bioinformatics") for h in hits[:8])


def test_search_by_package_tag_and_words():
    entries = store.library_entries()
    assert "chemistry/gromacs" in _names(search(entries, "gromacs"))[:2]
    assert _names(search(entries, "chemistry"))[0].startswith("chemistry")
    assert search(entries, "zzzz-nothing") == []
    both = _names(search(entries, "molecular dynamics"))
    assert both and all(h in _names(search(entries, "molecular")) for h in both)
    gpu = search(entries, "", tags=("gpu",))
    assert gpu and all("gpu" in h.entry.tags for h in gpu)


def test_library_entries_are_cached(_isolated_home):
    store._LIB_MEMO = None
    first = store.library_entries()
    assert (_isolated_home / "cache" / "registry" / "library-entries.json").is_file()
    store._LIB_MEMO = None
    assert store.library_entries() == first
    assert {e.name for e in first} == set(library.names())
    gatk = next(e for e in first if e.name == "bioinformatics/gatk-pipeline")
    assert "gatk" in gatk.packages and gatk.title == "GATK germline variant pipeline"


# ---------------------------------------------------------------- -t NAME resolution with a cached source

TEMPLATE = "cluster: {name: x}\ncompute:\n  head_node: t3.large\n  queues: [{name: q, instance_types: [c6i.large]}]\n"


@pytest.fixture
def team(tmp_path):
    d = tmp_path / "team"
    for rel in ("chemistry/gromacs.yaml", "projects/alpha.yaml", "only-here.yaml", "starter.yaml"):
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_text(TEMPLATE)
    (d / "notes.yaml").write_text("just: notes\n")  # not a template
    (d / ".hidden").mkdir()
    (d / ".hidden" / "h.yaml").write_text(TEMPLATE)
    cfg = SourceConfig("team", str(d), "dir")
    save_sources([cfg])
    meta = update(cfg)
    assert meta["templates"] == 4
    return d


def test_resolution_order(team, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve("chemistry/gromacs").origin == "library"  # the library first
    r = resolve("team/chemistry/gromacs")
    assert (r.origin, r.source, r.name, r.display) == ("registry", "team", "team/chemistry/gromacs",
                                                       "registry:team/chemistry/gromacs")
    assert r.path.read_text() == TEMPLATE
    assert resolve("only-here").display == "registry:team/only-here"
    assert resolve("alpha").name == "team/projects/alpha"  # unique last part
    assert resolve("starter").origin == "library"
    assert resolve("library/starter").origin == "library" and resolve("library:starter").origin == "library"
    assert resolve("registry:team/only-here").origin == "registry"
    (tmp_path / "only-here.yaml").write_text(TEMPLATE)
    (tmp_path / "starter.yaml").write_text("")  # what `pctl registry get starter > starter.yaml` leaves on failure
    assert resolve("only-here").origin == "registry"  # a bare name is a name: a local file never shadows it
    assert resolve("starter").origin == "library"
    assert resolve("only-here.yaml").origin == "file" and resolve("./only-here.yaml").origin == "file"
    assert resolve("only-here", files=False).origin == "registry"
    with pytest.raises(TemplateNotFound, match="no such file") as ei:
        resolve("./starter")  # a path is never a name
    assert "pctl registry get starter -o ./starter" in ei.value.hint
    (tmp_path / "mine.yaml").write_text(TEMPLATE)  # no template has this name: NAME.yaml in this folder
    assert resolve("mine").origin == "file" and resolve("mine").path.name == "mine.yaml"
    (tmp_path / "starter.yaml").write_text("")  # ...but a file never shadows a library name
    assert resolve("starter").origin == "library"
    (tmp_path / "Clusterfile").write_text(TEMPLATE)  # no template has this name: the file of exactly this name
    assert resolve("Clusterfile").origin == "file"
    assert display_for_path(r.path) == "registry:team/chemistry/gromacs"
    assert display_for_path(library.path_of("starter")) == "library:starter"
    with pytest.raises(TemplateNotFound, match="neither"):
        resolve("notes")
    with pytest.raises(TemplateNotFound) as ei:
        resolve("team/projects/alpah")
    assert "team/projects/alpha" in ei.value.hint


def test_ambiguous_registry_names(team, tmp_path):
    other = tmp_path / "other"
    (other / "projects").mkdir(parents=True)
    (other / "projects" / "alpha.yaml").write_text(TEMPLATE)
    cfgs = load_sources() + [SourceConfig("other", str(other), "dir")]
    save_sources(cfgs)
    update(cfgs[-1])
    with pytest.raises(TemplateNotFound, match="ambiguous: team/projects/alpha, other/projects/alpha"):
        resolve("projects/alpha")
    with pytest.raises(TemplateNotFound, match="ambiguous"):
        resolve("alpha")
    assert resolve("other/projects/alpha").source == "other"


def test_not_downloaded_source_is_named_in_the_hint(tmp_path):
    save_sources([SourceConfig("later", str(tmp_path), "dir")])
    with pytest.raises(TemplateNotFound) as ei:
        resolve("later/x")
    assert "not downloaded yet: later" in ei.value.hint
    st_ = store.states()[1]
    assert not st_.cached and "not downloaded yet" in st_.age()


def test_stale_cache_of_a_relocated_source_is_ignored(team, tmp_path):
    save_sources([SourceConfig("team", str(tmp_path), "dir")])  # same name, other place: old cache not used
    with pytest.raises(TemplateNotFound):
        resolve("team/only-here")


def test_cache_age_is_reported(team, _isolated_home):
    import json

    meta_path = _isolated_home / "cache" / "registry" / "team" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["updated"] = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=3, hours=1)).isoformat()
    meta_path.write_text(json.dumps(meta))
    (st_,) = [s for s in store.states() if s.name == "team"]
    assert st_.age() == "cache updated 3 days ago" and len(st_.entries) == 4
    assert st_.to_dict()["age"] == "cache updated 3 days ago"
