"""The worker's admission of stream requests: in order, one at a time, behind the pages."""

import os
import socket
import time
from collections.abc import Iterator
from contextlib import nullcontext
from typing import Any

import gevent
import gevent.event
import gevent.socket
import psycopg2
import psycopg2.extensions
import pytest
from gevent.server import StreamServer
from gunicorn.config import Config
from gunicorn.glogging import Logger
from psycogreen.gevent import patch_psycopg

from irclogger.geventpool import direct_connection_params
from streams.gunicorn_worker import STOP_POLL_SECONDS, Admission, StreamsWorker
from streams.paths import is_stream_path, is_stream_request

# What one reconnect costs a worker's core, about: the storm is CPU, not waiting.
RECONNECT_SECONDS = 0.0005
STORM = 400


def _busy(seconds: float) -> None:
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        pass


def test_a_page_is_served_between_the_reconnects_of_a_storm() -> None:
    # 400 reconnects accepted before the page: without turns, each ran its
    # whole reconnect before the page's greenlet first ran.
    admission = Admission()
    admitted: list[int] = []
    page_done_after: list[int] = []

    def reconnect(number: int) -> None:
        admission.started()
        admission.wait_turn()
        admitted.append(number)
        _busy(RECONNECT_SECONDS)
        gevent.sleep(60)  # then it streams: waits for lines

    def page() -> None:
        admission.started()
        with admission.page():
            for _query in range(5):  # each query waits on the loop, as a socket read does
                gevent.sleep(0.001)
        page_done_after.append(len(admitted))

    def accept(function: Any, *args: Any) -> gevent.Greenlet:  # as the worker's server does
        admission.accepted()
        return gevent.spawn(function, *args)

    streams = [accept(reconnect, number) for number in range(STORM)]
    reader = accept(page)
    reader.join(timeout=30)
    assert page_done_after and page_done_after[0] < STORM // 2
    deadline = time.monotonic() + 30
    while len(admitted) < STORM and time.monotonic() < deadline:
        gevent.sleep(0.01)
    assert admitted == list(range(STORM))  # every one, in the order they came
    gevent.killall(streams)


def test_a_request_killed_while_waiting_gives_up_its_turn() -> None:
    admission = Admission()
    order: list[str] = []

    def request(name: str) -> None:
        admission.wait_turn()
        order.append(name)

    first, killed, last = (gevent.spawn(request, name) for name in ("first", "killed", "last"))
    gevent.sleep(0)  # all three wait for their turns
    killed.kill()
    gevent.joinall([first, killed, last], timeout=5)
    assert order == ["first", "last"]


def test_stream_paths_are_told_from_pages_without_django() -> None:
    assert is_stream_path("/libera/python/stream/")
    assert not is_stream_path("/libera/python/2024-03-10/")
    assert not is_stream_path("/libera/python/stream")


def test_a_stream_is_told_from_a_page_by_its_request_line() -> None:
    assert is_stream_request(b"GET /libera/python/stream/ HTTP/1.1\r\nHost: x\r\n")
    assert is_stream_request(b"GET /libera/python/stream/?lastEventId=4 HTTP/1.1\r\n")
    assert not is_stream_request(b"GET /libera/python/stream/x HTTP/1.1\r\n")
    assert not is_stream_request(b"GET /libera/python/ HTTP/1.1\r\n")
    assert not is_stream_request(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n")
    assert is_stream_request(b"GET /libera/python/stream/ HTTP/1.1") is None  # not whole yet


def test_a_lone_stream_request_goes_straight_in() -> None:
    # Outside a storm a turn would only cost a reconnect a loop iteration.
    admission = Admission()
    gevent.sleep(0.001)  # a fresh iteration
    before = admission.loop.iteration
    admission.wait_turn()
    assert admission.loop.iteration == before and not admission.turns


class _CountingWorker(StreamsWorker):
    """The worker as gunicorn runs it, counting the stream requests that reached the app."""

    def __init__(self, app: Any) -> None:
        cfg = Config()
        super().__init__(0, os.getpid(), [], None, 30, cfg, Logger(cfg))
        self.tmp.close()  # gunicorn's heartbeat file: these tests never beat
        self.wsgi = app
        self.streams_parsed = 0
        self.started = 0
        self.start_admission()

    def admit(self, client: Any) -> bool:
        self.started += 1
        return super().admit(client)

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> Any:
        if is_stream_path(req.path):
            self.streams_parsed += 1
        return super().handle_request(listener_name, req, sock, addr)


def test_a_storms_stream_requests_are_parsed_in_their_turns_not_before_a_page() -> None:
    # Parsing is a tenth of a reconnect: queued connections parsed one after
    # another before a page's made the page wait for all of them. Now a lone
    # worker accepts the whole queue at once, each stream waits for its turn
    # before its request is parsed, and the page goes almost first. With
    # gevent's 100 accepts a wake, the page, accepted ninth, waited for a turn
    # per hundred: 345 of the 800 on a slow machine, 431-580 on one twice as fast.
    storm = 2 * STORM
    parsed_before_page: list[int] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if is_stream_path(environ["PATH_INFO"]):
            _busy(RECONNECT_SECONDS)
        else:
            parsed_before_page.append(worker.streams_parsed)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    worker = _CountingWorker(app)
    server, clients = _serve_a_storm_then_a_page(worker, storm)
    # Before the page: the first stream (straight in, as outside a storm) and
    # the short turns while the rest start. gevent starts at least 50 of them
    # between two looks at the loop, and a short turn runs at most 5 ms of
    # these 0.5 ms reconnects: under 200 on any machine.
    assert parsed_before_page and parsed_before_page[0] < storm // 4
    assert worker.streams_parsed == storm  # and then every one of them, in turn
    _all_answered(server, clients)


def test_a_page_whose_request_is_there_when_accepted_starts_before_the_streams_ahead() -> None:
    # Each accepted connection's greenlet starts as a callback of the loop, in
    # order, a few hundred per turn of it: a page accepted behind thousands
    # of reconnects waited for all their starts (peek, then a place in the
    # turns), hundreds of milliseconds in a storm, before its request was read.
    storm = 2 * STORM
    started_before_page: list[int] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if not is_stream_path(environ["PATH_INFO"]):
            started_before_page.append(worker.started - 1)  # less the page itself
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    worker = _CountingWorker(app)
    server, clients = _serve_a_storm_then_a_page(worker, storm)
    assert started_before_page == [0]
    assert worker.streams_parsed == storm
    _all_answered(server, clients)


def _serve_a_storm_then_a_page(
    worker: _CountingWorker, storm: int
) -> tuple[StreamServer, list[socket.socket]]:
    """``storm`` stream requests, then a page, queued before the worker accepts
    them in the order they came; until every stream request was parsed."""
    listener = gevent.socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(storm + 1)
    clients = []
    for path in [f"/libera/python{n}/stream/" for n in range(storm)] + ["/libera/python/"]:
        client = socket.create_connection(listener.getsockname())
        client.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        clients.append(client)
    server = worker.serve(listener)
    deadline = time.monotonic() + 30
    while worker.streams_parsed < storm and time.monotonic() < deadline:
        gevent.sleep(0.01)
    return server, clients


def _all_answered(server: StreamServer, clients: list[socket.socket]) -> None:
    for client in clients:
        assert client.recv(64).startswith(b"HTTP/1.1 200")
        client.close()
    server.stop()


def test_a_connection_closed_before_its_request_is_closed_quietly() -> None:
    worker = _CountingWorker(lambda environ, start_response: [])
    listener = gevent.socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    socket.create_connection(listener.getsockname()).close()
    server = worker.serve(listener)
    deadline = time.monotonic() + 5
    while server.pool.free_count() != server.pool.size and time.monotonic() < deadline:
        gevent.sleep(0.01)
    assert worker.admission.unstarted == 0 and worker.streams_parsed == 0
    server.stop()


def test_a_stream_keeps_no_frame_of_its_admission_while_it_streams() -> None:
    # Every frame on a waiting stream's stack is memory each of 10,000
    # streams keeps: the admission must return before the request is handled.
    streaming: list[Any] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        streaming.append(gevent.getcurrent())
        gevent.sleep(30)  # a stream, waiting for its next line
        return []

    worker = _CountingWorker(app)
    listener = gevent.socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = socket.create_connection(listener.getsockname())
    client.sendall(b"GET /libera/python/stream/ HTTP/1.1\r\nHost: x\r\n\r\n")
    server = worker.serve(listener)
    deadline = time.monotonic() + 5
    while not streaming and time.monotonic() < deadline:
        gevent.sleep(0.01)
    frame, kept = streaming[0].gr_frame, []
    while frame is not None:
        if frame.f_code.co_filename.endswith("streams/gunicorn_worker.py"):
            kept.append(frame.f_code.co_qualname)
        frame = frame.f_back
    assert sorted(kept) == ["StreamsWorker.handle_request", "StreamsWorker.serve.<locals>.handle"]
    client.close()
    server.stop(timeout=1)


class _EndingHub:
    """The streams' side of a worker's stop: they have ended once the test says so."""

    def __init__(self) -> None:
        self.stopped = False
        self.all_ended = gevent.event.Event()
        self.ended: set[Any] = set()  # none ended on the wire here
        # The worker's listener, and whether it still accepted when the hub
        # gave back the sockets of the streams it ended.
        self.listener: Any = None
        self.released_while_accepting: bool | None = None

    def stop_streams(self) -> None:
        self.stopped = True

    def release_ended_sockets(self) -> None:
        self.released_while_accepting = self.listener.fileno() != -1

    def streams_ending(self) -> bool:
        return not self.all_ended.is_set()


class _StoppingWorker(_CountingWorker):
    def notify(self) -> None:
        pass  # gunicorn's heartbeat file is closed here


def test_a_stopped_worker_answers_pages_until_its_streams_have_ended() -> None:
    # Ending 10,000 streams takes a stopping worker a fraction of a second.
    # Its listener, closed as soon as the stop came, left every page asked
    # for meanwhile waiting in the queue for the next service's boot.
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    worker = _StoppingWorker(app)
    listener = gevent.socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    address = listener.getsockname()
    worker.sockets = [listener]
    worker.stream_hub = hub = _EndingHub()
    hub.listener = listener
    running = gevent.spawn(worker.run)
    gevent.sleep(0.01)
    worker.alive = False  # what gunicorn's handle_exit does on SIGTERM
    gevent.sleep(3 * STOP_POLL_SECONDS)  # past the stop's first look
    page = gevent.socket.create_connection(address)
    page.settimeout(3)
    page.sendall(b"GET /libera/python/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert page.recv(64).startswith(b"HTTP/1.1 200")
    page.close()
    assert hub.stopped and not running.dead  # it waits for its streams
    hub.all_ended.set()
    running.join(timeout=5)
    assert running.dead and worker.drained
    # Their closes cost the exit nothing then, in a gap no worker accepts in.
    assert hub.released_while_accepting


@pytest.fixture
def own_connection(db: None) -> Iterator[Any]:
    """A psycopg2 connection to the test database, opened green, as a worker's are."""
    patch_psycopg()
    conn = psycopg2.connect(**direct_connection_params("irclogger-test-admission"))
    conn.autocommit = True
    yield conn
    conn.close()
    psycopg2.extensions.set_wait_callback(None)


def _loop_turns_during_query(
    admission: Admission, conn: Any, sql: str, page: bool
) -> tuple[int, Any]:
    """How often another greenlet ran while a request's query waited for PostgreSQL."""
    turns: list[int] = []

    def busy_loop() -> None:  # the rest of the worker, always wanting the loop
        while True:
            turns.append(1)
            gevent.sleep(0)

    def request() -> tuple[int, Any]:
        with admission.page() if page else nullcontext():
            before = len(turns)
            with conn.cursor() as cursor:
                cursor.execute(sql)
                answer = cursor.fetchone()[0]
            return len(turns) - before, answer

    other = gevent.spawn(busy_loop)
    try:
        turned, answer = gevent.spawn(request).get(timeout=10)
    finally:
        other.kill()
    return turned, answer


@pytest.mark.parametrize("storm", [True, False])
def test_a_pages_query_does_not_wait_for_the_loop(own_connection: Any, storm: bool) -> None:
    # With thousands of streams a turn of the loop is tens of milliseconds (a
    # storm's accepts and admission turns, a line's fan-out), and a day page
    # waits for PostgreSQL several times.
    admission = Admission()
    admission.install_database_wait()
    if storm:
        admission.accepted()  # accepted connections wait to start
    turns, answer = _loop_turns_during_query(admission, own_connection, "SELECT 1", page=True)
    assert answer == 1 and turns == 0


@pytest.mark.parametrize("storm", [True, False])
def test_a_streams_query_yields_to_the_loop(own_connection: Any, storm: bool) -> None:
    admission = Admission()
    admission.install_database_wait()
    if storm:
        admission.accepted()
    turns, answer = _loop_turns_during_query(admission, own_connection, "SELECT 1", page=False)
    assert answer == 1 and turns > 0


def test_a_slow_query_of_a_page_yields_after_a_bound(own_connection: Any) -> None:
    # Held at most PROMPT_QUERY_SECONDS, then it waits as any other.
    admission = Admission()
    admission.install_database_wait()
    slow = "SELECT pg_sleep(0.2)::text || 'x'"
    turns, answer = _loop_turns_during_query(admission, own_connection, slow, page=True)
    assert answer == "x" and turns > 0
