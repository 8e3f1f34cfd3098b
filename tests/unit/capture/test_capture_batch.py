"""Batch-script parser: every directive form, module/program extraction, summaries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pctl.capture.parsers.batch import BatchJob, array_size, parse_batch_script, summarize

FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "capture" / "batch"


def _job(directives: str, body: str = "srun ./a.out\n", prefix: str = "#SBATCH") -> BatchJob:
    lines = [f"{prefix} {d}" for d in directives.split("\n") if d]
    return parse_batch_script("#!/bin/bash\n" + "\n".join(lines) + "\n" + body)


# --------------------------------------------------------------------------- Slurm forms

SLURM_CASES = [
    ("-N 2", {"nodes": 2}),
    ("-N2", {"nodes": 2}),
    ("--nodes=2", {"nodes": 2}),
    ("--nodes 2", {"nodes": 2}),
    ("--nodes=2-4", {"nodes": 2, "nodes_max": 4}),
    ("-n 16", {"ntasks": 16}),
    ("--ntasks=16", {"ntasks": 16}),
    ("--ntasks 16", {"ntasks": 16}),
    ("--ntasks-per-node=8", {"ntasks_per_node": 8}),
    ("--tasks-per-node 8", {"ntasks_per_node": 8}),
    ("-c 4", {"cpus_per_task": 4}),
    ("--cpus-per-task=4", {"cpus_per_task": 4}),
    ("--mem=16G", {"mem_per_node_mb": 16384}),
    ("--mem=16000", {"mem_per_node_mb": 16000}),
    ("--mem=512M", {"mem_per_node_mb": 512}),
    ("--mem=1T", {"mem_per_node_mb": 1048576}),
    ("--mem=0", {"mem_whole_node": True, "mem_per_node_mb": None}),
    ("--mem-per-cpu=2000", {"mem_per_cpu_mb": 2000}),
    ("--mem-per-cpu=4G", {"mem_per_cpu_mb": 4096}),
    ("-t 30", {"walltime_min": 30}),
    ("-t 30:30", {"walltime_min": 31}),
    ("--time=01:30:00", {"walltime_min": 90}),
    ("--time=2-12", {"walltime_min": 3600}),
    ("--time=1-02:30", {"walltime_min": 1590}),
    ("--time=1-00:00:00", {"walltime_min": 1440}),
    ("--time=UNLIMITED", {"walltime_min": None}),
    ("--time 45", {"walltime_min": 45}),
    ("-p gpu", {"queue": "gpu"}),
    ("--partition=gpu,gpu-long", {"queue": "gpu,gpu-long"}),
    ("--gres=gpu:a100:2", {"gpus_per_node": 2, "gpu_type": "a100"}),
    ("--gres=gpu:2", {"gpus_per_node": 2, "gpu_type": None}),
    ("--gres=gpu", {"gpus_per_node": 1}),
    ("--gres=gpu:v100:4,nvme:1", {"gpus_per_node": 4, "gpu_type": "v100"}),
    ("--gpus=4", {"gpus": 4}),
    ("-G a100:8", {"gpus": 8, "gpu_type": "a100"}),
    ("--gpus-per-node=h100:4", {"gpus_per_node": 4, "gpu_type": "h100"}),
    ("--gpus-per-task=1", {"gpus_per_task": 1}),
    ("-a 1-100%10", {"array": "1-100%10", "array_size": 100, "array_max_parallel": 10}),
    ("--array=0-15:4", {"array_size": 4}),
    ("--array=1,3,5-7", {"array_size": 5}),
    ("-A proj", {"account": "proj"}),
    ("--account=proj", {"account": "proj"}),
    ("-J myjob", {"job_name": "myjob"}),
    ('--job-name="my job"', {"job_name": "my job"}),
    ("-q high", {"qos": "high"}),
    ("-C skylake", {"constraint": "skylake"}),
    ("--exclusive", {"exclusive": True}),
    ("--exclusive --nodes 3", {"exclusive": True, "nodes": 3}),
    ("-N 2 -n 8 -c 2", {"nodes": 2, "ntasks": 8, "cpus_per_task": 2}),
    ("--time=1:00:00 # one hour", {"walltime_min": 60}),
    ("--job-name=run#1", {"job_name": "run#1"}),
]


@pytest.mark.parametrize("directive,expected", SLURM_CASES, ids=[c[0] for c in SLURM_CASES])
def test_slurm_directive(directive, expected):
    job = _job(directive)
    assert job.scheduler == "slurm"
    for k, v in expected.items():
        assert getattr(job, k) == v, (k, job)


@pytest.mark.parametrize(
    "directive,warning",
    [("--ntasks=${N}", "--ntasks"), ("--time=soon", "--time"), ("--mem=lots", "--mem"), ("--array=x", "--array")],
)
def test_slurm_bad_values_warn(directive, warning):
    job = _job(directive)
    assert any(warning in w for w in job.warnings), job.warnings


def test_slurm_derived_values():
    job = _job("-N 2\n--ntasks-per-node=64\n-c 2\n--mem-per-cpu=1000\n--gpus-per-node=4")
    assert job.total_tasks == 128 and job.total_cores == 256
    assert job.memory_per_node_mb == 128 * 1000
    assert job.total_gpus == 8
    job = _job("-n 10 --ntasks-per-node=4")
    assert job.node_count == 3
    assert _job("").node_count == 1 and _job("").total_cores == 1
    assert _job("--gpus-per-task=2\n-n 3").total_gpus == 6


# --------------------------------------------------------------------------- PBS / SGE / LSF forms

PBS_CASES = [
    ("-l nodes=2:ppn=16", {"nodes": 2, "ntasks_per_node": 16, "total_cores": 32}),
    ("-l nodes=2:ppn=16:gpus=2", {"gpus_per_node": 2, "total_gpus": 4}),
    ("-l nodes=node01:ppn=4+node02:ppn=8", {"nodes": 2, "total_cores": 12}),
    ("-l select=2:ncpus=32:mem=64gb:ngpus=1", {"nodes": 2, "total_cores": 64, "mem_per_node_mb": 65536, "gpus_per_node": 1}),
    ("-l select=1:ncpus=8+2:ncpus=4", {"nodes": 3, "total_cores": 16}),
    ("-l select=4:ncpus=24:mpiprocs=24", {"ntasks": 96, "ntasks_per_node": 24}),
    ("-l walltime=01:30:00", {"walltime_min": 90}),
    ("-l walltime=3600", {"walltime_min": 60}),
    ("-l walltime=10:00", {"walltime_min": 10}),
    ("-l nodes=1:ppn=8,walltime=10:00:00,mem=16gb", {"walltime_min": 600, "mem_total_mb": 16384, "memory_per_node_mb": 16384}),
    ("-l mem=1073741824", {"mem_total_mb": 1024}),
    ("-l pmem=2gb", {"mem_per_cpu_mb": 2048}),
    ("-l ncpus=12", {"total_cores": 12, "nodes": 1}),
    ("-lwalltime=2:00:00", {"walltime_min": 120}),
    ("-q batch", {"queue": "batch"}),
    ("-q batch@server", {"queue": "batch"}),
    ("-N name", {"job_name": "name"}),
    ("-A acct", {"account": "acct"}),
    ("-J 1-10", {"array_size": 10}),
    ("-J 1-10:2", {"array_size": 5}),
    ("-t 1-10%2", {"array_size": 10, "array_max_parallel": 2}),
    ("-l place=scatter:excl", {"exclusive": True}),
    ("-V\n-j oe\n-m abe", {"scheduler": "pbs"}),
]


@pytest.mark.parametrize("directive,expected", PBS_CASES, ids=[c[0] for c in PBS_CASES])
def test_pbs_directive(directive, expected):
    job = _job(directive, prefix="#PBS")
    assert job.scheduler == "pbs"
    for k, v in expected.items():
        assert getattr(job, k) == v, (k, job)


SGE_CASES = [
    ("-pe smp 8", {"nodes": 1, "cpus_per_task": 8, "total_cores": 8}),
    ("-pe threaded 4", {"nodes": 1, "total_cores": 4}),
    ("-pe mpi 64", {"ntasks": 64, "total_cores": 64}),
    ("-pe orte 16-32", {"ntasks": 16}),
    ("-l h_rt=01:00:00", {"walltime_min": 60}),
    ("-l h_rt=7200", {"walltime_min": 120}),
    ("-l h_vmem=4G", {"mem_per_cpu_mb": 4096}),
    ("-l h_vmem=4g", {"mem_per_cpu_mb": 3815}),
    ("-pe smp 4\n-l h_vmem=2G", {"memory_per_node_mb": 8192}),
    ("-l h_rt=1:00:00,h_vmem=1G,gpu=2", {"walltime_min": 60, "mem_per_cpu_mb": 1024, "gpus_per_node": 2}),
    ("-q all.q", {"queue": "all.q"}),
    ("-q all.q@node01", {"queue": "all.q"}),
    ("-t 1-100", {"array_size": 100}),
    ("-t 1-100:10", {"array_size": 10}),
    ("-t 1-10\n-tc 2", {"array_size": 10, "array_max_parallel": 2}),
    ("-N jobname", {"job_name": "jobname"}),
    ("-cwd\n-V\n-S /bin/bash\n-j y", {"scheduler": "sge"}),
]


@pytest.mark.parametrize("directive,expected", SGE_CASES, ids=[c[0] for c in SGE_CASES])
def test_sge_directive(directive, expected):
    job = _job(directive, prefix="#$")
    assert job.scheduler == "sge"
    for k, v in expected.items():
        assert getattr(job, k) == v, (k, job)


LSF_CASES = [
    ("-n 32", {"ntasks": 32, "total_cores": 32}),
    ("-n 16,32", {"ntasks": 16}),
    ('-n 32\n-R "span[ptile=16]"', {"nodes": 2, "ntasks_per_node": 16}),
    ('-n 8 -R "span[hosts=1]"', {"nodes": 1}),
    ('-R "rusage[mem=4000]"', {"mem_per_cpu_mb": 4000}),
    ('-n 4 -R "select[avx2] rusage[mem=2GB] span[ptile=4]"', {"mem_per_cpu_mb": 2048, "memory_per_node_mb": 8192, "nodes": 1}),
    ("-W 2:00", {"walltime_min": 120}),
    ("-W 45", {"walltime_min": 45}),
    ("-q normal", {"queue": "normal"}),
    ('-gpu "num=2"', {"gpus_per_node": 2}),
    ('-gpu "num=4:mode=exclusive_process:gmodel=TeslaV100"', {"gpus_per_node": 4, "gpu_type": "TeslaV100"}),
    ("-gpu -", {"gpus_per_node": 1}),
    ('-J "name[1-10]"', {"job_name": "name", "array_size": 10}),
    ('-J "name[1-10]%2"', {"array_size": 10, "array_max_parallel": 2}),
    ("-J plain", {"job_name": "plain", "array": None}),
    ("-P proj", {"account": "proj"}),
    ("-x", {"exclusive": True}),
    ("-M 8000", {"mem_per_cpu_mb": 8000}),
]


@pytest.mark.parametrize("directive,expected", LSF_CASES, ids=[c[0] for c in LSF_CASES])
def test_lsf_directive(directive, expected):
    job = _job(directive, prefix="#BSUB")
    assert job.scheduler == "lsf"
    for k, v in expected.items():
        assert getattr(job, k) == v, (k, job)


@pytest.mark.parametrize(
    "spec,expected",
    [
        ("1-100%10", (100, 10)),
        ("0-15:4", (4, None)),
        ("1,3,5-7", (5, None)),
        ("7", (1, None)),
        ("[1-10]", (10, None)),
        ("", (None, None)),
        ("5-1", (None, None)),
        ("a-b", (None, None)),
    ],
)
def test_array_size(spec, expected):
    assert array_size(spec) == expected


# --------------------------------------------------------------------------- directive block rules


def test_directives_end_at_first_command():
    job = parse_batch_script("#!/bin/bash\n#SBATCH -N 2\n\n# comment\necho hi\n#SBATCH -N 9\n")
    assert job.nodes == 2
    assert any("after the first command" in w for w in job.warnings)


def test_commented_and_indented_directives_ignored():
    job = parse_batch_script("#!/bin/bash\n##SBATCH -N 9\n# SBATCH -N 8\n  #SBATCH -N 7\n#SBATCH -N 1\n")
    assert job.nodes == 1
    assert any("indented" in w for w in job.warnings)


def test_sbatch_prefix_must_be_a_word():
    job = parse_batch_script("#SBATCHX -N 4\n#SBATCH -N 1\n")
    assert job.nodes == 1


def test_mixed_scheduler_directives_pick_majority():
    job = parse_batch_script("#PBS -l nodes=1\n#SBATCH -N 3\n#SBATCH -n 6\n")
    assert job.scheduler == "slurm" and job.nodes == 3
    assert any("several schedulers" in w for w in job.warnings)


def test_unbalanced_quotes_do_not_raise():
    job = parse_batch_script('#SBATCH -J "unterminated\n#SBATCH -N 2\nsrun "prog\n')
    assert job.nodes == 2


# --------------------------------------------------------------------------- modules and programs

MODULE_CASES = [
    ("module load a b/1.2", ["a", "b/1.2"], []),
    ("module add a", ["a"], []),
    ("module try-load a", ["a"], []),
    ("module -q load a", ["a"], []),
    ("module --quiet load a 2>/dev/null", ["a"], []),
    ("module purge", [], []),
    ("module unload a", [], ["a"]),
    ("module rm a", [], ["a"]),
    ("module swap intel gcc/12", ["gcc/12"], ["intel"]),
    ("module switch gcc/13", ["gcc/13"], []),
    ("module avail", [], []),
    ("module use /opt/mods", [], []),
    ("ml a b", ["a", "b"], []),
    ("ml gcc -intel", ["gcc"], ["intel"]),
    ("ml", [], []),
    ("ml av", [], []),
    ("ml avail gcc", [], []),
    ("ml spider gcc", [], []),
    ("ml list", [], []),
    ("ml load x", ["x"], []),
    ("ml unload x", [], ["x"]),
    ("ml -t", [], []),
    ("ml purge", [], []),
    ("html=1", [], []),
    ("xml2 foo", [], []),
    ("echo ml gcc", [], []),
    ("srun --mem=4G ./x", [], []),
    ("cd dir && module load a && ml b", ["a", "b"], []),
    ("if true; then module load c; fi", ["c"], []),
    ("module load $MOD", [], []),
]


@pytest.mark.parametrize("line,loads,unloads", MODULE_CASES, ids=[c[0] for c in MODULE_CASES])
def test_module_commands(line, loads, unloads):
    job = parse_batch_script(f"#!/bin/bash\n#SBATCH -N 1\n{line}\n")
    assert job.modules == loads
    assert job.modules_unloaded == unloads


def test_module_purge_flag():
    assert parse_batch_script("module purge\n").module_purge


PROGRAM_CASES = [
    ("srun gmx_mpi mdrun -s x.tpr", ["gmx_mpi"]),
    ("srun -n 4 -c 2 --mpi=pmix ./lmp -in in.lj", ["lmp"]),
    ("srun --pty bash", ["bash"]),
    ("srun --mpi pmix --ntasks 4 ./spaced", ["spaced"]),
    ("srun -- ./after_dashes", ["after_dashes"]),
    ("mpirun -np 4 --bind-to core -x LD_LIBRARY_PATH ./a.out", ["a.out"]),
    ("mpirun --mca btl self,vader -np 2 prog", ["prog"]),
    ("mpiexec -n 4 -genv A 1 ./b", ["b"]),
    ("ibrun ./namd2 conf", ["namd2"]),
    ("time python train.py", ["python"]),
    ("/usr/bin/time -v ./x", ["x"]),
    ("python train.py", ["python"]),
    ("/opt/app/bin/vasp_std", ["vasp_std"]),
    ("singularity exec --nv -B /a:/a img.sif python3 run.py", ["python3"]),
    ("apptainer exec img.sif Rscript a.R", ["Rscript"]),
    ("srun singularity exec img.sif ./tool", ["tool"]),
    ("nohup ./long_job &", ["long_job"]),
    ("OMP_NUM_THREADS=4 ./omp_prog", ["omp_prog"]),
    ("env A=1 B=2 ./p", ["p"]),
    ("numactl --interleave=all ./stream", ["stream"]),
    ("numactl --physcpubind 0-3 -m 0 ./pinned2", ["pinned2"]),
    ("numactl -C0-3 -l ./pinned3", ["pinned3"]),
    ("taskset -c 0-3 ./pinned", ["pinned"]),
    ("timeout 1h ./limited", ["limited"]),
    ("conda run -n env snakemake", ["snakemake"]),
    ("./a | ./b > out", ["a", "b"]),
    ("cd x; export A=1; echo hi; source env.sh; set -e", []),
    ("mkdir -p out && cp a b && date", []),
    ("for i in 1 2; do ./step $i; done", ["step"]),
    ("while read l; do ./each \"$l\"; done < list", ["each"]),
    ("if [ -f x ]; then ./ok_path; else ./alt_path; fi", ["ok_path", "alt_path"]),
    ("X=$(hostname)", []),
    ("$EXE arg", []),
    ("(( i++ ))", []),
    ("myfunc() {", []),
    ("./prog # comment with srun fake", ["prog"]),
]


@pytest.mark.parametrize("line,programs", PROGRAM_CASES, ids=[c[0] for c in PROGRAM_CASES])
def test_programs(line, programs):
    job = parse_batch_script(f"#!/bin/bash\n#SBATCH -N 1\n{line}\n")
    assert job.programs == programs


def test_utilities_kept_when_asked():
    job = parse_batch_script("date\nhostname\n./x\n", ignore_utilities=False)
    assert job.programs == ["date", "hostname", "x"]


def test_heredoc_bodies_are_skipped():
    text = "#!/bin/bash\ncat > f <<EOF\nmodule load nope\nsrun fake\nEOF\ncat <<-'END'\n\tml nope2\n\tEND\n./real\n"
    job = parse_batch_script(text)
    assert job.modules == [] and job.programs == ["real"]


def test_line_continuations():
    job = parse_batch_script("srun -n 4 \\\n   --mpi=pmix \\\n   ./cont_prog arg\nmodule load a \\\n  b\n")
    assert job.programs == ["cont_prog"]
    assert job.modules == ["a", "b"]


# --------------------------------------------------------------------------- fixtures + summary

FIXTURE_EXPECT = {
    "slurm_mpi.sh": dict(
        scheduler="slurm", nodes=4, ntasks_per_node=128, total_cores=512, mem_per_cpu_mb=1900, walltime_min=720,
        queue="cpu", account="chem123", exclusive=True, modules=["gcc/12.2.0", "openmpi/4.1.5", "lammps/2Aug2023"],
        module_purge=True, programs=["lmp"],
    ),
    "slurm_gpu_array.sbatch": dict(
        nodes=1, ntasks=4, cpus_per_task=8, total_cores=32, walltime_min=2880, queue="gpu", gpus_per_node=4,
        gpu_type="a100", mem_per_node_mb=262144, array_size=20, array_max_parallel=5,
        modules=["cuda/12.1", "cudnn/8.9", "python/3.11"], programs=["python"],
    ),
    "slurm_tricky.sh": dict(
        ntasks=64, gpus=2, gpus_per_task=1, gpu_type="a100", walltime_min=45, queue=None,
        modules=["gcc/13.2", "openmpi", "fftw/3.3.10", "hdf5", "gcc/12.2.0", "conditional/1.0"],
        modules_unloaded=["intel", "cuda", "intel"],
        programs=["solver.x", "gmx_mpi", "python3", "apptainer", "stream", "snakemake", "a.out", "fast_path", "with_env_prefix"],
    ),
    "pbs_torque.pbs": dict(
        scheduler="pbs", nodes=4, total_cores=96, walltime_min=2880, mem_per_cpu_mb=4096, memory_per_node_mb=98304,
        queue="batch", array_size=10, modules=["intel/2019", "impi/2019", "netcdf"], programs=["wrf.exe"],
    ),
    "pbs_pro.pbs": dict(
        nodes=2, total_cores=96, mem_per_node_mb=184320, gpus_per_node=2, total_gpus=4, walltime_min=1440,
        queue="gpuq", array_size=10, account="proj42", exclusive=True, programs=["vasp_std"],
    ),
    "sge_smp.sh": dict(
        scheduler="sge", nodes=1, total_cores=16, mem_per_cpu_mb=2048, memory_per_node_mb=32768, walltime_min=480,
        queue="long.q", array_size=100, array_max_parallel=10, modules=["blast+/2.14"], programs=["blastn"],
    ),
    "sge_mpi.sh": dict(ntasks=128, total_cores=128, walltime_min=60, gpus_per_node=1, programs=["openfoam_solver"]),
    "lsf_ptile.lsf": dict(
        scheduler="lsf", nodes=2, ntasks=64, ntasks_per_node=32, mem_per_cpu_mb=4000, memory_per_node_mb=128000,
        walltime_min=360, queue="normal", gpus_per_node=2, total_gpus=4, array_size=50, array_max_parallel=10,
        job_name="sweep", account="projX", programs=["cfd_solver"],
    ),
    "lsf_oneline.lsf": dict(nodes=1, ntasks=8, mem_per_cpu_mb=8192, walltime_min=90, queue="short", exclusive=True),
    "no_directives.sh": dict(scheduler=None, modules=["anaconda3"], programs=["python"], node_count=1),
}


@pytest.mark.parametrize("name", sorted(FIXTURE_EXPECT))
def test_fixture_scripts(name):
    job = parse_batch_script((FIXTURES / name).read_text(), filename=name)
    assert job.filename == name
    for k, v in FIXTURE_EXPECT[name].items():
        assert getattr(job, k) == v, (k, getattr(job, k))


def test_summarize_fixtures():
    jobs = [parse_batch_script(p.read_text(), p.name) for p in sorted(FIXTURES.iterdir())]
    prof = summarize(jobs)
    assert prof.job_count == len(jobs)
    gpu = prof.queues["gpu"]
    assert gpu.job_count == 1 and gpu.gpus.peak == 4 and gpu.array_jobs == 1 and gpu.array_tasks == 20
    assert prof.queues["cpu"].cores.typical == 512
    assert prof.queues["(default)"].job_count == 3
    assert prof.modules["gcc/12.2.0"] == 2  # slurm_mpi + slurm_tricky (once per job)
    assert prof.programs["python"] == 2
    assert prof.schedulers == {"slurm": 3, "lsf": 2, "pbs": 2, "sge": 2, "none": 1}
    d = prof.to_dict()
    json.dumps(d)
    assert d["queues"]["gpu"]["walltime_min"] == {"typical": 2880, "peak": 2880, "count": 1}


def test_summarize_median_and_peak():
    jobs = [_job(f"-p q\n-N {n}\n-t {t}") for n, t in ((1, 10), (2, 20), (8, 30), (4, 40))]
    qp = summarize(jobs).queues["q"]
    assert qp.nodes.typical == 3 and qp.nodes.peak == 8 and qp.nodes.count == 4
    assert qp.walltime_min.typical == 25 and qp.walltime_min.peak == 40


def test_summarize_ignores_junk_and_empty():
    prof = summarize([])
    assert prof.job_count == 0 and prof.queues == {}
    prof = summarize([None, "x"])  # type: ignore[list-item]
    assert prof.job_count == 0 and len(prof.warnings) == 2


def test_job_to_dict_serialisable():
    job = parse_batch_script((FIXTURES / "pbs_pro.pbs").read_text())
    d = job.to_dict()
    json.dumps(d)
    assert d["total_cores"] == 96
