"""A TLS proxy in front of the moto server that can make chosen AWS calls fail, as the real network and AWS do
now and then (an HTTP 500, throttling, a dropped connection). Point a pctl process at it with
AWS_ENDPOINT_URL=proxy.url; everything else is forwarded to the emulator unchanged.

    proxy = FaultProxy(moto_url, cert, key)
    proxy.fail(lambda req: req.method == "GET" and "state.json" in req.path, status=500, times=1)
    ...
    proxy.close()
"""

from __future__ import annotations

import http.client
import http.server
import ssl
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


@dataclass
class Request:
    method: str
    path: str
    headers: dict


@dataclass
class Fault:
    match: object  # callable(Request) -> bool
    status: int = 500
    code: str = "InternalError"
    times: int | None = 1  # None: for ever
    drop: bool = False  # close the connection without an answer
    hits: int = 0
    body: bytes | None = None  # answer with this (status `status`) instead of an <Error> document


@dataclass
class FaultProxy:
    upstream: str
    cert: str
    key: str
    faults: list = field(default_factory=list)
    seen: list = field(default_factory=list)  # (method, path, status) of every request

    def __post_init__(self):
        up = urlsplit(self.upstream)
        self._up_host, self._up_port = up.hostname, up.port
        self._up_ctx = ssl.create_default_context(cafile=str(self.cert))
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _handle(self):
                body = self._body()
                req = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
                fault = proxy._fault_for(req)
                if fault is not None and fault.drop:
                    proxy.seen.append((req.method, req.path, "dropped"))
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if fault is not None:
                    payload = fault.body if fault.body is not None else (
                        f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{fault.code}</Code>"
                        f"<Message>injected by the test proxy</Message></Error>").encode()
                    proxy.seen.append((req.method, req.path, fault.status))
                    self.send_response(fault.status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                conn = http.client.HTTPSConnection(proxy._up_host, proxy._up_port, context=proxy._up_ctx, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
                headers["Content-Length"] = str(len(body))
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                proxy.seen.append((req.method, req.path, resp.status))
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in HOP and k.lower() != "content-length":
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.cert), str(self.key))
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def fail(self, match, *, status: int = 500, code: str = "InternalError", times: int | None = 1,
             drop: bool = False, body: bytes | None = None) -> Fault:
        """Answer matching requests with an error (or BODY: e.g. a 200 whose document reports a failure)."""
        f = Fault(match, status, code, times, drop, body=body)
        with self._lock:
            self.faults.append(f)
        return f

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def _fault_for(self, req: Request):
        with self._lock:
            for f in self.faults:
                if (f.times is None or f.hits < f.times) and f.match(req):
                    f.hits += 1
                    return f
        return None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
