"""CPU targets (issue 11, part 2): the table of instance families, the most capable target every
instance type runs, template overrides and their errors, the plan's reason."""

from __future__ import annotations

import pytest

from pctl.cluster.plan import CreateOptions, dry_run
from pctl.template import targets
from pctl.template.model import Template
from pctl.template.validate import validate_text as validate


def tpl(head, *queues, target=None, specs=("gromacs@2024 +mpi",)) -> dict:
    doc = {"cluster": {"name": "t", "region": "us-east-1"},
           "compute": {"head_node": head, "queues": [{"name": f"q{i}", "instance_types": list(q)}
                                                     for i, q in enumerate(queues)]},
           "software": {"spack_packages": list(specs)}}
    if target:
        doc["software"]["target"] = target
    return doc


@pytest.mark.parametrize("head, queues, expected", [
    ("c6i.xlarge", [["c6i.8xlarge"], ["hpc6a.48xlarge"]], "x86_64_v3"),
    ("c6i.xlarge", [["c6i.8xlarge"], ["c7i.8xlarge"]], "x86_64_v4"),
    ("c6g.large", [["c6g.4xlarge"], ["c7g.4xlarge"]], "neoverse_n1"),
    ("c7g.large", [["hpc7g.16xlarge"], ["m7g.4xlarge"]], "neoverse_v1"),
    ("c8g.large", [["m8g.4xlarge"]], "neoverse_v2"),
    ("c7a.large", [["hpc7a.96xlarge"], ["m7a.2xlarge"]], "x86_64_v4"),   # Zen 4: AVX-512
    ("c6a.large", [["hpc6a.48xlarge"]], "x86_64_v3"),                      # Zen 3: no AVX-512
    ("c5a.large", [["c6i.xlarge"]], "x86_64_v3"),                          # Zen 2
    ("t3.large", [["p4d.24xlarge"], ["trn1.32xlarge"]], "x86_64_v4"),
    ("c6i.xlarge", [["g5.12xlarge"], ["g6.12xlarge"], ["inf2.xlarge"]], "x86_64_v3"),
    ("c7i.xlarge", [["p5.48xlarge"]], "x86_64_v3"),                        # p5 hosts: AMD Zen 3
    ("t2.large", [["c6i.xlarge"]], "x86_64_v3"),                           # Haswell
])
def test_the_most_capable_target_every_instance_type_runs(head, queues, expected):
    t = Template.model_validate(tpl(head, *queues))
    choice = targets.template_target(t)
    assert choice.target == expected, choice.reason
    for it in targets.cluster_instance_types(t):
        assert targets.runs_on(expected, targets.cpu_of(it)), it


def test_current_families_are_known():
    for fam in ("c7a", "c7i", "c7i-flex", "c8g", "m7g", "hpc7g", "hpc7a", "hpc6a", "hpc6id", "g5", "g6", "g6e",
                "p4d", "p5", "p5en", "trn1", "trn2", "inf2", "c6in", "r7iz", "x2iedn", "m8g", "c8a", "u7i"):
        assert targets.cpu_of(f"{fam}.xlarge") is not None, fam
    assert targets.cpu_of("zz9.large") is None


def test_the_dag_is_consistent():
    for name, parents in targets.MICROARCHITECTURES.items():
        assert all(p in targets.MICROARCHITECTURES for p in parents)
        assert name not in targets.ancestors(name)
    assert targets.runs_on("x86_64_v3", "zen3") and not targets.runs_on("x86_64_v4", "zen3")
    assert targets.runs_on("x86_64_v4", "zen4") and targets.runs_on("x86_64_v4", "icelake")
    assert targets.runs_on("icelake", "sapphirerapids") and not targets.runs_on("sapphirerapids", "icelake")
    assert targets.runs_on("neoverse_n1", "neoverse_v2") and not targets.runs_on("neoverse_v1", "neoverse_n1")
    assert not targets.runs_on("x86_64_v3", "neoverse_v1")
    for fam, cpu in targets.FAMILY_CPU.items():
        assert cpu in targets.MICROARCHITECTURES, fam


def test_the_reason_names_the_cpu_that_limits():
    choice = targets.choose(["c6i.xlarge", "hpc6a.48xlarge"], "x86_64")
    assert "hpc6a.48xlarge cannot run x86_64_v4" in choice.reason and "Zen 3" in choice.reason
    assert choice.limited_by == ("hpc6a.48xlarge",)


def test_an_override_every_type_runs_is_used():
    t = Template.model_validate(tpl("c7a.large", ["hpc7a.96xlarge"], target="zen4"))
    choice = targets.template_target(t)
    assert (choice.target, choice.source) == ("zen4", "template")


@pytest.mark.parametrize("doc, message", [
    (tpl("c6i.xlarge", ["c6i.8xlarge"], ["hpc6a.48xlarge"], target="x86_64_v4"),
     "hpc6a.48xlarge (AMD Zen 3) cannot run code built for x86_64_v4; the most capable target every instance type "
     "runs is x86_64_v3"),
    (tpl("c6g.large", ["c7g.xlarge"], target="neoverse_v1"), "c6g.large (Graviton2 (Neoverse N1)) cannot run"),
    (tpl("c6i.xlarge", ["c6i.8xlarge"], target="neoverse_v1"), "target neoverse_v1 is for arm64"),
])
def test_an_override_some_queue_cannot_run_is_an_error(doc, message):
    import json

    yaml_text = json.dumps(doc)  # JSON is YAML
    result = validate(yaml_text, source="t.yaml", use_catalog=False)
    assert not result.ok
    errs = [d for d in result.errors if d.code == "target"]
    assert errs and message in errs[0].message, [d.message for d in result.errors]
    assert errs[0].path == ("software", "target")


def test_unknown_target_names_and_unknown_cpus():
    import json

    r = validate(json.dumps(tpl("c6i.xlarge", ["c6i.8xlarge"], target="skylake_avx"), ), source="t.yaml",
                 use_catalog=False)
    assert not r.ok and "did you mean 'skylake_avx512'" in r.errors[0].message
    r = validate(json.dumps(tpl("c6i.xlarge", ["zz9.8xlarge"])), source="t.yaml", use_catalog=False)
    assert r.ok and any(w.code == "target" and "zz9.8xlarge" in w.message for w in r.warnings)


def test_the_plan_shows_the_target_and_why(tmp_path):
    import json

    p = tmp_path / "t.yaml"
    p.write_text(json.dumps(tpl("c6i.xlarge", ["c6i.8xlarge"], ["hpc6a.48xlarge"])))
    plan = dry_run(CreateOptions(template=str(p)), use_catalog=False)
    sw = plan["plan"]["software"]
    assert sw["target"] == "x86_64_v3" and "hpc6a.48xlarge cannot run x86_64_v4" in sw["target_reason"]
    assert '"target=x86_64_v3"' in plan["scripts"]["spack.yaml"]
