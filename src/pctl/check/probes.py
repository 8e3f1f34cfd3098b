"""Plan -> the shell that `pctl check` runs on a cluster (Jinja2 templates ``check-*.sh.j2`` in
``pctl/render/scripts``, every value quoted with ``| q`` or ``| n``). Pure.

* ``head``: the head node's probe (``ssh HOST bash -l -s``);
* ``submit`` per queue: looks at the partition, runs the ``job`` probe in a Slurm job (``srun``) and, on
  MPI queues, the ``mpi`` probe in a 2-node allocation (``salloc``);
* ``cleanup``: cancels the run's jobs by name and removes its probe files (always run at the end);
* ``ami``: the package checks on an AMI builder, before the image is made.

Every script is one ``main`` function called on the last line: bash has read the whole script before it
runs anything, so no command can swallow the rest of it from stdin.
"""

from __future__ import annotations

from pctl.check.commands import SYSTEM_MPI
from pctl.check.plan import HEAD, Plan, QueuePlan, column_token

#: evidence bytes a probe sends per result (pctl shortens further for display)
EVIDENCE_MAX = 4000
#: a job probe reaches the job on srun's stdin (base64 in the submit script); still keep it reasonable
MAX_PROBE_BYTES = 1_000_000

HELLO_C = r"""#include <mpi.h>
#include <stdio.h>
int main(int argc, char **argv) {
    int rank = 0, size = 0, len = 0;
    char host[MPI_MAX_PROCESSOR_NAME];
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Get_processor_name(host, &len);
    MPI_Barrier(MPI_COMM_WORLD);
    printf("pctl-mpi-hello rank %d of %d on %s\n", rank, size, host);
    MPI_Finalize();
    return 0;
}
"""


def _render(name: str, **ctx) -> str:
    from pctl.render.scripts import _render as render

    return render(name, **ctx)


def _base(plan: Plan, column: str, *, gpu: bool = False, ssh_between: bool = False) -> dict:
    return {"marker": plan.marker, "nonce": plan.nonce, "column": column_token(column),
            "evidence_max": EVIDENCE_MAX, "gpu": gpu, "ssh_between": ssh_between, "profile_b64": ""}


def render_head(plan: Plan) -> str:
    ctx = _base(plan, HEAD)
    return _render("check-probe.sh.j2", role="head", queue="", checks=plan.checks_for(HEAD), **ctx)


def render_job(plan: Plan, queue: QueuePlan) -> str:
    checks = [c for c in plan.checks_for(queue.column) if c.kind not in ("job", "mpi")]
    if not queue.gpu:
        checks = [c for c in checks if c.kind != "gpu"]
    ctx = _base(plan, queue.column, gpu=queue.gpu, ssh_between=any(c.kind == "ssh" for c in checks))
    return _render("check-probe.sh.j2", role="job", queue=queue.name, checks=checks, **ctx)


def render_mpi(plan: Plan, queue: QueuePlan) -> str:
    ctx = _base(plan, queue.column)
    return _render("check-mpi.sh.j2", queue=queue.name, mpi_modules=list(plan.mpi_modules),
                   mpi_fallback=SYSTEM_MPI, hello_c=HELLO_C, **ctx)


def render_submit(plan: Plan, queue: QueuePlan) -> str:
    ctx = _base(plan, queue.column)
    job = render_job(plan, queue)
    mpi = render_mpi(plan, queue) if queue.mpi else ""
    if len(job.encode()) > MAX_PROBE_BYTES:
        raise ValueError(f"the job probe for {queue.name} is too large ({len(job.encode())} bytes)")
    o = plan.options
    return _render("check-submit.sh.j2", queue=queue.name, job_name=queue.job_name, mpi_job_name=queue.mpi_job_name,
                   no_scale=1 if o.no_scale else 0, wait_seconds=o.wait_seconds, job_minutes=o.job_minutes,
                   gpus=1 if queue.gpu else 0, job_probe_b64=_b64(job), mpi=queue.mpi, mpi_probe_b64=_b64(mpi),
                   **ctx)


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def render_cleanup(plan: Plan) -> str:
    ctx = _base(plan, HEAD)
    return _render("check-cleanup.sh.j2", job_names=plan.job_names, mounts=plan.probe_mounts, **ctx)


def render_ami(plan: Plan, profile_sh: str, modules_core: str) -> str:
    """The package checks as the AMI builder runs them: ``profile_sh`` is the module wiring the image gets
    at boot (``/etc/profile.d/z00-pctl-modules.sh`` as rendered for the builder's paths); only the modules
    under ``modules_core`` (pctl's tree) are looked at."""
    checks = [c for c in plan.checks_for(HEAD) if c.kind in ("lmod", "module")]
    ctx = _base(plan, HEAD)
    ctx["profile_b64"] = _b64(profile_sh)
    return _render("check-probe.sh.j2", role="ami", queue="", checks=checks, modules_core=modules_core, **ctx)


def render_all(plan: Plan) -> dict[str, str]:
    """Every script of a run, by file name (for review, --output-dir and shellcheck)."""
    out = {"check-cleanup.sh": render_cleanup(plan)}
    if plan.options.head:
        out["check-head.sh"] = render_head(plan)
    for q in plan.queues:
        out[f"check-job-{q.name}.sh"] = render_job(plan, q)
        out[f"check-submit-{q.name}.sh"] = render_submit(plan, q)
        if q.mpi:
            out[f"check-mpi-{q.name}.sh"] = render_mpi(plan, q)
    return out
