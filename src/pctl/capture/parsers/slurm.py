"""Parse Slurm command output: ``scontrol show partition|node|config`` and ``sinfo``.

All functions take the captured text and never raise; list results are
:class:`~pctl.capture.parsers._common.ParsedList` objects with a ``warnings`` attribute.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from ._common import (
    ParsedList,
    expand_hostlist,
    hostlist_count,
    parse_mem_mb,
    parse_slurm_time,
    to_int,
)
from ._text import clean_lines

__all__ = [
    "Partition",
    "Node",
    "SinfoRow",
    "parse_scontrol_partitions",
    "parse_scontrol_nodes",
    "parse_scontrol_config",
    "parse_sinfo",
    "parse_kv_line",
    "parse_gres",
    "parse_tres",
    "parse_slurm_time",
    "expand_hostlist",
    "hostlist_count",
]

# --------------------------------------------------------------------------- key=value

_KV_RE = re.compile(r"(?:(?<=\s)|^)([A-Za-z][A-Za-z0-9_:./\[\]()-]*)=")


def parse_kv_line(text: str) -> dict[str, str]:
    """``A=1 B=two words C=x=y`` -> {A: 1, B: "two words", C: "x=y"} (values may hold spaces)."""
    out: dict[str, str] = {}
    matches = list(_KV_RE.finditer(text))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        out[m.group(1)] = text[m.end() : end].strip()
    return out


def _none_if_null(v: str | None) -> str | None:
    if v is None:
        return None
    s = v.strip()
    return None if s in ("", "(null)", "N/A", "n/a", "none", "NONE") else s


def _yes(v: str | None) -> bool:
    return (v or "").strip().upper() in ("YES", "Y", "TRUE", "1")


def parse_tres(text: str | None) -> dict[str, str]:
    """``cpu=144,mem=1157977M,node=5,gres/gpu=8`` -> dict."""
    out: dict[str, str] = {}
    if not text:
        return out
    for part in text.split(","):
        k, sep, v = part.partition("=")
        if sep and k.strip():
            out[k.strip()] = v.strip()
    return out


_GRES_ITEM_RE = re.compile(r"^([A-Za-z_][\w.-]*)(?::([^:(]+))?(?::([^:(]+))?(\(.*\))?$")


def parse_gres(text: str | None) -> tuple[int, str | None]:
    """GPU count and type from a Slurm GRES string.

    ``gpu:a100:4(S:0-1)`` -> (4, "a100"); ``gpu:2,mps:200`` -> (2, None); ``gpu`` -> (1, None);
    ``(null)`` -> (0, None). Several gpu items are summed; the first type wins.
    """
    if not text:
        return 0, None
    s = text.strip()
    if s.lower() in ("(null)", "null", "none", "n/a", ""):
        return 0, None
    total = 0
    gtype: str | None = None
    depth = 0
    items: list[str] = []
    cur = ""
    for ch in s:  # split on commas outside parentheses
        if ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    items.append(cur)
    for raw in items:
        it = raw.strip()
        if it.startswith("gres/"):
            it = it[5:]
        if "=" in it:  # TRES style gres/gpu:a100=4
            k, _, v = it.partition("=")
            parts = k.split(":")
            if parts[0].lower() != "gpu":
                continue
            n = to_int(v, 0) or 0
            total += n
            if len(parts) > 1 and gtype is None:
                gtype = parts[1]
            continue
        m = _GRES_ITEM_RE.match(it)
        if not m or m.group(1).lower() != "gpu":
            continue
        a, b = m.group(2), m.group(3)
        if b is not None:
            n = to_int(b, None)
            if n is None:
                n = 1
            if gtype is None:
                gtype = a
        elif a is not None:
            n = to_int(a, None)
            if n is None or not a.strip().isdigit():
                # "gpu:a100" -> type only, one GPU; "gpu:4K" style counts with suffix
                if a.strip()[:1].isdigit():
                    n = to_int(a, 1) or 1
                else:
                    if gtype is None:
                        gtype = a
                    n = 1
        else:
            n = 1
        total += max(n, 0)
    return total, gtype


# --------------------------------------------------------------------------- record blocks

_RECORD_KEYS = ("PartitionName", "NodeName", "JobId", "ReservationName", "StepId", "FrontendName", "ClusterName")


def _blocks(lines: list[str], key: str) -> list[str]:
    """Group ``scontrol show`` output into one string per record starting with ``key=``."""
    blocks: list[list[str]] = []
    cur: list[str] | None = None
    for line in lines:
        s = line.strip()
        if not s:
            cur = None  # records are separated by blank lines
            continue
        if s.startswith(key + "="):
            cur = [s]
            blocks.append(cur)
            continue
        if cur is None:
            continue
        if any(s.startswith(k + "=") for k in _RECORD_KEYS):
            cur = None
            continue
        if line[:1].isspace() or _KV_RE.match(s):
            cur.append(s)
        else:
            cur = None
    return ["\n".join(b) for b in blocks]


@dataclass
class Partition:
    name: str
    nodes: str = ""
    node_count: int | None = None
    total_cpus: int | None = None
    max_time_min: int | None = None
    default_time_min: int | None = None
    state: str | None = None
    max_nodes: int | None = None
    min_nodes: int | None = None
    default: bool = False
    def_mem_per_cpu_mb: int | None = None
    def_mem_per_node_mb: int | None = None
    max_mem_per_cpu_mb: int | None = None
    max_mem_per_node_mb: int | None = None
    max_cpus_per_node: int | None = None
    qos: str | None = None
    allow_accounts: str | None = None
    allow_groups: str | None = None
    hidden: bool = False
    priority_tier: int | None = None
    oversubscribe: str | None = None
    tres: dict[str, str] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def memory_mb(self) -> int | None:
        """Total memory from TRES (``mem=...``) in MiB, if known."""
        return parse_mem_mb(self.tres.get("mem"), "m") if self.tres.get("mem") else None

    @property
    def gpus(self) -> int:
        """Total GPUs from TRES (``gres/gpu=N``)."""
        n = 0
        for k, v in self.tres.items():
            if k == "gres/gpu":
                n += to_int(v, 0) or 0
        return n


def _unlimited_int(v: str | None) -> int | None:
    if v is None:
        return None
    s = v.strip().upper()
    if s in ("UNLIMITED", "INFINITE", "NONE", "N/A", "(NULL)", ""):
        return None
    return to_int(s, None)


def _mem_field(v: str | None) -> int | None:
    if v is None:
        return None
    s = v.strip().upper()
    if s in ("UNLIMITED", "INFINITE", "NONE", "N/A", "(NULL)", "", "0"):
        return None
    return parse_mem_mb(s, "m")


def parse_scontrol_partitions(text: str | None) -> ParsedList:
    """``scontrol show partition`` (multi-line or ``-o`` one-line) -> list of :class:`Partition`."""
    out = ParsedList()
    try:
        lines = clean_lines(text)
        for block in _blocks(lines, "PartitionName"):
            kv = parse_kv_line(block)
            name = kv.get("PartitionName", "").strip()
            if not name:
                out.warnings.append("partition block without a name skipped")
                continue
            p = Partition(name=name, raw=kv)
            nodes = _none_if_null(kv.get("Nodes")) or ""
            p.nodes = nodes
            p.total_cpus = to_int(kv.get("TotalCPUs"), None)
            p.node_count = to_int(kv.get("TotalNodes"), None)
            if p.node_count is None and nodes:
                p.node_count = hostlist_count(nodes)
            if "MaxTime" in kv:
                p.max_time_min = parse_slurm_time(kv["MaxTime"])
                if p.max_time_min is None and kv["MaxTime"].strip().upper() not in ("UNLIMITED", "INFINITE", "NONE"):
                    p.warnings.append(f"unreadable MaxTime {kv['MaxTime']!r}")
            if "DefaultTime" in kv:
                p.default_time_min = parse_slurm_time(kv["DefaultTime"])
            p.state = _none_if_null(kv.get("State"))
            p.max_nodes = _unlimited_int(kv.get("MaxNodes"))
            p.min_nodes = _unlimited_int(kv.get("MinNodes"))
            p.default = _yes(kv.get("Default"))
            p.def_mem_per_cpu_mb = _mem_field(kv.get("DefMemPerCPU"))
            p.def_mem_per_node_mb = _mem_field(kv.get("DefMemPerNode"))
            p.max_mem_per_cpu_mb = _mem_field(kv.get("MaxMemPerCPU"))
            p.max_mem_per_node_mb = _mem_field(kv.get("MaxMemPerNode"))
            p.max_cpus_per_node = _unlimited_int(kv.get("MaxCPUsPerNode"))
            p.qos = _none_if_null(kv.get("QoS"))
            p.allow_accounts = _none_if_null(kv.get("AllowAccounts"))
            p.allow_groups = _none_if_null(kv.get("AllowGroups"))
            p.hidden = _yes(kv.get("Hidden"))
            p.priority_tier = to_int(kv.get("PriorityTier"), None)
            p.oversubscribe = _none_if_null(kv.get("OverSubscribe") or kv.get("Shared"))
            p.tres = parse_tres(kv.get("TRES"))
            out.append(p)
        if not out and text and str(text).strip():
            out.warnings.append("no 'PartitionName=' records found")
    except Exception as exc:  # pragma: no cover - defensive
        out.warnings.append(f"internal parser error: {type(exc).__name__}: {exc}")
    return out


@dataclass
class Node:
    name: str
    cpus: int | None = None
    real_memory_mb: int | None = None
    gres: str | None = None
    gpus: int = 0
    gpu_type: str | None = None
    sockets: int | None = None
    cores_per_socket: int | None = None
    threads_per_core: int | None = None
    boards: int | None = None
    partitions: list[str] = field(default_factory=list)
    arch: str | None = None
    features: list[str] = field(default_factory=list)
    state: str | None = None
    os: str | None = None
    tmp_disk_mb: int | None = None
    weight: int | None = None
    raw: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def cores(self) -> int | None:
        """Physical cores (sockets x cores/socket x boards) when known, else CPUTot."""
        if self.sockets and self.cores_per_socket:
            return self.sockets * self.cores_per_socket * (self.boards or 1)
        return self.cpus


def parse_scontrol_nodes(text: str | None) -> ParsedList:
    """``scontrol show node`` (multi-line or ``-o``) -> list of :class:`Node`."""
    out = ParsedList()
    try:
        for block in _blocks(clean_lines(text), "NodeName"):
            kv = parse_kv_line(block)
            name = kv.get("NodeName", "").strip()
            if not name:
                continue
            n = Node(name=name, raw=kv)
            n.cpus = to_int(kv.get("CPUTot"), None)
            if n.cpus is None:
                n.cpus = to_int(kv.get("CPUs") or kv.get("CPUEfctv"), None)
            n.real_memory_mb = parse_mem_mb(kv.get("RealMemory"), "m") if kv.get("RealMemory") else None
            n.gres = _none_if_null(kv.get("Gres"))
            n.gpus, n.gpu_type = parse_gres(n.gres)
            if not n.gpus:
                cfg = parse_tres(kv.get("CfgTRES"))
                g, t = parse_gres(",".join(f"{k}={v}" for k, v in cfg.items() if k.startswith("gres/gpu")))
                n.gpus, n.gpu_type = g, t or n.gpu_type
            n.sockets = to_int(kv.get("Sockets"), None)
            n.cores_per_socket = to_int(kv.get("CoresPerSocket"), None)
            n.threads_per_core = to_int(kv.get("ThreadsPerCore"), None)
            n.boards = to_int(kv.get("Boards"), None)
            parts = _none_if_null(kv.get("Partitions"))
            n.partitions = [p for p in (parts or "").split(",") if p]
            n.arch = _none_if_null(kv.get("Arch"))
            feats = _none_if_null(kv.get("AvailableFeatures") or kv.get("Features"))
            n.features = [f for f in (feats or "").split(",") if f]
            n.state = _none_if_null(kv.get("State"))
            n.os = _none_if_null(kv.get("OS"))
            n.tmp_disk_mb = to_int(kv.get("TmpDisk"), None)
            n.weight = to_int(kv.get("Weight"), None)
            out.append(n)
        if not out and text and str(text).strip():
            out.warnings.append("no 'NodeName=' records found")
    except Exception as exc:  # pragma: no cover
        out.warnings.append(f"internal parser error: {type(exc).__name__}: {exc}")
    return out


_CONFIG_RE = re.compile(r"^\s*([A-Za-z_][\w\[\].:/()-]*)\s+=(?:\s+(.*))?$")


def parse_scontrol_config(text: str | None) -> dict[str, str]:
    """``scontrol show config`` ``Key = value`` lines -> dict (values as printed, e.g. ``(null)``)."""
    out: dict[str, str] = {}
    try:
        for line in clean_lines(text):
            m = _CONFIG_RE.match(line)
            if m:
                out[m.group(1)] = (m.group(2) or "").strip()
    except Exception:  # pragma: no cover
        pass
    return out


# --------------------------------------------------------------------------- sinfo


@dataclass
class SinfoRow:
    partition: str | None = None
    default: bool = False
    avail: str | None = None
    timelimit: str | None = None
    timelimit_min: int | None = None
    nodes: int | None = None
    state: str | None = None
    nodelist: str | None = None
    cpus: int | None = None
    memory_mb: int | None = None
    gres: str | None = None
    gpus: int = 0
    gpu_type: str | None = None
    sockets: int | None = None
    cores: int | None = None
    threads: int | None = None
    features: str | None = None
    reason: str | None = None
    cluster: str | None = None
    raw: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_SINFO_KNOWN = {
    "PARTITION",
    "AVAIL",
    "TIMELIMIT",
    "NODES",
    "STATE",
    "NODELIST",
    "HOSTNAMES",
    "CPUS",
    "MEMORY",
    "GRES",
    "S:C:T",
    "SOCKETS",
    "CORES",
    "THREADS",
    "REASON",
    "TMP_DISK",
    "WEIGHT",
    "JOB_SIZE",
    "ROOT",
    "OVERSUBS",
    "GROUPS",
    "AVAIL_FEATURES",
    "ACTIVE_FEATURES",
    "FEATURES",
    "DEFAULTTIME",
    "PRIO_TIER",
    "CPU_LOAD",
    "FREE_MEM",
    "ALLOCMEM",
    "GRES_USED",
    "NODES(A/I/O/T)",
    "CPUS(A/I/O/T)",
    "NODES(A/I)",
    "CLUSTER",
    "USER",
    "TIMESTAMP",
}
_FREE_TEXT_COLS = ("REASON", "COMMENT", "EXTRA")


def _is_sinfo_header(tokens: list[str]) -> bool:
    if len(tokens) < 2:
        return False
    if not all(t.upper() == t and not t.isdigit() for t in tokens):
        return False
    if "JOBID" in tokens:  # squeue
        return False
    known = sum(1 for t in tokens if t in _SINFO_KNOWN or t.startswith(("AVAIL_FE", "ACTIVE_FE", "NODES(", "CPUS(")))
    return known >= 2 and ("PARTITION" in tokens or "NODELIST" in tokens or "HOSTNAMES" in tokens)


def _row_from_values(vals: dict[str, str], cluster: str | None) -> SinfoRow:
    r = SinfoRow(raw=dict(vals), cluster=cluster)
    part = vals.get("PARTITION")
    if part is not None:
        r.default = part.endswith("*")
        r.partition = part.rstrip("*")
    r.avail = vals.get("AVAIL")
    if "TIMELIMIT" in vals:
        r.timelimit = vals["TIMELIMIT"]
        r.timelimit_min = parse_slurm_time(vals["TIMELIMIT"])
    if "NODES" in vals:
        r.nodes = to_int(vals["NODES"], None)
    for k in vals:
        if k.startswith("NODES(") and r.nodes is None:
            parts = vals[k].split("/")
            r.nodes = to_int(parts[-1], None)
    r.state = vals.get("STATE")
    r.nodelist = vals.get("NODELIST") or vals.get("HOSTNAMES")
    if r.nodes is None and r.nodelist:
        r.nodes = hostlist_count(r.nodelist)
    if "CPUS" in vals:
        r.cpus = to_int(vals["CPUS"], None)
    elif any(k.startswith("CPUS(") for k in vals):
        k = next(k for k in vals if k.startswith("CPUS("))
        tot = vals[k].split("/")[-1]
        n = to_int(tot, None)
        if n is not None and r.nodes:
            r.cpus = n // max(r.nodes, 1)
    if "MEMORY" in vals:
        r.memory_mb = parse_mem_mb(vals["MEMORY"].rstrip("+"), "m")
    gres = vals.get("GRES")
    if gres is not None:
        r.gres = None if gres in ("(null)", "") else gres
        r.gpus, r.gpu_type = parse_gres(r.gres)
    sct = vals.get("S:C:T")
    if sct:
        parts = sct.split(":")
        if len(parts) == 3:
            r.sockets, r.cores, r.threads = (to_int(p, None) for p in parts)
    for k in ("SOCKETS", "CORES", "THREADS"):
        if k in vals:
            setattr(r, k.lower(), to_int(vals[k], None))
    for k in vals:
        if k.startswith(("AVAIL_FE", "FEATURES")):
            r.features = vals[k]
            break
    if "REASON" in vals:
        r.reason = vals["REASON"]
    return r


def _sinfo_json(text: str, out: ParsedList) -> None:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        out.warnings.append("sinfo --json: invalid JSON")
        return
    nodes = data.get("nodes") if isinstance(data, dict) else None
    if not isinstance(nodes, list):
        out.warnings.append("sinfo --json: no 'nodes' list")
        return
    for n in nodes:
        if not isinstance(n, dict):
            continue
        parts = n.get("partitions") or [None]
        state = n.get("state")
        if isinstance(state, list):
            state = ",".join(str(s) for s in state)
        gres = n.get("gres") or None
        g, t = parse_gres(gres if isinstance(gres, str) else None)
        for p in parts if isinstance(parts, list) else [parts]:
            r = SinfoRow(
                partition=str(p) if p is not None else None,
                nodes=1,
                state=str(state) if state is not None else None,
                nodelist=str(n.get("name") or n.get("hostname") or ""),
                cpus=to_int(n.get("cpus"), None),
                memory_mb=to_int(n.get("real_memory"), None),
                gres=gres if isinstance(gres, str) else None,
                gpus=g,
                gpu_type=t,
                sockets=to_int(n.get("sockets"), None),
                cores=to_int(n.get("cores"), None),
                threads=to_int(n.get("threads"), None),
                features=n.get("features") if isinstance(n.get("features"), str) else None,
                raw={k: str(v) for k, v in n.items() if isinstance(v, (str, int, float))},
            )
            out.append(r)


def parse_sinfo(text: str | None) -> ParsedList:
    """``sinfo`` table output (default, ``-s``, ``-l``, ``-N -l``, ``-o`` custom, ``--json``).

    One :class:`SinfoRow` per printed row; ``*`` after a partition name marks the default
    partition (``default=True``), while ``*`` after a state (``down*``) is kept in ``state``.
    """
    out = ParsedList()
    try:
        if text is None:
            return out
        s = str(text).strip()
        if s.startswith("{"):
            _sinfo_json(s, out)
            return out
        header: list[str] | None = None
        cluster: str | None = None
        for line in clean_lines(text):
            st = line.strip()
            if not st:
                continue
            if st.startswith("#"):
                header = None
                continue
            if st.upper().startswith("CLUSTER:"):
                cluster = st.split(":", 1)[1].strip() or None
                header = None
                continue
            toks = st.split()
            if _is_sinfo_header(toks):
                header = toks
                continue
            if header is None:
                continue
            if len(toks) == len(header):
                vals = dict(zip(header, toks))
            elif len(toks) > len(header) and any(c in header for c in _FREE_TEXT_COLS):
                ci = next(i for i, h in enumerate(header) if h in _FREE_TEXT_COLS)
                after = len(header) - ci - 1
                vals = dict(zip(header[:ci], toks[:ci]))
                vals[header[ci]] = " ".join(toks[ci : len(toks) - after])
                if after:
                    vals.update(zip(header[ci + 1 :], toks[len(toks) - after :]))
            elif len(toks) == len(header) - 1 and header[-1] in ("NODELIST", "HOSTNAMES", "REASON", "GRES"):
                vals = dict(zip(header, toks + [""]))  # empty last column (e.g. no nodes)
            elif len(toks) < len(header) and len(toks) >= 2:
                out.warnings.append(f"short sinfo row ({len(toks)} of {len(header)} columns): {st[:80]!r}")
                vals = dict(zip(header, toks))
            else:
                out.warnings.append(f"unreadable sinfo row: {st[:80]!r}")
                continue
            out.append(_row_from_values(vals, cluster))
        if not out and s:
            out.warnings.append("no sinfo header/rows found")
    except Exception as exc:  # pragma: no cover
        out.warnings.append(f"internal parser error: {type(exc).__name__}: {exc}")
    return out


def sinfo_partitions(rows: list[SinfoRow]) -> dict[str, dict[str, Any]]:
    """Collapse sinfo rows per partition: total nodes, default flag, time limit, states."""
    agg: dict[str, dict[str, Any]] = {}
    for r in rows:
        if not r.partition:
            continue
        a = agg.setdefault(
            r.partition,
            {"nodes": 0, "default": False, "timelimit_min": None, "timelimit": None, "states": Counter(), "cpus": None, "memory_mb": None, "gpus": 0},
        )
        a["nodes"] += r.nodes or 0
        a["default"] = a["default"] or r.default
        if r.timelimit is not None:
            a["timelimit"] = r.timelimit
            a["timelimit_min"] = r.timelimit_min
        if r.state:
            a["states"][r.state] += r.nodes or 0
        if r.cpus is not None:
            a["cpus"] = max(a["cpus"] or 0, r.cpus)
        if r.memory_mb is not None:
            a["memory_mb"] = max(a["memory_mb"] or 0, r.memory_mb)
        a["gpus"] = max(a["gpus"], r.gpus)
    for a in agg.values():
        a["states"] = dict(a["states"])
    return agg


__all__.append("sinfo_partitions")
