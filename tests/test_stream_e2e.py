"""The live tail end to end: real gunicorn (conf/gunicorn.py) on loopback, real PostgreSQL.

Waits are bounded generously; how fast lines arrive is the benchmark's
business, not these tests'.
"""

import http.client
from collections.abc import Iterator
from pathlib import Path

import gevent
import psycopg2
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from gevent import socket

from irclogger.models import Channel
from tests.conftest import publish
from tests.servers import Gunicorn, gunicorn
from tests.sseclient import Stream, connected, follow_through_a_reload

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PATH = "/libera/python/stream/"
POOL_SIZE = 4


APP_NAME = "irclogger-e2e"


@pytest.fixture
def server(tmp_path: Path, public_channel: Channel) -> Iterator[Gunicorn]:
    # PGAPPNAME names this service's connections (pool and hub) in
    # pg_stat_activity, so leftovers of other tests are not counted.
    with gunicorn(tmp_path, DB_POOL_SIZE=str(POOL_SIZE), PGAPPNAME=APP_NAME) as server:
        yield server


def _line_ids(stream: Stream, count: int) -> list[int]:
    return [int(stream.next_event("line").id or 0) for _ in range(count)]


def _fetch(port: int, path: str) -> tuple[int, bytes]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    try:
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
        head, _, body = response.partition(b"\r\n\r\n")
        return int(head.split()[1]), body
    finally:
        sock.close()


def _get(port: int, path: str) -> int:
    return _fetch(port, path)[0]


def _metric(port: int, name: str) -> float:
    status, body = _fetch(port, "/metrics")
    assert status == 200
    for line in body.decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} is not in /metrics")


def _db_connections() -> int:
    """Connections of the service under test: its pool and its hub."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name IN (%s, %s)",
            [APP_NAME, APP_NAME + "-hub"],
        )
        return int(cursor.fetchone()[0])


def test_it_sends_the_first_event_before_the_stream_ends(server: Gunicorn) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", PATH, headers={"Accept": "text/event-stream"})
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/event-stream"
    assert response.getheader("X-Accel-Buffering") == "no"
    assert response.getheader("Content-Encoding") is None
    first = response.read1(65536)
    assert first.startswith(b"retry: ")
    assert not response.isclosed()  # the stream is still open
    conn.close()


def test_it_delivers_a_committed_line_to_an_open_stream(
    server: Gunicorn, public_channel: Channel
) -> None:
    stream = connected(server.port, PATH)
    [line] = publish(public_channel, 1, "hello live")
    event = stream.next_event("line")
    assert int(event.id or 0) == line.id
    assert event.json()["text"] == "hello live 0"
    assert f'id="L{line.id}"' in event.json()["html"]
    stream.close()


def _session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def test_it_streams_a_private_channel_only_to_its_members(
    server: Gunicorn, private_channel: Channel, member: User, stranger: User
) -> None:
    secret = "/libera/secret/stream/"
    for headers in [{}, {"Cookie": _session_cookie(stranger)}]:
        refused = Stream(server.port, secret, headers=headers)
        assert refused.status == 404
        refused.close()
    stream = connected(server.port, secret, headers={"Cookie": _session_cookie(member)})
    [line] = publish(private_channel, 1, "hush")
    assert _line_ids(stream, 1) == [line.id]
    stream.close()


@pytest.mark.parametrize("how", ["header", "query"])
def test_it_resumes_with_exactly_the_missed_lines(
    server: Gunicorn, public_channel: Channel, how: str
) -> None:
    [seen] = publish(public_channel, 1, "before")
    stream = connected(server.port, PATH, last_event_id=0)
    assert _line_ids(stream, 1) == [seen.id]
    stream.close()

    missed = publish(public_channel, 50, "missed")
    if how == "header":
        stream = connected(server.port, PATH, last_event_id=seen.id)
    else:
        stream = connected(server.port, f"{PATH}?last_event_id={seen.id}")
    assert _line_ids(stream, 50) == [line.id for line in missed]
    [live] = publish(public_channel, 1, "live")
    assert _line_ids(stream, 1) == [live.id]
    stream.close()


def test_it_holds_2000_streams_without_running_out_of_connections(
    server: Gunicorn, public_channel: Channel
) -> None:
    streams: list[Stream] = []

    def open_one() -> None:
        streams.append(connected(server.port, PATH, timeout=120))

    for _ in range(8):  # waves of 250: within the listen backlog
        gevent.joinall([gevent.spawn(open_one) for _ in range(250)], raise_error=True)
    assert len(streams) == 2000
    assert _metric(server.port, "irclogger_streams_open") == 2000

    peak = _db_connections()
    sampling = True

    def sample() -> None:
        nonlocal peak
        while sampling:
            peak = max(peak, _db_connections())
            gevent.sleep(0.02)

    sampler = gevent.spawn(sample)
    pages = [gevent.spawn(_get, server.port, "/libera/python/") for _ in range(100)]
    gevent.joinall(pages, timeout=120, raise_error=True)
    sampling = False
    sampler.join()
    assert [page.value for page in pages] == [200] * 100
    assert peak <= POOL_SIZE + 1, peak

    [line] = publish(public_channel, 1, "to everyone")
    received = [gevent.spawn(lambda s=s: s.next_event("line").id) for s in streams]
    gevent.joinall(received, timeout=120, raise_error=True)
    assert {r.value for r in received} == {str(line.id)}
    for stream in streams:
        stream.close()


def test_it_catches_up_when_its_listen_connection_drops(
    server: Gunicorn, public_channel: Channel
) -> None:
    stream = connected(server.port, PATH)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s",
            [APP_NAME + "-hub"],
        )
        assert cursor.fetchall() == [(True,)]
    lines = publish(public_channel, 5, "meanwhile")
    assert _line_ids(stream, 5) == [line.id for line in lines]
    [later] = publish(public_channel, 1, "later")
    assert _line_ids(stream, 1) == [later.id]
    assert _metric(server.port, "irclogger_hub_reconnects_total") >= 1
    stream.close()


def test_it_serves_a_second_request_while_a_query_waits(
    server: Gunicorn, public_channel: Channel
) -> None:
    # A page whose query waits inside PostgreSQL (here behind a lock, so the
    # wait lasts exactly as long as the test wants) must not hold up another
    # request on the same worker: psycopg2 waits through gevent.
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    for key in ("MAX_CONNS", "REUSE_CONNS"):
        params.pop(key, None)
    locker = psycopg2.connect(**params)
    try:
        with locker.cursor() as cursor:
            cursor.execute("BEGIN; LOCK TABLE irclogger_channel IN ACCESS EXCLUSIVE MODE")
        slow = gevent.spawn(_get, server.port, "/libera/python/")
        for _ in range(200):
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                if cursor.fetchone()[0]:
                    break
            gevent.sleep(0.05)
        else:
            raise AssertionError("the page never reached the database")
        assert _get(server.port, "/static/streams/live.js") == 200
        assert not slow.ready()  # the first request is still waiting in PostgreSQL
    finally:
        locker.rollback()
        locker.close()
    assert slow.get(timeout=30) == 200


def test_it_drops_a_client_that_stops_reading(tmp_path: Path, public_channel: Channel) -> None:
    with gunicorn(tmp_path, STREAM_RING_SIZE="50") as server:
        stalled = connected(server.port, PATH, rcvbuf=4096)
        readers = [connected(server.port, PATH) for _ in range(3)]
        text = "word " * 1600  # 8 kB a line: the stalled socket's buffers fill quickly
        written: list[int] = []
        got: list[list[int]] = [[] for _ in readers]

        def read(index: int) -> None:
            while len(got[index]) < 400:
                got[index].append(int(readers[index].next_event("line").id or 0))

        reading = [gevent.spawn(read, i) for i in range(len(readers))]
        for _ in range(20):
            written += [line.id for line in publish(public_channel, 20, text)]
            gevent.sleep(0.05)
        gevent.joinall(reading, timeout=120, raise_error=True)
        assert got == [written] * len(readers)

        # The stalled client was cut: draining it ends (it does not go on live).
        stalled_ids = [int(event.id) for event in stalled.events() if event.id]
        assert stalled_ids == written[: len(stalled_ids)]
        assert len(stalled_ids) < len(written)
        assert _metric(server.port, "irclogger_stream_overflows_total") >= 1
        for stream in [stalled, *readers]:
            stream.close()


def test_it_loses_and_repeats_nothing_across_a_graceful_reload(
    server: Gunicorn, public_channel: Channel
) -> None:
    followers, written = follow_through_a_reload(
        server.port, PATH, public_channel, 200, server.reload
    )

    assert all(f.ids == written for f in followers), [
        (len(f.ids), f.connects) for f in followers if f.ids != written
    ][:5]
    assert sum(f.connects for f in followers) > len(followers)  # they did reconnect


def test_it_reaches_streams_on_two_services_sharing_one_database(
    tmp_path: Path, public_channel: Channel
) -> None:
    with gunicorn(tmp_path) as one, gunicorn(tmp_path) as two:
        streams = [connected(one.port, PATH), connected(two.port, PATH)]
        [line] = publish(public_channel, 1, "everywhere")
        assert [_line_ids(stream, 1) for stream in streams] == [[line.id], [line.id]]
        for stream in streams:
            stream.close()
