"""Nothing is held back: every committed line reaches the hub's rings without a later commit.

The hub runs its real loop against real PostgreSQL. Notifications that
arrive while the hub's connection runs a query (its line fetch, its ping)
are parsed into ``conn.notifies`` by that query; they must be delivered
before the hub waits on the socket again. Each test waits (bounded) only
for lines already committed, never for a later one.
"""

import threading
import time
from collections.abc import Iterator

import gevent
import psycopg2
import pytest

from irclogger.models import Channel
from streams.hub import Client, Hub
from tests.conftest import insert_live_line, publish
from tests.servers import child_database_url

pytestmark = pytest.mark.django_db(transaction=True)

# How long a committed line may take to reach a ring before the test fails:
# generous for a loaded machine, far below "never".
ARRIVAL_SECONDS = 10.0


@pytest.fixture
def hub() -> Iterator[Hub]:
    hub = Hub(ring_size=2000)
    yield hub
    hub.close()


def _listening(hub: Hub) -> None:
    deadline = time.monotonic() + ARRIVAL_SECONDS
    while not hub.is_listening():
        assert time.monotonic() < deadline, "the hub never connected"
        gevent.sleep(0.02)


def _receive(client: Client, ids: list[int]) -> list[int]:
    """What the client reads until it has ``ids`` or time is up."""
    got: list[int] = []
    deadline = time.monotonic() + ARRIVAL_SECONDS
    while len(got) < len(ids) and time.monotonic() < deadline:
        got += [int(frame.split(b"\n", 1)[0][4:]) for frame in client.ring.read(client)]
        gevent.sleep(0.001)
    return got


class Writer:
    """Commits one-line transactions from an OS thread, truly beside the hub.

    The test process does not patch psycopg2 for gevent, so a commit from the
    test's own thread would stop the hub's greenlet until it is done: both
    notifications would then arrive together. A thread commits while the
    hub's loop runs, as the bot does from another process.
    """

    def __init__(self, channel: Channel) -> None:
        self.channel_id = channel.pk
        self.conn = psycopg2.connect(child_database_url())

    def commit_one(self, text: str) -> int:
        with self.conn, self.conn.cursor() as cursor:
            return insert_live_line(cursor, self.channel_id, text)

    def in_thread(self, texts: list[str], gap: float = 0.0) -> tuple[threading.Thread, list[int]]:
        """Commit each text in its own transaction, ``gap`` seconds apart."""
        ids: list[int] = []

        def run() -> None:
            for n, text in enumerate(texts):
                if n and gap:
                    time.sleep(gap)
                ids.append(self.commit_one(text))

        thread = threading.Thread(target=run)
        thread.start()
        return thread, ids

    def close(self) -> None:
        self.conn.close()


def _joined(thread: threading.Thread) -> None:
    # Join without blocking the hub's greenlet in this thread.
    deadline = time.monotonic() + ARRIVAL_SECONDS
    while thread.is_alive():
        assert time.monotonic() < deadline, "the writer never finished"
        # The hub's greenlet reads each notification as it comes. Not sleep(0):
        # on an idle machine that spin keeps the GIL from the writer thread
        # for seconds at a time.
        gevent.sleep(0.001)


def _pairs(client: Client, writer: Writer, count: int) -> None:
    """``count`` pairs of back-to-back commits, each pair delivered before the next.

    The second commit lands at a different moment of the hub's work on the
    first in each pair (0 to 2 ms after it), so the pairs sweep the window
    in which the hub's query for the first line is running.
    """
    for pair in range(count):
        gap = pair * 0.0001
        thread, ids = writer.in_thread([f"first {pair}", f"second {pair}"], gap)
        _joined(thread)
        assert _receive(client, ids) == ids, f"pair {pair} ({gap * 1000:.1f} ms apart)"


def test_it_delivers_both_of_two_back_to_back_commits(hub: Hub, public_channel: Channel) -> None:
    hub.start(should_stop=lambda: False)
    _listening(hub)
    client = hub.subscribe(public_channel.pk, last_id=0, sock=None)
    writer = Writer(public_channel)
    try:
        _pairs(client, writer, 20)
    finally:
        writer.close()


def test_it_delivers_a_thousand_line_commit_whole(hub: Hub, public_channel: Channel) -> None:
    hub.start(should_stop=lambda: False)
    _listening(hub)
    client = hub.subscribe(public_channel.pk, last_id=0, sock=None)
    lines = publish(public_channel, 1000, "burst")
    ids = [line.id for line in lines]
    assert _receive(client, ids) == ids


def test_a_ping_during_a_burst_loses_nothing(hub: Hub, public_channel: Channel) -> None:
    # The listener pings whenever it waited a whole timeout for nothing; with
    # a timeout of a millisecond it pings between (and during) the commits.
    hub.connect()
    client = hub.subscribe(public_channel.pk, last_id=0, sock=None)

    def listen() -> None:
        while True:
            hub.step(timeout=0.001)

    listener = gevent.spawn(listen)
    writer = Writer(public_channel)
    try:
        thread, ids = writer.in_thread([f"burst {n}" for n in range(50)])
        _joined(thread)
        assert _receive(client, ids) == ids
        _pairs(client, writer, 20)
    finally:
        listener.kill()
        writer.close()


def test_a_lost_connection_loses_no_line_committed_out_of_id_order(
    hub: Hub, public_channel: Channel
) -> None:
    """Channel A takes an id, channel B commits a higher one, the hub's connection
    is killed, then A commits: the reconnected hub's catch-up still brings A's line."""
    other = Channel.objects.create(network=public_channel.network, name="#other", slug="other")
    hub.start(should_stop=lambda: False)
    _listening(hub)
    on_a = hub.subscribe(public_channel.pk, last_id=0, sock=None)
    on_b = hub.subscribe(other.pk, last_id=0, sock=None)
    slow, admin, writer = Writer(public_channel), Writer(other), Writer(other)
    try:
        with slow.conn.cursor() as cursor:  # A's write, left open
            late = insert_live_line(cursor, public_channel.pk, "late")
        early = writer.commit_one("early")
        assert early > late
        assert _receive(on_b, [early]) == [early]
        with admin.conn, admin.conn.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [hub.conn.get_backend_pid()])
        deadline = time.monotonic() + ARRIVAL_SECONDS
        while hub.is_listening():
            assert time.monotonic() < deadline, "the hub never noticed"
            gevent.sleep(0.01)
        slow.conn.commit()  # while the hub waits to reconnect: heard by nobody
        _listening(hub)
        assert _receive(on_a, [late]) == [late]
    finally:
        for each in (slow, admin, writer):
            each.close()
