"""Pure parsers for on-prem HPC captures: text in, dataclasses out, never raising.

* :mod:`.modules` -- ``module avail``/``-t avail``/``spider`` (Lmod and Environment Modules) and
  Lmod spider JSON -> :class:`ModuleListing`;
* :mod:`.slurm` -- ``scontrol show partition|node|config``, ``sinfo`` and hostlists;
* :mod:`.schedulers` -- PBS/Torque, SGE, LSF queue/host listings and :func:`summarize_queues`;
* :mod:`.batch` -- ``#SBATCH``/``#PBS``/``#$``/``#BSUB`` job scripts and :func:`summarize`.

Standard library only. Results that are lists carry a ``.warnings`` attribute
(:class:`ParsedList`); dataclass results have a ``warnings`` field.

Names are resolved lazily (PEP 562), so ``import pctl.capture.parsers`` costs nothing until a
parser is used; ``from pctl.capture.parsers import parse_listing`` loads only ``.modules``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    # modules
    "FORMATS": "modules",
    "Module": "modules",
    "ModuleListing": "modules",
    "Section": "modules",
    "detect_format": "modules",
    "parse_listing": "modules",
    "split_full_name": "modules",
    # slurm
    "Node": "slurm",
    "Partition": "slurm",
    "SinfoRow": "slurm",
    "parse_gres": "slurm",
    "parse_kv_line": "slurm",
    "parse_scontrol_config": "slurm",
    "parse_scontrol_nodes": "slurm",
    "parse_scontrol_partitions": "slurm",
    "parse_sinfo": "slurm",
    "parse_tres": "slurm",
    "sinfo_partitions": "slurm",
    # other schedulers
    "Queue": "schedulers",
    "PbsQueue": "schedulers",
    "PbsNode": "schedulers",
    "SgeQueue": "schedulers",
    "SgeHostGroup": "schedulers",
    "SgeHost": "schedulers",
    "LsfQueue": "schedulers",
    "LsfHost": "schedulers",
    "parse_pbs_qstat_q": "schedulers",
    "parse_pbsnodes": "schedulers",
    "parse_sge_queue_list": "schedulers",
    "parse_sge_queue": "schedulers",
    "parse_sge_hostgroup": "schedulers",
    "parse_sge_qhost": "schedulers",
    "parse_lsf_bqueues": "schedulers",
    "parse_lsf_hosts": "schedulers",
    "summarize_queues": "schedulers",
    # batch scripts
    "BatchJob": "batch",
    "Stat": "batch",
    "QueueProfile": "batch",
    "ResourceProfile": "batch",
    "parse_batch_script": "batch",
    "summarize": "batch",
    "array_size": "batch",
    # helpers
    "ParsedList": "_common",
    "expand_hostlist": "_common",
    "hostlist_count": "_common",
    "parse_hms_time": "_common",
    "parse_mem_mb": "_common",
    "parse_slurm_time": "_common",
    "strip_ansi": "_text",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{mod}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # pragma: no cover - static analysers see the real names
    from ._common import (  # noqa: F401
        ParsedList,
        expand_hostlist,
        hostlist_count,
        parse_hms_time,
        parse_mem_mb,
        parse_slurm_time,
    )
    from ._text import strip_ansi  # noqa: F401
    from .batch import (  # noqa: F401
        BatchJob,
        QueueProfile,
        ResourceProfile,
        Stat,
        array_size,
        parse_batch_script,
        summarize,
    )
    from .modules import (  # noqa: F401
        FORMATS,
        Module,
        ModuleListing,
        Section,
        detect_format,
        parse_listing,
        split_full_name,
    )
    from .schedulers import (  # noqa: F401
        LsfHost,
        LsfQueue,
        PbsNode,
        PbsQueue,
        Queue,
        SgeHost,
        SgeHostGroup,
        SgeQueue,
        parse_lsf_bqueues,
        parse_lsf_hosts,
        parse_pbs_qstat_q,
        parse_pbsnodes,
        parse_sge_hostgroup,
        parse_sge_qhost,
        parse_sge_queue,
        parse_sge_queue_list,
        summarize_queues,
    )
    from .slurm import (  # noqa: F401
        Node,
        Partition,
        SinfoRow,
        parse_gres,
        parse_kv_line,
        parse_scontrol_config,
        parse_scontrol_nodes,
        parse_scontrol_partitions,
        parse_sinfo,
        parse_tres,
        sinfo_partitions,
    )
