"""Parse batch job scripts (Slurm ``#SBATCH``, PBS/Torque ``#PBS``, SGE ``#$``, LSF ``#BSUB``).

:func:`parse_batch_script` reads the directive block (which ends at the first command line,
as the schedulers do), the ``module load``/``ml`` commands and the programs the script runs.
:func:`summarize` folds many jobs into a per-queue :class:`ResourceProfile`.
Nothing here raises on odd input; problems are reported in ``warnings``.
"""

from __future__ import annotations

import math
import os
import re
import shlex
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from ._common import median, parse_hms_time, parse_mem_mb, parse_slurm_time, to_int
from .slurm import parse_gres

__all__ = [
    "BatchJob",
    "Stat",
    "QueueProfile",
    "ResourceProfile",
    "parse_batch_script",
    "summarize",
    "array_size",
    "SHELL_BUILTINS",
    "COMMON_UTILITIES",
]

DIRECTIVE_PREFIXES = (("#SBATCH", "slurm"), ("#PBS", "pbs"), ("#BSUB", "lsf"), ("#$", "sge"))

# --------------------------------------------------------------------------- data model


@dataclass
class BatchJob:
    filename: str | None = None
    scheduler: str | None = None  # slurm | pbs | sge | lsf | None (no directives)
    directives: list[str] = field(default_factory=list)  # directive lines as written
    job_name: str | None = None
    account: str | None = None
    queue: str | None = None  # partition / queue as requested
    qos: str | None = None
    nodes: int | None = None
    nodes_max: int | None = None
    ntasks: int | None = None
    ntasks_per_node: int | None = None
    cpus_per_task: int | None = None
    cores_total: int | None = None  # set when the scheduler gives a total (PBS select, SGE pe, LSF -n)
    mem_per_node_mb: int | None = None
    mem_per_cpu_mb: int | None = None
    mem_total_mb: int | None = None  # job-wide memory (PBS -l mem=)
    mem_whole_node: bool = False  # Slurm --mem=0
    gpus: int | None = None  # total for the job (--gpus / -G)
    gpus_per_node: int | None = None
    gpus_per_task: int | None = None
    gpu_type: str | None = None
    walltime_min: int | None = None
    array: str | None = None
    array_size: int | None = None
    array_max_parallel: int | None = None
    exclusive: bool = False
    constraint: str | None = None
    modules: list[str] = field(default_factory=list)  # loaded, in script order
    modules_unloaded: list[str] = field(default_factory=list)
    module_purge: bool = False
    programs: list[str] = field(default_factory=list)  # in script order, duplicates kept
    warnings: list[str] = field(default_factory=list)

    # ---- derived values
    @property
    def node_count(self) -> int:
        """Nodes requested, or derived from tasks/tasks-per-node; 1 when nothing says otherwise."""
        if self.nodes:
            return self.nodes
        if self.ntasks and self.ntasks_per_node:
            return max(1, math.ceil(self.ntasks / self.ntasks_per_node))
        return 1

    @property
    def total_tasks(self) -> int:
        if self.ntasks:
            return self.ntasks
        if self.ntasks_per_node:
            return self.node_count * self.ntasks_per_node
        return self.node_count if self.nodes else 1

    @property
    def total_cores(self) -> int:
        """Total CPU cores: tasks x cpus-per-task (or the scheduler's own total)."""
        if self.cores_total:
            return self.cores_total
        return self.total_tasks * (self.cpus_per_task or 1)

    @property
    def memory_per_node_mb(self) -> int | None:
        if self.mem_per_node_mb:
            return self.mem_per_node_mb
        if self.mem_per_cpu_mb:
            per_node = math.ceil(self.total_cores / self.node_count)
            return self.mem_per_cpu_mb * per_node
        if self.mem_total_mb:
            return math.ceil(self.mem_total_mb / self.node_count)
        return None

    @property
    def total_gpus(self) -> int:
        if self.gpus:
            return self.gpus
        if self.gpus_per_node:
            return self.gpus_per_node * self.node_count
        if self.gpus_per_task:
            return self.gpus_per_task * self.total_tasks
        return 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(
            node_count=self.node_count,
            total_tasks=self.total_tasks,
            total_cores=self.total_cores,
            memory_per_node_mb=self.memory_per_node_mb,
            total_gpus=self.total_gpus,
        )
        return d


# --------------------------------------------------------------------------- small helpers


def _int(v: Any, job: BatchJob, what: str) -> int | None:
    n = to_int(v, None)
    if n is None or n < 0 or not re.match(r"^\s*\d", str(v)):
        job.warnings.append(f"unreadable {what} value {v!r}")
        return None
    return n


def _range_min_max(v: str) -> tuple[int | None, int | None]:
    m = re.match(r"^\s*(\d+)(?:\s*[-,:]\s*(\d+))?", v or "")
    if not m:
        return None, None
    lo = int(m.group(1))
    hi = int(m.group(2)) if m.group(2) else None
    return lo, hi


def array_size(spec: str | None) -> tuple[int | None, int | None]:
    """Array spec -> (number of tasks, max running).

    ``1-100%10`` -> (100, 10); ``0-15:4`` -> (4, None); ``1,3,5-7`` -> (5, None); ``1-10:2`` (PBS/SGE
    step) -> (5, None).
    """
    if not spec:
        return None, None
    s = str(spec).strip().strip("[]")
    maxp = None
    if "%" in s:
        s, _, mp = s.partition("%")
        maxp = to_int(mp, None)
    total = 0
    ok = False
    for part in s.split(","):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^(\d+)(?:-(\d+)(?:[:x](\d+))?)?$", part)
        if not m:
            return None, maxp
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        step = int(m.group(3)) if m.group(3) else 1
        if hi < lo or step <= 0:
            return None, maxp
        total += (hi - lo) // step + 1
        ok = True
    return (total if ok else None), maxp


def _strip_comment(text: str) -> str:
    """Drop an unquoted ``#`` comment that starts a word."""
    q: str | None = None
    prev = " "
    i = 0
    while i < len(text):
        ch = text[i]
        if q:
            if ch == "\\" and q == '"':
                i += 2
                prev = "x"
                continue
            if ch == q:
                q = None
        else:
            if ch == "\\":
                i += 2
                prev = "x"
                continue
            if ch in ("'", '"'):
                q = ch
            elif ch == "#" and prev.isspace():
                return text[:i]
        prev = ch
        i += 1
    return text


def _split_words(text: str) -> list[str]:
    try:
        return shlex.split(text, posix=True)
    except ValueError:
        return text.replace('"', " ").replace("'", " ").split()


def _gpu_spec(v: str) -> tuple[int | None, str | None]:
    """``a100:4`` -> (4, a100); ``4`` -> (4, None); ``a100`` -> (1, a100)."""
    parts = [p for p in str(v).strip().split(":") if p != ""]
    if not parts:
        return None, None
    if parts[0].lower() == "gpu":
        parts = parts[1:]
        if not parts:
            return 1, None
    if len(parts) == 1:
        n = to_int(parts[0], None)
        if n is not None and parts[0].strip().isdigit():
            return n, None
        return 1, parts[0]
    n = to_int(parts[-1], None)
    return (n if n is not None else 1), parts[0]


# --------------------------------------------------------------------------- option tokenisers


def _getopt(tokens: list[str], long_noarg: set[str], long_optarg: set[str], short_noarg: set[str]) -> list[tuple[str, str | None]]:
    """Tokens -> (name, value) with GNU-ish rules (``--x=v``, ``--x v``, ``-Xv``, ``-X v``)."""
    out: list[tuple[str, str | None]] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t.startswith("--") and len(t) > 2:
            name, eq, val = t[2:].partition("=")
            if eq:
                out.append(("--" + name, val))
            elif name in long_noarg or name in long_optarg:
                out.append(("--" + name, None))
            elif i + 1 < len(tokens) and not tokens[i + 1].startswith("-"):
                out.append(("--" + name, tokens[i + 1]))
                i += 1
            else:
                out.append(("--" + name, None))
        elif t.startswith("-") and len(t) > 1:
            letter, rest = t[1], t[2:]
            if letter in short_noarg:
                out.append(("-" + letter, None))
                for extra in rest:  # bundled flags (-vv, -HV)
                    if extra in short_noarg:
                        out.append(("-" + extra, None))
            elif rest:
                out.append(("-" + letter, rest[1:] if rest.startswith("=") else rest))
            elif i + 1 < len(tokens):
                out.append(("-" + letter, tokens[i + 1]))
                i += 1
            else:
                out.append(("-" + letter, None))
        else:
            out.append(("", t))
        i += 1
    return out


def _wordopt(tokens: list[str], arity: dict[str, int], glued: str = "") -> list[tuple[str, list[str]]]:
    """Single-dash word options (SGE/LSF/PBS): ``-pe smp 8`` -> ("-pe", ["smp", "8"]).

    Options missing from ``arity`` take one argument unless the next token is an option.
    Options whose letter is in ``glued`` may carry their value glued (PBS ``-lnodes=2``).
    """
    out: list[tuple[str, list[str]]] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if not t.startswith("-") or t == "-":
            out.append(("", [t]))
            i += 1
            continue
        if t in arity:
            n = arity[t]
        elif len(t) > 2 and t[1] in glued:
            out.append((t[:2], [t[2:].lstrip("=")]))  # PBS getopt style: -lwalltime=1:00:00
            i += 1
            continue
        else:
            n = 1 if (i + 1 < len(tokens) and not tokens[i + 1].startswith("-")) else 0
        args = tokens[i + 1 : i + 1 + n]
        out.append((t, args))
        i += 1 + len(args)
    return out


# --------------------------------------------------------------------------- Slurm

_SLURM_LONG_NOARG = {
    "exclusive",
    "requeue",
    "no-requeue",
    "overcommit",
    "oversubscribe",
    "hold",
    "contiguous",
    "parsable",
    "quiet",
    "verbose",
    "wait",
    "test-only",
    "spread-job",
    "use-min-nodes",
    "ignore-pbs",
    "help",
    "usage",
    "version",
    "reboot",
    "x11",
    "no-kill",
    "get-user-env",
    "nice",
    "propagate",
    "kill-on-invalid-dep",
    "immediate",
}
_SLURM_LONG_OPTARG = {"exclusive", "nice", "propagate", "get-user-env", "no-kill", "immediate", "x11", "requeue"}
_SLURM_SHORT_NOARG = set("HOQsvVWhk")
_SLURM_SHORT = {
    "N": "nodes",
    "n": "ntasks",
    "c": "cpus-per-task",
    "t": "time",
    "p": "partition",
    "G": "gpus",
    "a": "array",
    "A": "account",
    "J": "job-name",
    "q": "qos",
    "C": "constraint",
}


def _apply_slurm(job: BatchJob, opts: list[tuple[str, str | None]]) -> None:
    for name, val in opts:
        if name == "":
            job.warnings.append(f"stray #SBATCH argument {val!r}")
            continue
        key = name[2:] if name.startswith("--") else _SLURM_SHORT.get(name[1:], name)
        v = (val or "").strip()
        if key == "nodes":
            lo, hi = _range_min_max(v)
            if lo is None:
                job.warnings.append(f"unreadable --nodes value {val!r}")
            else:
                job.nodes, job.nodes_max = lo, hi
        elif key == "ntasks":
            job.ntasks = _int(v, job, "--ntasks")
        elif key in ("ntasks-per-node", "tasks-per-node"):
            job.ntasks_per_node = _int(v, job, "--ntasks-per-node")
        elif key == "cpus-per-task":
            job.cpus_per_task = _int(v, job, "--cpus-per-task")
        elif key == "mem":
            if v.strip() == "0":
                job.mem_whole_node = True
            else:
                job.mem_per_node_mb = parse_mem_mb(v, "m")
                if job.mem_per_node_mb is None:
                    job.warnings.append(f"unreadable --mem value {val!r}")
        elif key == "mem-per-cpu":
            job.mem_per_cpu_mb = parse_mem_mb(v, "m")
            if job.mem_per_cpu_mb is None:
                job.warnings.append(f"unreadable --mem-per-cpu value {val!r}")
        elif key == "time":
            job.walltime_min = parse_slurm_time(v)
            if job.walltime_min == 0:
                job.walltime_min = None  # 0 = no limit
            elif job.walltime_min is None and v.upper() not in ("UNLIMITED", "INFINITE"):
                job.warnings.append(f"unreadable --time value {val!r}")
        elif key == "partition":
            job.queue = v or None
        elif key == "gres":
            n, t = parse_gres(v)
            if n:
                job.gpus_per_node = n
                job.gpu_type = t or job.gpu_type
        elif key == "gpus":
            job.gpus, t = _gpu_spec(v)
            job.gpu_type = t or job.gpu_type
        elif key == "gpus-per-node":
            job.gpus_per_node, t = _gpu_spec(v)
            job.gpu_type = t or job.gpu_type
        elif key == "gpus-per-task":
            job.gpus_per_task, t = _gpu_spec(v)
            job.gpu_type = t or job.gpu_type
        elif key == "array":
            job.array = v or None
            job.array_size, job.array_max_parallel = array_size(v)
            if job.array_size is None:
                job.warnings.append(f"unreadable --array value {val!r}")
        elif key == "account":
            job.account = v or None
        elif key == "job-name":
            job.job_name = v or None
        elif key == "qos":
            job.qos = v or None
        elif key == "constraint":
            job.constraint = v or None
        elif key == "exclusive":
            job.exclusive = True


# --------------------------------------------------------------------------- PBS / Torque

_PBS_ARITY = {"-V": 0, "-h": 0, "-I": 0, "-X": 0, "-z": 0, "-f": 0}


def _pbs_chunks(spec: str, select: bool) -> list[tuple[int, dict[str, str], bool]]:
    """``2:ppn=16+node03:ppn=4`` -> [(2, {ppn:16}, False), (1, {ppn:4}, True)]."""
    chunks = []
    for chunk in spec.split("+"):
        parts = [p for p in chunk.split(":") if p]
        if not parts:
            continue
        count = 1
        named_host = False
        attrs: dict[str, str] = {}
        for i, p in enumerate(parts):
            if "=" in p:
                k, _, v = p.partition("=")
                attrs[k.strip().lower()] = v.strip()
            elif i == 0:
                if p.isdigit():
                    count = int(p)
                else:
                    named_host = True  # Torque: a host name or a property
            # bare properties (e.g. ":gpu") are ignored
        chunks.append((count, attrs, named_host))
    return chunks


def _apply_pbs_resource(job: BatchJob, key: str, val: str) -> None:
    k = key.strip().lower()
    v = val.strip()
    if k in ("nodes", "select"):
        chunks = _pbs_chunks(v, k == "select")
        if not chunks:
            job.warnings.append(f"unreadable -l {key}={val}")
            return
        job.nodes = sum(c for c, _a, _h in chunks)
        cores = 0
        tasks = 0
        for count, attrs, _h in chunks:
            if k == "nodes":
                ppn = to_int(attrs.get("ppn"), 1) or 1
                cores += count * ppn
                tasks += count * ppn
                g = to_int(attrs.get("gpus"), None)
            else:
                ncpus = to_int(attrs.get("ncpus"), 1) or 1
                mpiprocs = to_int(attrs.get("mpiprocs"), None)
                cores += count * ncpus
                tasks += count * (mpiprocs or 1)
                g = to_int(attrs.get("ngpus") or attrs.get("gpus"), None)
                if attrs.get("mem"):
                    job.mem_per_node_mb = parse_mem_mb(attrs["mem"], "b")
                if attrs.get("ompthreads"):
                    job.cpus_per_task = to_int(attrs["ompthreads"], None)
            if g is not None:
                job.gpus_per_node = max(job.gpus_per_node or 0, g)
        first = chunks[0][1]
        job.cores_total = cores
        job.ntasks = tasks
        per = to_int(first.get("ppn") if k == "nodes" else (first.get("mpiprocs") or None), None)
        if per:
            job.ntasks_per_node = per
    elif k == "walltime":
        job.walltime_min = parse_hms_time(v, "s")
        if job.walltime_min is None:
            job.warnings.append(f"unreadable walltime {val!r}")
    elif k in ("mem", "vmem"):
        if k == "mem" or job.mem_total_mb is None:
            job.mem_total_mb = parse_mem_mb(v, "b")
    elif k in ("pmem", "pvmem", "mem_per_cpu"):
        job.mem_per_cpu_mb = parse_mem_mb(v, "b")
    elif k == "ncpus":
        job.cores_total = to_int(v, None)
        if job.nodes is None:
            job.nodes = 1
    elif k in ("procs", "mpiprocs"):
        job.ntasks = to_int(v, None)
    elif k in ("ngpus", "gpus"):
        job.gpus = to_int(v, None)
    elif k in ("place",) and "excl" in v:
        job.exclusive = True
    elif k in ("gpu_model", "gputype", "gpu_type"):
        job.gpu_type = v


def _apply_pbs(job: BatchJob, opts: list[tuple[str, list[str]]]) -> None:
    for name, args in opts:
        v = args[0] if args else ""
        if name == "-l":
            for item in re.split(r",(?![^\[]*\])", v):
                if "=" in item:
                    k, _, val = item.partition("=")
                    _apply_pbs_resource(job, k, val)
        elif name == "-q":
            job.queue = v.split("@", 1)[0] or None
        elif name == "-N":
            job.job_name = v or None
        elif name in ("-A", "-P"):
            job.account = job.account or v or None
        elif name in ("-J", "-t"):
            job.array = v or None
            job.array_size, job.array_max_parallel = array_size(v)
            if job.array_size is None:
                job.warnings.append(f"unreadable array spec {v!r}")
        elif name == "":
            job.warnings.append(f"stray #PBS argument {v!r}")


# --------------------------------------------------------------------------- SGE

_SGE_ARITY = {
    "-cwd": 0,
    "-V": 0,
    "-notify": 0,
    "-soft": 0,
    "-hard": 0,
    "-clear": 0,
    "-terse": 0,
    "-verify": 0,
    "-h": 0,
    "-pe": 2,
    "-binding": 1,
}
_SGE_SMP_PE = re.compile(r"^(smp|shared|shm|threaded|threads|openmp|omp|serial|single|make|multithread|mt|local|node)", re.I)
_SGE_MEM_KEYS = ("h_vmem", "mem_free", "mem_req", "virtual_free", "h_data", "m_mem_free", "s_vmem", "mem", "h_mem")


def _apply_sge(job: BatchJob, opts: list[tuple[str, list[str]]]) -> None:
    for name, args in opts:
        v = args[0] if args else ""
        if name == "-pe":
            if len(args) < 2:
                job.warnings.append(f"incomplete -pe {' '.join(args)!r}")
                continue
            pe, slots = args[0], args[1]
            lo, _hi = _range_min_max(slots)
            if lo is None:
                job.warnings.append(f"unreadable -pe slots {slots!r}")
                continue
            job.cores_total = lo
            if _SGE_SMP_PE.match(pe):
                job.nodes = 1
                job.ntasks = 1
                job.cpus_per_task = lo
            else:
                job.ntasks = lo
        elif name == "-l":
            for item in v.split(","):
                k, eq, val = item.partition("=")
                k = k.strip().lower()
                if not eq:
                    continue
                if k in ("h_rt", "s_rt", "rt"):
                    job.walltime_min = parse_hms_time(val, "s")
                    if job.walltime_min is None:
                        job.warnings.append(f"unreadable {k}={val!r}")
                elif k in _SGE_MEM_KEYS:
                    mb = _sge_mem(val)
                    if mb is not None and (job.mem_per_cpu_mb is None or k == "h_vmem"):
                        job.mem_per_cpu_mb = mb
                elif k in ("gpu", "gpus", "ngpus", "gpu_card", "cuda"):
                    job.gpus_per_node = to_int(val, None)
                elif k in ("exclusive", "excl") and val.strip().lower() in ("true", "1", "yes"):
                    job.exclusive = True
                elif k in ("q", "queue"):
                    job.queue = val.split("@", 1)[0]
        elif name == "-q":
            job.queue = v.split(",", 1)[0].split("@", 1)[0] or None
        elif name == "-N":
            job.job_name = v or None
        elif name in ("-P", "-A"):
            job.account = job.account or v or None
        elif name == "-t":
            job.array = v or None
            n, mp = array_size(v)
            job.array_size = n
            job.array_max_parallel = job.array_max_parallel or mp
            if n is None:
                job.warnings.append(f"unreadable -t array spec {v!r}")
        elif name == "-tc":
            job.array_max_parallel = to_int(v, None)
        elif name == "":
            job.warnings.append(f"stray #$ argument {v!r}")


def _sge_mem(val: str) -> int | None:
    m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([KMGTkmgt]?)[Bb]?\s*$", val or "")
    if not m:
        return None
    num = float(m.group(1))
    mult = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}[m.group(2)]
    return max(1, math.ceil(num * mult / (1024 * 1024)))


# --------------------------------------------------------------------------- LSF

_LSF_ARITY = {
    "-x": 0,
    "-B": 0,
    "-N": 0,
    "-r": 0,
    "-rn": 0,
    "-I": 0,
    "-Ip": 0,
    "-Is": 0,
    "-IS": 0,
    "-ISp": 0,
    "-ISs": 0,
    "-IX": 0,
    "-K": 0,
    "-H": 0,
    "-tty": 0,
    "-ul": 0,
    "-hl": 0,
}


def _apply_lsf_resreq(job: BatchJob, req: str) -> None:
    for sec, body in re.findall(r"(\w+)\s*\[([^\]]*)\]", req):
        sec = sec.lower()
        items = dict(
            (k.strip().lower(), v.strip())
            for k, _, v in (x.partition("=") for x in re.split(r"[:,\s]+", body))
            if k.strip()
        )
        if sec == "span":
            if "ptile" in items:
                job.ntasks_per_node = to_int(items["ptile"], None)
            if "hosts" in items and to_int(items["hosts"], None) not in (None, -1):
                job.nodes = to_int(items["hosts"], None)
        elif sec == "rusage":
            if "mem" in items:
                job.mem_per_cpu_mb = parse_mem_mb(items["mem"], "m")
            for gk in ("ngpus_physical", "ngpus", "ngpus_shared", "ngpus_excl_p"):
                if gk in items:
                    job.gpus_per_node = to_int(items[gk], None)
                    break


def _apply_lsf(job: BatchJob, opts: list[tuple[str, list[str]]]) -> None:
    for name, args in opts:
        v = args[0] if args else ""
        if name == "-n":
            lo, _hi = _range_min_max(v)
            if lo is None:
                job.warnings.append(f"unreadable -n {v!r}")
            else:
                job.ntasks = lo
        elif name == "-R":
            _apply_lsf_resreq(job, v)
        elif name == "-M":
            if job.mem_per_cpu_mb is None:
                job.mem_per_cpu_mb = parse_mem_mb(v, "m")
        elif name == "-W":
            job.walltime_min = parse_hms_time(v.split("/", 1)[0], "m")
            if job.walltime_min is None:
                job.warnings.append(f"unreadable -W {v!r}")
        elif name == "-q":
            job.queue = v.split()[0] if v.split() else None
        elif name == "-J":
            m = re.match(r"^([^\[]*)\[([^\]]*)\](%\d+)?$", v.strip())
            if m:
                job.job_name = m.group(1) or None
                spec = m.group(2) + (m.group(3) or "")
                job.array = spec
                job.array_size, job.array_max_parallel = array_size(spec)
                if job.array_size is None:
                    job.warnings.append(f"unreadable job array {v!r}")
            else:
                job.job_name = v or None
        elif name in ("-P", "-G"):
            job.account = job.account or v or None
        elif name == "-gpu":
            if v.strip() == "-":
                job.gpus_per_node = job.gpus_per_node or 1
            else:
                items = dict(x.partition("=")[::2] for x in v.split(":") if x)
                job.gpus_per_node = to_int(items.get("num"), 1)
                if items.get("gmodel"):
                    job.gpu_type = items["gmodel"]
        elif name == "-x":
            job.exclusive = True
        elif name == "":
            job.warnings.append(f"stray #BSUB argument {v!r}")
    if job.ntasks and job.ntasks_per_node and not job.nodes:
        job.nodes = max(1, math.ceil(job.ntasks / job.ntasks_per_node))
    if job.ntasks and not job.cores_total:
        job.cores_total = job.ntasks


# --------------------------------------------------------------------------- script body

SHELL_BUILTINS = frozenset(
    """
    cd export echo set unset source . if then else elif fi for while until do done case esac in
    function return exit local declare typeset readonly read printf shift trap wait true false test [ [[ ]] ]
    alias unalias ulimit umask eval let pushd popd dirs break continue : { } ( ) ! select shopt hash type
    command builtin enable getopts jobs fg bg disown kill logout history help times caller compgen complete
    mapfile readarray suspend coproc module ml setenv unsetenv setopt
    """.split()
)
COMMON_UTILITIES = frozenset(
    """
    mkdir cp mv rm ln ls cat date hostname sleep touch chmod chown pwd whoami id env sort uniq head tail wc
    grep egrep fgrep sed awk gawk cut tr tee basename dirname find xargs tar gzip gunzip bzip2 zip unzip du df
    free uptime nproc lscpu nvidia-smi scontrol squeue sacct sbatch sinfo sstat seff mail rsync scp sync
    realpath readlink mktemp seq expr yes printenv stat file which diff cmp ulimit wget curl
    """.split()
)
_WRAPPER_ONE_ARG = {
    "srun": {
        "-n", "-N", "-c", "-t", "-p", "-w", "-x", "-m", "-o", "-e", "-i", "-J", "-A", "-G", "-C", "-d", "-D",
        "-L", "-M", "-r", "-S", "-T", "-B", "-q",
        "--mpi", "--export", "--cpu-bind", "--distribution", "--nodelist", "--partition", "--ntasks", "--nodes",
        "--cpus-per-task", "--time", "--mem", "--mem-per-cpu", "--gres", "--gpus", "--gpus-per-task",
        "--gpus-per-node", "--ntasks-per-node", "--job-name", "--output", "--error", "--input", "--chdir",
        "--account", "--constraint", "--exclude", "--het-group", "--hint", "--cpu-freq", "--mem-bind",
        "--accel-bind", "--network", "--reservation", "--qos", "--dependency", "--container", "--gpu-bind",
        "--cpus-per-gpu", "--mem-per-gpu", "--switches", "--threads-per-core", "--ntasks-per-core",
    },
    "mpirun": {
        "-np", "-n", "-c", "-N", "-npernode", "--npernode", "-ppn", "-perhost", "-x", "-host", "--host", "-H",
        "-hostfile", "--hostfile", "-machinefile", "--machinefile", "-machine", "-f", "-wdir", "--wdir",
        "-map-by", "--map-by", "-bind-to", "--bind-to", "-rf", "--rankfile", "-genvlist", "-envlist",
        "-binding", "-launcher", "-iface", "-prefix", "--prefix", "-rmk", "-bootstrap", "--cpus-per-proc",
        "-cpus-per-proc", "--cpus-per-rank", "-cpus-per-rank", "-d", "-cc", "-j", "-S", "-a", "-r", "-g",
        "--nrs", "--tasks_per_rs", "--cpu_per_rs", "--gpu_per_rs", "--rs_per_host", "-e", "-b", "-l",
        "--stdio_mode", "-p", "--smpiargs", "-o", "-env-file",
    },
}
_WRAPPER_TWO_ARGS = {"--mca", "-mca", "-gmca", "--gmca", "-genv", "-env", "--env"}
_MPI_LAUNCHERS = {"mpirun", "mpiexec", "mpiexec.hydra", "orterun", "aprun", "jsrun", "ibrun", "prun", "mpiexec_mpt", "mpirun_rsh", "charmrun", "hydra"}
# wrappers whose own options carry no separate argument worth skipping precisely
_SIMPLE_WRAPPERS = {"nohup", "exec", "builtin", "command", "stdbuf", "chrt", "ionice", "strace", "ltrace", "valgrind", "nsys", "ncu", "hpcrun", "likwid-pin", "catchsegv", "unbuffer"}
_CONTAINER = {"singularity", "apptainer"}
_ML_SUBCOMMANDS = {
    "load", "add", "try-load", "try-add", "load-any", "unload", "rm", "del", "remove", "swap", "switch", "sw",
    "purge", "list", "ls", "avail", "av", "spider", "show", "display", "help", "whatis", "keyword", "key",
    "use", "unuse", "save", "s", "restore", "r", "savelist", "sl", "reset", "overview", "ov", "describe",
    "mcc", "is-loaded", "is-avail", "update", "refresh", "tablelist", "disable", "gd", "getdefault", "sd",
    "setdefault", "search", "info-loaded", "config", "initadd", "initrm", "initlist", "initclear", "paths",
    "test", "aliases", "source", "append-path", "prepend-path", "remove-path", "stash", "stashpop",
}
_ASSIGN_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])?\+?=")
_REDIR_RE = re.compile(r"^(\d*|&)(>>?|<<?<?|>&|<&|>\||&>>?)(.*)$")
_HEREDOC_RE = re.compile(r"<<(-?)\s*(['\"]?)([A-Za-z_][\w.-]*)\2")


def _split_commands(line: str) -> list[str]:
    """Split a shell line into simple commands at ``; && || | &`` outside quotes/substitutions."""
    out: list[str] = []
    cur: list[str] = []
    q: str | None = None
    depth = 0  # $( ... ) / ( ... ) nesting inside a word
    i = 0
    n = len(line)
    while i < n:
        ch = line[i]
        if q:
            cur.append(ch)
            if ch == "\\" and q != "'" and i + 1 < n:
                cur.append(line[i + 1])
                i += 2
                continue
            if ch == q:
                q = None
            i += 1
            continue
        if ch == "\\" and i + 1 < n:
            cur.append(line[i : i + 2])
            i += 2
            continue
        if ch in ("'", '"', "`"):
            q = ch
            cur.append(ch)
            i += 1
            continue
        if ch == "$" and i + 1 < n and line[i + 1] == "(":
            depth += 1
            cur.append("$(")
            i += 2
            continue
        if depth:
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            cur.append(ch)
            i += 1
            continue
        if ch in ";|&":
            prev = line[i - 1] if i else ""
            nxt = line[i + 1] if i + 1 < n else ""
            if ch == "&" and (prev in "<>" or nxt == ">"):
                cur.append(ch)  # redirection like 2>&1 or &>
                i += 1
                continue
            if ch == "|" and prev == ">":
                cur.append(ch)
                i += 1
                continue
            out.append("".join(cur))
            cur = []
            i += 2 if nxt == ch else 1
            continue
        cur.append(ch)
        i += 1
    out.append("".join(cur))
    return [c.strip() for c in out if c.strip()]


def _drop_redirections(tokens: list[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for t in tokens:
        if skip:
            skip = False
            continue
        m = _REDIR_RE.match(t)
        if m:
            if not m.group(3):
                skip = True
            continue
        out.append(t)
    return out


def _prog_name(tok: str) -> str | None:
    if not tok or "$" in tok or "`" in tok or tok.startswith(("-", "(", "<", ">")):
        return None
    base = os.path.basename(tok.rstrip("/"))
    if not base or base in (".", ".."):
        return None
    return base


class _Body:
    def __init__(self, job: BatchJob, ignore_utilities: bool) -> None:
        self.job = job
        self.ignore_utilities = ignore_utilities

    def command(self, words: list[str], depth: int = 0) -> None:
        if depth > 8:
            return
        words = _drop_redirections(words)
        # leading keywords, negation, grouping, case patterns, function headers, assignments
        while words:
            w = words[0]
            if w.startswith("(("):
                return  # arithmetic command
            if w in ("then", "do", "else", "elif", "if", "while", "until", "!", "{", "("):
                words = words[1:]
                continue
            if w.startswith("(") and len(w) > 1:
                words = [w[1:]] + words[1:]
                continue
            if w.endswith(")") and "(" not in w and not w.startswith("$"):
                words = words[1:]  # case pattern "a)" or a closing ")"
                continue
            if _ASSIGN_RE.match(w):
                words = words[1:]
                continue
            break
        if not words:
            return
        w0 = words[0]
        if w0.endswith("()") or (len(words) > 1 and words[1] == "()"):
            return  # function definition header
        name = _prog_name(w0)
        if name is None:
            return
        if name in ("module",) or (name == "ml" and w0 == "ml"):
            self.module(name, words[1:])
            return
        if name == "time":
            rest = words[1:]
            while rest and rest[0].startswith("-"):
                rest = rest[2:] if rest[0] in ("-f", "-o", "--format", "--output") else rest[1:]
            return self.command(rest, depth + 1)
        if name in _SIMPLE_WRAPPERS:
            rest = words[1:]
            while rest and rest[0].startswith("-"):
                rest = rest[1:]
            if rest:
                return self.command(rest, depth + 1)
            return
        if name == "env":
            rest = words[1:]
            while rest and (rest[0].startswith("-") or _ASSIGN_RE.match(rest[0])):
                rest = rest[2:] if rest[0] in ("-u", "--unset", "-C", "--chdir", "-S") else rest[1:]
            return self.command(rest, depth + 1) if rest else None
        if name in ("nice", "taskset", "timeout", "numactl", "xargs", "srun", "conda", "mamba", "micromamba", "shifter") or name in _MPI_LAUNCHERS or name in _CONTAINER:
            rest = self.unwrap(name, words[1:])
            if rest is None:
                self.program(name)
            elif rest:
                self.command(rest, depth + 1)
            return
        self.program(name)

    def unwrap(self, name: str, rest: list[str]) -> list[str] | None:
        """Return the wrapped command words, or None when the wrapper itself is the program."""
        if name == "nice":
            while rest and rest[0].startswith("-"):
                rest = rest[2:] if rest[0] in ("-n", "--adjustment") else rest[1:]
            return rest
        if name == "taskset":
            while rest and rest[0].startswith("-"):
                rest = rest[1:]
            return rest[1:]  # cpu list / mask
        if name == "timeout":
            while rest and rest[0].startswith("-"):
                rest = rest[2:] if rest[0] in ("-s", "-k", "--signal", "--kill-after") else rest[1:]
            return rest[1:]  # duration
        if name == "numactl":
            noarg = {"-H", "--hardware", "-s", "--show", "-l", "--localalloc", "-a", "--all", "--huge", "-T", "--touch", "-t", "--strict"}
            while rest and rest[0].startswith("-"):
                t = rest[0]
                if t in noarg or "=" in t or (not t.startswith("--") and len(t) > 2):
                    rest = rest[1:]  # flag, --opt=value or glued -C0-3
                else:
                    rest = rest[2:]  # -C 0-3 / --physcpubind 0-3
            return rest
        if name == "xargs":
            while rest and rest[0].startswith("-"):
                t = rest[0]
                rest = rest[2:] if t in ("-n", "-P", "-I", "-L", "-d", "-s", "-a", "-E") else rest[1:]
            return rest
        if name in ("conda", "mamba", "micromamba"):
            if not rest or rest[0] != "run":
                return None
            rest = rest[1:]
            while rest and rest[0].startswith("-"):
                rest = rest[2:] if rest[0] in ("-n", "--name", "-p", "--prefix", "--cwd") else rest[1:]
            return rest
        if name == "shifter":
            while rest and rest[0].startswith("-"):
                t = rest[0]
                rest = rest[1:] if "=" in t else rest[2:]
            return rest
        if name in _CONTAINER:
            if not rest or rest[0] not in ("exec", "run"):
                return None
            sub = rest[0]
            rest = rest[1:]
            one = {"-B", "--bind", "--pwd", "-H", "--home", "--env", "--overlay", "-W", "--workdir", "--env-file", "--security", "--network", "-o", "--mount", "--app", "-S", "--scratch"}
            while rest and rest[0].startswith("-"):
                t = rest[0]
                rest = rest[2:] if (t in one and "=" not in t) else rest[1:]
            if not rest:
                return []
            image = rest[0]
            if sub == "run":
                self.program(name)
                return []
            if len(rest) == 1:
                self.job.warnings.append(f"{name} exec without a command (image {image!r})")
                return []
            return rest[1:]
        # srun / MPI launchers
        table = _WRAPPER_ONE_ARG["srun" if name == "srun" else "mpirun"]
        while rest and (rest[0].startswith("-") or rest[0] == ":"):
            t = rest[0]
            if "=" in t:
                rest = rest[1:]
            elif t in _WRAPPER_TWO_ARGS:
                rest = rest[3:]
            elif t in table:
                rest = rest[2:]
            elif name == "srun" and re.match(r"^-[A-Za-z]\S", t):
                rest = rest[1:]  # glued short option (-n4)
            elif len(rest) > 1 and re.fullmatch(r"\d+", rest[1]):
                rest = rest[2:]  # unknown option followed by a number
            else:
                rest = rest[1:]
        return rest

    def program(self, name: str) -> None:
        if name in SHELL_BUILTINS:
            return
        if self.ignore_utilities and name in COMMON_UTILITIES:
            return
        self.job.programs.append(name)

    def module(self, cmd: str, args: list[str]) -> None:
        if cmd == "ml":
            # Lmod "ml": no argument = list; a sub-command = "module <sub>"; else load / -unload
            plain = [a for a in args if not a.startswith("-")]
            if not plain and not any(a.startswith("-") and len(a) > 2 and not a.startswith("--") for a in args):
                return
            if plain and plain[0] in _ML_SUBCOMMANDS:
                return self.module("module", args)
            for a in args:
                if a.startswith("--") or (a.startswith("-") and len(a) <= 2):
                    continue  # option such as -q / --quiet
                if a.startswith("-"):
                    self.add_unload(a[1:])
                else:
                    self.add_load(a)
            return
        rest = [a for a in args]
        while rest and rest[0].startswith("-"):
            rest = rest[1:]
        if not rest:
            return
        sub, items = rest[0], [a for a in rest[1:] if not a.startswith("-")]
        if sub in ("load", "add", "try-load", "try-add", "load-any"):
            for it in items:
                self.add_load(it)
        elif sub in ("unload", "rm", "del", "remove"):
            for it in items:
                self.add_unload(it)
        elif sub in ("swap", "switch", "sw"):
            if len(items) >= 2:
                self.add_unload(items[0])
                self.add_load(items[1])
            elif items:
                self.add_load(items[0])
        elif sub == "purge":
            self.job.module_purge = True

    def add_load(self, name: str) -> None:
        if "$" in name or "`" in name:
            self.job.warnings.append(f"module name from a variable not resolved: {name!r}")
            return
        if name:
            self.job.modules.append(name)

    def add_unload(self, name: str) -> None:
        if name and "$" not in name:
            self.job.modules_unloaded.append(name)


def _logical_lines(lines: list[str]) -> Iterable[tuple[int, str]]:
    """Join ``\\`` continuations and drop here-document bodies. Yields (line number, text)."""
    i = 0
    n = len(lines)
    while i < n:
        start = i
        text = lines[i]
        while text.endswith("\\") and not text.endswith("\\\\") and i + 1 < n:
            i += 1
            text = text[:-1] + " " + lines[i]
        i += 1
        code = _strip_comment(text) if not text.lstrip().startswith("#") else ""
        docs = [(m.group(1) == "-", m.group(3)) for m in _HEREDOC_RE.finditer(code) if "<<<" not in code[max(0, m.start() - 1) : m.start() + 3]]
        yield start + 1, code
        for strip_tabs, delim in docs:
            while i < n:
                body = lines[i].lstrip("\t") if strip_tabs else lines[i]
                i += 1
                if body.strip() == delim:
                    break


# --------------------------------------------------------------------------- public parse


def parse_batch_script(text: str | bytes | None, filename: str | None = None, *, ignore_utilities: bool = True) -> BatchJob:
    """Parse one batch script. ``ignore_utilities`` drops coreutils-style commands from ``programs``."""
    job = BatchJob(filename=filename)
    try:
        _parse(job, text, ignore_utilities)
    except Exception as exc:  # pragma: no cover - defensive: never raise
        job.warnings.append(f"internal parser error: {type(exc).__name__}: {exc}")
    return job


def _parse(job: BatchJob, text: str | bytes | None, ignore_utilities: bool) -> None:
    if text is None:
        return
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    text = str(text).lstrip("\ufeff")
    lines = [ln.rstrip("\r") for ln in text.splitlines()]
    groups: dict[str, list[str]] = {"slurm": [], "pbs": [], "sge": [], "lsf": []}
    body_start = len(lines)
    for idx, line in enumerate(lines):
        st = line.strip()
        if not st:
            continue
        if st.startswith("#"):
            for prefix, sched in DIRECTIVE_PREFIXES:
                if line.startswith(prefix) and (len(line) == len(prefix) or line[len(prefix)].isspace()):
                    groups[sched].append(line[len(prefix) :])
                    job.directives.append(line)
                    break
                if not line.startswith(prefix) and st.startswith(prefix) and (len(st) == len(prefix) or st[len(prefix)].isspace()):
                    job.warnings.append(f"line {idx + 1}: indented {prefix} directive ignored by the scheduler")
                    break
            continue
        body_start = idx
        break
    # directives after the first command are ignored by the schedulers: say so
    for idx in range(body_start + 1, len(lines)):
        ln = lines[idx]
        for prefix, _sched in DIRECTIVE_PREFIXES:
            if ln.startswith(prefix) and (len(ln) == len(prefix) or ln[len(prefix)].isspace()):
                job.warnings.append(f"line {idx + 1}: {prefix} after the first command is ignored")
                break
    used = [s for s, g in groups.items() if g]
    if used:
        job.scheduler = max(used, key=lambda s: len(groups[s]))
        if len(used) > 1:
            job.warnings.append(f"directives for several schedulers ({', '.join(used)}); using {job.scheduler}")
    for sched in ("slurm", "pbs", "sge", "lsf"):
        if sched != job.scheduler:
            continue
        toks: list[str] = []
        for d in groups[sched]:
            toks.extend(_split_words(_strip_comment(d)))
        if sched == "slurm":
            _apply_slurm(job, _getopt(toks, _SLURM_LONG_NOARG, _SLURM_LONG_OPTARG, _SLURM_SHORT_NOARG))
        elif sched == "pbs":
            _apply_pbs(job, _wordopt(toks, _PBS_ARITY, glued="aAcCeJjklmMNoOpPqrSuvWt"))
        elif sched == "sge":
            _apply_sge(job, _wordopt(toks, _SGE_ARITY))
        else:
            _apply_lsf(job, _wordopt(toks, _LSF_ARITY))
    body = _Body(job, ignore_utilities)
    for _lineno, code in _logical_lines(lines[body_start:]):
        if not code.strip():
            continue
        for cmd in _split_commands(code):
            body.command(_split_words(cmd))


# --------------------------------------------------------------------------- summary


@dataclass
class Stat:
    typical: float | int | None = None  # median over jobs that state a value
    peak: float | int | None = None
    count: int = 0

    @classmethod
    def of(cls, values: Iterable[float | int | None]) -> "Stat":
        vals = [v for v in values if v is not None]
        if not vals:
            return cls()
        return cls(typical=median(vals), peak=max(vals), count=len(vals))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class QueueProfile:
    queue: str
    job_count: int = 0
    nodes: Stat = field(default_factory=Stat)
    cores: Stat = field(default_factory=Stat)
    memory_per_node_mb: Stat = field(default_factory=Stat)
    gpus: Stat = field(default_factory=Stat)
    walltime_min: Stat = field(default_factory=Stat)
    array_jobs: int = 0
    array_tasks: int = 0
    gpu_types: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


DEFAULT_QUEUE_KEY = "(default)"


@dataclass
class ResourceProfile:
    job_count: int = 0
    queues: dict[str, QueueProfile] = field(default_factory=dict)
    modules: dict[str, int] = field(default_factory=dict)  # jobs loading each module
    programs: dict[str, int] = field(default_factory=dict)  # jobs running each program
    schedulers: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_count": self.job_count,
            "queues": {k: v.to_dict() for k, v in self.queues.items()},
            "modules": dict(self.modules),
            "programs": dict(self.programs),
            "schedulers": dict(self.schedulers),
            "warnings": list(self.warnings),
        }


def _ranked(c: Counter[str]) -> dict[str, int]:
    return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))


def summarize(jobs: Iterable[BatchJob]) -> ResourceProfile:
    """Per-queue typical (median) and peak resources, module and program usage counts.

    Jobs without a queue are grouped under ``"(default)"``. Module/program counts are the
    number of jobs that use them (a job loading ``gcc`` twice counts once).
    """
    prof = ResourceProfile()
    by_q: dict[str, list[BatchJob]] = {}
    mods: Counter[str] = Counter()
    progs: Counter[str] = Counter()
    scheds: Counter[str] = Counter()
    for job in jobs:
        if not isinstance(job, BatchJob):
            prof.warnings.append(f"ignored non-BatchJob item {type(job).__name__}")
            continue
        prof.job_count += 1
        by_q.setdefault(job.queue or DEFAULT_QUEUE_KEY, []).append(job)
        mods.update(set(job.modules))
        progs.update(set(job.programs))
        scheds[job.scheduler or "none"] += 1
        for w in job.warnings:
            prof.warnings.append(f"{job.filename or '<script>'}: {w}")
    for q in sorted(by_q):
        js = by_q[q]
        qp = QueueProfile(queue=q, job_count=len(js))
        qp.nodes = Stat.of(j.node_count for j in js)
        qp.cores = Stat.of(j.total_cores for j in js)
        qp.memory_per_node_mb = Stat.of(j.memory_per_node_mb for j in js)
        qp.gpus = Stat.of(j.total_gpus for j in js)
        qp.walltime_min = Stat.of(j.walltime_min for j in js)
        qp.array_jobs = sum(1 for j in js if j.array)
        qp.array_tasks = sum(j.array_size or 0 for j in js if j.array)
        qp.gpu_types = _ranked(Counter(j.gpu_type for j in js if j.gpu_type))
        prof.queues[q] = qp
    prof.modules = _ranked(mods)
    prof.programs = _ranked(progs)
    prof.schedulers = _ranked(scheds)
    if len(prof.warnings) > 500:
        prof.warnings = prof.warnings[:500] + ["(further warnings suppressed)"]
    return prof
