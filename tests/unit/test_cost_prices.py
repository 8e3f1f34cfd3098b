"""The price refresh: a recorded Price List API response (GetProducts) and EC2 spot price history, served
from loopback to the real boto3 clients; then the dry run uses the refreshed prices and says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pctl.cost.prices import PriceTable, on_demand_price, parse_price_list, spot_from_history
from support.cli import run_pctl
from support.pricelist_server import serve

RECORDED = json.loads((Path(__file__).parents[1] / "fixtures" / "cost" / "pricelist-us-east-1.json").read_text())


def test_parser_keeps_only_what_a_cluster_is_billed_for():
    got = parse_price_list(RECORDED["products"], "us-east-1")
    inst = got["instances"]
    assert inst["c6i.xlarge"] == {"ondemand": 0.17}  # not Windows 0.354, RHEL, dedicated, SQL, reservations
    assert inst["g5.2xlarge"] == {"ondemand": 1.212}  # the us-east-2 product is ignored
    assert set(inst) == {"c6i.xlarge", "c6i.4xlarge", "c6a.4xlarge", "m6i.4xlarge", "g5.2xlarge", "g5.12xlarge"}
    assert got["ebs_gb_month"] == {"gp3": 0.08, "gp2": 0.10, "st1": 0.045}
    assert got["ebs_snapshot_gb_month"] == 0.05
    assert got["efs_gb_month"] == 0.30  # Standard, not Infrequent Access
    assert got["fsx_lustre_gb_month"] == {"SCRATCH_2": 0.14, "PERSISTENT_2/125": 0.145, "PERSISTENT_2/250": 0.21}
    assert got["nat_gateway_hour"] == 0.045 and got["public_ipv4_hour"] == 0.005


def test_on_demand_price_ignores_reserved_terms():
    item = next(i for i in RECORDED["products"] if i["product"]["attributes"].get("instanceType") == "g5.12xlarge")
    assert "Reserved" in item["terms"] and on_demand_price(item) == 5.672


def test_spot_is_the_median_of_the_latest_price_per_zone():
    spot = spot_from_history(RECORDED["spot_price_history"])
    assert spot["g5.2xlarge"] == pytest.approx(0.4988)  # zones a (latest 0.4988), b 0.4551, c 0.6123
    assert spot["g5.12xlarge"] == pytest.approx((2.351 + 2.1802) / 2)
    assert spot["c6i.4xlarge"] == pytest.approx(0.2612)


@pytest.fixture
def pricelist():
    url, handler, stop = serve(RECORDED)
    yield url, handler
    stop()


def _env(url):
    return {"AWS_ENDPOINT_URL_PRICING": url, "AWS_ENDPOINT_URL_EC2": url, "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def test_refresh_command_fetches_and_the_dry_run_uses_the_prices(pricelist, tmp_path):
    url, handler = pricelist
    r = run_pctl("cost", "prices", "--refresh", "--region", "us-east-1", "-t", "ml/pytorch-gpu", "--json",
                 env=_env(url))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    rows = {x["instance_type"]: x for x in out["instances"]}
    assert rows["g5.2xlarge"]["ondemand"] == 1.212 and rows["g5.2xlarge"]["spot"] == pytest.approx(0.4988)
    assert all("AWS Price List API" in x["source"] for x in rows.values())
    assert out["refresh"]["missing"] == [] and out["other"]["efs_gb_month"]["usd"] == 0.30
    # the real client paged through the results and asked for the region's products only
    gets = [req for op, req in handler.requests if op == "GetProducts"]
    assert any(req.get("NextToken") for req in gets), "pagination was exercised"
    ec2 = [req for req in gets if req["ServiceCode"] == "AmazonEC2"]
    assert all({"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"} in req["Filters"] for req in ec2)
    cache = json.loads(Path(out["cache"]).read_text())
    assert cache["instances"]["c6i.xlarge"] == {"ondemand": 0.17}
    # the dry run now prices with the fetched table (no AWS call: the cache)
    r = run_pctl("create", "-t", "ml/pytorch-gpu", "--dry-run", "--no-catalog", "--json")
    cost = json.loads(r.stdout)["plan"]["cost"]
    assert "AWS Price List API, fetched" in cost["prices"]
    gpu = next(q for q in cost["queues"] if q["name"] == "gpu")
    assert gpu["full_scale_hourly"]["spot"] == pytest.approx(8 * (0.4988 + 40 * 0.08 / 730), abs=1e-5)


def test_refresh_without_permission_says_which(tmp_path):
    """An endpoint that refuses: a clear error naming the permission, no traceback."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Deny(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps({"__type": "AccessDeniedException", "message": "User: arn:aws:iam::123456789012:user/x "
                               "is not authorized to perform: pricing:GetProducts"}).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Deny)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        r = run_pctl("cost", "prices", "--refresh", "--region", "us-east-1", "--instance-type", "c6i.xlarge",
                     env=_env(f"http://127.0.0.1:{server.server_address[1]}"))
    finally:
        server.shutdown()
        server.server_close()
    assert r.returncode == 1 and "pricing:GetProducts" in r.stderr and "Traceback" not in r.stderr


def test_snapshot_has_a_date_and_every_library_type():
    from pctl import library
    from pctl.cluster.plan import CreateOptions, prepare
    from pctl.cost.lifecycle import needed_instance_types

    t = PriceTable.load("us-east-1", cache_path=Path("/nonexistent"))
    assert t.snapshot["date"] and t.instance("c6i.xlarge").source.describe().startswith("pctl price snapshot of")
    for name in library.names():
        tpl = prepare(CreateOptions(template=name), use_catalog=False).template
        table = PriceTable.load(tpl.cluster.region or "us-east-1", cache_path=Path("/nonexistent"))
        for it in needed_instance_types(tpl):
            assert table.instance(it) is not None, f"{name}: no snapshot price for {it}"
