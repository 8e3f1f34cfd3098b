"""`pctl template upgrade`: earlier-format templates (the Go implementation's own library, 42 templates) come
out valid against the current format and Spack catalog, or the upgrade names exactly what needs a person."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pctl.adopt.renames import PACKAGE_RENAMES
from pctl.adopt.upgrade import larger_head_node, nearest_version, upgrade_file, upgrade_text
from pctl.registry.store import template_files
from pctl.template.validate import validate_text

LIBRARY = Path(__file__).resolve().parents[1] / "fixtures" / "legacy" / "scttfrdmn-pctl"
MINI = Path(__file__).resolve().parents[1] / "fixtures" / "spack" / "mini-catalog.json"

# what a person must decide in that library, exactly (everything else the rules do)
NEEDS_PERSON = {
    "seeds/library/rna-seq.yaml": ["not valid YAML"],
    "seeds/library/ml-inference.yaml": ["head node"],  # max_count is per instance type: 330 nodes at most
    "templates/library/astronomy.yaml": ["'ds9'", "'sextractor'", "'astrometry-net'"],
    "templates/library/big-data-spark.yaml": ["'avro-c'"],
    "templates/library/materials-science.yaml": ["'avogadro2'"],
    "templates/library/quantum-chemistry.yaml": ["'avogadro2'"],
    "templates/library/molecular-dynamics.yaml": ["'py-mdtraj'", "'py-pytraj'"],
    "templates/library/rendering.yaml": ["head node"],
    "templates/library/spot-compute.yaml": ["head node"],
}


@pytest.fixture(scope="module")
def upgraded(real_catalog):
    return {p.relative_to(LIBRARY).as_posix(): upgrade_file(p, catalog=real_catalog)
            for p in template_files(LIBRARY)}


def test_the_library_is_the_earlier_format(real_catalog):
    files = template_files(LIBRARY)
    assert len(files) == 42
    before = [validate_text(p.read_text(), str(p), catalog=real_catalog).ok for p in files]
    assert sum(before) == 4  # what the issue found: 4 of 42 validate unchanged


def test_every_template_validates_or_names_what_needs_a_person(upgraded):
    for name, r in upgraded.items():
        if name == "seeds/library/rna-seq.yaml":
            assert r.text is None and not r.valid
            continue
        assert r.valid, (name, r.errors)
    person = {name: r for name, r in upgraded.items() if r.needs_person}
    assert sorted(person) == sorted(NEEDS_PERSON)
    for name, wanted in NEEDS_PERSON.items():
        review = " | ".join(f.line() for f in person[name].findings if f.status == "review")
        for w in wanted:
            assert w in review, (name, review)


def test_a_syntax_error_is_named_with_its_line(upgraded):
    r = upgraded["seeds/library/rna-seq.yaml"]
    assert r.findings[0].path == "line 16, column 18" and "mapping values are not allowed" in r.findings[0].message


def test_capacity_type_and_allocation_strategy_with_comments_kept(upgraded):
    r = upgraded["templates/library/spot-compute.yaml"]
    assert "capacity_type" not in r.text
    assert "capacity: spot       # Use EC2 Spot instances" in r.text
    assert "allocation_strategy: lowest-price  # Choose cheapest available" in r.text
    assert "# Checkpoints for restart after interruption" in r.text  # comments anywhere survive
    res = validate_text(r.text, "spot.yaml", use_catalog=False)
    queues = {q.name: q for q in res.template.compute.queues}
    assert queues["spot-compute"].capacity == "spot" and queues["spot-compute"].allocation_strategy == "lowest-price"
    assert queues["spot-parallel"].allocation_strategy == "capacity-optimized"
    assert queues["ondemand-fallback"].capacity == "ondemand"
    assert res.template.compute.head_node == "t3.xlarge"


def test_versions_renames_and_variants(upgraded):
    def specs(name):
        return validate_text(upgraded[name].text, name, use_catalog=False).template.software.spack_packages

    spot = specs("templates/library/spot-compute.yaml")
    assert "python@3.10.16" in spot and "git@2.40.4" in spot and "parallel@20240822" in spot
    bench = specs("templates/library/benchmarking.yaml")
    assert "bonniepp@1.98" in bench and "linux-perf@6.6.41" in bench and "ior@3.3.0+hdf5" in bench
    chem = specs("seeds/library/computational-chemistry.yaml")
    assert "py-pymol@2.5.0" in chem
    assert "py-multiqc@1.23" in specs("seeds/library/metagenomics.yaml")
    cfd = specs("seeds/library/cfd-openfoam.yaml")
    assert "paraview@5.11.1+mpi+python" in cfd  # python3 -> python
    notes = {f.before for f in upgraded["templates/library/benchmarking.yaml"].findings if f.status == "note"}
    assert "mpiio" in notes


def test_upgrading_twice_changes_nothing(upgraded, real_catalog):
    for name, r in upgraded.items():
        if r.text is None:
            continue
        again = upgrade_text(r.text, name, catalog=real_catalog)
        assert again.text == r.text, name
        assert [f for f in again.findings if f.status != "review"] == [], name


def test_rename_table_targets_exist(real_catalog):
    for old, (new, variant, _why) in PACKAGE_RENAMES.items():
        assert not real_catalog.has(old), f"{old} exists in Spack: the rename is wrong"
        pkg = real_catalog.package(new)
        assert pkg is not None, new
        if variant:
            assert variant in pkg.variants, (new, variant)


def test_nearest_version_rules():
    assert nearest_version("3.10.8", ["3.11.1", "3.10.20", "3.10.16", "3.9.1"]) == ("3.10.16", "series")
    assert nearest_version("2.40.9", ["2.53.0", "2.40.4", "2.40.1"]) == ("2.40.4", "series")  # none above: below
    assert nearest_version("8.12.0", ["9.12.0", "8.37.0", "8.14.0"]) == ("8.14.0", "major")
    assert nearest_version("3.6.0", ["4.5.8", "4.0.1"]) == ("4.5.8", "newest")
    assert nearest_version("20230422", ["20240822", "20220522"]) == ("20240822", "newest")
    assert nearest_version("1.6", ["1.8.1", "1.8.0", "2.0"]) == ("1.8.0", "series")
    assert nearest_version("1.0", ["main", "develop"]) == (None, "none")


def test_head_node_raised_within_its_family():
    assert larger_head_node("t3.medium", 13.0) == "t3.xlarge"
    assert larger_head_node("c7g.large", 13.0) == "c7g.2xlarge"
    assert larger_head_node("x2iedn.xlarge", 13.0) == "m6i.xlarge"  # unknown memory: a general-purpose size


def test_with_the_projects_own_catalog():
    """Runs on a clone without ../shared: the project's small catalog."""
    from pctl.spack.catalog import Catalog

    catalog = Catalog.load(MINI)
    text = ("cluster: {name: lab}\ncompute:\n  head_node: c6i.xlarge\n  queues:\n"
            "    - {name: q, instance_types: [c6i.large], capacity_type: Spot, typo_field: 1}\n"
            "software:\n  spack_packages:\n    - samtools@1.22   # aligner\n    - python@3.10.8\n"
            "    - gromacs@2023.1+mpi\n    - notapackage@1.0\n")
    r = upgrade_text(text, "lab.yaml", catalog=catalog)
    assert r.valid, r.errors
    t = validate_text(r.text, "x.yaml", use_catalog=False).template
    assert t.compute.queues[0].capacity == "spot"
    assert t.software.spack_packages[:2] == ["samtools@1.23.1", "python@3.10.20"]
    assert t.software.spack_packages[2].startswith("gromacs@2026.1")
    assert "# aligner" in r.text
    review = [f for f in r.findings if f.status == "review"]
    assert {f.path for f in review} == {"software.spack_packages[3]", "compute.queues[0].typo_field"}
    assert r.text.startswith("# pctl template upgrade left these out")
    assert "notapackage@1.0" in r.text.splitlines()[1] or "notapackage@1.0" in r.text.splitlines()[2]


def test_a_parallelcluster_config_is_sent_to_import(catalog):
    r = upgrade_text("Region: us-east-1\nHeadNode: {InstanceType: t3.large}\nScheduling: {Scheduler: slurm}\n",
                     "pc.yaml", catalog=catalog)
    assert r.needs_person and "pctl template import" in r.findings[0].message


def test_cli_on_a_folder(pctl, tmp_path, catalog_path):
    src = tmp_path / "old"
    shutil.copytree(LIBRARY / "templates" / "examples", src)
    (src / "broken.yaml").write_text("cluster:\n  name: x\n   bad: indent\n")
    env = {"PCTL_SPACK_INDEX": str(catalog_path)}
    r = pctl("template", "upgrade", str(src), "-o", str(tmp_path / "new"), "--json", env=env)
    assert r.returncode == 1  # broken.yaml needs a person
    doc = json.loads(r.stdout)
    by = {Path(x["source"]).name: x for x in doc["results"]}
    assert by["broken.yaml"]["needs_person"] and by["broken.yaml"]["written"] is None
    assert not by["starter.yaml"]["needs_person"] and by["starter.yaml"]["valid"]
    assert (tmp_path / "new" / "starter.yaml").is_file()
    assert pctl("validate", str(tmp_path / "new" / "starter.yaml"), env=env).returncode == 0
    (src / "broken.yaml").unlink()
    before = (src / "minimal.yaml" if (src / "minimal.yaml").exists() else src / "minimal-usw2.yaml").read_text()
    r = pctl("template", "upgrade", str(src), "--in-place", env=env)
    assert r.returncode == 0, r.stderr
    assert "need a person" in r.stderr
    assert (src / "minimal-usw2.yaml").read_text() == before  # unchanged files are not rewritten
    assert "@3.10" in (src / "starter.yaml").read_text()


def test_cli_single_file_to_stdout(pctl, catalog_path):
    r = pctl("template", "upgrade", str(LIBRARY / "templates" / "examples" / "starter.yaml"),
             env={"PCTL_SPACK_INDEX": str(catalog_path)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("# From scttfrdmn/pctl")  # the template itself, header comment kept
    assert "~ software.spack_packages" in r.stderr


def test_validate_points_at_upgrade(pctl, catalog_path):
    r = pctl("validate", str(LIBRARY / "templates" / "library" / "spot-compute.yaml"),
             env={"PCTL_SPACK_INDEX": str(catalog_path)})
    assert r.returncode == 1
    assert "the earlier pctl format's capacity_type is capacity now" in r.stdout
    assert "pctl template upgrade" in r.stdout


def test_an_upgraded_library_can_be_published(pctl, tmp_path, catalog_path, real_catalog):
    """Before: `pctl registry index` on the earlier library writes nothing. After the upgrade (and the one
    file with a YAML error fixed or removed by a person), it indexes every template."""
    lib = tmp_path / "seeds"
    shutil.copytree(LIBRARY, lib)
    env = {"PCTL_SPACK_INDEX": str(catalog_path)}
    assert pctl("registry", "index", str(lib), env=env).returncode == 1
    assert not (lib / "index.json").exists()
    assert pctl("template", "upgrade", str(lib), "--in-place", env=env).returncode == 1  # a person is needed
    (lib / "seeds" / "library" / "rna-seq.yaml").unlink()  # the person's part: the file that does not parse
    r = pctl("registry", "index", str(lib), env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    index = json.loads((lib / "index.json").read_text())
    assert len(index["templates"]) == 41
