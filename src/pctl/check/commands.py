"""A trivial command per well-known Spack package, run after `module load` to prove the software starts.

Each entry is (argv, any_exit_status). `any_exit_status` is for tools that print their version or usage
and exit non-zero (bwa, minimap2 -V is fine but bwa has no --version); even then a crash (signal, e.g.
SIGILL from binaries built for a newer CPU) or "command not found" fails the check. Packages not listed
are checked by `module load` alone.
"""

from __future__ import annotations

#: package name -> (argv, any exit status accepted)
COMMANDS: dict[str, tuple[tuple[str, ...], bool]] = {
    # genomics
    "samtools": (("samtools", "--version"), False),
    "bcftools": (("bcftools", "--version"), False),
    "htslib": (("htsfile", "--version"), False),
    "bwa": (("bwa",), True),
    "bwa-mem2": (("bwa-mem2", "version"), False),
    "bowtie2": (("bowtie2", "--version"), False),
    "minimap2": (("minimap2", "--version"), False),
    "star": (("STAR", "--version"), False),
    "hisat2": (("hisat2", "--version"), False),
    "salmon": (("salmon", "--version"), False),
    "kallisto": (("kallisto", "version"), False),
    "bedtools2": (("bedtools", "--version"), False),
    "fastqc": (("fastqc", "--version"), False),
    "gatk": (("gatk", "--version"), False),
    "picard": (("picard", "--version"), True),
    "blast-plus": (("blastn", "-version"), False),
    "diamond": (("diamond", "version"), False),
    "trimmomatic": (("trimmomatic", "-version"), False),
    "spades": (("spades.py", "--version"), False),
    "nextflow": (("nextflow", "-version"), False),
    "snakemake": (("snakemake", "--version"), False),
    # languages and tools
    "python": (("python", "--version"), False),
    "r": (("R", "--version"), False),
    "julia": (("julia", "--version"), False),
    "openjdk": (("java", "-version"), False),
    "go": (("go", "version"), False),
    "rust": (("rustc", "--version"), False),
    "perl": (("perl", "-v"), False),
    "cmake": (("cmake", "--version"), False),
    "git": (("git", "--version"), False),
    "gcc": (("gcc", "--version"), False),
    "llvm": (("clang", "--version"), False),
    "nvhpc": (("nvc", "--version"), False),
    "cuda": (("nvcc", "--version"), False),
    "apptainer": (("apptainer", "--version"), False),
    "singularityce": (("singularity", "--version"), False),
    # MPI and HPC applications
    "openmpi": (("mpirun", "--version"), False),
    "mpich": (("mpichversion",), False),
    "gromacs": (("gmx", "--version"), False),
    "lammps": (("lmp", "-h"), False),
    "hdf5": (("h5dump", "--version"), False),
    "netcdf-c": (("nc-config", "--version"), False),
    "gdal": (("gdalinfo", "--version"), False),
    "paraview": (("pvpython", "--version"), False),
    "octave": (("octave", "--version"), False),
    # Python packages: the import is the trivial command
    "py-numpy": (("python", "-c", "import numpy"), False),
    "py-scipy": (("python", "-c", "import scipy"), False),
    "py-pandas": (("python", "-c", "import pandas"), False),
    "py-torch": (("python", "-c", "import torch"), False),
    "py-tensorflow": (("python", "-c", "import tensorflow"), False),
    "py-scikit-learn": (("python", "-c", "import sklearn"), False),
    "py-matplotlib": (("python", "-c", "import matplotlib"), False),
    "py-jupyterlab": (("jupyter-lab", "--version"), False),
    "py-mpi4py": (("python", "-c", "import mpi4py"), False),
}

#: Spack packages that provide MPI (an MPI queue's hello loads the template's one).
MPI_PACKAGES = ("openmpi", "mpich", "mvapich2", "mvapich", "intel-oneapi-mpi", "intel-mpi", "cray-mpich", "mpt")

#: Where ParallelCluster's AMIs keep their own Open MPI (used when the template has none).
SYSTEM_MPI = "/opt/amazon/openmpi"


def command_for(package: str) -> tuple[tuple[str, ...], bool] | None:
    return COMMANDS.get(package)
