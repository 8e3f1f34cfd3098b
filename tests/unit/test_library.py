"""Every bundled template is valid, commented, and every spec is in the pinned Spack catalog."""

from __future__ import annotations

import pytest

from pctl import library
from pctl.template.validate import validate_file

NAMES = library.names()

REQUIRED = ["minimal", "starter", "bioinformatics", "bioinformatics/gatk-pipeline", "bioinformatics/rnaseq",
            "chemistry/gromacs", "chemistry/quantum-espresso", "ml/pytorch-gpu"]

TOPICS = {  # a use case from the foundation issue -> words that must appear in some template's metadata
    "single-cell": ["single-cell"], "metagenomics": ["metagenomics"], "structural biology": ["structural"],
    "llm": ["llm"], "inference": ["inference"], "computer vision": ["vision"], "nlp": ["nlp"],
    "reinforcement learning": ["reinforcement"], "lammps": ["lammps"], "molecular dynamics gpu": ["gpu", "molecular"],
    "quantum chemistry": ["quantum-chemistry", "quantum chemistry"], "materials": ["materials"], "cfd": ["cfd"],
    "wrf": ["wrf"], "geoscience": ["geoscience"], "geospatial": ["geospatial"], "hydrology": ["hydrology"],
    "astronomy": ["astronomy"], "hep": ["high-energy", "particle"], "fem": ["fem", "finite-element", "finite element"],
    "numerical simulation": ["numerical"], "finance": ["finance"], "data science": ["data-science", "data science"],
    "jupyter": ["jupyter"], "spark": ["spark"], "graph": ["graph"], "medical imaging": ["medical"],
    "rendering": ["rendering"], "spot": ["spot"], "ci": ["ci"], "benchmarking": ["benchmark"],
}


def test_library_size_and_required_names():
    assert len(NAMES) >= 36
    for name in REQUIRED:
        assert name in NAMES


def _meta_text(name):
    r = validate_file(library.path_of(name), name, use_catalog=False)
    m = r.template.metadata
    return " ".join([name, m.title or "", m.description or "", " ".join(m.tags)]).lower()


def test_library_covers_the_use_cases():
    texts = [_meta_text(n) for n in NAMES]
    missing = [topic for topic, words in TOPICS.items() if not any(any(w in t for w in words) for t in texts)]
    assert not missing, f"no library template covers: {missing}"


@pytest.mark.parametrize("name", NAMES)
def test_template_is_valid_and_commented(name):
    path = library.path_of(name)
    r = validate_file(path, f"library:{name}", use_catalog=False)
    assert r.ok, "\n".join(d.format() for d in r.errors)
    text = path.read_text()
    assert sum(1 for line in text.splitlines() if line.strip().startswith("#")) >= 5, "explain choices in comments"
    t = r.template
    assert t.metadata.title and t.metadata.description and t.metadata.tags


@pytest.mark.parametrize("name", NAMES)
def test_every_spec_is_in_the_real_catalog(name, real_catalog):
    r = validate_file(library.path_of(name), f"library:{name}", catalog=real_catalog)
    assert r.ok, "\n".join(d.format() for d in r.errors)
    assert r.catalog_release == "v2026.06.0"


def test_cluster_names_unique():
    names = {}
    for n in NAMES:
        t = validate_file(library.path_of(n), n, use_catalog=False).template
        assert t.cluster.name not in names, f"{n} and {names.get(t.cluster.name)} share a cluster name"
        names[t.cluster.name] = n
