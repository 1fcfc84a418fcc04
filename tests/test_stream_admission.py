"""The worker's admission of stream requests: in order, one at a time, behind the pages."""

import time

import gevent

from streams.gunicorn_worker import Admission
from streams.paths import is_stream_path

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
        admission.wait_turn()
        admitted.append(number)
        _busy(RECONNECT_SECONDS)
        gevent.sleep(60)  # then it streams: waits for lines

    def page() -> None:
        with admission.page():
            for _query in range(5):  # each query waits on the loop, as a socket read does
                gevent.sleep(0.001)
        page_done_after.append(len(admitted))

    streams = [gevent.spawn(reconnect, number) for number in range(STORM)]
    reader = gevent.spawn(page)
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


def test_a_lone_stream_request_goes_straight_in() -> None:
    # Outside a storm a turn would only cost a reconnect a loop iteration.
    admission = Admission()
    gevent.sleep(0.001)  # a fresh iteration
    before = admission.loop.iteration
    admission.wait_turn()
    assert admission.loop.iteration == before and not admission.turns
