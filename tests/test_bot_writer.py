"""irclogger.bot.writer: the bounded buffer and one write step, on the real database."""

import datetime as dt
import logging
import select

import pytest

from irclogger.bot.election import lock_connection
from irclogger.bot.records import PendingLine
from irclogger.bot.writer import LineWriter
from irclogger.metrics import LINES_WRITTEN
from irclogger.models import Channel, Line, Network

T0 = dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.UTC)


def said(channel: Channel, text: str, second: int = 0, kind: str = "message") -> PendingLine:
    return PendingLine(channel.id, T0 + dt.timedelta(seconds=second), kind, "alice", "", text)


def stored(channel: Channel) -> list[tuple[str, str, str]]:
    return list(
        Line.objects.filter(channel=channel).order_by("id").values_list("kind", "nick", "text")
    )


def test_it_writes_a_batch_in_order(public_channel: Channel) -> None:
    writer = LineWriter()
    before = LINES_WRITTEN._value.get()
    writer.put([said(public_channel, f"line {n}", n) for n in range(3)])
    assert writer.write_once() == 3
    assert stored(public_channel) == [("message", "alice", f"line {n}") for n in range(3)]
    assert not writer.buffer
    assert LINES_WRITTEN._value.get() == before + 3


def test_it_keeps_the_channel_topic_current(public_channel: Channel) -> None:
    writer = LineWriter()
    writer.put(
        [
            said(public_channel, "first topic", 1, kind="topic"),
            said(public_channel, "second topic", 2, kind="topic"),
        ]
    )
    writer.write_once()
    public_channel.refresh_from_db()
    assert public_channel.topic == "second topic"


def test_it_buffers_without_blocking_and_says_what_it_could_not_keep(
    public_channel: Channel, caplog: pytest.LogCaptureFixture
) -> None:
    writer = LineWriter(capacity=100)
    with caplog.at_level(logging.WARNING):
        writer.put([said(public_channel, f"line {n}", n) for n in range(150)])
    assert len(writer.buffer) == 100
    assert "The database is slow" in caplog.text
    assert "The line buffer is full" in caplog.text
    writer.write_once()
    lines = stored(public_channel)
    assert lines[:100] == [("message", "alice", f"line {n}") for n in range(100)]
    assert lines[100:] == [("system", "", "50 lines were not recorded: the database was too slow")]


def test_it_writes_the_rest_of_a_batch_around_a_line_the_database_refuses(
    public_channel: Channel, caplog: pytest.LogCaptureFixture
) -> None:
    writer = LineWriter()
    writer.put([said(public_channel, "before", 1), said(public_channel, "NUL \x00", 2)])
    writer.put([said(public_channel, "after", 3)])
    with caplog.at_level(logging.ERROR):
        assert writer.write_once() == 2
    assert stored(public_channel) == [("message", "alice", "before"), ("message", "alice", "after")]
    assert "The database refused a line" in caplog.text
    assert not writer.buffer


# Committing for real: the foreign key is checked at commit (Django makes it deferred).
@pytest.mark.django_db(transaction=True)
def test_it_skips_the_lines_of_a_channel_deleted_meanwhile(public_channel: Channel) -> None:
    doomed = Channel.objects.create(network=public_channel.network, name="#doomed", slug="doomed")
    writer = LineWriter()
    writer.put([said(public_channel, "kept", 1), said(doomed, "lost with it", 2)])
    doomed.delete()
    writer.write_once()
    assert stored(public_channel) == [("message", "alice", "kept")]
    assert not writer.buffer


@pytest.mark.django_db(transaction=True)
def test_it_announces_what_it_wrote(network: Network) -> None:
    channel = Channel.objects.create(network=network, name="#live", slug="live")
    listener = lock_connection()  # a connection of its own, as the election's
    listener.autocommit = True
    try:
        with listener.cursor() as cursor:
            cursor.execute("LISTEN irclogger")
        writer = LineWriter()
        writer.put([said(channel, "hello")])
        writer.write_once()
        (line_id,) = Line.objects.filter(channel=channel).values_list("id", flat=True)
        ready, _, _ = select.select([listener], [], [], 10)
        assert ready, "no notification within 10 s"
        listener.poll()
        assert [note.payload for note in listener.notifies] == [f"{channel.id}:{line_id}"]
    finally:
        listener.close()
