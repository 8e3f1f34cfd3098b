"""Layered software (issue 11, part 3): the AMI manifest in tags, and the decision of what is in the AMI
and what is installed at boot."""

from __future__ import annotations

import pytest

from pctl.errors import PctlError
from pctl.render.scripts import render_node_scripts
from pctl.software import layers, manifest
from pctl.template.model import Template

LAB = ["samtools@1.21", "bwa@0.7.18", "bcftools@1.21", "htslib@1.21", "fastqc", "picard", "py-numpy",
       "r@4.4", "openmpi@5", "bedtools2", "trimmomatic"]
PROJECT_EXTRA = ["gatk@4.6.0.0", "star@2.7.11b"]


def template(specs, *, head="c6i.xlarge", queues=(("c6i.8xlarge",),), os="alinux2023", modules="flat") -> Template:
    return Template.model_validate({
        "cluster": {"name": "p", "region": "us-east-1", "os": os},
        "compute": {"head_node": head, "queues": [{"name": f"q{i}", "instance_types": list(q)}
                                                  for i, q in enumerate(queues)]},
        "software": {"spack_packages": list(specs), "modules": modules}})


def ami_tags(specs, target="x86_64_v4", os="alinux2023", arch="x86_64", **extra) -> dict:
    tags = {"pctl:managed": "true", "pctl:fingerprint": "f" * 64, "pctl:name": "lab-2024", "pctl:os": os,
            "pctl:arch": arch, "pctl:modules": "flat", "pctl:build-id": "b-20260101-000000-abcd",
            "pctl:packages-digest": manifest.digest(specs), **manifest.manifest_tags(specs, target)}
    tags.update(extra)
    return tags


# ------------------------------------------------------------------------------ manifest

def test_manifest_round_trips_through_tags_within_ec2_limits():
    tags = ami_tags(LAB)
    assert all(len(v) <= 256 for v in tags.values()) and len(tags) < 50
    m = manifest.from_tags("ami-0123456789abcdef0", tags)
    assert m.readable and m.source == "tags" and m.target == "x86_64_v4"
    assert list(m.specs) == manifest.normalised_specs(LAB)


def test_a_long_package_list_goes_to_the_build_record():
    specs = [f"pkg{i:04d}@1.{i}" for i in range(400)]
    tags = ami_tags(specs)
    assert tags["pctl:specs-in"] == "s3" and not any(k.startswith("pctl:specs:") for k in tags)
    assert not manifest.from_tags("ami-1", tags).readable
    m = manifest.from_tags("ami-1", tags, record={"packages": specs})
    assert m.readable and m.source == "s3" and len(m.specs) == 400
    # a record that lost a package does not pass the digest
    bad = manifest.from_tags("ami-1", tags, record={"packages": specs[:-1]})
    assert not bad.readable and "digest" in bad.reason


@pytest.mark.parametrize("tags, reason", [
    ({}, "not built by 'pctl ami build'"),
    ({"parallelcluster:version": "3.16.1", "parallelcluster:os": "alinux2023"}, "ParallelCluster AMI not built"),
    ({"pctl:managed": "true", "pctl:fingerprint": "f" * 64}, "older pctl"),
])
def test_foreign_or_old_amis_are_unreadable_with_the_reason(tags, reason):
    m = manifest.from_tags("ami-1", tags)
    assert not m.readable and reason in m.reason


def test_fit_tags_drops_copied_tags_first():
    tags = {f"pctl:x{i}": "v" for i in range(40)}
    tags.update({f"parallelcluster:{n}_version": "1" for n in "abcdefghijklmn"})
    tags.update({"parallelcluster:version": "3.16.1", "parallelcluster:os": "alinux2023",
                 "parallelcluster:build_status": "available"})
    fitted = manifest.fit_tags(tags)
    assert len(fitted) == 50
    assert all(k in fitted for k in tags if k.startswith("pctl:"))
    assert {"parallelcluster:version", "parallelcluster:os", "parallelcluster:build_status"} <= set(fitted)


# ------------------------------------------------------------------------------ decision

def test_the_lab_walkthrough_installs_exactly_the_missing_packages():
    t = template(LAB[:8] + PROJECT_EXTRA)  # the project keeps 8 of the lab's packages, adds 2
    ami = manifest.from_tags("ami-0123456789abcdef0", ami_tags(LAB))
    plan = layers.decide(t, custom_ami="ami-0123456789abcdef0", ami=ami)
    assert plan.mode == "layer"
    assert plan.in_ami == LAB[:8] and plan.at_boot == PROJECT_EXTRA
    assert plan.summary().startswith("8 in the AMI, 2 installed at boot, about ")
    assert plan.estimate is not None and {p.name for p in plan.estimate.packages} == {"gatk", "star"}
    assert plan.build_target == "x86_64_v4" and plan.software_root == "/opt/pctl-layer"
    scripts = render_node_scripts(layers.layer_template(t, plan), layers.script_options(plan))
    yaml_text = scripts["spack.yaml"]
    assert '  - "gatk@4.6.0.0"' in yaml_text and '  - "star@2.7.11b"' in yaml_text
    assert "samtools" not in yaml_text
    assert 'install_tree: "/opt/pctl/software"' in yaml_text and 'root: "/opt/pctl-layer/software"' in yaml_text
    for role in ("head.sh", "compute.sh"):  # both module trees on MODULEPATH, the layer's first
        assert "/opt/pctl-layer/modules/Core" in scripts[role] and "/opt/pctl/modules/Core" in scripts[role]
    d = plan.to_dict()
    assert d["in_ami"] == LAB[:8] and d["at_boot"] == PROJECT_EXTRA and d["mode"] == "layer"


def test_versions_decide_what_is_in_the_ami():
    ami = manifest.from_tags("ami-1", ami_tags(["samtools@1.21", "bwa@0.7.18 +shared"]))
    plan = layers.decide(template(["samtools", "samtools@1.2:", "bwa", "samtools@1.22", "bwa ~shared"]),
                         custom_ami="ami-1", ami=ami)
    assert plan.in_ami == ["samtools", "samtools@1.2:", "bwa"]
    assert plan.at_boot == ["samtools@1.22", "bwa ~shared"]


def test_everything_in_the_ami_installs_nothing():
    plan = layers.decide(template(LAB[:3]), custom_ami="ami-1", ami=manifest.from_tags("ami-1", ami_tags(LAB)))
    assert plan.mode == "ami" and plan.at_boot == [] and plan.estimate is None
    assert plan.summary() == "3 in the AMI, nothing installed at boot"


@pytest.mark.parametrize("ami", [None, manifest.from_tags("ami-1", {})])
def test_an_unreadable_ami_installs_everything_at_boot_with_a_warning(ami):
    plan = layers.decide(template(PROJECT_EXTRA), custom_ami="ami-1", ami=ami)
    assert plan.mode == "boot" and plan.at_boot == PROJECT_EXTRA and plan.estimate is not None
    assert plan.warnings and "all 2 Spack packages of the template are installed at boot" in plan.warnings[0]
    assert plan.software_root == "/opt/pctl"


def test_a_dry_run_without_credentials_says_create_will_read_the_ami():
    ami = manifest.unreadable("ami-1", "the dry run could not read it (no credentials)", looked_up=False)
    plan = layers.decide(template(PROJECT_EXTRA), custom_ami="ami-1", ami=ami)
    assert plan.mode == "boot" and "create reads the AMI" in plan.warnings[0]


def test_an_ami_whose_target_a_queue_cannot_run_is_an_error():
    ami = manifest.from_tags("ami-1", ami_tags(LAB, target="x86_64_v4"))
    with pytest.raises(PctlError, match=r"hpc6a.48xlarge \(AMD Zen 3\) cannot run") as e:
        layers.decide(template(LAB, queues=(("hpc6a.48xlarge",),)), custom_ami="ami-1", ami=ami)
    assert "pctl ami build" in e.value.hint


def test_layers_are_built_for_the_amis_target():
    """An AMI for x86_64_v3 on a cluster that could run v4: the layer reuses the AMI's packages, so it
    is built for v3 too; the plan says why."""
    ami = manifest.from_tags("ami-1", ami_tags(LAB[:2], target="x86_64_v3"))
    plan = layers.decide(template(LAB[:2] + ["gatk"]), custom_ami="ami-1", ami=ami)
    assert plan.build_target == "x86_64_v3" and plan.target.target == "x86_64_v4"
    assert "the AMI's target" in plan.to_dict()["target_reason"]
    spack_yaml = render_node_scripts(layers.layer_template(template(["gatk"]), plan),
                                     layers.script_options(plan))["spack.yaml"]
    assert '"target=x86_64_v3"' in spack_yaml


@pytest.mark.parametrize("kw, message", [
    ({"os": "ubuntu2404"}, "is ubuntu2404, but the template's cluster.os is alinux2023"),
    ({"arch": "arm64", "target": "neoverse_v1"}, "is for arm64"),
])
def test_an_ami_for_another_os_or_architecture_is_an_error(kw, message):
    ami = manifest.from_tags("ami-1", ami_tags(LAB, **kw))
    with pytest.raises(PctlError, match=message):
        layers.decide(template(LAB), custom_ami="ami-1", ami=ami)


def test_no_ami_installs_everything_and_no_packages_installs_nothing():
    assert layers.decide(template(LAB)).mode == "boot"
    assert layers.decide(template([])).mode == "none"
    assert layers.decide(template([]), custom_ami="ami-1").mode == "ami"
