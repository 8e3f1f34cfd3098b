"""A loopback stand-in for the AWS Price List API (GetProducts, JSON 1.1 protocol) and for EC2's
DescribeSpotPriceHistory (query protocol, XML), serving recorded data: the real boto3 clients talk to it
through AWS_ENDPOINT_URL_PRICING / AWS_ENDPOINT_URL_EC2, so the request and response parsing is real.

GetProducts filters like the service: TERM_MATCH on a product attribute (or productFamily / serviceCode),
and pages (PAGE entries per page, NextToken; AWS pages by 100)."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

PAGE = 2


class _Handler(BaseHTTPRequestHandler):
    data: dict = {}
    requests: list = []

    def log_message(self, *args):  # quiet
        pass

    def _send(self, code: int, body: bytes, ctype: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target", "")
        if target == "AWSPriceListService.GetProducts":
            req = json.loads(body or b"{}")
            self.requests.append(("GetProducts", req))
            return self._get_products(req)
        form = urllib.parse.parse_qs(body.decode())
        if form.get("Action") == ["DescribeSpotPriceHistory"]:
            self.requests.append(("DescribeSpotPriceHistory", form))
            return self._spot(form)
        self._send(400, json.dumps({"__type": "UnknownOperationException"}).encode(), "application/x-amz-json-1.1")

    def _get_products(self, req: dict) -> None:
        def match(item):
            product = item["product"]
            for f in req.get("Filters", []):
                field, value = f["Field"], f["Value"]
                if field == "ServiceCode":
                    have = item.get("serviceCode")
                elif field == "productFamily":
                    have = product.get("productFamily")
                else:
                    have = product.get("attributes", {}).get(field)
                if have != value:
                    return False
            return item.get("serviceCode") == req.get("ServiceCode")

        found = [i for i in self.data["products"] if match(i)]
        start = int(req.get("NextToken") or 0)
        page = found[start:start + PAGE]
        out = {"FormatVersion": "aws_v1", "PriceList": [json.dumps(i) for i in page]}
        if start + PAGE < len(found):
            out["NextToken"] = str(start + PAGE)
        self._send(200, json.dumps(out).encode(), "application/x-amz-json-1.1")

    def _spot(self, form: dict) -> None:
        types = {v[0] for k, v in form.items() if k.startswith("InstanceType.")}
        rows = [h for h in self.data["spot_price_history"] if not types or h["InstanceType"] in types]
        items = "".join(
            "<item>" + "".join(f"<{tag}>{escape(str(h[key]))}</{tag}>" for tag, key in (
                ("instanceType", "InstanceType"), ("productDescription", "ProductDescription"),
                ("spotPrice", "SpotPrice"), ("timestamp", "Timestamp"), ("availabilityZone", "AvailabilityZone")))
            + "</item>" for h in rows)
        xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<DescribeSpotPriceHistoryResponse '
               'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>pctl-test</requestId>'
               f"<spotPriceHistorySet>{items}</spotPriceHistorySet><nextToken></nextToken>"
               "</DescribeSpotPriceHistoryResponse>")
        self._send(200, xml.encode(), "text/xml")


def serve(data: dict):
    """Start the server on 127.0.0.1 (ephemeral port). Returns (url, handler class with .requests, stop)."""
    handler = type("Handler", (_Handler,), {"data": data, "requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        server.server_close()

    return f"http://127.0.0.1:{server.server_address[1]}", handler, stop
