"""The price table: what an hour of an instance, a GB-month of storage, a NAT gateway hour costs.

Two sources, newest first:

* the **cache** (``<cache>/prices/<region>.json``), written by ``pctl cost prices --refresh`` (and by a
  real ``pctl create`` for the instance types it needs) from the AWS Price List API (on-demand) and EC2
  spot price history (spot); each entry keeps the date it was fetched;
* the **snapshot** shipped with pctl (``pctl/cost/data/prices.json``), with its date.

Every price the estimate uses says where it came from, so a plan can print "prices: AWS Price List API
2026-12-04" or "prices: pctl snapshot 2025-11-01". Pure apart from reading those two files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

SNAPSHOT = Path(__file__).with_name("data") / "prices.json"
HOURS_PER_MONTH = 730  # AWS's own convention for monthly estimates
STALE_DAYS = 30

#: price keys that are not per instance type
STORAGE_KEYS = ("ebs_gb_month", "ebs_snapshot_gb_month", "efs_gb_month", "fsx_lustre_gb_month", "nat_gateway_hour", "public_ipv4_hour")


@dataclass(frozen=True)
class Source:
    kind: str  # "snapshot" | "price-list-api"
    date: str  # ISO date (snapshot) or timestamp (fetch)
    region: str  # the region whose prices were used

    def describe(self) -> str:
        where = f" ({self.region} prices)" if self.region else ""
        if self.kind == "snapshot":
            return f"pctl price snapshot of {self.date}{where}"
        return f"AWS Price List API, fetched {self.date[:10]}{where}"


@dataclass(frozen=True)
class Price:
    value: float
    source: Source


@dataclass
class PriceTable:
    """Prices for one region. Look-ups return Price (value + source) or None when pctl has no price."""

    region: str
    snapshot: dict
    cache: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, region: str, *, cache_path: Path | None = None, snapshot_path: Path | None = None) -> "PriceTable":
        snap = load_snapshot(snapshot_path)
        cache = {}
        path = cache_path if cache_path is not None else cache_file(region)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and data.get("region") == region:
                cache = data
        except (OSError, ValueError):
            pass
        return cls(region=region, snapshot=snap, cache=cache)

    # ------------------------------------------------------------------ look-ups
    def _snapshot_regions(self) -> list[str]:
        """The region, then what it is 'like' (same list prices), then every other snapshot region."""
        regions = self.snapshot.get("regions", {})
        chain, r = [], self.region
        while r in regions and r not in chain:
            chain.append(r)
            r = regions[r].get("like")
        for other in regions:
            if other not in chain:
                chain.append(other)
        return chain

    def _snapshot_lookup(self, getter) -> Price | None:
        regions = self.snapshot.get("regions", {})
        for r in self._snapshot_regions():
            value = getter(regions.get(r, {}))
            if value is not None:
                shown = "" if r in self._same_price_regions() else r
                return Price(float(value), Source("snapshot", self.snapshot.get("date", "?"), shown))
        return None

    def _same_price_regions(self) -> set[str]:
        regions = self.snapshot.get("regions", {})
        same, r = set(), self.region
        while r in regions and r not in same:
            same.add(r)
            r = regions[r].get("like")
        return same

    def _cached(self, getter) -> Price | None:
        if not self.cache:
            return None
        value = getter(self.cache)
        if value is None:
            return None
        date = self.cache.get("fetched", {})
        stamp = date.get(getter.__name__, "") if isinstance(date, dict) else ""
        return Price(float(value), Source("price-list-api", stamp or self.cache.get("date", "?"), ""))

    def _get(self, getter) -> Price | None:
        return self._cached(getter) or self._snapshot_lookup(getter)

    def instance(self, instance_type: str, capacity: str = "ondemand") -> Price | None:
        key = "spot" if capacity == "spot" else "ondemand"

        def inst(d, t=instance_type, k=key):
            v = (d.get("instances") or {}).get(t) or {}
            return v.get(k)

        inst.__name__ = f"instance:{instance_type}:{key}"
        return self._get(inst)

    def ebs_gb_month(self, volume_type: str) -> Price | None:
        def ebs(d, v=volume_type):
            return (d.get("ebs_gb_month") or {}).get(v)

        ebs.__name__ = f"ebs:{volume_type}"
        return self._get(ebs)

    def ebs_snapshot_gb_month(self) -> Price | None:
        def snap(d):
            return d.get("ebs_snapshot_gb_month")

        snap.__name__ = "ebs-snapshot"
        return self._get(snap)

    def efs_gb_month(self) -> Price | None:
        def efs(d):
            return d.get("efs_gb_month")

        efs.__name__ = "efs"
        return self._get(efs)

    def fsx_lustre_gb_month(self, deployment: str, throughput: int | None) -> Price | None:
        key = f"{deployment}/{throughput}" if throughput else deployment

        def fsx(d, k=key, dep=deployment):
            table = d.get("fsx_lustre_gb_month") or {}
            return table.get(k, table.get(dep))

        fsx.__name__ = f"fsx:{key}"
        return self._get(fsx)

    def nat_gateway_hour(self) -> Price | None:
        def nat(d):
            return d.get("nat_gateway_hour")

        nat.__name__ = "nat"
        return self._get(nat)

    def public_ipv4_hour(self) -> Price | None:
        def ipv4(d):
            return d.get("public_ipv4_hour")

        ipv4.__name__ = "ipv4"
        return self._get(ipv4)

    def known_instance_types(self) -> list[str]:
        types = set()
        for r in self.snapshot.get("regions", {}).values():
            types |= set((r.get("instances") or {}))
        types |= set(self.cache.get("instances") or {})
        return sorted(types)


def load_snapshot(path: Path | None = None) -> dict:
    return json.loads((path or SNAPSHOT).read_text(encoding="utf-8"))


def cache_file(region: str) -> Path:
    from pctl.paths import cache_dir

    return cache_dir() / "prices" / f"{region}.json"


def describe_sources(sources) -> str:
    """'AWS Price List API, fetched 2026-12-04; pctl price snapshot of 2025-11-01' (distinct, newest first)."""
    seen = []
    for s in sorted(set(sources), key=lambda s: (s.kind != "price-list-api", s.date), reverse=False):
        text = s.describe()
        if text not in seen:
            seen.append(text)
    return "; ".join(seen) if seen else "no prices"


# ---------------------------------------------------------------------------------------------- refresh

def merge_into_cache(region: str, fetched: dict, *, now: str, path: Path | None = None) -> Path:
    """Write fetched prices ({"instances": {type: {"ondemand": x, "spot": y}}, "ebs_gb_month": {...}, ...})
    into the region's cache file, keeping earlier entries that were not fetched again. Each entry's fetch
    time is kept in "fetched"."""
    from pctl.fsio import update

    path = path or cache_file(region)

    def change(old: str | None) -> str:
        try:
            data = json.loads(old) if old else {}
        except ValueError:
            data = {}
        if not isinstance(data, dict) or data.get("region") != region:
            data = {}
        data.update(schema=1, region=region, currency="USD", source="AWS Price List API + EC2 spot price history")
        stamps = data.setdefault("fetched", {})
        for t, prices in (fetched.get("instances") or {}).items():
            entry = data.setdefault("instances", {}).setdefault(t, {})
            for k, v in prices.items():
                entry[k] = v
                stamps[f"instance:{t}:{k}"] = now
        for key in ("ebs_gb_month", "fsx_lustre_gb_month"):
            for k, v in (fetched.get(key) or {}).items():
                data.setdefault(key, {})[k] = v
                stamps[f"{'ebs' if key == 'ebs_gb_month' else 'fsx'}:{k}"] = now
        for key, stamp in (("efs_gb_month", "efs"), ("nat_gateway_hour", "nat"), ("public_ipv4_hour", "ipv4"),
                           ("ebs_snapshot_gb_month", "ebs-snapshot")):
            if fetched.get(key) is not None:
                data[key] = fetched[key]
                stamps[stamp] = now
        data["date"] = now
        return json.dumps(data, indent=1, sort_keys=True) + "\n"

    path.parent.mkdir(parents=True, exist_ok=True)
    update(path, change)
    return path


def _usd(term: dict) -> float | None:
    for dim in (term.get("priceDimensions") or {}).values():
        usd = (dim.get("pricePerUnit") or {}).get("USD")
        if usd is None:
            continue
        try:
            value = float(usd)
        except ValueError:
            continue
        if value > 0:
            return value
    return None


def on_demand_price(item: dict) -> float | None:
    """The USD on-demand price of one Price List product (the first non-zero price dimension)."""
    for term in ((item.get("terms") or {}).get("OnDemand") or {}).values():
        value = _usd(term)
        if value is not None:
            return value
    return None


def parse_price_list(items: list[dict], region: str) -> dict:
    """Price List API products (GetProducts PriceList entries, already JSON-decoded) -> fetched prices.

    Keeps only what a cluster is billed for: Linux, shared-tenancy, no pre-installed software, used
    capacity (not reservations) instances; EBS volume GB-months; EFS Standard; FSx for Lustre; NAT gateway
    hours; in-use public IPv4 addresses. Products of other regions are ignored."""
    out: dict = {"instances": {}, "ebs_gb_month": {}, "fsx_lustre_gb_month": {}}
    for item in items:
        product = item.get("product") or {}
        a = product.get("attributes") or {}
        if a.get("regionCode") not in (None, region):
            continue
        family = product.get("productFamily", "")
        usage = a.get("usagetype", "")
        price = on_demand_price(item)
        if price is None:
            continue
        if family == "Compute Instance":
            if (a.get("operatingSystem") == "Linux" and a.get("tenancy") == "Shared"
                    and a.get("preInstalledSw") == "NA" and a.get("capacitystatus", "Used") == "Used"
                    and a.get("licenseModel", "No License required") == "No License required"
                    and "BoxUsage" in usage and a.get("instanceType")):
                out["instances"].setdefault(a["instanceType"], {})["ondemand"] = price
        elif family == "Storage" and a.get("volumeApiName") and "VolumeUsage" in usage:
            out["ebs_gb_month"][a["volumeApiName"]] = price
        elif family == "Storage Snapshot" and usage.endswith("EBS:SnapshotUsage"):
            out["ebs_snapshot_gb_month"] = price
        elif family == "NAT Gateway" and usage.endswith("NatGateway-Hours"):
            out["nat_gateway_hour"] = price
        elif a.get("group") == "VPCPublicIPv4Address" and usage.endswith("PublicIPv4:InUseAddress"):
            out["public_ipv4_hour"] = price
        elif (family == "Storage" and a.get("servicecode") == "AmazonEFS" and a.get("storageClass") == "General Purpose"
              and usage.endswith("TimedStorage-ByteHrs")):
            out["efs_gb_month"] = price
        elif a.get("servicecode") == "AmazonFSx" and a.get("fileSystemType") == "Lustre" and family == "Storage":
            dep = FSX_DEPLOYMENTS.get(a.get("deploymentOption", ""))
            if dep is None:
                continue
            tput = a.get("throughputCapacity", "")
            key = dep if dep.startswith("SCRATCH") else f"{dep}/{tput}" if str(tput).isdigit() else dep
            if a.get("storageType", "SSD") == "SSD" and a.get("dataCompressionType", "NONE") in ("NONE", "None", ""):
                out["fsx_lustre_gb_month"][key] = price
    return {k: v for k, v in out.items() if v not in ({}, None)}


FSX_DEPLOYMENTS = {"Scratch_1": "SCRATCH_1", "Scratch_2": "SCRATCH_2", "Persistent_1": "PERSISTENT_1",
                   "Persistent_2": "PERSISTENT_2"}


def spot_from_history(history: list[dict]) -> dict[str, float]:
    """EC2 spot price history (Linux/UNIX) -> the median of the latest price per availability zone."""
    import statistics

    latest: dict[tuple[str, str], tuple[str, float]] = {}
    for h in history:
        try:
            price = float(h.get("SpotPrice"))
        except (TypeError, ValueError):
            continue
        key = (h.get("InstanceType"), h.get("AvailabilityZone"))
        stamp = str(h.get("Timestamp", ""))
        if key not in latest or stamp > latest[key][0]:
            latest[key] = (stamp, price)
    per_type: dict[str, list[float]] = {}
    for (t, _az), (_s, p) in latest.items():
        if t:
            per_type.setdefault(t, []).append(p)
    return {t: round(statistics.median(ps), 6) for t, ps in per_type.items()}


def refresh(aws, region: str, instance_types, *, now: str, progress=None, max_attempts: int | None = None) -> dict:
    """Fetch current prices for REGION (instance types given, plus storage, NAT gateway and public IPv4)
    and merge them into the cache. Returns a report {fetched, missing, path}."""
    import functools

    from pctl.aws import ec2 as ec2api
    from pctl.aws import pricing as pricing_api

    class pricing:  # noqa: N801 - the same calls, with the caller's retry budget
        get_products = functools.partial(pricing_api.get_products, max_attempts=max_attempts)

    types = sorted(set(instance_types))
    items: list[dict] = []
    missing: list[str] = []
    for i, t in enumerate(types):
        if progress:
            progress(f"on-demand price {i + 1}/{len(types)}: {t}")
        got = pricing.get_products(aws, "AmazonEC2", {
            "regionCode": region, "instanceType": t, "operatingSystem": "Linux", "tenancy": "Shared",
            "preInstalledSw": "NA", "capacitystatus": "Used"})
        if not got:
            missing.append(t)
        items += got
    if progress:
        progress("storage, NAT gateway and public IPv4 prices")
    items += pricing.get_products(aws, "AmazonEC2", {"regionCode": region, "productFamily": "Storage"})
    items += pricing.get_products(aws, "AmazonEC2", {"regionCode": region, "productFamily": "Storage Snapshot"})
    items += pricing.get_products(aws, "AmazonEC2", {"regionCode": region, "productFamily": "NAT Gateway"})
    items += pricing.get_products(aws, "AmazonVPC", {"regionCode": region, "group": "VPCPublicIPv4Address"})
    items += pricing.get_products(aws, "AmazonEFS", {"regionCode": region, "storageClass": "General Purpose"})
    items += pricing.get_products(aws, "AmazonFSx", {"regionCode": region, "fileSystemType": "Lustre"})
    fetched = parse_price_list(items, region)
    if progress:
        progress("spot prices (EC2 spot price history)")
    spot = spot_from_history(ec2api.spot_price_history(aws, types)) if types else {}
    for t, p in spot.items():
        fetched.setdefault("instances", {}).setdefault(t, {})["spot"] = p
    missing = [t for t in types if t not in (fetched.get("instances") or {}) or
               "ondemand" not in fetched["instances"][t]]
    path = merge_into_cache(region, fetched, now=now)
    return {"region": region, "fetched": fetched, "missing": missing, "path": str(path),
            "instance_types": len((fetched.get("instances") or {}))}
