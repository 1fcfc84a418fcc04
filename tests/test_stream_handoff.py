"""A reload hands the streams over: the old worker keeps them until a new one
listens, then ends them at a steady pace; a stop ends them at once.

Real gunicorn (conf/gunicorn.py) on loopback, real PostgreSQL; the handoff
directory is the test's, so the test reads the same files the workers do.
"""

import signal
import time
from dataclasses import dataclass
from pathlib import Path

import gevent
import pytest

from irclogger.models import Channel
from streams.gunicorn_worker import ACCEPTING_UNTIL_REPLACED
from streams.handoff import LISTENING, RELOAD, Handoff
from tests.ircserver import wait_until
from tests.nginx import get
from tests.servers import gunicorn
from tests.sseclient import Stream, connected

PATH = "/libera/python/stream/"
STREAMS = 20
PER_SECOND = 40  # 2 a beat of 50 ms: the 20 ends take about half a second
WAIT_SECONDS = 30.0


def test_a_worker_started_before_a_reload_expects_a_successor(tmp_path: Path) -> None:
    old = Handoff(tmp_path, started=time.time() - 60)
    assert not old.expected() and not old.ready()
    old.announce_listening()  # the old worker's own start
    Handoff(tmp_path).announce_reload()  # the master, on SIGHUP
    assert old.expected() and not old.ready()
    new = Handoff(tmp_path, started=time.time() + 1)
    assert not new.expected()  # the reload was not about the new worker
    time.sleep(0.02)  # file times are coarse: the new worker comes later anyway
    new.announce_listening()
    assert old.ready()


def test_a_worker_with_no_reload_expects_none(tmp_path: Path) -> None:
    worker = Handoff(tmp_path, started=time.time() - 60)
    worker.announce_listening()
    assert not worker.expected()


@dataclass
class Ending:
    at: float = 0.0  # when the server ended the stream (time.time())
    retry: int | None = None  # the last retry: it sent


def _read_to_the_end(stream: Stream, ending: Ending) -> None:
    for event in stream.events():
        if event.retry is not None:
            ending.retry = event.retry
    ending.at = time.time()
    stream.close()


def _open(port: int) -> tuple[list[Ending], list[gevent.Greenlet]]:
    endings = [Ending() for _ in range(STREAMS)]
    greenlets = [gevent.spawn(_read_to_the_end, connected(port, PATH), e) for e in endings]
    return endings, greenlets


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_reload_ends_the_streams_only_once_a_new_worker_listens_and_paced(
    tmp_path: Path, public_channel: Channel
) -> None:
    folder = tmp_path / "handoff"
    with gunicorn(
        tmp_path, IRCLOGGER_HANDOFF_DIR=str(folder), STREAM_HANDOFF_PER_SECOND=str(PER_SECOND)
    ) as server:
        endings, greenlets = _open(server.port)
        server.reload()
        gevent.joinall(greenlets, timeout=WAIT_SECONDS, raise_error=True)
        reloaded = (folder / RELOAD).stat().st_mtime
        listening = (folder / LISTENING).stat().st_mtime
        log = server.log()

    assert all(e.at for e in endings), "a stream did not end"
    first, last = min(e.at for e in endings), max(e.at for e in endings)
    assert listening > reloaded
    # Not one stream ended while no new worker listened.
    assert first >= listening, (first, listening)
    # Paced: 20 at 40 a second take about half a second, not one instant.
    assert last - first >= 0.3, last - first
    # Short retries: a worker is there to take them.
    assert all(e.retry is not None and 100 <= e.retry <= 600 for e in endings), endings
    assert f"handing over {STREAMS} streams at {PER_SECOND}/s" in log


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_stop_ends_every_stream_at_once_with_a_spread_retry(
    tmp_path: Path, public_channel: Channel
) -> None:
    with gunicorn(tmp_path, IRCLOGGER_HANDOFF_DIR=str(tmp_path / "handoff")) as server:
        endings, greenlets = _open(server.port)
        server.process.send_signal(signal.SIGTERM)
        gevent.joinall(greenlets, timeout=WAIT_SECONDS, raise_error=True)
        log = server.log()

    assert all(e.at for e in endings), "a stream did not end"
    assert all(e.retry is not None and 500 <= e.retry <= 5000 for e in endings), endings
    assert "handing over" not in log


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_reloads_old_worker_serves_pages_until_a_new_worker_listens(
    tmp_path: Path, public_channel: Channel
) -> None:
    # It closed its listener as soon as gunicorn told it to stop: every page
    # asked for then waited for the new worker to load Django (1.5–3 s).
    folder = tmp_path / "handoff"
    page_url = "/libera/python/"
    with gunicorn(tmp_path, IRCLOGGER_HANDOFF_DIR=str(folder)) as server:
        assert get(server.port, page_url).status == 200  # the first worker runs
        server.reload()
        wait_until(lambda: ACCEPTING_UNTIL_REPLACED in server.log(), WAIT_SECONDS, "the stop")
        status = get(server.port, page_url, timeout=WAIT_SECONDS).status
        answered = time.time()
        wait_until(Handoff(folder, started=0).ready, WAIT_SECONDS, "a new worker listening")
        listening = (folder / LISTENING).stat().st_mtime
    assert status == 200
    assert answered < listening, "the page waited for the new worker"
