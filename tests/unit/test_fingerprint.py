"""The software fingerprint: same software -> same value; anything that changes the image -> new value."""

from __future__ import annotations

from pctl.template.fingerprint import fingerprint
from pctl.template.model import Template

BASE = {
    "cluster": {"name": "a", "region": "us-east-1"},
    "compute": {"head_node": "t3.large", "queues": [{"name": "q", "instance_types": ["c6i.large"]}]},
    "software": {"spack_packages": ["samtools@1.21", "bwa +foo ~bar"]},
}


def fp(**changes):
    import copy

    doc = copy.deepcopy(BASE)
    for path, value in changes.items():
        cur = doc
        keys = path.split(".")
        for k in keys[:-1]:
            cur = cur.setdefault(k, {})
        cur[keys[-1]] = value
    return fingerprint(Template.model_validate(doc))


def test_stable_and_independent_of_non_software_fields():
    base = fp()
    assert len(base) == 64 and base == fp()
    assert fp(**{"cluster.name": "other"}) == base
    assert fp(**{"cluster.region": "eu-west-1"}) == base
    # another queue whose CPU runs the same target (Sapphire Rapids runs x86_64_v4 like Ice Lake)
    assert fp(**{"compute.queues": [{"name": "z", "instance_types": ["c7i.xlarge"], "max_count": 99}]}) == base
    assert fp(**{"software.spack_packages": ["bwa ~bar +foo", "samtools@1.21"]}) == base  # order, spacing


def test_changes_with_the_software_image():
    base = fp()
    assert fp(**{"software.spack_packages": ["samtools@1.19"]}) != base
    assert fp(**{"cluster.os": "rocky9"}) != base
    assert fp(**{"compute.head_node": "t4g.large", "compute.queues": [{"name": "q", "instance_types": ["c7g.large"]}]}) != base
    assert fp(**{"software.modules": "hierarchical"}) != base
    assert fp(**{"software.mirrors": ["https://cache.example.org/spack"]}) != base


def test_changes_with_the_cpu_target():
    """Issue 11: moving a queue from c6i (Ice Lake, x86_64_v4) to hpc6a (Zen 3, x86_64_v3) changes the
    software image (it is built for another target), and so does software.target."""
    base = fp()
    assert fp(**{"compute.queues": [{"name": "q", "instance_types": ["hpc6a.48xlarge"]}]}) != base
    assert fp(**{"compute.queues": [{"name": "q", "instance_types": ["c6i.large", "hpc6a.48xlarge"]}]}) == \
        fp(**{"compute.queues": [{"name": "q", "instance_types": ["hpc6a.48xlarge"]}]})
    assert fp(**{"software.target": "x86_64_v3"}) != base
    assert fp(**{"software.target": "x86_64_v4"}) == base  # the computed target, stated
