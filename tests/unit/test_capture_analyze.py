"""capture analyze: module names -> Spack specs, partitions -> queues, users, storage, the whole template."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from pctl.capture import analyze as an
from pctl.capture import instances
from pctl.capture.mapping import (
    choose_version,
    classify,
    map_module,
    name_candidates,
    normalise_name,
    normalise_version,
    split_module,
    suggest,
)
from pctl.spack.catalog import Catalog
from pctl.template.validate import validate_text

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "fixtures" / "onprem" / "sample-capture.yaml"


def _pkg(versions, variants=()):
    return {"versions": list(versions), "variants": list(variants), "build_systems": [], "description": ""}


# a small catalog of its own, so these tests do not depend on the real one
CAT = Catalog.from_dict({"release": "v2026.06.0", "packages": {
    "gcc": _pkg(["14.2.0", "13.3.0", "12.2.0", "11.3.0"]),
    "openmpi": _pkg(["5.0.6", "4.1.6", "4.1.5", "4.1.4"], ["cuda"]),
    "intel-oneapi-mpi": _pkg(["2021.14.0", "2021.10.0"]),
    "intel-oneapi-mkl": _pkg(["2025.0.1", "2024.2.0"]),
    "intel-oneapi-compilers": {**_pkg(["2025.0.4"]), "incomplete": ["versions"]},
    "fftw": _pkg(["3.3.10", "3.3.9", "3.3.8", "2.1.5"], ["mpi", "openmp"]),
    "gromacs": _pkg(["2024.4", "2024", "2023.5", "2023.1"], ["mpi", "cuda"]),
    "lammps": {**_pkg(["20240829.1", "20230802.4"], ["mpi"]), "incomplete": ["variants"]},
    "hdf5": _pkg(["1.14.5", "1.14.0", "1.8.21"], ["mpi"]),
    "python": _pkg(["3.13.1", "3.11.11", "3.11.9", "3.10.16"]),
    "openjdk": _pkg(["21.0.3_9", "17.0.11_9", "11.0.23_9", "11.0.20.1_1"]),
    "r": _pkg(["4.4.1", "4.3.1"]),
    "blast-plus": _pkg(["2.16.0", "2.14.1"]),
    "py-tensorflow": _pkg(["2.17.0", "2.16.1"], ["cuda", "mpi"]),
    "py-torch": _pkg(["2.5.1", "2.3.1"], ["cuda"]),
    "py-numpy": _pkg(["2.1.3", "1.26.4"]),
    "netcdf-c": _pkg(["4.9.2", "4.8.1"], ["mpi"]),
    "netcdf-fortran": _pkg(["4.6.1"]),
    "cuda": _pkg(["12.6.2", "12.1.1", "11.8.0"]),
    "bowtie2": _pkg(["2.5.4", "2.4.5"]),
    "samtools": _pkg(["1.21", "1.17"]),
    "bwa": _pkg(["0.7.18", "0.7.17"]),
    "cmake": _pkg(["3.30.5", "3.26.6", "3.26.3"]),
    "matlab": _pkg(["R2019b"]),
    "miniconda3": _pkg(["24.7.1"]),
}})


def mod(full, **kw):
    name, _, ver = full.rpartition("/")
    if not name:
        name, ver = full, None
    d = {"name": name, "version": ver, "full_name": full, "default": False, "hidden": False, "mpath": "/m/Core"}
    d.update(kw)
    return d


# ----------------------------------------------------------------------------------------------- names

@pytest.mark.parametrize("base, quals, first, flavour", [
    ("fftw3", [], "fftw", set()),
    ("python3", [], "python", set()),
    ("R", [], "r", set()),
    ("OpenMPI", [], "openmpi", set()),
    ("netcdf-fortran", [], "netcdf-fortran", set()),
    ("gromacs-mpi", [], "gromacs", {"mpi"}),
    ("lammps_cuda", [], "lammps", {"cuda"}),
    ("fftw-serial", [], "fftw", {"serial"}),
    ("intel-mpi", [], "intel-oneapi-mpi", set()),
    ("hdf5_18", [], "hdf5", set()),
    ("netcdf_fortran_mpi", [], "netcdf-fortran", {"mpi"}),
    ("fftw3", ["openmpi", "gcc", "64"], "fftw", {"openmpi", "gcc", "64"}),
    ("Bowtie2", [], "bowtie2", set()),
    ("blast+", [], "blast-plus", set()),
])
def test_name_normalisation(base, quals, first, flavour):
    cands, flavours = name_candidates(base, quals)
    assert normalise_name(base, quals) == first
    assert first in cands
    assert flavour <= flavours


def test_hdf5_version_suffix_in_name_maps_to_hdf5():
    cands, _ = name_candidates("hdf5_18")
    assert "hdf5" in cands


@pytest.mark.parametrize("module, spec", [
    ("blast/2.16.0", "blast-plus@2.16.0"),
    ("ncbi-blast+/2.14.1", "blast-plus@2.14.1"),
    ("impi/2021.10.0", "intel-oneapi-mpi@2021.10.0"),
    ("intel-mpi/2021.14.0", "intel-oneapi-mpi@2021.14.0"),
    ("mkl/2024.2.0", "intel-oneapi-mkl@2024.2.0"),
    ("R/4.3.1", "r@4.3.1"),
    ("bowtie2/2.5.4", "bowtie2@2.5.4"),
    ("python3/3.11.9", "python@3.11.9"),
    ("tensorflow/2.16.1", "py-tensorflow@2.16.1"),
    ("pytorch/2.3.1", "py-torch@2.3.1"),
    ("netcdf/4.9.2", "netcdf-c@4.9.2"),
    ("cuda/12.1.1", "cuda@12.1.1"),
    ("openmpi/4.1.5", "openmpi@4.1.5"),
    ("gcc/12.2.0", "gcc@12.2.0"),
    ("numpy/1.26.4", "py-numpy@1.26.4"),
])
def test_alias_table(module, spec):
    r = map_module(mod(module), CAT)
    assert r.spec == spec, r.reason
    assert r.status == "mapped"


@pytest.mark.parametrize("module, expected", [
    ("java/11.0.23", "openjdk@11.0.23"),
    ("openjdk/17.0.11", "openjdk@17.0.11"),
])
def test_java_is_openjdk_with_prefix_versions(module, expected):
    r = map_module(mod(module), CAT)
    assert r.spec == expected and r.status == "mapped"  # 11.0.23 matches 11.0.23_9 (Spack prefix semantics)


def test_roles():
    assert map_module(mod("gcc/12.2.0"), CAT).role == "compiler"
    assert map_module(mod("openmpi/4.1.5"), CAT).role == "mpi"
    assert map_module(mod("impi/2021.10.0"), CAT).role == "mpi"
    assert map_module(mod("samtools/1.17"), CAT).role == "package"


@pytest.mark.parametrize("module", ["anaconda3/2023.09", "miniconda/4.12", "conda/23.1", "miniforge3/24.1"])
def test_conda_is_not_mappable(module):
    r = map_module(mod(module), CAT)
    assert r.status == "not_mappable" and "conda" in r.reason and r.spec is None


@pytest.mark.parametrize("module", ["matlab/R2023a", "ansys/2023R1", "gaussian/g16", "vasp/6.4.2"])
def test_licensed_is_not_mappable(module):
    r = map_module(mod(module), CAT)
    assert r.status == "not_mappable" and "licensed" in r.reason


@pytest.mark.parametrize("module", ["StdEnv/2023", "ncarenv/23.09", "DefaultModules", "shared", "slurm/22.05.8",
                                    "null", "use.own", "dot", "module-git", "module-info", "modules", "lmod",
                                    "settarg", "craype-x86-rome", "PrgEnv-gnu/8.3.3"])
def test_system_modules_are_not_mappable(module):
    r = map_module(mod(module), CAT)
    assert r.status == "not_mappable" and "site/system module" in r.reason
    assert classify(module.split("/")[0])[0] == "system"


def test_hidden_modules_are_skipped():
    r = map_module(mod("python/.3.9.16", hidden=True), CAT)
    assert r.status == "skipped" and "hidden" in r.reason
    assert map_module(mod(".secret/1.0"), CAT).status == "skipped"


def test_unknown_package_is_reported_with_suggestions():
    r = map_module(mod("samtool/1.17"), CAT)
    assert r.status == "not_mappable" and "no Spack package named 'samtool'" in r.reason
    assert suggest(CAT, "blast") == ["blast-plus"] and suggest(CAT, "numpy") == ["py-numpy"]
    r = map_module(mod("torchvision/0.18"), Catalog.from_dict({"packages": {"py-torchvision": _pkg(["0.18.1"])}}))
    assert r.spec == "py-torchvision@0.18"  # a Python package by its module name


# ----------------------------------------------------------------------------------------------- versions

def test_version_kept_when_the_catalog_has_it():
    assert choose_version(["3.3.10", "3.3.9", "3.3.8"], "3.3.8") == ("3.3.8", True)
    assert choose_version(["2.1.5", "2.0"], "2.1") == ("2.1", True)  # prefix: @2.1 matches 2.1.5
    assert choose_version(["20240829.1", "20230802.4"], "20230802") == ("20230802", True)


def test_nearest_declared_version_otherwise():
    # longest common prefix first (3.11.x), then the closest newer release
    assert choose_version(["3.13.1", "3.11.11", "3.11.9", "3.10.16"], "3.11.4") == ("3.11.9", False)
    assert choose_version(["1.0", "1.2"], "1.5") == ("1.2", False)
    assert choose_version(["2024.4", "2024", "2023.5"], "2022.1") == ("2023.5", False)
    assert choose_version([], "1.0") == (None, False)


def test_approximated_versions_say_so():
    r = map_module(mod("python/3.11.4"), CAT)
    assert (r.spec, r.status) == ("python@3.11.9", "approximated")
    assert "nearest declared version 3.11.9" in r.reason


def test_incomplete_version_lists_keep_the_onprem_version():
    r = map_module(mod("intel/2024.1"), CAT)
    assert r.spec == "intel-oneapi-compilers@2024.1" and r.role == "compiler"


@pytest.mark.parametrize("raw, norm", [
    (".3.9.16", "3.9.16"), ("4.1.4-gcc-11.3.0", "4.1.4"), ("v2.1", "2.1"), ("2023.1-cuda", "2023.1"),
    ("R2023a", None), ("latest", None), ("default", None), ("1.8.21", "1.8.21"), (None, None),
])
def test_normalise_version(raw, norm):
    assert normalise_version(raw) == norm


def test_non_spack_versions_are_left_unpinned():
    r = map_module(mod("cmake/latest"), CAT)
    assert r.spec == "cmake" and r.status == "approximated"


# ----------------------------------------------------------------------------------------------- Bright-style

@pytest.mark.parametrize("full, base, quals, ver", [
    ("fftw3/openmpi/gcc/64/3.3.8", "fftw3", ["openmpi", "gcc", "64"], "3.3.8"),
    ("fftw2/openmpi/gcc/64/double/2.1.5", "fftw2", ["openmpi", "gcc", "64", "double"], "2.1.5"),
    ("openmpi/gcc/64/4.1.5", "openmpi", ["gcc", "64"], "4.1.5"),
    ("hdf5_18/1.8.21", "hdf5_18", [], "1.8.21"),
    ("intel/compiler/64", "intel", ["compiler", "64"], None),
    ("dot", "dot", [], None),
])
def test_split_bright_names(full, base, quals, ver):
    assert split_module(full) == (base, quals, ver)


@pytest.mark.parametrize("full, spec", [
    ("fftw3/openmpi/gcc/64/3.3.8", "fftw@3.3.8 +mpi"),
    ("fftw2/openmpi/gcc/64/double/2.1.5", "fftw@2.1.5 +mpi"),
    ("openmpi/gcc/64/4.1.5", "openmpi@4.1.5"),
    ("hdf5_18/1.8.21", "hdf5@1.8.21"),
    ("gromacs-cuda/2024.4", "gromacs@2024.4 +cuda"),
])
def test_bright_style_modules_map(full, spec):
    r = map_module(mod(full), CAT)
    assert r.spec == spec, r.reason


def test_mpi_level_of_a_hierarchy_gets_plus_mpi():
    r = map_module(mod("gromacs/2023.1", parents=[["gcc/11.3.0", "openmpi/4.1.4"]]), CAT)
    assert r.spec == "gromacs@2023.1 +mpi"
    # lammps: the catalog's variant list is incomplete, +mpi is still written
    r = map_module(mod("lammps/20230802", parents=[["gcc/11.3.0", "openmpi/4.1.4"]]), CAT)
    assert r.spec == "lammps@20230802 +mpi"
    # a compiler-level module is not an MPI build
    assert map_module(mod("hdf5/1.14.0", parents=[["gcc/11.3.0"]]), CAT).spec == "hdf5@1.14.0"


def test_without_catalog_names_come_from_rules_and_are_unverified():
    r = map_module(mod("blast/2.16.0"), None)
    assert (r.spec, r.status) == ("blast-plus@2.16.0", "unverified")
    assert "not checked" in r.reason


# ----------------------------------------------------------------------------------------------- software list

def _view(mods):
    return {"modules": {"modules": mods}}


def test_duplicates_keep_the_default_or_newest_and_compilers_first():
    mods = [
        mod("samtools/1.17"),
        mod("gcc/11.3.0", default=True), mod("gcc/12.2.0"),
        mod("cuda/11.8.0"), mod("cuda/12.1.1"),
        mod("openmpi/4.1.4", mpath="/m/Compiler/gcc/11.3.0", parents=[["gcc/11.3.0"]]),
        mod("openmpi/4.1.5", mpath="/m/Compiler/gcc/12.2.0", parents=[["gcc/12.2.0"]]),
        mod("gromacs/2023.1", mpath="/m/MPI/gcc/11.3.0/openmpi/4.1.4", parents=[["gcc/11.3.0", "openmpi/4.1.4"]]),
        mod("gromacs/2024.4", mpath="/m/MPI/gcc/12.2.0/openmpi/4.1.5", parents=[["gcc/12.2.0", "openmpi/4.1.5"]]),
    ]
    kept, every = an.map_software(_view(mods), CAT)
    specs = [r.spec for r in kept]
    assert specs[:2] == ["gcc@11.3.0", "openmpi@4.1.4"]  # compilers, then MPI
    # gromacs: the one reachable by `module load gcc openmpi gromacs` (defaults only), not the newest
    assert "gromacs@2023.1 +mpi" in specs and "gromacs@2024.4 +mpi" not in specs
    assert "cuda@12.1.1" in specs  # no marked default: the newest
    skipped = {r.full_name: r for r in every if r.status == "skipped"}
    assert "gcc/12.2.0" in skipped and "kept gcc@11.3.0" in skipped["gcc/12.2.0"].reason
    where = {r.full_name: r.where for r in every}
    assert where["gromacs/2023.1"] == "MPI/gcc/11.3.0/openmpi/4.1.4"


def test_batch_usage_picks_the_version_jobs_load():
    mods = [mod("samtools/1.17", default=True), mod("samtools/1.21")]
    kept, _ = an.map_software(_view(mods), CAT, {"samtools/1.21": 12})
    assert [r.spec for r in kept] == ["samtools@1.21"]


# ----------------------------------------------------------------------------------------------- queues

@pytest.mark.parametrize("cpus, mem_gib, gpus, model, nodes, first", [
    (2, 21, 0, None, 1, "r7i.xlarge"),
    (16, 32, 0, None, 4, "c7i.4xlarge"),
    (8, 64, 0, None, 2, "r7i.2xlarge"),
    (32, 128, 0, None, 1, "m7i.8xlarge"),
    (128, 512, 0, None, 100, "hpc7a.96xlarge"),
    (96, 384, 0, None, 1, "m7i.24xlarge"),
    (192, 384, 0, None, 1, "c7i.48xlarge"),
    (48, 192, 4, "NVIDIA A100-SXM4-40GB", 2, "p4d.24xlarge"),
    (96, 1024, 8, "NVIDIA H100 80GB HBM3", 2, "p5.48xlarge"),
    (32, 128, 1, "Tesla V100-PCIE-32GB", 1, "g5.8xlarge"),
    (16, 64, 1, "NVIDIA L4", 1, "g6.4xlarge"),
    (64, 4000, 0, None, 2, "x2iedn.32xlarge"),
])
def test_partitions_to_instance_types(cpus, mem_gib, gpus, model, nodes, first):
    c = instances.choose(cpus, int(mem_gib * 1024), gpus, model, nodes)
    assert c.instance_types[0] == first, c.why
    from pctl.template import rules

    for t in c.instance_types:
        assert rules.instance_type_problem(t) is None
        assert rules.instance_arch(t) == "x86_64"  # Graviton is never chosen by default


def test_instance_table_is_consistent():
    from pctl.template import rules

    for fam, sizes in instances.TABLE.items():
        assert [s.vcpus for s in sizes] == sorted(s.vcpus for s in sizes), fam
        for s in sizes:
            assert rules.instance_type_problem(s.name) is None and s.name.startswith(fam + ".")


def test_queue_names_are_sanitised_and_unique():
    used: set[str] = set()
    assert an.queue_name("Compute_Long", used) == "compute-long"
    assert an.queue_name("compute.long", used) == "compute-long-2"
    assert an.queue_name("default", used) == "default-q"
    assert an.queue_name("2xlarge", used) == "q-2xlarge"
    long = an.queue_name("a-very-long-partition-name-for-gpus", used)
    assert len(long) <= 25
    again = an.queue_name("a-very-long-partition-name-for-gpus", used)
    assert again != long and len(again) <= 25


def test_queues_from_partitions():
    view = {"scheduler": {"queues": [
        {"name": "debug", "nodes": 4, "cores_per_node": 32, "memory_mb": 128000, "gpus_per_node": 0, "default": False},
        {"name": "Batch", "nodes": 5000, "cores_per_node": 32, "memory_mb": 128000, "gpus_per_node": 0, "default": True},
        {"name": "gpu", "nodes": 10, "cores_per_node": 48, "memory_mb": 512000, "gpus_per_node": 4,
         "gpu_type": "a100", "default": False},
    ]}}
    qs, _ = an.map_queues(view, None)
    by = {q["name"]: q for q in qs}
    assert qs[0]["name"] == "batch"  # the default partition first
    assert by["batch"]["max_count"] == 1000 and by["batch"]["min_count"] == 0
    assert by["debug"]["capacity"] == "spot" and by["batch"]["capacity"] == "ondemand"
    assert by["gpu"]["instance_types"] == ["p4d.24xlarge"] and by["gpu"]["efa"] is True


def test_batch_profile_adjusts_queues():
    view = {"scheduler": {"queues": [
        {"name": "compute", "nodes": 8, "cores_per_node": 16, "memory_mb": 32000, "gpus_per_node": 0, "default": True}]}}
    prof = {"queues": {"compute": {"memory_per_node_mb": {"peak": 250000}, "nodes": {"peak": 2},
                                   "gpus": {"peak": 0}, "cores": {"peak": 32}}}}
    qs, _ = an.map_queues(view, prof)
    assert qs[0]["instance_types"][0] == "r7i.8xlarge"
    assert any("memory raised" in a for a in qs[0]["adjusted"])


# ----------------------------------------------------------------------------------------------- users

USERS = {
    "users": [
        {"name": "alice", "uid": 5001, "gid": 5000, "shell": "/bin/bash", "groups": ["lab", "video"]},
        {"name": "bob", "uid": 5002, "gid": 5000, "shell": "/bin/zsh", "groups": []},
        {"name": "carol", "uid": 70001, "gid": 70000, "shell": "/bin/bash", "groups": ["lab"]},
        {"name": "dave", "uid": 1000, "gid": 1000, "shell": "/bin/bash", "groups": []},
        {"name": "slurm", "uid": 64030, "gid": 64030, "shell": "/usr/sbin/nologin", "groups": []},
        {"name": "svc", "uid": 3000, "gid": 3000, "shell": "/sbin/nologin", "groups": []},
        {"name": "Eve.Smith", "uid": 5003, "gid": 5000, "shell": "/bin/bash", "groups": []},
        {"name": "frank", "uid": 5004, "gid": 5000, "shell": "/opt/weird/shell", "groups": []},
    ],
    "groups": [{"name": "lab", "gid": 5000, "members": []}, {"name": "video", "gid": 44, "members": []},
               {"name": "big", "gid": 70000, "members": []}, {"name": "dave", "gid": 1000, "members": []},
               {"name": "slurm", "gid": 64030, "members": []}, {"name": "svc", "gid": 3000, "members": []}],
}


def test_users_out_of_range_are_skipped_and_reported():
    r = an.map_users(copy.deepcopy(USERS))
    kept = {u["name"]: u for u in r["users"]}
    assert set(kept) == {"alice", "bob", "frank"}
    assert kept["alice"]["groups"] == ["lab", "video"] and kept["alice"]["gid"] == 5000
    assert kept["frank"]["shell"] == "/bin/bash"
    why = {u["name"]: u["reason"] for u in r["report_users"] if u["status"] == "skipped"}
    assert "outside 1000-60000" in why["carol"]
    assert "default login user" in why["dave"]
    assert "system/service account" in why["slurm"]
    assert "service account" in why["svc"]
    assert "POSIX" in why["Eve.Smith"]
    assert r["groups"] == [{"name": "lab", "gid": 5000}]


def test_users_can_be_renumbered():
    r = an.map_users(copy.deepcopy(USERS), remap_from=20000)
    kept = {u["name"]: u for u in r["users"]}
    assert kept["carol"]["uid"] == 20000 and kept["carol"]["gid"] == 20001
    assert kept["dave"]["uid"] == 20002
    assert {"name": "big", "gid": 20001} in r["groups"]
    status = {u["name"]: u["status"] for u in r["report_users"]}
    assert status["carol"] == "remapped" and status["alice"] == "kept"


# ----------------------------------------------------------------------------------------------- storage

def test_storage_suggestions():
    view = {"mounts": [
        {"target": "/", "fstype": "ext4", "source": "/dev/sda1", "size_gib": 100},
        {"target": "/scratch", "fstype": "lustre", "source": "10.0.0.1@tcp:/scratch", "size_gib": 500000, "used_gib": 1000},
        {"target": "/home", "fstype": "nfs4", "source": "nas:/home", "size_gib": 1000},
        {"target": "/projects", "fstype": "nfs4", "source": "nas:/projects", "size_gib": 20000, "used_gib": 5000},
        {"target": "/data", "fstype": "nfs4", "source": "nas:/data", "size_gib": 20000},
        {"target": "/opt/apps", "fstype": "nfs4", "source": "nas:/apps", "size_gib": 200},
        {"target": "/tmp", "fstype": "xfs", "source": "/dev/sdb", "size_gib": 200},
    ], "modules": {"modulepath": ["/opt/apps/modulefiles/Core"]}}
    st = an.map_storage(view)
    by = {s["mount_point"]: s for s in st["shared_storage"]}
    assert by["/scratch"]["type"] == "fsx_lustre" and by["/scratch"]["size_gb"] % 2400 == 0
    assert by["/scratch"]["size_gb"] >= 500000
    assert by["/projects"] == {"type": "efs", "mount_point": "/projects", "deletion_policy": "retain"}
    rep = {e["target"]: e for e in st["report"]}
    assert rep["/home"]["suggestion"] == "head-node /home"
    assert rep["/data"]["suggestion"] == "s3" and st["s3_suggestions"][0]["mount_point"] == "/data"
    assert rep["/opt/apps"]["suggestion"] == "none"
    assert "/" not in rep and "/tmp" not in by


def test_fsx_sizes_are_valid():
    for gib in (0, 1, 1100, 1200, 2000, 2500, 10000, 123456):
        size = instances.fsx_size_gb(gib)
        assert size == 1200 or size % 2400 == 0
        assert size >= gib


# ----------------------------------------------------------------------------------------------- end to end

@pytest.fixture(scope="module")
def sample():
    from pctl.capture.document import load_document

    return load_document(SAMPLE)


def test_analyze_sample_capture_validates_with_the_project_catalog(sample, catalog):
    a = an.analyze(copy.deepcopy(sample), catalog)
    assert a.valid, a.errors
    res = validate_text(a.template, catalog=catalog)
    assert res.ok, [d.message for d in res.errors]
    t = res.template
    assert {q.name for q in t.compute.queues} == {"compute", "debug"}
    assert {(u.name, u.uid) for u in t.users} == {("alice", 5001), ("bob", 5002)}
    assert a.report["summary"]["modules"] == 26
    assert "## Software" in a.markdown and "## Queues" in a.markdown


def test_analyze_with_the_small_catalog_comments_every_mapping(sample):
    a = an.analyze(copy.deepcopy(sample), CAT)
    assert a.valid, a.errors
    assert "# on-prem: gromacs/2023.1 (MPI/gcc/11.3.0/openmpi/4.1.4) -> gromacs@2023.1 +mpi" in a.template
    assert "# on-prem: java/11.0.19 -> openjdk@11.0.20.1_1" in a.template
    specs = validate_text(a.template, catalog=CAT).template.software.spack_packages
    assert specs[:2] == ["gcc@11.3.0", "openmpi@4.1.4"]
    st = {d["full_name"]: d["status"] for d in a.report["software"]}
    assert st["matlab/R2023a"] == "not_mappable" and st["python/.3.9.16"] == "skipped"


def test_analyze_without_catalog(sample):
    a = an.analyze(copy.deepcopy(sample), None)
    assert a.valid, a.errors
    assert "versions were not verified" in a.template
    assert validate_text(a.template, use_catalog=False).ok
    assert a.report["catalog"] is None and a.report["summary"]["software_unverified"] > 0


def test_analyze_of_an_empty_capture_still_makes_a_template():
    a = an.analyze({"pctl_capture": 1, "meta": {"target": "x"}, "parsed": {}}, None)
    assert a.valid, a.errors
    assert "queues:" in a.template


def test_os_mapping():
    # ParallelCluster publishes no Rocky AMI: a Rocky site maps to RHEL of the same release (same binaries)
    os_name, why = an.map_os({"id": "rocky", "version_id": "8.9"})
    assert os_name == "rhel8" and "custom_ami" in why
    assert an.map_os({"id": "rhel", "version_id": "9.4"})[0] == "rhel9"
    assert an.map_os({"id": "centos", "version_id": "7"})[0] == "rhel8"
    assert an.map_os({"id": "ubuntu", "version_id": "24.04"})[0] == "ubuntu2404"
    assert an.map_os({"id": "ubuntu", "version_id": "20.04"})[0] == "ubuntu2204"
    assert an.map_os({"id": "debian", "version_id": "12"})[0] == "ubuntu2404"
    assert an.map_os({"id": "sles", "version_id": "15.5"})[0] == "rhel9"
    assert an.map_os(None)[0] == "alinux2023"


def test_more_than_500_packages_are_capped():
    names = [f"pkg{i:04d}" for i in range(520)]
    cat = Catalog.from_dict({"packages": {**{n: _pkg(["1.0"]) for n in names}, "gcc": _pkg(["13.3.0"])}})
    mods = [mod(f"{n}/1.0") for n in names] + [mod("gcc/13.3.0")]
    kept, every = an.map_software(_view(mods), cat, {"pkg0519/1.0": 3})
    assert len(kept) == 500 and kept[0].spec == "gcc@13.3.0"
    assert "pkg0519@1.0" in [r.spec for r in kept]  # used by jobs: kept
    dropped = [r for r in every if r.status == "dropped"]
    assert len(dropped) == 21 and all("left out (over the 500-package limit)" in r.reason for r in dropped)


# ----------------------------------------------------------------------------------------------- hostile input

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_name = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r:,"), min_size=1,
                max_size=24)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_name, min_size=1, max_size=6), st.lists(st.tuples(_name, _name), max_size=8),
       st.lists(st.tuples(_name, st.integers(0, 5_000_000)), max_size=6), st.lists(_name, max_size=4))
def test_any_capture_gives_a_valid_template(parts, mods, users, mounts):
    """Whatever the on-prem system printed, the generated template validates."""
    part_text = "\n\n".join(f"PartitionName={p.split()[0] if p.split() else 'x'}\n   Nodes=n[1-4] TotalNodes=4 "
                            f"TotalCPUs=64 State=UP" for p in parts)
    terse = "/opt/m:\n" + "\n".join(f"{a.replace(' ', '')}/{b.replace(' ', '')}" for a, b in mods) + "\n"
    passwd = "\n".join(f"{n.replace(' ', '')}:{uid}:{uid}:/home/x:/bin/bash" for n, uid in users)
    df = "Filesystem Type 1024-blocks Used Available Capacity Mounted on\n" + "\n".join(
        f"nas:/x nfs4 1000000 10 999990 1% /{m.replace(' ', '')}" for m in mounts)
    doc = {"pctl_capture": 1, "meta": {"target": parts[0]}, "sections": {
        "slurm.partitions": {"output": part_text, "rc": 0},
        "modules.env": {"output": "kind=tcl\nmodule_type=function\n", "rc": 0},
        "modules.avail_terse": {"output": terse, "rc": 0},
        "users.passwd": {"output": passwd, "rc": 0},
        "users.groups": {"output": "\n".join(f"{n.replace(' ', '')}:{uid}:" for n, uid in users), "rc": 0},
        "storage.df": {"output": df, "rc": 0},
        "os.release": {"output": f"ID={parts[-1]}\nVERSION_ID=8\n", "rc": 0},
    }}
    for cat in (CAT, None):
        a = an.analyze(copy.deepcopy(doc), cat)
        assert a.valid, (a.errors, a.template)
