"""Worker RSS per open anonymous stream: run by hand, not part of the suite.

    STREAMS=3000 nice -n 10 .venv/bin/python -m pytest -q -s tests/measure_stream_rss.py

One gunicorn worker (conf/gunicorn.py) on the test database; streams opened
with raw sockets and a browser's headers, held idle; the worker's RSS after
minus before, per stream (docs/DESIGN.md, "Memory per stream"). Not a test
of a limit: speed and size goals belong to the benchmark.
"""

import os
import selectors
import socket
import time
from pathlib import Path

import psutil
import pytest

from irclogger.models import Channel
from tests.servers import gunicorn

pytestmark = pytest.mark.django_db(transaction=True)

N = int(os.environ.get("STREAMS", "3000"))
REQUEST = (
    b"GET /libera/python/stream/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36\r\n"
    b"Accept-Language: en-US,en;q=0.9\r\nCache-Control: no-cache\r\n\r\n"
)


def _open(port: int, count: int) -> list[socket.socket]:
    """Open ``count`` streams and wait until each got its first bytes."""
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(REQUEST)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
    pending = len(socks)
    deadline = time.monotonic() + 120
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            data = key.fileobj.recv(65536)  # type: ignore[union-attr]
            assert b"200 OK" in data, data[:200]
            sel.unregister(key.fileobj)
            pending -= 1
    assert not pending, f"{pending} streams never answered"
    return socks


def _rss(pid: int) -> int:
    return psutil.Process(pid).memory_info().rss


def test_rss_per_stream(tmp_path: Path, public_channel: Channel) -> None:
    with gunicorn(tmp_path) as server:
        time.sleep(3)
        [worker] = psutil.Process(server.process.pid).children()
        _measure(server.port, worker.pid)


def _measure(port: int, worker: int) -> None:
    warm = _open(port, 100)
    for s in warm:
        s.close()
    time.sleep(2)
    before = _rss(worker)
    socks = []
    for _ in range(N // 250):
        socks += _open(port, 250)
    time.sleep(3)
    after = _rss(worker)
    print(
        f"\n{N} streams: RSS {before / 2**20:.1f} -> {after / 2**20:.1f} MiB,"
        f" {(after - before) / N / 1024:.1f} KiB per stream"
    )
    for s in socks:
        s.close()
