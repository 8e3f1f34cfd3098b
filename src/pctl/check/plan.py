"""What `pctl check` proves for a template: the checks, and where each one runs. Pure (no I/O, no clock).

Columns: ``head`` (the head node, in a login shell) and one per queue (inside a Slurm job on that queue).
Rows (check ids are stable; the JSON report uses them):

========================  =====================================================  ==============
id                        proves                                                 where
========================  =====================================================  ==============
``scheduler``             Slurm answers; every template queue is a partition      head
``job``                   the queue starts a node and runs a job (scale-up time)  each queue
``lmod``                  the ``module`` command exists in the shell              head, queues
``module:NAME[@VER]``     ``module load`` works, then a trivial command runs      head, queues
``user:NAME``             uid, gid, shell, groups; home exists, same as head      head, queues
``group:NAME``            gid                                                     head, queues
``s3:MOUNT``              mounted, owner group and mode; readable; writable       head, queues
                          exactly when read-write
``storage:MOUNT``         shared storage mounted and readable                     head, queues
``gpu``                   ``nvidia-smi -L`` lists GPUs inside the job             GPU queues
``mpi``                   a 2-node MPI hello (one rank per node)                  MPI queues
``ssh``                   ssh from the compute node back to the head node         queues (opt-in)
========================  =====================================================  ==============
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pctl.check.commands import MPI_PACKAGES, SYSTEM_MPI, command_for
from pctl.template import rules
from pctl.template.mount_access import mount_access

HEAD = "head"
#: a Spack version that names one release line (1.21, =1.21, 2023.1); ranges and lists are not
_SIMPLE_VERSION = re.compile(r"^=?([0-9A-Za-z][0-9A-Za-z._-]*)$")
STATUSES = ("pass", "fail", "skip")


@dataclass(frozen=True)
class CheckOptions:
    no_scale: bool = False
    wait_seconds: int = 1800  # how long a job may wait for its node (ParallelCluster boots one in ~5-8 min)
    job_minutes: int = 15  # Slurm time limit of each check job
    queues: tuple[str, ...] = ()  # only these queues (default: all)
    ssh_between_nodes: bool = False
    head: bool = True  # run the head-node column

    def __post_init__(self) -> None:
        if not 30 <= self.wait_seconds <= 6 * 3600:
            raise ValueError("wait_seconds must be between 30 and 21600")
        if not 1 <= self.job_minutes <= 240:
            raise ValueError("job_minutes must be between 1 and 240")


@dataclass(frozen=True)
class Check:
    id: str
    kind: str
    title: str
    columns: tuple[str, ...]  # "head" and/or queue column ids ("queue:NAME")
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class QueuePlan:
    name: str
    column: str
    instance_types: tuple[str, ...]
    max_count: int
    gpu: bool
    mpi: bool
    mpi_reason: str  # why this queue is (or is not) an MPI queue
    job_name: str
    mpi_job_name: str


@dataclass(frozen=True)
class Plan:
    nonce: str  # public, unique per run: job names and probe file names
    marker: str  # secret per run: the output protocol's line marker
    options: CheckOptions
    checks: tuple[Check, ...]
    queues: tuple[QueuePlan, ...]
    mpi_modules: tuple[str, ...]
    hierarchical: bool

    @property
    def columns(self) -> list[str]:
        return ([HEAD] if self.options.head else []) + [q.column for q in self.queues]

    def checks_for(self, column: str) -> list[Check]:
        return [c for c in self.checks if column in c.columns]

    def check(self, check_id: str) -> Check | None:
        for c in self.checks:
            if c.id == check_id:
                return c
        return None

    @property
    def job_names(self) -> list[str]:
        out = []
        for q in self.queues:
            out.append(q.job_name)
            if q.mpi:
                out.append(q.mpi_job_name)
        return out

    @property
    def probe_mounts(self) -> list[str]:
        """Where probe files may be written (every S3 mount: a read-only one that accepts a write too)."""
        return [c.params["mount"] for c in self.checks if c.kind == "s3"]


def queue_column(name: str) -> str:
    return f"queue:{name}"


def column_token(column: str) -> str:
    """The column as it appears in probe file names: headnode, q-NAME."""
    return "headnode" if column == HEAD else "q-" + column.split(":", 1)[1]


def _module_params(spec_text: str) -> tuple[str, dict[str, Any], str]:
    from pctl.spack.spec import parse_spec

    spec = parse_spec(spec_text)
    name = spec.name or spec_text
    version = ""
    if spec.version:
        m = _SIMPLE_VERSION.match(spec.version)
        if m and ":" not in spec.version and "," not in spec.version:
            version = m.group(1)
    cmd = command_for(name)
    params = {"name": name, "version": version, "spec": spec_text, "command": list(cmd[0]) if cmd else [],
              "any_rc": 1 if cmd and cmd[1] else 0, "after": ""}
    title = f"module {name}" + (f"/{version}" if version else "") + (f": {' '.join(cmd[0])}" if cmd else "")
    return name + (f"@{version}" if version else ""), params, title


def build_plan(template, options: CheckOptions, *, nonce: str, marker: str) -> Plan:
    """The checks for a validated Template. ``nonce`` names jobs and probe files; ``marker`` (secret) tags
    the probes' result lines."""
    if not re.fullmatch(r"[0-9a-f]{8,32}", nonce) or not re.fullmatch(r"@@PCTL-CHECK-[0-9a-f]{16,64}@@", marker):
        raise ValueError("nonce must be 8-32 hex digits and marker @@PCTL-CHECK-<hex>@@")
    queues_all = list(template.compute.queues)
    if options.queues:
        known = {q.name for q in queues_all}
        unknown = [q for q in options.queues if q not in known]
        if unknown:
            from pctl.errors import UsageError

            raise UsageError(f"--queue {unknown[0]}: the template has no such queue",
                             hint="queues: " + ", ".join(sorted(known)))
        queues_all = [q for q in queues_all if q.name in options.queues]
    packages = list(template.software.spack_packages)
    pkg_names = []
    for text in packages:
        from pctl.spack.spec import parse_spec

        pkg_names.append(parse_spec(text).name or "")
    mpi_modules = tuple(dict.fromkeys(n for n in pkg_names if n in MPI_PACKAGES)) or ("openmpi",)
    has_mpi_pkg = any(n in MPI_PACKAGES for n in pkg_names)
    hierarchical = template.software.modules == "hierarchical"

    queues = []
    for q in queues_all:
        gpu = any(rules.is_gpu(t) for t in q.instance_types)
        if q.efa:
            mpi, why = True, "EFA queue"
        elif has_mpi_pkg:
            mpi, why = True, "the template installs MPI (" + ", ".join(n for n in pkg_names if n in MPI_PACKAGES) + ")"
        else:
            mpi, why = False, "not an MPI queue (no efa: true, no MPI package in the template)"
        if mpi and q.max_count < 2:
            mpi, why = False, f"max_count is {q.max_count}: a 2-node hello needs 2 nodes"
        queues.append(QueuePlan(
            name=q.name, column=queue_column(q.name), instance_types=tuple(q.instance_types),
            max_count=q.max_count, gpu=gpu, mpi=mpi, mpi_reason=why,
            job_name=f"pctl-check-{nonce}-{q.name}", mpi_job_name=f"pctl-check-{nonce}-{q.name}-mpi"))
    qcols = tuple(q.column for q in queues)
    everywhere = ((HEAD,) if options.head else ()) + qcols

    checks: list[Check] = []
    if options.head:
        checks.append(Check("scheduler", "scheduler", "Slurm answers; every queue is a partition", (HEAD,),
                            {"queues": [q.name for q in queues]}))
    if qcols:
        checks.append(Check("job", "job", "a job runs on the queue (node start time)", qcols, {}))
    if packages:
        checks.append(Check("lmod", "lmod", "the module command", everywhere, {}))
    seen: set[str] = set()
    for text in packages:
        key, params, title = _module_params(text)
        if key in seen:
            continue
        seen.add(key)
        if hierarchical and params["name"] not in MPI_PACKAGES and has_mpi_pkg:
            params["after"] = mpi_modules[0]
        checks.append(Check(f"module:{key}", "module", title, everywhere, params))
    for g in template.groups:
        checks.append(Check(f"group:{g.name}", "group", f"group {g.name} ({g.gid})", everywhere,
                            {"name": g.name, "gid": g.gid}))
    for u in template.users:
        checks.append(Check(f"user:{u.name}", "user", f"user {u.name} ({u.uid}:{u.primary_gid})", everywhere,
                            {"name": u.name, "uid": u.uid, "gid": u.primary_gid, "shell": u.shell,
                             "groups": ",".join(u.groups)}))
    for m in template.data.s3_mounts:
        point = rules.normalize_mount(m.mount_point)
        ro = m.read_only is not False
        src = f"s3://{m.bucket}/{m.prefix or ''}"
        access = mount_access(template, m)
        # the owner group and directory mode the node mounts it with (no group: Mountpoint's defaults, unchecked)
        owner = {"gid": access.gid, "group": access.group, "dir_mode": access.dir_mode} if access.gid is not None \
            else {"gid": 0, "group": "", "dir_mode": ""}
        checks.append(Check(f"s3:{point}", "s3", f"S3 {point} ({'read-only' if ro else 'read-write'}, {src})",
                            everywhere, {"mount": point, "read_only": 1 if ro else 0, "bucket": m.bucket, **owner}))
    for s in template.data.shared_storage:
        point = rules.normalize_mount(s.mount_point)
        checks.append(Check(f"storage:{point}", "storage", f"storage {point} ({s.type})", everywhere,
                            {"mount": point, "type": s.type}))
    if qcols:
        checks.append(Check("gpu", "gpu", "GPUs visible in a job (nvidia-smi -L)", qcols, {}))
        checks.append(Check("mpi", "mpi", "2-node MPI hello", qcols, {}))
        if options.ssh_between_nodes:
            checks.append(Check("ssh", "ssh", "ssh from a compute node to the head node", qcols, {}))
    return Plan(nonce=nonce, marker=marker, options=options, checks=tuple(checks), queues=tuple(queues),
                mpi_modules=mpi_modules, hierarchical=hierarchical)


def static_skips(plan: Plan) -> dict[tuple[str, str], str]:
    """Cells known to be skipped before anything runs: (check id, column) -> why."""
    out: dict[tuple[str, str], str] = {}
    for q in plan.queues:
        if not q.gpu:
            out[("gpu", q.column)] = f"no GPU instance type in {q.name} ({', '.join(q.instance_types)})"
        if not q.mpi:
            out[("mpi", q.column)] = q.mpi_reason
    return out


__all__ = ["CheckOptions", "Check", "HEAD", "Plan", "QueuePlan", "STATUSES", "SYSTEM_MPI", "build_plan",
           "column_token", "queue_column", "static_skips"]
