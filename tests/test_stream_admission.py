"""The worker's admission of stream requests: in order, one at a time, behind the pages."""

import os
import socket
import time
from typing import Any

import gevent
import gevent.socket
from gunicorn.config import Config
from gunicorn.glogging import Logger

from streams.gunicorn_worker import Admission, StreamsWorker
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
        self.start_admission()

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
    listener = gevent.socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(storm + 1)
    port = listener.getsockname()[1]
    clients = []
    for path in [f"/libera/python{n}/stream/" for n in range(storm)] + ["/libera/python/"]:
        client = socket.create_connection(("127.0.0.1", port))
        client.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        clients.append(client)
    server = worker.serve(listener)  # accepts them in the order they came
    deadline = time.monotonic() + 30
    while worker.streams_parsed < storm and time.monotonic() < deadline:
        gevent.sleep(0.01)
    # Before the page: the first stream (straight in, as outside a storm) and
    # the short turns while the rest start. gevent starts at least 50 of them
    # between two looks at the loop, and a short turn runs at most 5 ms of
    # these 0.5 ms reconnects: under 200 on any machine.
    assert parsed_before_page and parsed_before_page[0] < storm // 4
    assert worker.streams_parsed == storm  # and then every one of them, in turn
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
