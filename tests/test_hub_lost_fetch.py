"""A line the hub heard of but could not fetch before its connection died is caught up.

Found by the chaos suite (bench/chaos.py) at 2,000 streams: after
pg_terminate_backend of the hub's LISTEN connection, and after a PostgreSQL
restart, lines notified just before were lost by every client, silently
(their streams went on). The hub had moved its catch-up mark past the
notified ids before fetching them; the fetch failed with the connection,
and the catch-up on reconnecting started after them. This makes that fetch
fail on purpose, with real PostgreSQL: it waits behind a lock until its
backend is terminated.
"""

import threading
import time
from collections.abc import Iterator

import psycopg2
import pytest

from irclogger.models import Channel
from streams.hub import Hub
from tests.conftest import publish
from tests.servers import child_database_url
from tests.test_hub import _ids


@pytest.fixture
def hub(transactional_db: None) -> Iterator[Hub]:
    hub = Hub(ring_size=8)
    yield hub
    hub.close()


def _terminate_when_waiting_on_a_lock(pid: int) -> None:
    killer = psycopg2.connect(child_database_url())
    killer.autocommit = True
    try:
        with killer.cursor() as cursor:
            for _ in range(200):  # 10 s at most
                cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
                row = cursor.fetchone()
                if row and row[0] == "Lock":
                    break
                time.sleep(0.05)
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        killer.close()


def test_a_line_whose_fetch_died_with_the_connection_is_caught_up(
    hub: Hub, public_channel: Channel
) -> None:
    hub.connect()
    client = hub.subscribe(public_channel.pk, last_id=0, sock=None)
    [line] = publish(public_channel, 1, "heard, not yet fetched")
    locker = psycopg2.connect(child_database_url())
    try:
        with locker.cursor() as cursor:  # the hub's fetch of the line waits behind this
            cursor.execute("LOCK TABLE irclogger_line IN ACCESS EXCLUSIVE MODE")
        killer = threading.Thread(
            target=_terminate_when_waiting_on_a_lock, args=(hub.conn.get_backend_pid(),)
        )
        killer.start()
        with pytest.raises(psycopg2.OperationalError):
            hub.step(timeout=10)
        killer.join()
    finally:
        locker.rollback()
        locker.close()
    hub.disconnect()
    hub.connect()
    assert _ids(client.ring.read(client)) == [line.id]
