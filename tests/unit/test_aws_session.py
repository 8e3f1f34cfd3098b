"""The Aws session object: one client per service, also when threads ask for it at once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor


def test_threads_asking_at_once_get_one_client(monkeypatch):
    # BuildStore.records reads build records from a thread pool, each read asking aws.client("s3"): a boto3
    # session is not thread-safe, so the client must be made once, by one thread, and shared
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    from pctl.aws import Aws

    aws = Aws(region="us-east-1")
    made = []
    real = aws.session.client

    def slow_client(*a, **kw):
        made.append(threading.get_ident())
        time.sleep(0.2)  # a wide window: without the lock, every waiting thread makes its own
        return real(*a, **kw)

    monkeypatch.setattr(aws.session, "client", slow_client)
    start = threading.Barrier(8)

    def ask(_):
        start.wait()
        return aws.client("s3")

    with ThreadPoolExecutor(max_workers=8) as pool:
        clients = list(pool.map(ask, range(8)))
    assert len(made) == 1, f"{len(made)} clients made for one service"
    assert len({id(c) for c in clients}) == 1
    # another service, or the same one with fewer retries, is another client
    assert aws.client("ec2") is not clients[0] and aws.client("s3", max_attempts=1) is not clients[0]
    assert aws.client("s3") is clients[0]
