"""One answer to "will it build from source, and will it finish?": validate, the create plan and `ami build`
agree, and an install that cannot finish at boot fails validation with the numbers and the fix."""

from __future__ import annotations

import json

import pytest

from pctl.cluster.plan import CreateOptions, dry_run, prepare
from pctl.spack.buildplan import assess
from pctl.template.validate import validate_file, validate_text

SMALL = """cluster: {name: small}
compute:
  head_node: c6i.xlarge
  queues: [{name: q, instance_types: [c6i.large]}]
software:
  spack_packages: [openmpi@4.1.6, gcc@13.4.0, samtools, lammps@20250910]
"""
BIG = """cluster: {name: big}
compute:
  head_node: c6i.2xlarge
  queues: [{name: q, instance_types: [c6i.large]}]
software:
  spack_packages: [gcc@13.4.0, openmpi@4.1.6, llvm@21.1.8, py-torch@2.9.1 +cuda, py-tensorflow@2.18.0, gromacs@2025.1,
                   lammps@20250910, wrf@4.5.2, mpich@4.2.3, hdf5@1.14.5 +mpi, cuda@13.0.2]
"""


def _write(tmp_path, name, text):
    p = tmp_path / f"{name}.yaml"
    p.write_text(text)
    return p


def test_validate_plan_and_ami_build_name_the_same_source_builds(tmp_path, catalog):
    p = _write(tmp_path, "small", SMALL)
    res = validate_file(p, catalog=catalog)
    warn = [d for d in res.warnings if d.code == "build-from-source"]
    assert len(warn) == 1
    plan = dry_run(CreateOptions(template=str(p)), catalog=catalog)["plan"]
    from_source = plan["software"]["from_source"]
    assert from_source
    for name in from_source:
        assert f"{name} (~" in warn[0].message
    ami = assess(res.template, catalog=catalog, purpose="ami")
    assert [p.name for p in ami.from_source] == from_source
    assert plan["software"]["estimate"]["summary"].split(":")[0] in warn[0].message


def test_the_issues_case_openmpi_and_gcc(tmp_path, real_catalog):
    """validate said nothing while the plan said '2 from source, 75 min'."""
    p = _write(tmp_path, "issue", SMALL.replace("openmpi@4.1.6, gcc@13.4.0, samtools, lammps@20250910",
                                                "openmpi@4.1.4, gcc@12.2.0"))
    res = validate_file(p, catalog=real_catalog)
    (w,) = [d for d in res.warnings if d.code == "build-from-source"]
    assert "2 packages will build from source" in w.message and "gcc (~1 h)" in w.message
    plan = dry_run(CreateOptions(template=str(p)), catalog=real_catalog)["plan"]
    assert sorted(plan["software"]["from_source"]) == ["gcc", "openmpi"]


def test_an_install_that_cannot_finish_at_boot_fails_with_numbers_and_the_fix(tmp_path, catalog):
    p = _write(tmp_path, "big", BIG)
    res = validate_file(p, p.name, catalog=catalog)
    err = [d for d in res.errors if d.code == "install-time"]
    assert len(err) == 1, [d.format() for d in res.diagnostics]
    msg = err[0].message
    assert "estimated at" in msg and " h " in msg and "bootstrap limit of 4 h" in msg
    assert "build from source" in msg
    assert "pctl ami build -t big.yaml" in err[0].hint and "software.install: ami" in err[0].hint
    from pctl.registry.templates import TemplateInvalid

    with pytest.raises(TemplateInvalid):
        prepare(CreateOptions(template=str(p)), catalog=catalog)  # create stops at the same place


def test_meant_for_an_ami_it_validates(tmp_path, catalog):
    for extra in ("  install: ami\n", None):
        text = BIG + extra if extra else BIG.replace("cluster: {name: big}", "cluster: {name: big, custom_ami: my-image}")
        p = _write(tmp_path, "meant", text)
        res = validate_file(p, catalog=catalog)
        assert res.ok, [d.format() for d in res.errors]
    p = _write(tmp_path, "big", BIG)
    assert validate_file(p, catalog=catalog, purpose="ami").ok  # what `pctl ami build` asks
    prepared = prepare(CreateOptions(template=str(p)), catalog=catalog, purpose="ami")
    assert prepared.verdict.purpose == "ami" and prepared.verdict.install_minutes > 240


def test_ami_build_stops_before_any_aws_call_when_the_builder_would_be_cut(tmp_path, catalog):
    from pctl.ami.builder import BuildOptions, start_build
    from pctl.errors import PctlError

    p = _write(tmp_path, "big", BIG)
    with pytest.raises(PctlError) as exc:
        start_build(BuildOptions(template=str(p), max_hours=2), catalog=catalog, aws=object())
    assert "the AMI builder stops after 2 h (--max-hours 2)" in exc.value.message
    assert "pass --max-hours " in exc.value.hint and exc.value.exit_code == 2


def test_install_ami_is_in_the_plan(tmp_path, catalog):
    p = _write(tmp_path, "meant", BIG + "  install: ami\n")
    plan = dry_run(CreateOptions(template=str(p)), catalog=catalog)["plan"]
    assert any("software.install: ami" in n and "stops if there is none" in n for n in plan["notes"])


def test_spec_syntax_errors_are_formatted_once(tmp_path):
    res = validate_text("cluster: {name: x}\ncompute:\n  head_node: t3.large\n  queues: [{name: q, instance_types: "
                        "[c6i.large]}]\nsoftware:\n  spack_packages: [bonnie++@2.00a]\n", "b.yaml", use_catalog=False)
    (e,) = res.errors
    assert e.message == "invalid Spack spec 'bonnie++@2.00a': variant name expected after '++' (at character 7)"
    assert "{spec" not in e.message and e.message.count("7") == 1


def test_install_field_in_the_schema():
    from pctl.template.model import json_schema

    sw = json_schema()["$defs"]["Software"]["properties"]["install"]
    assert "ami" in json.dumps(sw) and "boot" in json.dumps(sw)
