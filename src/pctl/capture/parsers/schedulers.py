"""Small parsers for PBS/Torque, SGE and LSF, and a scheduler-neutral queue summary.

* PBS/Torque: ``qstat -Q``, ``qstat -Qf`` (plus ``default_queue`` from ``qstat -Bf``/``qmgr``),
  ``pbsnodes -a``;
* SGE: ``qconf -sql``, ``qconf -sq QUEUE``, ``qconf -shgrp @group``, ``qhost``;
* LSF: ``bqueues``, ``bqueues -l``, ``bhosts``, ``lshosts``.

:func:`summarize_queues` turns parsed Slurm/PBS/SGE/LSF objects into :class:`Queue` rows.
Nothing here raises on odd input.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from ._common import ParsedList, expand_hostlist, parse_hms_time, parse_mem_mb, to_int
from ._text import clean_lines
from .slurm import Node, Partition, SinfoRow, sinfo_partitions

__all__ = [
    "Queue",
    "PbsQueue",
    "PbsNode",
    "SgeQueue",
    "SgeHostGroup",
    "SgeHost",
    "LsfQueue",
    "LsfHost",
    "parse_pbs_qstat_q",
    "parse_pbsnodes",
    "parse_sge_queue_list",
    "parse_sge_queue",
    "parse_sge_hostgroup",
    "parse_sge_qhost",
    "parse_lsf_bqueues",
    "parse_lsf_hosts",
    "summarize_queues",
]


@dataclass
class Queue:
    name: str
    nodes: int | None = None
    cores_per_node: int | None = None
    memory_mb: int | None = None  # per node
    gpus_per_node: int | None = None
    max_walltime_min: int | None = None
    default: bool = False
    scheduler: str = "slurm"
    default_walltime_min: int | None = None
    gpu_type: str | None = None
    state: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _mode(values: Iterable[int | None]) -> int | None:
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    c = Counter(vals)
    best = max(c.values())
    return max(v for v, n in c.items() if n == best)


def _bool(v: str | None) -> bool | None:
    if v is None:
        return None
    s = v.strip().lower()
    if s in ("true", "t", "yes", "y", "1"):
        return True
    if s in ("false", "f", "no", "n", "0"):
        return False
    return None


# --------------------------------------------------------------------------- PBS / Torque


@dataclass
class PbsQueue:
    name: str
    queue_type: str | None = None
    enabled: bool | None = None
    started: bool | None = None
    max_walltime_min: int | None = None
    default_walltime_min: int | None = None
    max_nodes: int | None = None
    max_ncpus: int | None = None
    max_mem_mb: int | None = None
    max_gpus: int | None = None
    default: bool = False
    raw: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_QF_HDR_RE = re.compile(r"^\s*Queue:\s*(\S+)\s*$")
_ATTR_RE = re.compile(r"^\s+([\w.]+)\s*=\s*(.*?)\s*$")
_DEFAULT_QUEUE_RE = re.compile(r"default_queue\s*=\s*(\S+)")


def _pbs_queue_from_attrs(name: str, attrs: dict[str, str]) -> PbsQueue:
    q = PbsQueue(name=name, raw=dict(attrs))
    q.queue_type = attrs.get("queue_type")
    q.enabled = _bool(attrs.get("enabled"))
    q.started = _bool(attrs.get("started"))
    if "resources_max.walltime" in attrs:
        q.max_walltime_min = parse_hms_time(attrs["resources_max.walltime"], "s")
    if "resources_default.walltime" in attrs:
        q.default_walltime_min = parse_hms_time(attrs["resources_default.walltime"], "s")
    q.max_nodes = to_int(attrs.get("resources_max.nodect") or attrs.get("resources_max.nodes"), None)
    q.max_ncpus = to_int(attrs.get("resources_max.ncpus"), None)
    if attrs.get("resources_max.mem"):
        q.max_mem_mb = parse_mem_mb(attrs["resources_max.mem"], "b")
    q.max_gpus = to_int(attrs.get("resources_max.ngpus") or attrs.get("resources_max.gpus"), None)
    return q


def parse_pbs_qstat_q(text: str | None) -> ParsedList:
    """``qstat -Q`` (table) or ``qstat -Qf`` (attribute blocks) -> list of :class:`PbsQueue`.

    A ``default_queue = NAME`` line anywhere in the text (``qstat -Bf``, ``qmgr -c 'p s'``)
    sets ``default`` on that queue.
    """
    out = ParsedList()
    try:
        lines = clean_lines(text)
        default_q = None
        for line in lines:
            m = _DEFAULT_QUEUE_RE.search(line)
            if m:
                default_q = m.group(1)
        cur: PbsQueue | None = None
        attrs: dict[str, str] = {}
        last_key: str | None = None
        table = False
        for line in lines:
            hm = _QF_HDR_RE.match(line)
            if hm:
                if cur is not None:
                    out.append(_pbs_queue_from_attrs(cur.name, attrs))
                cur = PbsQueue(name=hm.group(1))
                attrs = {}
                last_key = None
                table = False
                continue
            if cur is not None:
                am = _ATTR_RE.match(line)
                if am:
                    last_key = am.group(1)
                    attrs[last_key] = am.group(2)
                    continue
                if last_key and line.startswith("        ") and line.strip():
                    attrs[last_key] = attrs.get(last_key, "") + line.strip()  # wrapped value
                    continue
                if not line.strip():
                    continue
                if not line[:1].isspace():  # "Server: x" or other unindented text ends the block
                    out.append(_pbs_queue_from_attrs(cur.name, attrs))
                    cur = None
            toks = line.split()
            if not toks:
                continue
            if toks[:1] == ["Queue"] and ("Max" in toks or "Tot" in toks):
                if cur is not None:
                    out.append(_pbs_queue_from_attrs(cur.name, attrs))
                    cur = None
                table = True
                continue
            if table:
                if not toks or set(line.strip()) <= set("- "):
                    continue
                q = PbsQueue(name=toks[0])
                if len(toks) >= 5:
                    q.enabled = _bool(toks[3])
                    q.started = _bool(toks[4])
                typ = toks[-1] if toks[-1] in ("Exec", "Rout", "E", "R") else (toks[-2] if len(toks) > 2 and toks[-2] in ("E", "R") else None)
                if typ:
                    q.queue_type = "Execution" if typ.startswith("E") else "Route"
                q.raw = {"row": line.strip()}
                out.append(q)
        if cur is not None:
            out.append(_pbs_queue_from_attrs(cur.name, attrs))
        for q in out:
            if default_q and q.name == default_q:
                q.default = True
        if not out and text and str(text).strip():
            out.warnings.append("no PBS queues found")
    except Exception as exc:  # pragma: no cover
        out.warnings.append(f"internal parser error: {type(exc).__name__}: {exc}")
    return out


@dataclass
class PbsNode:
    name: str
    state: str | None = None
    ncpus: int | None = None
    mem_mb: int | None = None
    gpus: int = 0
    queue: str | None = None
    properties: list[str] = field(default_factory=list)
    raw: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pbs_node(name: str, attrs: dict[str, str]) -> PbsNode:
    n = PbsNode(name=name, raw=dict(attrs))
    n.state = attrs.get("state")
    status = {}
    for part in (attrs.get("status") or "").split(","):
        k, sep, v = part.partition("=")
        if sep:
            status[k.strip()] = v.strip()
    n.ncpus = to_int(
        attrs.get("resources_available.ncpus") or attrs.get("np") or attrs.get("pcpus") or status.get("ncpus"), None
    )
    mem = attrs.get("resources_available.mem") or status.get("physmem") or status.get("totmem")
    if mem:
        n.mem_mb = parse_mem_mb(mem, "b")
    n.gpus = to_int(attrs.get("resources_available.ngpus") or attrs.get("gpus"), 0) or 0
    n.queue = attrs.get("queue") or None
    props = attrs.get("properties") or attrs.get("resources_available.Qlist") or ""
    n.properties = [p for p in re.split(r"[,\s]+", props) if p]
    return n


def parse_pbsnodes(text: str | None) -> ParsedList:
    """``pbsnodes -a`` (Torque and PBS Pro) -> list of :class:`PbsNode`."""
    out = ParsedList()
    try:
        name: str | None = None
        attrs: dict[str, str] = {}
        for line in clean_lines(text):
            if not line.strip():
                continue
            if not line[:1].isspace():
                if name is not None:
                    out.append(_pbs_node(name, attrs))
                st = line.strip()
                if st.startswith("#") or " " in st or "=" in st:
                    name = None
                    attrs = {}
                    continue
                name = st
                attrs = {}
                continue
            if name is None:
                continue
            m = re.match(r"^\s+([\w.]+)\s*=\s*(.*?)\s*$", line)
            if m:
                attrs[m.group(1)] = m.group(2)
        if name is not None:
            out.append(_pbs_node(name, attrs))
        if not out and text and str(text).strip():
            out.warnings.append("no pbsnodes records found")
    except Exception as exc:  # pragma: no cover
        out.warnings.append(f"internal parser error: {type(exc).__name__}: {exc}")
    return out


# --------------------------------------------------------------------------- SGE


@dataclass
class SgeQueue:
    name: str
    hostlist: list[str] = field(default_factory=list)
    slots: int | None = None
    host_slots: dict[str, int] = field(default_factory=dict)
    pe_list: list[str] = field(default_factory=list)
    h_rt_min: int | None = None
    s_rt_min: int | None = None
    h_vmem_mb: int | None = None
    gpus: int | None = None
    raw: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SgeHostGroup:
    name: str
    hosts: list[str] = field(default_factory=list)


@dataclass
class SgeHost:
    name: str
    arch: str | None = None
    ncpu: int | None = None
    mem_mb: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sge_kv_blocks(text: str | None, first_key: str) -> list[dict[str, str]]:
    """``key   value`` lines with ``\\`` continuations; a new record starts at ``first_key``."""
    records: list[dict[str, str]] = []
    cur: dict[str, str] | None = None
    pending_key: str | None = None
    for line in clean_lines(text):
        if pending_key is not None and cur is not None:
            cont = line.strip()
            more = cont.endswith("\\")
            cur[pending_key] += " " + cont.rstrip("\\").strip()
            pending_key = pending_key if more else None
            continue
        st = line.strip()
        if not st or st.startswith("#"):
            continue
        parts = st.split(None, 1)
        key = parts[0]
        val = parts[1] if len(parts) > 1 else ""
        if key == first_key:
            cur = {}
            records.append(cur)
        if cur is None:
            continue
        more = val.endswith("\\")
        cur[key] = val.rstrip("\\").strip()
        if more:
            pending_key = key
    return records


def parse_sge_queue_list(text: str | None) -> list[str]:
    """``qconf -sql`` -> queue names."""
    out: list[str] = []
    try:
        for line in clean_lines(text):
            st = line.strip()
            if st and " " not in st and not st.startswith("#") and re.match(r"^[\w.@-]+$", st):
                out.append(st)
    except Exception:  # pragma: no cover
        pass
    return out


def _sge_slots(val: str) -> tuple[int | None, dict[str, int]]:
    base: int | None = None
    per: dict[str, int] = {}
    for part in re.findall(r"\[[^\]]*\]|[^,\s]+", val):
        if part.startswith("["):
            k, _, v = part.strip("[]").partition("=")
            n = to_int(v, None)
            if k.strip() and n is not None:
                per[k.strip()] = n
        elif base is None:
            base = to_int(part, None)
    return base, per


def parse_sge_queue(text: str | None) -> ParsedList:
    """``qconf -sq QUEUE`` (one or several) -> list of :class:`SgeQueue`."""
    out = ParsedList()
    try:
        for rec in _sge_kv_blocks(text, "qname"):
            name = rec.get("qname", "").strip()
            if not name:
                continue
            q = SgeQueue(name=name, raw=rec)
            q.hostlist = [h for h in rec.get("hostlist", "").split() if h and h.upper() != "NONE"]
            q.slots, q.host_slots = _sge_slots(rec.get("slots", ""))
            q.pe_list = [p for p in rec.get("pe_list", "").split() if p.upper() != "NONE"]
            if "h_rt" in rec:
                q.h_rt_min = parse_hms_time(rec["h_rt"], "s")
            if "s_rt" in rec:
                q.s_rt_min = parse_hms_time(rec["s_rt"], "s")
            if rec.get("h_vmem") and rec["h_vmem"].upper() not in ("INFINITY",):
                q.h_vmem_mb = _sge_mem_mb(rec["h_vmem"])
            cv = rec.get("complex_values", "")
            m = re.search(r"(?:^|[,\s])(?:gpu|gpus|ngpus)=(\d+)", cv)
            if m:
                q.gpus = int(m.group(1))
            out.append(q)
        if not out and text and str(text).strip():
            out.warnings.append("no 'qname' records found")
    except Exception as exc:  # pragma: no cover
        out.warnings.append(f"internal parser error: {type(exc).__name__}: {exc}")
    return out


def _sge_mem_mb(val: str | None) -> int | None:
    """SGE memory: K/M/G = 1024-based, k/m/g = 1000-based, bare = bytes."""
    if not val:
        return None
    m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([KMGTkmgt]?)\s*$", val)
    if not m:
        return None
    num = float(m.group(1))
    u = m.group(2)
    mult = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}[u]
    return int(-(-num * mult // (1024 * 1024)))


def parse_sge_hostgroup(text: str | None) -> list[SgeHostGroup]:
    """``qconf -shgrp @group`` -> host groups (members may be hosts or other ``@groups``)."""
    out: list[SgeHostGroup] = []
    try:
        for rec in _sge_kv_blocks(text, "group_name"):
            name = rec.get("group_name", "").strip()
            if name:
                hosts = [h for h in rec.get("hostlist", "").split() if h.upper() != "NONE"]
                out.append(SgeHostGroup(name=name, hosts=hosts))
    except Exception:  # pragma: no cover
        pass
    return out


def parse_sge_qhost(text: str | None) -> ParsedList:
    """``qhost`` table -> list of :class:`SgeHost` (``global`` row skipped)."""
    out = ParsedList()
    header: list[str] | None = None
    try:
        for line in clean_lines(text):
            toks = line.split()
            if not toks:
                continue
            if toks[0] == "HOSTNAME":
                header = toks
                continue
            if header is None or set(line.strip()) <= set("-"):
                continue
            if toks[0] == "global" or line[:1].isspace():
                continue  # "global" pseudo host; indented lines are qhost -q/-j details
            vals = dict(zip(header, toks))
            out.append(
                SgeHost(
                    name=toks[0],
                    arch=vals.get("ARCH"),
                    ncpu=to_int(vals.get("NCPU"), None),
                    mem_mb=_sge_mem_mb(vals.get("MEMTOT")),
                )
            )
        if not out and text and str(text).strip():
            out.warnings.append("no qhost rows found")
    except Exception as exc:  # pragma: no cover
        out.warnings.append(f"internal parser error: {type(exc).__name__}: {exc}")
    return out


# --------------------------------------------------------------------------- LSF


@dataclass
class LsfQueue:
    name: str
    priority: int | None = None
    status: str | None = None
    max_slots: int | None = None
    run_limit_min: int | None = None
    default_run_limit_min: int | None = None
    mem_limit_mb: int | None = None
    hosts: list[str] = field(default_factory=list)
    default: bool = False
    description: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LsfHost:
    name: str
    status: str | None = None
    max_slots: int | None = None
    ncpus: int | None = None
    maxmem_mb: int | None = None
    resources: list[str] = field(default_factory=list)
    model: str | None = None
    type: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _lsf_limit_minutes(line: str) -> int | None:
    m = re.match(r"^\s*([\d.]+)\s*min", line)
    if m:
        try:
            return int(-(-float(m.group(1)) // 1))
        except ValueError:
            return None
    return None


def _lsf_mem_mb(val: str) -> int | None:
    # LSF prints "4 G", "4096 M", "512 K", or bare numbers (KB by default in old LSF)
    m = re.match(r"^\s*([\d.]+)\s*([KMGT]?)B?\s*$", val.strip(), re.IGNORECASE)
    if not m:
        return None
    unit = m.group(2).upper() or "K"
    return parse_mem_mb(m.group(1) + unit, "k")


def parse_lsf_bqueues(text: str | None) -> ParsedList:
    """``bqueues`` (table) or ``bqueues -l`` (long blocks) -> list of :class:`LsfQueue`."""
    out = ParsedList()
    try:
        lines = clean_lines(text)
        if any(re.match(r"^\s*QUEUE:\s*\S+", ln) for ln in lines):
            cur: LsfQueue | None = None
            expect: str | None = None
            limits_ctx = "max"
            for ln in lines:
                st = ln.strip()
                m = re.match(r"^\s*QUEUE:\s*(\S+)", ln)
                if m:
                    cur = LsfQueue(name=m.group(1))
                    out.append(cur)
                    expect = None
                    limits_ctx = "max"
                    continue
                if cur is None or not st:
                    continue
                if st.startswith("--"):
                    cur.description = (cur.description + " " if cur.description else "") + st.lstrip("- ")
                    if "default queue" in st.lower():
                        cur.default = True
                    continue
                if "This is the default queue" in st:
                    cur.default = True
                    continue
                if st.startswith("DEFAULT LIMITS"):
                    limits_ctx = "default"
                    continue
                if st.startswith("MAXIMUM LIMITS"):
                    limits_ctx = "max"
                    continue
                if expect == "stats":
                    toks = st.split()
                    if toks and toks[0].isdigit():
                        cur.priority = to_int(toks[0], None)
                        if len(toks) > 2:
                            cur.status = toks[2]
                        if len(toks) > 3:
                            cur.max_slots = to_int(toks[3], None)
                    expect = None
                    continue
                if st.startswith("PRIO") and "STATUS" in st:
                    expect = "stats"
                    continue
                if expect == "runlimit":
                    v = _lsf_limit_minutes(st)
                    if limits_ctx == "default":
                        cur.default_run_limit_min = v
                    else:
                        cur.run_limit_min = v
                    expect = None
                    continue
                if expect == "memlimit":
                    parts = st.split()  # "256 G", "4096 M", "512000"
                    unit = parts[1] if len(parts) > 1 and parts[1].isalpha() else ""
                    cur.mem_limit_mb = _lsf_mem_mb(parts[0] + unit)
                    expect = None
                    continue
                if st.split()[:1] == ["RUNLIMIT"]:
                    expect = "runlimit"
                    continue
                if st.split()[:1] == ["MEMLIMIT"]:
                    expect = "memlimit"
                    continue
                hm = re.match(r"^HOSTS:\s*(.*)$", st)
                if hm:
                    cur.hosts = [re.sub(r"\+\d*$", "", h) for h in hm.group(1).split()]
                    continue
        else:
            header: list[str] | None = None
            for ln in lines:
                toks = ln.split()
                if not toks:
                    continue
                if toks[0] == "QUEUE_NAME":
                    header = toks
                    continue
                if header is None:
                    continue
                vals = dict(zip(header, toks))
                out.append(
                    LsfQueue(
                        name=toks[0],
                        priority=to_int(vals.get("PRIO"), None),
                        status=vals.get("STATUS"),
                        max_slots=to_int(vals.get("MAX"), None),
                    )
                )
        if not out and text and str(text).strip():
            out.warnings.append("no LSF queues found")
    except Exception as exc:  # pragma: no cover
        out.warnings.append(f"internal parser error: {type(exc).__name__}: {exc}")
    return out


def parse_lsf_hosts(text: str | None) -> ParsedList:
    """``bhosts`` and/or ``lshosts`` tables -> list of :class:`LsfHost` (merged by host name)."""
    out = ParsedList()
    by_name: dict[str, LsfHost] = {}
    try:
        header: list[str] | None = None
        for ln in clean_lines(text):
            toks = ln.split()
            if not toks:
                continue
            if toks[0] == "HOST_NAME":
                header = toks
                continue
            if header is None:
                continue
            if "RESOURCES" in header and len(toks) > len(header):
                ri = header.index("RESOURCES")
                toks = toks[:ri] + [" ".join(toks[ri:])]
            vals = dict(zip(header, toks))
            h = by_name.get(toks[0])
            if h is None:
                h = LsfHost(name=toks[0])
                by_name[toks[0]] = h
                out.append(h)
            if "STATUS" in vals:
                h.status = vals["STATUS"]
            if "MAX" in vals:
                h.max_slots = to_int(vals["MAX"], h.max_slots)
            if "ncpus" in vals:
                h.ncpus = to_int(vals["ncpus"], h.ncpus)
            if "maxmem" in vals:
                h.maxmem_mb = parse_mem_mb(vals["maxmem"], "m") if vals["maxmem"] != "-" else h.maxmem_mb
            if "RESOURCES" in vals:
                h.resources = [r for r in re.split(r"[()\s]+", vals["RESOURCES"]) if r]
            if "model" in vals:
                h.model = vals["model"]
            if "type" in vals:
                h.type = vals["type"]
        if not out and text and str(text).strip():
            out.warnings.append("no LSF hosts found")
    except Exception as exc:  # pragma: no cover
        out.warnings.append(f"internal parser error: {type(exc).__name__}: {exc}")
    return out


# --------------------------------------------------------------------------- summary


def _flatten(sources: Iterable[Any]) -> list[Any]:
    items: list[Any] = []
    for s in sources:
        if s is None:
            continue
        if isinstance(s, (list, tuple, set)):
            items.extend(_flatten(s))
        elif isinstance(s, dict) and s and all(isinstance(v, (SgeHostGroup,)) for v in s.values()):
            items.extend(s.values())
        else:
            items.append(s)
    return items


def _summarize_slurm(parts: list[Partition], nodes: list[Node], rows: list[SinfoRow]) -> list[Queue]:
    out: list[Queue] = []
    node_by_name = {n.name: n for n in nodes}
    sinfo_agg = sinfo_partitions(rows) if rows else {}
    names: list[str] = [p.name for p in parts]
    for n in nodes:
        for pn in n.partitions:
            if pn not in names:
                names.append(pn)
    for pn in sinfo_agg:
        if pn not in names:
            names.append(pn)
    part_by_name = {p.name: p for p in parts}
    for name in names:
        p = part_by_name.get(name)
        si = sinfo_agg.get(name)
        members: list[Node] = []
        if p is not None and p.nodes and node_by_name:
            members = [node_by_name[h] for h in expand_hostlist(p.nodes, limit=50_000) if h in node_by_name]
        if not members:
            members = [n for n in nodes if name in n.partitions]
        q = Queue(name=name, scheduler="slurm")
        if p is not None:
            q.nodes = p.node_count
            q.max_walltime_min = p.max_time_min
            q.default_walltime_min = p.default_time_min
            q.default = p.default
            q.state = p.state
        elif si is not None:
            q.nodes = si["nodes"]
            q.default = si["default"]
            q.max_walltime_min = si["timelimit_min"]
        elif members:
            q.nodes = len(members)
        if q.nodes is None and si is not None:
            q.nodes = si["nodes"]
        if p is None and si is not None:
            q.default = q.default or si["default"]
        if members:
            q.cores_per_node = _mode(n.cpus for n in members)
            q.memory_mb = _mode(n.real_memory_mb for n in members)
            q.gpus_per_node = _mode(n.gpus for n in members)
            types = [n.gpu_type for n in members if n.gpu_type]
            q.gpu_type = Counter(types).most_common(1)[0][0] if types else None
        nn = q.nodes or 0
        if q.cores_per_node is None:
            if si is not None and si.get("cpus"):
                q.cores_per_node = si["cpus"]
            elif p is not None and p.total_cpus and nn:
                q.cores_per_node = p.total_cpus // nn
        if q.memory_mb is None:
            if si is not None and si.get("memory_mb"):
                q.memory_mb = si["memory_mb"]
            elif p is not None and p.memory_mb and nn:
                q.memory_mb = p.memory_mb // nn
        if q.gpus_per_node is None:
            if si is not None and si.get("gpus"):
                q.gpus_per_node = si["gpus"]
            elif p is not None and nn and "gres/gpu" in p.tres:
                q.gpus_per_node = p.gpus // nn
            elif p is not None and p.tres:
                q.gpus_per_node = 0
        if q.gpu_type is None and rows:
            types = [r.gpu_type for r in rows if r.partition == name and r.gpu_type]
            q.gpu_type = types[0] if types else None
        out.append(q)
    return out


def _summarize_pbs(queues: list[PbsQueue], nodes: list[PbsNode]) -> list[Queue]:
    out: list[Queue] = []
    unassigned = [n for n in nodes if not n.queue]
    for pq in queues:
        if pq.queue_type and pq.queue_type.lower().startswith("route"):
            continue
        members = [n for n in nodes if n.queue == pq.name] or unassigned
        q = Queue(name=pq.name, scheduler="pbs", default=pq.default)
        q.nodes = len(members) if members else None
        q.max_walltime_min = pq.max_walltime_min
        q.default_walltime_min = pq.default_walltime_min
        q.cores_per_node = _mode(n.ncpus for n in members)
        q.memory_mb = _mode(n.mem_mb for n in members)
        q.gpus_per_node = _mode(n.gpus for n in members) if members else pq.max_gpus
        if pq.enabled is not None:
            q.state = "enabled" if pq.enabled and pq.started is not False else "disabled"
        out.append(q)
    if len(out) == 1 and not any(q.default for q in out):
        out[0].default = True
    return out


def _resolve_sge_hosts(entries: list[str], groups: dict[str, SgeHostGroup], all_hosts: list[str], depth: int = 0) -> list[str]:
    hosts: list[str] = []
    for e in entries:
        if e.startswith("@"):
            g = groups.get(e)
            if g is not None and depth < 10:
                hosts.extend(_resolve_sge_hosts(g.hosts, groups, all_hosts, depth + 1))
            elif e == "@allhosts" and all_hosts:
                hosts.extend(all_hosts)
        else:
            hosts.append(e)
    return list(dict.fromkeys(hosts))


def _summarize_sge(queues: list[SgeQueue], groups: list[SgeHostGroup], hosts: list[SgeHost]) -> list[Queue]:
    out: list[Queue] = []
    gmap = {g.name: g for g in groups}
    hmap = {h.name: h for h in hosts}
    all_names = [h.name for h in hosts]
    for sq in queues:
        members = _resolve_sge_hosts(sq.hostlist, gmap, all_names)
        if not members and sq.host_slots:
            members = list(sq.host_slots)
        q = Queue(name=sq.name, scheduler="sge", max_walltime_min=sq.h_rt_min or sq.s_rt_min)
        q.nodes = len(members) if members else None
        known = [_short_lookup(hmap, h) for h in members]
        ncpu = _mode(h.ncpu for h in known if h is not None)
        slots = _mode(sq.host_slots.get(h, sq.slots) for h in members) if members else sq.slots
        # hardware cores (qhost) when known, else the queue's slot count per host
        q.cores_per_node = ncpu or slots
        q.memory_mb = _mode(_short_lookup(hmap, h).mem_mb for h in members if _short_lookup(hmap, h))
        q.gpus_per_node = sq.gpus
        out.append(q)
    if len(out) == 1:
        out[0].default = True
    else:
        for q in out:
            if q.name == "all.q":
                q.default = True
    return out


def _short_lookup(hmap: dict[str, SgeHost], name: str) -> SgeHost | None:
    if name in hmap:
        return hmap[name]
    short = name.split(".", 1)[0]
    for k, v in hmap.items():
        if k.split(".", 1)[0] == short:
            return v
    return None


def _summarize_lsf(queues: list[LsfQueue], hosts: list[LsfHost]) -> list[Queue]:
    out: list[Queue] = []
    hmap = {h.name: h for h in hosts}
    for lq in queues:
        if not lq.hosts or any(h in ("all", "allremote") for h in lq.hosts):
            members = hosts
        else:
            members = [hmap[h] for h in lq.hosts if h in hmap]  # host groups ("grp/") are not resolved
        q = Queue(name=lq.name, scheduler="lsf", default=lq.default)
        q.nodes = len(members) if members else None
        q.cores_per_node = _mode((h.ncpus or h.max_slots) for h in members)
        q.memory_mb = _mode(h.maxmem_mb for h in members)
        q.max_walltime_min = lq.run_limit_min
        q.default_walltime_min = lq.default_run_limit_min
        q.state = lq.status
        out.append(q)
    return out


def summarize_queues(*sources: Any, **named: Any) -> list[Queue]:
    """Build :class:`Queue` rows from any mix of parsed objects.

    Pass the lists returned by the parsers, positionally or by keyword, e.g.
    ``summarize_queues(parse_scontrol_partitions(a), parse_scontrol_nodes(b), parse_sinfo(c))``
    or ``summarize_queues(pbs_queues=..., pbs_nodes=...)``. Objects are dispatched by type;
    unknown objects are ignored. Slurm partitions come first, then PBS, SGE and LSF queues.
    """
    items = _flatten(list(sources) + list(named.values()))
    parts = [x for x in items if isinstance(x, Partition)]
    snodes = [x for x in items if isinstance(x, Node)]
    rows = [x for x in items if isinstance(x, SinfoRow)]
    out: list[Queue] = []
    try:
        if parts or snodes or rows:
            out.extend(_summarize_slurm(parts, snodes, rows))
        pq = [x for x in items if isinstance(x, PbsQueue)]
        pn = [x for x in items if isinstance(x, PbsNode)]
        if pq:
            out.extend(_summarize_pbs(pq, pn))
        sq = [x for x in items if isinstance(x, SgeQueue)]
        if sq:
            out.extend(
                _summarize_sge(
                    sq,
                    [x for x in items if isinstance(x, SgeHostGroup)],
                    [x for x in items if isinstance(x, SgeHost)],
                )
            )
        lq = [x for x in items if isinstance(x, LsfQueue)]
        if lq:
            out.extend(_summarize_lsf(lq, [x for x in items if isinstance(x, LsfHost)]))
    except Exception:  # pragma: no cover - defensive
        pass
    return out
