"""The stream profile through real nginx in front of real gunicorn.

Waits are bounded generously (the socket timeouts of tests/sseclient.py, the
same bound as the direct tests in test_stream_e2e.py); speed is the benchmark's.
"""

import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest

from irclogger.models import Channel
from tests.conftest import publish
from tests.nginx import Nginx, get, nginx
from tests.servers import Gunicorn, gunicorn, stop_process
from tests.sseclient import Stream, connected, follow_through_a_reload
from tests.test_nginx_profiles import _drip

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PATH = "/libera/python/stream/"
PAGE = "/libera/python/"
# Every timeout shortened so that a test outlives it; still long enough for a page on
# a machine busy with other tests.
HEADER_TIMEOUT = 2
NORMAL_TIMEOUT = 4
KEEPALIVE_SECONDS = 1
# The stream profile's read timeout: above the keep-alive interval, as in production.
STREAM_READ_TIMEOUT = 6
STREAMS_PER_IP = 4


@pytest.fixture
def app(tmp_path: Path, public_channel: Channel) -> Iterator[Gunicorn]:
    keepalive = str(KEEPALIVE_SECONDS)
    with gunicorn(tmp_path, workers=2, STREAM_KEEPALIVE_SECONDS=keepalive) as server:
        # nginx gives up on an upstream after the short timeouts above: wait until a
        # worker has booted and its hub listens before sending anything through it.
        for _ in range(100):
            if _healthy(server.port):
                break
            gevent.sleep(0.2)
        else:
            raise AssertionError(f"gunicorn never became healthy:\n{server.log()}")
        yield server


def _healthy(port: int) -> bool:
    try:
        return get(port, "/healthz").status == 200
    except OSError:  # a worker still booting
        return False


@pytest.fixture
def proxy(tmp_path: Path, app: Gunicorn) -> Iterator[Nginx]:
    with nginx(
        tmp_path,
        app.port,
        client_timeout=HEADER_TIMEOUT,
        read_timeout=NORMAL_TIMEOUT,
        send_timeout=NORMAL_TIMEOUT,
        stream_read_timeout=STREAM_READ_TIMEOUT,
        streams_per_ip=STREAMS_PER_IP,
    ) as server:
        yield server


def test_it_delivers_a_committed_line_unbuffered(proxy: Nginx, public_channel: Channel) -> None:
    stream = connected(proxy.port, PATH, headers={"Accept-Encoding": "gzip"})
    [line] = publish(public_channel, 1, "through nginx")
    event = stream.next_event("line")
    stream.close()
    assert int(event.id or 0) == line.id
    assert event.json()["text"] == "through nginx 0"
    assert "content-encoding" not in stream.headers
    assert stream.headers["content-type"] == "text/event-stream"


def test_it_keeps_a_stream_open_past_the_read_timeouts(
    proxy: Nginx, public_channel: Channel
) -> None:
    # Ten keep-alives: over 9 × KEEPALIVE_SECONDS of silence, longer than both the
    # normal profile's read timeout and the stream profile's own.
    stream = connected(proxy.port, PATH, timeout=STREAM_READ_TIMEOUT + KEEPALIVE_SECONDS)
    started = time.monotonic()
    keepalives = 0
    for event in stream.events():
        assert event.comment, event
        keepalives += 1
        if keepalives == 10:
            break
    silent_for = time.monotonic() - started
    [line] = publish(public_channel, 1, "still here")
    event = stream.next_event("line")
    stream.close()
    assert keepalives == 10
    assert silent_for > STREAM_READ_TIMEOUT > NORMAL_TIMEOUT
    assert int(event.id or 0) == line.id


def test_it_answers_429_past_the_streams_per_ip_and_still_serves_pages(proxy: Nginx) -> None:
    streams = [connected(proxy.port, PATH) for _ in range(STREAMS_PER_IP)]
    refused = Stream(proxy.port, PATH)
    page = get(proxy.port, PAGE)
    streams.pop().close()
    again = None
    for _ in range(50):  # nginx frees the slot once it sees the close
        again = Stream(proxy.port, PATH)
        if again.status == 200:
            break
        again.close()
        gevent.sleep(0.1)
    for stream in [*streams, refused]:
        stream.close()
    assert refused.status == 429
    assert page.status == 200
    assert again is not None and again.status == 200
    again.close()


def test_it_cuts_a_slow_client_while_streams_keep_working(
    proxy: Nginx, public_channel: Channel
) -> None:
    stream = connected(proxy.port, PATH)
    request = b"GET " + PAGE.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"z" * 200
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as slow:
        slow.sendall(request[:4])
        [line] = publish(public_channel, 1, "meanwhile")
        delivered = stream.next_event("line")
        page = get(proxy.port, PAGE)
        cut_at = _drip(slow, request[4:], pause=0.25)
    [after] = publish(public_channel, 1, "after the cut")
    assert int(stream.next_event("line").id or 0) == after.id
    stream.close()
    assert cut_at is not None, "nginx waited for the whole header"
    assert int(delivered.id or 0) == line.id
    assert page.status == 200


def test_it_loses_and_repeats_nothing_across_a_reload_behind_nginx(
    tmp_path: Path, app: Gunicorn, public_channel: Channel
) -> None:
    # Every follower comes from 127.0.0.1: room for all of them, twice over while a
    # reconnecting one's old connection is still being let go.
    readers = 50
    with nginx(
        tmp_path, app.port, stream_read_timeout=STREAM_READ_TIMEOUT, streams_per_ip=2 * readers
    ) as proxy:
        followers, written = follow_through_a_reload(
            proxy.port, PATH, public_channel, readers, app.reload
        )

    assert [f.ids for f in followers] == [written] * len(followers)
    assert all(f.connects > 1 for f in followers)  # each one did reconnect


def _metric(text: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found is not None, name
    return float(found.group(1))


def test_it_counts_streams_and_lines_in_metrics(proxy: Nginx, public_channel: Channel) -> None:
    streams = [connected(proxy.port, PATH) for _ in range(3)]
    written = [line.id for line in publish(public_channel, 5, "counted")]
    received = [[int(s.next_event("line").id or 0) for _ in written] for s in streams]
    text = ""
    for _ in range(50):  # the hubs add their deliveries to the counter once a second
        text = get(proxy.port, "/metrics").body.decode()
        if _metric(text, "irclogger_lines_delivered_total") >= 15:
            break
        gevent.sleep(0.2)
    for stream in streams:
        stream.close()
    assert received == [written] * 3
    assert _metric(text, "irclogger_streams_opened_total") == 3
    assert _metric(text, "irclogger_streams_open") == 3
    assert _metric(text, "irclogger_lines_delivered_total") == 15


def _wait_for(path: Path, text: str, process: subprocess.Popen[bytes]) -> bool:
    """Until ``text`` is in the file curl writes to; 100 tries, 20 s at most."""
    deadline = time.monotonic() + 20
    for _ in range(100):
        if text in path.read_text(errors="replace"):
            return True
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        gevent.sleep(0.2)
    return False


def test_it_streams_over_tls_and_http2(
    tmp_path: Path, app: Gunicorn, public_channel: Channel
) -> None:
    with nginx(tmp_path, app.port, tls=True) as proxy:
        out = tmp_path / "stream.txt"
        url = f"https://127.0.0.1:{proxy.tls_port}{PATH}"
        with open(out, "wb") as sink:
            curl = subprocess.Popen(
                ["curl", "--silent", "--insecure", "--http2", "--no-buffer", "--include",
                 "--max-time", "60", url],
                stdout=sink,
            )  # fmt: skip
        try:
            opened = _wait_for(out, "retry:", curl)
            [line] = publish(public_channel, 1, "over http2")
            delivered = _wait_for(out, f"id: {line.id}\nevent: line\n", curl)
        finally:
            stop_process(curl)
    assert opened
    assert delivered
    assert out.read_text().startswith("HTTP/2 200")
