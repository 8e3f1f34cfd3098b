"""Cost estimates: the arithmetic against a fixed price table, and a cost in the dry run of every library
template (text and --json)."""

from __future__ import annotations

import json

import pytest

from pctl import library
from pctl.cost.estimate import builder_estimate, estimate
from pctl.cost.prices import PriceTable
from support.cli import run_pctl

# Round numbers so every expected value below can be checked by hand.
FIXED = {
    "schema": 1, "date": "2000-01-01", "currency": "USD", "source": "test",
    "regions": {
        "xx-test-1": {
            "instances": {"t3.large": {"ondemand": 0.10, "spot": 0.03}, "c6i.xlarge": {"ondemand": 0.20, "spot": 0.08},
                          "c6i.2xlarge": {"ondemand": 0.40, "spot": 0.10}, "g5.xlarge": {"ondemand": 1.00, "spot": 0.50},
                          "hpc7a.96xlarge": {"ondemand": 7.00}},
            "ebs_gb_month": {"gp3": 0.073, "gp2": 0.146}, "ebs_snapshot_gb_month": 0.05,
            "efs_gb_month": 0.30, "fsx_lustre_gb_month": {"SCRATCH_2": 0.146, "PERSISTENT_2/125": 0.292},
            "nat_gateway_hour": 0.05, "public_ipv4_hour": 0.01,
        },
        "xx-like-1": {"like": "xx-test-1", "instances": {"c6i.xlarge": {"ondemand": 0.22}}},
    },
}


@pytest.fixture
def prices(tmp_path):
    snap = tmp_path / "prices.json"
    snap.write_text(json.dumps(FIXED))
    return PriceTable.load("xx-test-1", cache_path=tmp_path / "none.json", snapshot_path=snap)


def _config(**over):
    cfg = {
        "HeadNode": {"InstanceType": "t3.large", "LocalStorage": {"RootVolume": {"Size": 40, "VolumeType": "gp3"}}},
        "Scheduling": {"SlurmQueues": [
            {"Name": "cpu", "CapacityType": "ONDEMAND",
             "ComputeResources": [{"Name": "a", "InstanceType": "c6i.xlarge", "MinCount": 1, "MaxCount": 4}]},
            {"Name": "gpu", "CapacityType": "SPOT",
             "ComputeResources": [{"Name": "g", "Instances": [{"InstanceType": "g5.xlarge"}], "MinCount": 0, "MaxCount": 2}]},
        ]},
        "SharedStorage": [
            {"Name": "scratch", "StorageType": "FsxLustre", "MountDir": "/scratch",
             "FsxLustreSettings": {"StorageCapacity": 1200, "DeploymentType": "SCRATCH_2"}},
            {"Name": "home", "StorageType": "Efs", "MountDir": "/shared", "EfsSettings": {"Encrypted": True}},
            {"Name": "sw", "StorageType": "Ebs", "MountDir": "/opt/pctl", "EbsSettings": {"Size": 100, "VolumeType": "gp3"}},
            {"Name": "old", "StorageType": "Ebs", "MountDir": "/old", "EbsSettings": {"VolumeId": "vol-0123456789abcdef0"}},
        ],
    }
    cfg.update(over)
    return cfg


ROOT_40 = 40 * 0.073 / 730  # a 40 GB gp3 root volume per hour = 0.004


def test_idle_and_full_scale_arithmetic(prices):
    est = estimate(_config(), prices, nat_gateways=1)
    lines = {x["what"]: x["hourly"] for x in est["lines"]}
    assert lines["head node t3.large"] == pytest.approx(0.10)
    assert lines["head node root volume 40 GB gp3"] == pytest.approx(0.004)
    assert lines["head node public IPv4 address"] == pytest.approx(0.01)
    assert lines["/scratch FSx for Lustre 1200 GB SCRATCH_2"] == pytest.approx(1200 * 0.146 / 730)  # 0.24
    assert lines["/opt/pctl EBS 100 GB gp3 (sw)"] == pytest.approx(0.01)
    assert lines["NAT gateway of the pctl network"] == pytest.approx(0.05)
    assert lines["NAT gateway public IPv4 address"] == pytest.approx(0.01)
    assert lines["queue cpu: 1 node(s) always on (min_count)"] == pytest.approx(0.20 + ROOT_40)
    assert not any("/old" in w for w in lines), "an existing volume is not billed to this cluster"
    assert any("vol-0123456789abcdef0" in n for n in est["notes"])
    idle = 0.10 + 0.004 + 0.01 + 0.24 + 0.0 + 0.01 + 0.05 + 0.01 + (0.20 + 0.004)
    assert est["idle_hourly"] == pytest.approx(idle)
    assert est["idle_monthly"] == pytest.approx(round(idle * 730, 2))
    base = idle - (0.20 + 0.004)  # the min_count node is one of the queue's max_count nodes
    cpu = {"ondemand": 4 * (0.20 + 0.004), "spot": 4 * (0.08 + 0.004)}
    gpu = {"ondemand": 2 * (1.00 + 0.004), "spot": 2 * (0.50 + 0.004)}
    fs = est["full_scale_hourly"]
    assert fs["ondemand"] == pytest.approx(base + cpu["ondemand"] + gpu["ondemand"])
    assert fs["spot"] == pytest.approx(base + cpu["spot"] + gpu["spot"])
    assert fs["as_configured"] == pytest.approx(base + cpu["ondemand"] + gpu["spot"])
    q = {x["name"]: x for x in est["queues"]}
    assert q["cpu"]["max_nodes"] == 4 and q["gpu"]["instance_types"] == ["g5.xlarge"]
    assert est["complete"] and est["prices"] == "pctl price snapshot of 2000-01-01"
    # stopped: storage (head root, FSx, software EBS, empty EFS) and the NAT gateway with its address
    assert est["stopped_hourly"] == pytest.approx(0.004 + 0.24 + 0.01 + 0.0 + 0.05 + 0.01)


def test_flexible_compute_resource_is_priced_at_its_dearest_type(prices):
    cfg = _config(SharedStorage=[])
    cfg["Scheduling"]["SlurmQueues"] = [{"Name": "flex", "CapacityType": "ONDEMAND", "ComputeResources": [
        {"Name": "f", "Instances": [{"InstanceType": "c6i.xlarge"}, {"InstanceType": "c6i.2xlarge"}],
         "MinCount": 0, "MaxCount": 3}]}]
    q = estimate(cfg, prices)["queues"][0]
    assert q["full_scale_hourly"]["ondemand"] == pytest.approx(3 * (0.40 + ROOT_40))
    assert q["full_scale_hourly_low"]["ondemand"] == pytest.approx(3 * (0.20 + ROOT_40))


def test_public_only_network_has_no_nat_but_public_addresses_on_nodes(prices):
    est = estimate(_config(SharedStorage=[]), prices, nat_gateways=0, public_compute=True)
    assert not any("NAT" in x["what"] for x in est["lines"])
    cpu = next(q for q in est["queues"] if q["name"] == "cpu")
    assert cpu["full_scale_hourly"]["ondemand"] == pytest.approx(4 * (0.20 + ROOT_40 + 0.01))


def test_hpc_types_without_spot_are_priced_on_demand(prices):
    cfg = _config(SharedStorage=[])
    cfg["Scheduling"]["SlurmQueues"] = [{"Name": "hpc", "CapacityType": "ONDEMAND", "ComputeResources": [
        {"Name": "h", "InstanceType": "hpc7a.96xlarge", "MinCount": 0, "MaxCount": 2}]}]
    q = estimate(cfg, prices)["queues"][0]
    assert q["full_scale_hourly"]["spot"] == q["full_scale_hourly"]["ondemand"] == pytest.approx(2 * (7.0 + ROOT_40))


def test_unknown_instance_type_is_reported_not_guessed(prices):
    cfg = _config(SharedStorage=[])
    cfg["HeadNode"]["InstanceType"] = "z9.mega"
    est = estimate(cfg, prices)
    assert not est["complete"] and "z9.mega" in est["unpriced"]
    assert any("z9.mega" in n and "refresh" in n for n in est["notes"])


def test_like_region_uses_its_own_price_first_then_the_base(tmp_path):
    snap = tmp_path / "p.json"
    snap.write_text(json.dumps(FIXED))
    t = PriceTable.load("xx-like-1", cache_path=tmp_path / "none.json", snapshot_path=snap)
    assert t.instance("c6i.xlarge").value == 0.22
    assert t.instance("t3.large").value == 0.10 and t.nat_gateway_hour().value == 0.05


def test_cached_prices_win_over_the_snapshot_and_say_so(tmp_path):
    from pctl.cost.prices import merge_into_cache

    snap = tmp_path / "p.json"
    snap.write_text(json.dumps(FIXED))
    cache = tmp_path / "cache.json"
    merge_into_cache("xx-test-1", {"instances": {"t3.large": {"ondemand": 0.111}}}, now="2026-12-01T10:00:00Z",
                     path=cache)
    t = PriceTable.load("xx-test-1", cache_path=cache, snapshot_path=snap)
    p = t.instance("t3.large")
    assert p.value == 0.111 and p.source.kind == "price-list-api" and "2026-12-01" in p.source.describe()
    assert t.instance("c6i.xlarge").source.kind == "snapshot"  # not fetched: still the snapshot


def test_builder_cost(prices):
    b = builder_estimate(prices, instance_type="c6i.2xlarge", minutes=90, volume_gb=73, lifetime_minutes=180)
    hourly = 0.40 + 73 * 0.073 / 730 + 0.01
    assert b["hourly"] == pytest.approx(hourly) and b["build"] == pytest.approx(round(hourly * 1.5, 2))
    assert b["at_most"] == pytest.approx(round(hourly * 3, 2)) and b["image_monthly"] == pytest.approx(73 * 0.05)


# ---------------------------------------------------------------- every library template

@pytest.mark.parametrize("name", library.names())
def test_library_dry_run_has_idle_and_full_scale_cost(name):
    from pctl.cluster.plan import CreateOptions, dry_run

    cost = dry_run(CreateOptions(template=name), use_catalog=False)["plan"]["cost"]
    assert cost["complete"], f"{name}: no price for {cost['unpriced']}"
    assert cost["idle_hourly"] > 0 and cost["idle_monthly"] == pytest.approx(round(cost["idle_hourly"] * 730, 2))
    fs = cost["full_scale_hourly"]
    assert fs["ondemand"] > cost["idle_hourly"] and fs["spot"] <= fs["ondemand"]
    assert sum(x["hourly"] for x in cost["lines"] if x["idle"]) == pytest.approx(cost["idle_hourly"], abs=1e-5)
    assert "snapshot" in cost["prices"] or "Price List" in cost["prices"]


def test_dry_run_prints_costs_and_json_carries_them():
    r = run_pctl("create", "-t", "ml/pytorch-gpu", "--dry-run", "--no-catalog")
    assert r.returncode == 0, r.stderr
    assert "idle $" in r.stdout and "full scale $" in r.stdout and "spot" in r.stdout
    assert "pctl price snapshot of" in r.stdout
    r = run_pctl("create", "-t", "ml/pytorch-gpu", "--dry-run", "--no-catalog", "--json")
    cost = json.loads(r.stdout)["plan"]["cost"]
    assert set(cost["full_scale_hourly"]) == {"ondemand", "spot", "as_configured"}
    assert [q["name"] for q in cost["queues"]] == ["gpu", "gpu-multi", "cpu"]


def test_public_only_dry_run_has_no_nat_gateway_cost():
    r = run_pctl("create", "-t", "minimal", "--dry-run", "--no-catalog", "--public-only", "--json")
    lines = json.loads(r.stdout)["plan"]["cost"]["lines"]
    assert not any("NAT" in x["what"] for x in lines)
    r = run_pctl("create", "-t", "minimal", "--dry-run", "--no-catalog", "--json")
    assert any("NAT" in x["what"] for x in json.loads(r.stdout)["plan"]["cost"]["lines"])
