"""How a stream ends: HEAD, a client that went away, a client that stopped reading.

Real gunicorn (conf/gunicorn.py) on loopback, real PostgreSQL. The keep-alive
is set far beyond every wait here, so nothing these tests see can come from
the keep-alive's write noticing a dead socket.
"""

import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest

from irclogger.models import Channel
from tests.conftest import publish
from tests.nginx import nginx
from tests.servers import Gunicorn, gunicorn
from tests.sseclient import connected
from tests.test_stream_e2e import _metric

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PATH = "/libera/python/stream/"
# What a test waits for a server-side event at most; far below the keep-alive.
WAIT_SECONDS = 20.0
KEEPALIVE_SECONDS = "600"
WRITE_TIMEOUT_SECONDS = "2"
# 8 kB a line: the socket buffers between server and reader fill after a few.
BIG_LINE = "word " * 1600


@pytest.fixture
def server(tmp_path: Path, public_channel: Channel) -> Iterator[Gunicorn]:
    with gunicorn(
        tmp_path,
        STREAM_KEEPALIVE_SECONDS=KEEPALIVE_SECONDS,
        STREAM_WRITE_TIMEOUT_SECONDS=WRITE_TIMEOUT_SECONDS,
        # Small kernel buffers, so a client that stops reading blocks the
        # server's write after a few lines rather than a few megabytes.
        STREAM_SEND_BUFFER_BYTES="16384",
    ) as server:
        yield server


def _open_streams(port: int) -> float:
    return _metric(port, "irclogger_streams_open")


def _until_open_streams(port: int, count: int) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while _open_streams(port) != count:
        assert time.monotonic() < deadline, f"{_open_streams(port)} streams open, not {count}"
        gevent.sleep(0.1)


def test_a_head_request_answers_its_headers_and_ends(server: Gunicorn) -> None:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_SECONDS)
    try:
        sock.sendall(f"HEAD {PATH} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        response = b""
        while chunk := sock.recv(65536):  # until the server closes
            response += chunk
    finally:
        sock.close()
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200") or head.startswith(b"HTTP/1.1 200"), head
    assert b"Content-Type: text/event-stream" in head
    assert body == b""
    _until_open_streams(server.port, 0)


def test_a_head_request_for_a_private_channel_is_a_404(
    server: Gunicorn, private_channel: Channel
) -> None:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_SECONDS)
    try:
        sock.sendall(b"HEAD /libera/secret/stream/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        head = sock.recv(65536)
    finally:
        sock.close()
    assert head.split()[1] == b"404", head


def test_a_client_that_went_away_leaves_the_gauge(server: Gunicorn) -> None:
    stream = connected(server.port, PATH)
    _until_open_streams(server.port, 1)
    stream.close()
    # No line is written and the keep-alive is minutes away: only watching
    # the socket can tell the server the client has gone.
    _until_open_streams(server.port, 0)


def test_a_reader_that_stops_reading_is_cut_on_a_quiet_channel(
    server: Gunicorn, public_channel: Channel
) -> None:
    stalled = connected(server.port, PATH, rcvbuf=4096)
    _until_open_streams(server.port, 1)
    written = [line.id for line in publish(public_channel, 60, BIG_LINE)]
    # Nothing more is written: the channel is quiet. The server's write that
    # cannot finish must end the stream by itself, before anyone reads.
    _until_open_streams(server.port, 0)

    received = [int(event.id) for event in stalled.events() if event.id]
    stalled.close()
    assert received == written[: len(received)]
    assert len(received) < len(written)

    # The client resumes from the last event it got, as EventSource does.
    resumed = connected(server.port, PATH, last_event_id=received[-1] if received else 0)
    rest = [int(resumed.next_event("line").id or 0) for _ in written[len(received) :]]
    resumed.close()
    assert received + rest == written


def test_a_stopping_worker_cuts_a_reader_that_stopped_reading_at_once(
    tmp_path: Path, public_channel: Channel
) -> None:
    # A restart waits for the old worker to exit, and every reader and page
    # waits for the restart. A reader blocked mid-write held the worker for
    # the whole write timeout (or gunicorn's graceful timeout, the shorter):
    # once the worker stops, it is cut, and resumes with Last-Event-ID.
    with gunicorn(
        tmp_path,
        STREAM_KEEPALIVE_SECONDS=KEEPALIVE_SECONDS,
        STREAM_WRITE_TIMEOUT_SECONDS="600",
        GUNICORN_GRACEFUL_TIMEOUT="60",
        STREAM_SEND_BUFFER_BYTES="16384",
    ) as server:
        stalled = connected(server.port, PATH, rcvbuf=4096)
        _until_open_streams(server.port, 1)
        publish(public_channel, 60, BIG_LINE)
        _until_a_write_is_blocked(server.port)
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=WAIT_SECONDS)  # not the 60 s of either timeout
        stalled.close()


def test_a_stopped_worker_ends_every_stream_once_and_exits(
    tmp_path: Path, public_channel: Channel
) -> None:
    # A stopping worker's hub writes each waiting stream's last frame and the
    # response's end itself, and the worker exits without unwinding the
    # streams' greenlets (streams.hub, Hub.finish; streams.worker, exit_worker).
    # Each reader still gets a retry and a clean end, and the log one close
    # line per stream.
    with gunicorn(tmp_path, STREAM_KEEPALIVE_SECONDS=KEEPALIVE_SECONDS) as server:
        plain = [connected(server.port, PATH) for _ in range(3)]  # HTTP/1.0: no chunks
        chunked = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_SECONDS)
        chunked.sendall(f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        _until_open_streams(server.port, 4)
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=WAIT_SECONDS) == 0
        for stream in plain:
            assert [event.retry for event in stream.events()][-1], "no retry at the end"
            stream.close()
        body = b""
        while data := chunked.recv(65536):  # until the server closes
            body += data
        chunked.close()
    assert body.endswith(b"\n\n\r\n0\r\n\r\n") and b"retry: " in body.rsplit(b"\r\n", 4)[-4]
    log = server.log_path.read_text()
    closes = [json.loads(line) for line in log.splitlines() if '"stream_close"' in line]
    assert [close["reason"] for close in closes] == ["ended"] * 4
    assert "Traceback" not in log and "Exception ignored" not in log


def _until_a_write_is_blocked(port: int) -> None:
    """Until the server's side of a stream holds bytes its reader has not taken (``ss``)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        listing = subprocess.run(
            ["ss", "-Htn", "state", "established", f"( sport = :{port} )"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        # Columns: Recv-Q, Send-Q, local, peer.
        if any(int(row.split()[1]) > 0 for row in listing.splitlines()):
            return
        assert time.monotonic() < deadline, "no stream write blocked"
        time.sleep(0.05)


def test_a_reader_that_reads_late_gets_every_line_once_in_order(
    server: Gunicorn, public_channel: Channel
) -> None:
    # The hub sends what the socket takes and leaves the rest to the stream's
    # own write: lines in separate commits, more than the buffers hold, read
    # half a second later (inside the write timeout).
    late = connected(server.port, PATH, rcvbuf=4096)
    _until_open_streams(server.port, 1)
    written = [line.id for _ in range(10) for line in publish(public_channel, 4, BIG_LINE)]
    gevent.sleep(0.5)
    received = [int(late.next_event("line").id or 0) for _ in written]
    late.close()
    assert received == written


def test_a_reader_that_stops_reading_behind_nginx_is_cut_on_a_quiet_channel(
    tmp_path: Path, server: Gunicorn, public_channel: Channel
) -> None:
    with nginx(tmp_path, server.port, streams_per_ip=8) as proxy:
        stalled = connected(proxy.port, PATH, rcvbuf=4096, timeout=WAIT_SECONDS)
        _until_open_streams(server.port, 1)
        # More than nginx's and the kernel's buffers between the two hold.
        written = [line.id for line in publish(public_channel, 600, BIG_LINE)]
        _until_open_streams(server.port, 0)
        received = [int(event.id) for event in stalled.events() if event.id]
        stalled.close()
        assert received == written[: len(received)]
        assert len(received) < len(written)


def test_a_stream_ends_after_its_configured_lifetime_and_closes_its_connection(
    tmp_path: Path, public_channel: Channel
) -> None:
    # STREAM_MAX_LIFETIME_SECONDS=1: the stream ends at the first keep-alive
    # beat (the hub checks lifetimes there) after 0.9-1.1 s. Its
    # socket must close right after the final retry frame, not after
    # gunicorn's 5 s keep-alive, which a client waiting for the close (and
    # a proxy) would see as a gap before reconnecting.
    with gunicorn(
        tmp_path, STREAM_KEEPALIVE_SECONDS="1", STREAM_MAX_LIFETIME_SECONDS="1"
    ) as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_SECONDS)
        try:
            sock.sendall(f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            response = b""
            while b"\r\n0\r\n\r\n" not in response:  # the chunked body's end
                chunk = sock.recv(65536)
                assert chunk, f"closed before the stream's end: {response!r}"
                response += chunk
            # Below gunicorn's 5 s keep-alive: only a close it was asked
            # for ends the connection within it.
            sock.settimeout(3.0)
            try:
                rest = sock.recv(65536)
            except TimeoutError:
                pytest.fail("the connection stayed open after the stream ended")
        finally:
            sock.close()
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert b"connection: close" in head.lower(), head
    assert body.count(b"retry: ") == 2, body  # the first frame, and the final one
    assert rest == b""
