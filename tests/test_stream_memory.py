"""What a stream connect leaves behind in the worker once it has ended.

Real gunicorn with bench/probe_gunicorn.py (conf/gunicorn.py plus the soak's
memory probe), real PostgreSQL. Under gevent, Django's connections are
greenlet-local: a connect that queries makes a DatabaseWrapper of its own,
whose helpers (operations, features, introspection, client...) point back
at it. Left to the collector, each one waits for a full collection, which
the worker's tuned thresholds make rare and long (docs/DESIGN.md, "Memory
per stream").
"""

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from irclogger.models import Channel
from tests.conftest import publish
from tests.servers import Gunicorn, gunicorn
from tests.sseclient import connected

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PATH = "/libera/python/stream/"
CONNECTS = 30
WAIT_SECONDS = 20.0


@contextmanager
def _probed_gunicorn(
    tmp_path: Path, ring_size: str = "1000"
) -> Iterator[tuple[Gunicorn, Callable[[], dict[str, object]]]]:
    """One worker with the soak's probe, and a call that asks it for a full collection."""
    probe = tmp_path / "probe"
    with gunicorn(
        tmp_path,
        config="bench/probe_gunicorn.py",
        SOAK_PROBE_DIR=str(probe),
        SOAK_PROBE_SECONDS="3600",
        STREAM_RING_SIZE=ring_size,
    ) as server:
        yield server, lambda: _collection(probe, _worker_pid(server.process.pid))


def _worker_pid(master_pid: int) -> int:
    [child] = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    return int(child)


def _collection(probe: Path, worker: int) -> dict[str, object]:
    """What the worker's full collection found (the probe answers SIGUSR2)."""
    os.kill(worker, signal.SIGUSR2)
    path = probe / f"{worker}.jsonl"
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if path.exists():
            for line in path.read_text().splitlines():
                record = json.loads(line)
                if record["kind"] == "collect":
                    return dict(record)
        time.sleep(0.05)
    raise AssertionError("the probe wrote no collection")


def test_stream_connects_that_query_leave_no_database_wrapper_to_collect(
    tmp_path: Path, public_channel: Channel
) -> None:
    [line] = publish(public_channel, 1)
    with _probed_gunicorn(tmp_path) as (server, collect):
        for _ in range(CONNECTS):
            # A Last-Event-ID the new worker's ring cannot vouch for: each
            # connect replays from PostgreSQL, on a connection of its own.
            stream = connected(server.port, PATH, last_event_id=line.id)
            stream.close()
        for _ in range(CONNECTS):
            stream = connected(server.port, PATH)
            stream.close()
        found = collect()
    garbage = dict(found["garbage_types"])  # type: ignore[call-overload]
    wrappers = {name: count for name, count in garbage.items() if "DatabaseWrapper" in name}
    assert wrappers == {}, found["garbage_types"]


@pytest.mark.parametrize(
    "ring_size",
    [
        pytest.param("1000", id="replayed from the ring"),
        pytest.param("10", id="replayed from PostgreSQL"),
    ],
)
def test_open_streams_hold_none_of_what_they_wrote(
    tmp_path: Path, public_channel: Channel, ring_size: str
) -> None:
    # Each stream waits for minutes once it has written its replay (the hub
    # writes later lines itself): whatever its stack still points to lives
    # that long, per stream. A replay from PostgreSQL is up to REPLAY_LIMIT
    # rendered lines; the stream's own frame and gunicorn's, which holds the
    # last item it wrote until it asks for the next, both kept it.
    lines = publish(public_channel, 40, text="x" * 3000)
    with _probed_gunicorn(tmp_path, ring_size) as (server, collect):
        streams = [connected(server.port, PATH, last_event_id=lines[0].id) for _ in range(5)]
        for stream in streams:
            while stream.next_event("line").id != str(lines[-1].id):
                pass  # the replay, read to its end
        found = collect()
        for stream in streams:
            stream.close()
    holders: list[list[object]] = found["big_bytes_holders"]  # type: ignore[assignment]
    assert [holder for holder in holders if str(holder[0]).startswith("frame ")] == [], holders
