"""Writing live lines: one transaction, announced on commit, in id order per channel."""

import select
import threading
import time

import psycopg2
import pytest
from django.db import connection

from irclogger.models import Channel, Line
from irclogger.publish import NOTIFY_CHANNEL, WRITE_LOCK_CLASS, write_lines
from tests.conftest import NOON
from tests.servers import child_database_url


def _line(channel: Channel, text: str, imported: bool = False) -> Line:
    return Line(channel=channel, timestamp=NOON, nick="alice", text=text, imported=imported)


def _listener() -> "psycopg2.extensions.connection":
    conn = psycopg2.connect(child_database_url())
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f"LISTEN {NOTIFY_CHANNEL}")
    return conn


def _notified(listener: "psycopg2.extensions.connection", count: int) -> list[str]:
    """Payloads heard, waiting (at most 10 s) until ``count`` have arrived."""
    deadline = time.monotonic() + 10
    while len(listener.notifies) < count and time.monotonic() < deadline:
        select.select([listener], [], [], 0.5)
        listener.poll()
    return [notify.payload for notify in listener.notifies]


@pytest.mark.django_db(transaction=True)
def test_it_announces_live_lines_by_id_on_commit(public_channel: Channel) -> None:
    listener = _listener()
    try:
        created = write_lines([_line(public_channel, "one"), _line(public_channel, "two")])
        payloads = _notified(listener, 2)
    finally:
        listener.close()
    assert payloads == [f"{public_channel.id}:{line.id}" for line in created]


@pytest.mark.django_db(transaction=True)
def test_it_never_announces_imported_history(public_channel: Channel) -> None:
    listener = _listener()
    try:
        write_lines([_line(public_channel, "old", imported=True)])
        # A live line written after it is heard; nothing before it was.
        live = write_lines([_line(public_channel, "new")])
        assert _notified(listener, 1) == [f"{public_channel.id}:{live[0].id}"]
    finally:
        listener.close()


@pytest.mark.django_db(transaction=True)
def test_it_makes_writers_to_one_channel_take_turns(public_channel: Channel) -> None:
    """A second writer waits for the first to commit, so ids commit in order."""
    other = psycopg2.connect(child_database_url())
    written = threading.Event()

    def write() -> None:
        try:
            write_lines([_line(public_channel, "second")])
            written.set()
        finally:
            connection.close()

    with other.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)", [WRITE_LOCK_CLASS, public_channel.id]
        )
        writer = threading.Thread(target=write)
        writer.start()
        # However long we wait, the write cannot finish while the lock is held.
        assert not written.wait(0.5)
    other.commit()
    writer.join(10)
    other.close()
    assert written.is_set()
    assert Line.objects.filter(channel=public_channel, text="second").exists()
