"""What a cluster costs, from the ParallelCluster config pctl renders. Pure: no I/O, no AWS, no clock.

* **idle per hour**: what runs while no job does: the head node and its root volume, shared storage
  (EBS and FSx for Lustre bill for their size; EFS for the data stored, so nothing when empty), the
  NAT gateway of the pctl network (shared by the region's clusters), public IPv4 addresses (head node,
  NAT gateway), and every queue's ``min_count`` nodes (they never scale down);
* **full scale per hour**: idle plus every queue at ``max_count``, priced on-demand and on spot (and
  as configured: each queue at its own capacity type). A compute resource with several instance types
  is priced at its most expensive type (the bill can only be lower);
* **idle month**: idle per hour x 730 (AWS's hours per month);
* **stopped per hour**: what a stopped cluster (idle timer auto_stop, pctl stop) still costs: its storage
  and the NAT gateway; instances and the head node's public address are not billed while stopped.

Every line says which price it used and where the price came from (snapshot or Price List API).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pctl.cost.prices import HOURS_PER_MONTH, Price, PriceTable, describe_sources

#: ParallelCluster's official AMIs have 40 GiB root volumes; a node without RootVolume.Size gets that.
DEFAULT_ROOT_GB = 40
DEFAULT_ROOT_TYPE = "gp3"


@dataclass
class Line:
    what: str
    hourly: float
    idle: bool
    kind: str  # instance | storage | network
    detail: str = ""
    source: object = None
    when_stopped: bool = False  # still billed while the cluster is stopped (storage, the NAT gateway)

    def to_dict(self) -> dict:
        return {"what": self.what, "kind": self.kind, "idle": self.idle, "hourly": round(self.hourly, 6),
                "when_stopped": self.when_stopped,
                "monthly": round(self.hourly * HOURS_PER_MONTH, 2), "detail": self.detail,
                "price_source": self.source.describe() if self.source else None}


@dataclass
class _Acc:
    prices: PriceTable
    lines: list[Line] = field(default_factory=list)
    unpriced: list[str] = field(default_factory=list)
    sources: list = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def use(self, price: Price | None, what: str) -> float | None:
        if price is None:
            if what not in self.unpriced:
                self.unpriced.append(what)
            return None
        self.sources.append(price.source)
        return price.value


def _root(node_cfg: dict, *path) -> tuple[int, str]:
    cur = node_cfg
    for p in path:
        cur = (cur or {}).get(p) or {}
    return int(cur.get("Size") or DEFAULT_ROOT_GB), str(cur.get("VolumeType") or DEFAULT_ROOT_TYPE)


def _ebs_hourly(acc: _Acc, size_gb: int, volume_type: str) -> float | None:
    per = acc.use(acc.prices.ebs_gb_month(volume_type), f"EBS {volume_type}")
    return None if per is None else size_gb * per / HOURS_PER_MONTH


def _cr_types(cr: dict) -> list[str]:
    if cr.get("InstanceType"):
        return [cr["InstanceType"]]
    return [i["InstanceType"] for i in cr.get("Instances", []) if i.get("InstanceType")]


def _node_price(acc: _Acc, types: list[str], capacity: str) -> tuple[float | None, float | None]:
    """(highest, lowest) hourly price of one node among TYPES at CAPACITY; None when a type is unpriced.
    Spot falls back to on-demand for types without a spot price (HPC types are on-demand only)."""
    values = []
    for t in types:
        p = acc.prices.instance(t, capacity)
        if p is None and capacity == "spot":
            p = acc.prices.instance(t, "ondemand")
        v = acc.use(p, t)
        if v is None:
            return None, None
        values.append(v)
    return (max(values), min(values)) if values else (None, None)


def estimate(config: dict, prices: PriceTable, *, nat_gateways: int = 0, public_compute: bool = False,
             head_public_ip: bool = True) -> dict:
    """The cost of the ParallelCluster CONFIG (as pctl renders it) at PRICES.

    nat_gateways: NAT gateways the cluster's network runs (the pctl network has one per region, shared by
    its clusters; 0 with --public-only or an existing subnet). public_compute: compute nodes get public
    IPv4 addresses (--public-only)."""
    acc = _Acc(prices)
    head = config.get("HeadNode") or {}
    head_type = head.get("InstanceType", "?")
    # ---------------------------------------------------------------- idle: head node
    v = acc.use(prices.instance(head_type, "ondemand"), head_type)
    if v is not None:
        acc.lines.append(Line(f"head node {head_type}", v, True, "instance", "on-demand, always running",
                              prices.instance(head_type, "ondemand").source))
    size, vtype = _root(head, "LocalStorage", "RootVolume")
    v = _ebs_hourly(acc, size, vtype)
    if v is not None:
        acc.lines.append(Line(f"head node root volume {size} GB {vtype}", v, True, "storage", when_stopped=True))
    if head_public_ip:
        v = acc.use(prices.public_ipv4_hour(), "public IPv4")
        if v is not None:
            acc.lines.append(Line("head node public IPv4 address", v, True, "network"))
    # ---------------------------------------------------------------- idle: shared storage
    for s in config.get("SharedStorage") or []:
        kind, name, mount = s.get("StorageType"), s.get("Name"), s.get("MountDir")
        st = next((val for k, val in s.items() if k.endswith("Settings")), {}) or {}
        if st.get("FileSystemId") or st.get("VolumeId"):
            acc.notes.append(f"{mount}: existing {st.get('FileSystemId') or st.get('VolumeId')} is billed where it "
                             "was created, not counted here")
            continue
        if kind == "Ebs":
            gb, vt = int(st.get("Size") or 35), st.get("VolumeType") or "gp3"
            v = _ebs_hourly(acc, gb, vt)
            if v is not None:
                acc.lines.append(Line(f"{mount} EBS {gb} GB {vt} ({name})", v, True, "storage", when_stopped=True))
        elif kind == "FsxLustre":
            gb, dep = int(st.get("StorageCapacity") or 1200), st.get("DeploymentType") or "SCRATCH_2"
            tput = st.get("PerUnitStorageThroughput")
            per = acc.use(prices.fsx_lustre_gb_month(dep, tput), f"FSx for Lustre {dep}")
            if per is not None:
                acc.lines.append(Line(f"{mount} FSx for Lustre {gb} GB {dep}" + (f" {tput} MB/s/TiB" if tput else ""),
                                      gb * per / HOURS_PER_MONTH, True, "storage", when_stopped=True))
        elif kind == "Efs":
            per = acc.use(prices.efs_gb_month(), "EFS")
            if per is not None:
                acc.lines.append(Line(f"{mount} EFS (billed per GB stored: ${per:.2f}/GB-month)", 0.0, True, "storage",
                                      "nothing while empty", when_stopped=True))
    # ---------------------------------------------------------------- idle: network
    if nat_gateways:
        v = acc.use(prices.nat_gateway_hour(), "NAT gateway")
        ip = acc.use(prices.public_ipv4_hour(), "public IPv4")
        if v is not None:
            acc.lines.append(Line("NAT gateway of the pctl network", v * nat_gateways, True, "network",
                                  "shared by every cluster of the region; plus $0.045/GB processed", when_stopped=True))
        if ip is not None:
            acc.lines.append(Line("NAT gateway public IPv4 address", ip * nat_gateways, True, "network",
                                  when_stopped=True))
    # ---------------------------------------------------------------- queues
    queues = []
    ipv4 = prices.public_ipv4_hour() if public_compute else None
    ipv4_h = acc.use(ipv4, "public IPv4") if public_compute else 0.0
    for q in (config.get("Scheduling") or {}).get("SlurmQueues") or []:
        capacity = "spot" if q.get("CapacityType") == "SPOT" else "ondemand"
        qsize, qtype = _root(q, "ComputeSettings", "LocalStorage", "RootVolume")
        root_h = _ebs_hourly(acc, qsize, qtype) or 0.0
        per_node_extra = root_h + (ipv4_h or 0.0)
        full = {"ondemand": 0.0, "spot": 0.0}
        low = {"ondemand": 0.0, "spot": 0.0}
        idle_h = 0.0
        min_nodes = max_nodes = 0
        types: list[str] = []
        priced = True
        for cr in q.get("ComputeResources") or []:
            crt = _cr_types(cr)
            types += [t for t in crt if t not in types]
            mn, mx = int(cr.get("MinCount") or 0), int(cr.get("MaxCount") or 0)
            min_nodes += mn
            max_nodes += mx
            for cap in ("ondemand", "spot"):
                hi, lo = _node_price(acc, crt, cap)
                if hi is None:
                    priced = False
                    continue
                full[cap] += mx * (hi + per_node_extra)
                low[cap] += mx * (lo + per_node_extra)
                if cap == capacity:
                    idle_h += mn * (hi + per_node_extra)
        entry = {
            "name": q.get("Name"), "capacity": capacity, "instance_types": types, "min_nodes": min_nodes,
            "max_nodes": max_nodes, "priced": priced,
            "full_scale_hourly": {"ondemand": round(full["ondemand"], 6), "spot": round(full["spot"], 6),
                                  "as_configured": round(full[capacity], 6)},
            "full_scale_hourly_low": {"ondemand": round(low["ondemand"], 6), "spot": round(low["spot"], 6)},
            "idle_hourly": round(idle_h, 6),
        }
        if per_node_extra:
            entry["per_node_extra_hourly"] = round(per_node_extra, 6)
        queues.append(entry)
        if idle_h:
            acc.lines.append(Line(f"queue {q.get('Name')}: {min_nodes} node(s) always on (min_count)", idle_h, True,
                                  "instance", capacity))
    idle = sum(x.hourly for x in acc.lines if x.idle)
    # at full scale the min_count nodes are part of max_count: count each node once
    always_on_nodes = sum(q["idle_hourly"] for q in queues)
    base = idle - always_on_nodes
    full_scale = {cap: base + sum(q["full_scale_hourly"][cap] for q in queues) for cap in ("ondemand", "spot")}
    full_scale["as_configured"] = base + sum(q["full_scale_hourly"]["as_configured"] for q in queues)
    if acc.unpriced:
        acc.notes.append("no price known for " + ", ".join(acc.unpriced) + ": totals leave them out (refresh "
                         "prices: pctl cost prices --refresh)")
    stopped = sum(x.hourly for x in acc.lines if x.when_stopped)
    return {
        "currency": "USD",
        "region": prices.region,
        "idle_hourly": round(idle, 6),
        "idle_monthly": round(idle * HOURS_PER_MONTH, 2),
        "stopped_hourly": round(stopped, 6),
        "stopped_monthly": round(stopped * HOURS_PER_MONTH, 2),
        "full_scale_hourly": {k: round(v, 6) for k, v in full_scale.items()},
        "lines": [x.to_dict() for x in acc.lines],
        "queues": queues,
        "complete": not acc.unpriced,
        "unpriced": acc.unpriced,
        "prices": describe_sources(acc.sources),
        "hours_per_month": HOURS_PER_MONTH,
        "notes": acc.notes,
    }


def builder_estimate(prices: PriceTable, *, instance_type: str, minutes: float, volume_gb: int,
                     lifetime_minutes: int | None = None) -> dict:
    """An AMI build: the builder instance (on-demand) with its root volume and public IPv4 for the expected
    build time (and at most its lifetime limit), then the image's snapshot storage per month."""
    acc = _Acc(prices)
    hours = max(0.0, minutes) / 60.0
    inst = acc.use(prices.instance(instance_type, "ondemand"), instance_type)
    vol = _ebs_hourly(acc, volume_gb, "gp3")
    ip = acc.use(prices.public_ipv4_hour(), "public IPv4")
    snap = acc.use(prices.ebs_snapshot_gb_month(), "EBS snapshots")
    hourly = (inst or 0.0) + (vol or 0.0) + (ip or 0.0)
    out = {
        "currency": "USD", "region": prices.region, "instance_type": instance_type,
        "hourly": round(hourly, 6), "hours": round(hours, 2), "build": round(hourly * hours, 2),
        "image_monthly": round(volume_gb * snap, 2) if snap is not None else None,
        "complete": not acc.unpriced, "unpriced": acc.unpriced, "prices": describe_sources(acc.sources),
    }
    if lifetime_minutes:
        out["at_most"] = round(hourly * lifetime_minutes / 60.0, 2)
    return out


def money(value: float | None, *, per: str = "") -> str:
    """$0.0832 -> '$0.08', $1234.5 -> '$1,234.50'; small hourly amounts keep 3 decimals."""
    if value is None:
        return "?"
    text = f"${value:,.3f}" if 0 < abs(value) < 1 else f"${value:,.2f}"
    return text + (f"/{per}" if per else "")
