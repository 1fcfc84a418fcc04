"""The hub, one step at a time: rings, LISTEN, catch-up, wakeups, overflow, shutdown."""

import datetime as dt
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NamedTuple

import gevent
import gevent.socket
import psycopg2
import pytest
from django.db import connection
from gevent.hub import Waiter
from hypothesis import given, settings
from hypothesis import strategies as st

from irclogger.metrics import STREAMS_OPEN
from irclogger.models import Channel, Line, Network, ShownLine
from irclogger.publish import write_lines
from streams import hub as hubs
from streams.hub import KEEPALIVE_CHUNK, KEEPALIVE_TICKS, NEW, PING, STOP, Client, Hub
from streams.ring import OVERFLOW_SCAN_EVERY, WRITE_FRAMES, Overflow, Ring, as_chunk
from streams.sse import line_frame
from tests.conftest import insert_live_line, say
from tests.servers import child_database_url


def _line(channel: Channel, text: str, *, imported: bool = False) -> Line:
    return Line(
        channel=channel,
        timestamp=dt.datetime.now(dt.UTC),
        nick="alice",
        text=text,
        imported=imported,
    )


def _ids(chunks: list[bytes]) -> list[int]:
    return [
        json.loads(part.split(b"data: ", 1)[1])["id"]
        for chunk in chunks
        for part in chunk.split(b"\n\n")
        if part.startswith(b"id: ")
    ]


@pytest.fixture
def hub(transactional_db: None) -> Iterator[Hub]:
    hub = Hub(ring_size=8)
    yield hub
    hub.close()


def _step_until(hub: Hub, lines: int) -> None:
    """Run LISTEN steps until ``lines`` notified lines were delivered (bounded)."""
    got = 0
    for _ in range(20):
        got += hub.step(timeout=0.5)
        if got >= lines:
            return
    raise AssertionError(f"only {got} of {lines} lines arrived")


def test_it_keeps_the_last_frames_of_a_channel() -> None:
    ring = Ring(channel_id=1, size=3)
    client = Client(ring, last_id=0, sock=None)
    for line_id in (1, 2):
        ring.append(line_id, b"f%d" % line_id)
    assert ring.read(client) == [b"f1", b"f2"]
    assert ring.read(client) == []


def test_it_ignores_a_line_it_already_has() -> None:
    ring = Ring(channel_id=1, size=3)
    assert ring.append(5, b"f5")
    assert not ring.append(5, b"again")
    assert not ring.append(4, b"older")
    assert ring.end == 1


def test_it_skips_what_a_client_already_replayed() -> None:
    ring = Ring(channel_id=1, size=4)
    client = Client(ring, last_id=11, sock=None)
    for line_id in (10, 11, 12):
        ring.append(line_id, b"f%d" % line_id)
    assert ring.read(client) == [b"f12"]


def test_it_drops_a_client_that_falls_off_the_ring() -> None:
    ring = Ring(channel_id=1, size=3)
    client = Client(ring, last_id=0, sock=None)
    for line_id in range(1, 5):
        ring.append(line_id, b"f")
    with pytest.raises(Overflow):
        ring.read(client)


def test_it_delivers_a_committed_line_to_a_subscriber(hub: Hub, public_channel: Channel) -> None:
    hub.connect()
    client = hub.subscribe(public_channel.pk, last_id=0, sock=None)
    [line] = write_lines([_line(public_channel, "hello")])
    _step_until(hub, 1)
    frames = client.ring.read(client)
    assert _ids(frames) == [line.id]
    assert b"event: line" in frames[0]
    data = json.loads(frames[0].split(b"data: ", 1)[1])
    assert data["text"] == "hello"
    assert data["nick"] == "alice"
    assert f'id="L{line.id}"' in data["html"]


def test_it_never_pushes_imported_lines(hub: Hub, public_channel: Channel) -> None:
    hub.connect()
    client = hub.subscribe(public_channel.pk, last_id=0, sock=None)
    old = say(public_channel, "history", imported=True)
    # Even if someone announced it, the hub loads live lines only.
    hub.handle([f"{public_channel.pk}:{old.id}"])
    assert client.ring.read(client) == []


def test_it_ignores_channels_nobody_follows(
    hub: Hub, public_channel: Channel, private_channel: Channel
) -> None:
    hub.connect()
    hub.subscribe(public_channel.pk, last_id=0, sock=None)
    [line] = write_lines([_line(private_channel, "elsewhere")])
    hub.conn.poll()
    for _ in range(20):
        if hub.conn.notifies:
            break
        gevent.sleep(0.05)
        hub.conn.poll()
    payloads = [n.payload for n in hub.conn.notifies]
    assert hub.handle(payloads) == 0
    assert hub.position(private_channel.pk) == line.id


def test_it_catches_up_after_losing_its_connection(hub: Hub, public_channel: Channel) -> None:
    hub.connect()
    client = hub.subscribe(public_channel.pk, last_id=0, sock=None)
    hub.disconnect()
    missed = write_lines([_line(public_channel, f"while away {n}") for n in range(3)])
    hub.connect()
    assert _ids(client.ring.read(client)) == [line.id for line in missed]


def test_it_drops_everyone_when_too_much_was_missed(
    hub: Hub, public_channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hubs, "CATCH_UP_LIMIT", 2)
    hub.connect()
    client = hub.subscribe(public_channel.pk, last_id=0, sock=None)
    hub.disconnect()
    write_lines([_line(public_channel, f"while away {n}") for n in range(3)])
    hub.connect()
    with pytest.raises(Overflow):
        client.ring.read(client)


def test_it_wakes_a_waiting_stream(hub: Hub, public_channel: Channel) -> None:
    hub.connect()
    client = hub.subscribe(public_channel.pk, last_id=0, sock=None)
    stream = hub.follow(client)
    reader = gevent.spawn(next, stream)
    gevent.sleep(0)  # the reader now waits on its Waiter
    assert client.waiter is not None
    [line] = write_lines([_line(public_channel, "wake up")])
    _step_until(hub, 1)
    assert _ids([reader.get(timeout=10)]) == [line.id]
    stream.close()


def test_it_sends_the_keepalive_to_idle_streams(hub: Hub, public_channel: Channel) -> None:
    client = hub.subscribe(public_channel.pk, last_id=0, sock=None)
    stream = hub.follow(client)
    reader = gevent.spawn(next, stream)
    gevent.sleep(0)
    hub.wake(hub._waiting(), PING)
    assert reader.get(timeout=10) == b": keep-alive\n\n"
    stream.close()


def test_it_ends_streams_when_the_worker_stops(hub: Hub, public_channel: Channel) -> None:
    client = hub.subscribe(public_channel.pk, last_id=0, sock=None)
    stream = hub.follow(client)
    reader = gevent.spawn(list, stream)
    gevent.sleep(0)
    hub.tick(should_stop=lambda: True)
    [last] = reader.get(timeout=10)
    assert last.startswith(b"retry: ")
    # A stream that starts after that ends at once.
    late = hub.subscribe(public_channel.pk, last_id=0, sock=None)
    assert hub.wait(late) == STOP


def test_it_ends_a_stream_after_its_lifetime(hub: Hub, public_channel: Channel) -> None:
    client = hub.subscribe(public_channel.pk, last_id=0, sock=None)
    client.expires = 0
    stream = hub.follow(client)
    reader = gevent.spawn(list, stream)
    gevent.sleep(0)
    hub.wake(hub._waiting(), PING)
    [last] = reader.get(timeout=10)
    assert last.startswith(b"retry: ")


def test_it_cuts_a_client_stuck_writing(hub: Hub, public_channel: Channel) -> None:
    mine, theirs = socket.socketpair()
    stuck = hub.subscribe(public_channel.pk, last_id=0, sock=mine)
    reader = hub.subscribe(public_channel.pk, last_id=0, sock=None)
    rows = [
        ShownLine(n, dt.datetime.now(dt.UTC), "message", "bob", "", "x", public_channel.pk)
        for n in range(1, 2 + 8 + OVERFLOW_SCAN_EVERY)
    ]
    reader_waiting = gevent.spawn(hub.wait, reader)
    gevent.sleep(0)
    hub.deliver(rows)
    assert reader_waiting.get(timeout=10) == NEW
    assert stuck not in stuck.ring.clients
    assert theirs.recv(10) == b""  # the server side was shut down
    mine.close()
    theirs.close()


def test_it_answers_health_checks_while_listening(transactional_db: None) -> None:
    assert not hubs.is_listening()
    hub = hubs.start()
    try:
        for _ in range(100):
            if hubs.is_listening():
                break
            gevent.sleep(0.05)
        assert hubs.is_listening()
        assert hub is hubs.get()
    finally:
        hubs.stop()
    assert not hubs.is_listening()


def test_it_runs_its_queries_on_its_own_connection(hub: Hub, public_channel: Channel) -> None:
    connection.close()
    hub.connect()
    hub.subscribe(public_channel.pk, last_id=0, sock=None)
    hub.handle([f"{public_channel.pk}:1"])
    assert connection.connection is None


def test_it_ends_a_waiting_stream_whose_client_closed(hub: Hub, public_channel: Channel) -> None:
    mine, theirs = socket.socketpair()
    client = hub.subscribe(public_channel.pk, last_id=0, sock=mine)
    reader = gevent.spawn(list, hub.follow(client))
    gevent.sleep(0)
    assert client.waiter is not None
    theirs.close()
    assert reader.get(timeout=10) == []  # ended without waiting for a keep-alive
    assert client.gone
    hub.unsubscribe(client)
    mine.close()


def test_it_cuts_a_write_that_does_not_finish_on_a_quiet_channel(
    hub: Hub, public_channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine, theirs = socket.socketpair()
    client = hub.subscribe(public_channel.pk, last_id=0, sock=mine)
    client.writing = hub.clock  # a write began and never finished
    hub.tick()
    assert client in client.ring.clients  # not yet: the timeout has not passed
    monkeypatch.setattr(hubs, "WRITE_TIMEOUT_SECONDS", 0.0)
    gevent.sleep(0.01)
    hub.tick()
    assert client not in client.ring.clients
    assert theirs.recv(10) == b""  # the server side was shut down
    mine.close()
    theirs.close()


def test_it_writes_a_client_far_behind_in_bounded_pieces() -> None:
    ring = Ring(channel_id=1, size=1000)
    client = Client(ring, last_id=0, sock=None)
    for line_id in range(1, 201):
        ring.append(line_id, b"f")
    pieces = []
    while frames := ring.read(client):
        pieces.append(len(frames))
    assert sum(pieces) == 200
    assert max(pieces) == WRITE_FRAMES


def test_a_ring_vouches_only_for_what_it_heard() -> None:
    ring = Ring(channel_id=1, size=3)
    assert not ring.covers(0)  # lines before the ring existed are not in it
    ring.floor = 10
    for line_id in (11, 12, 13):
        ring.append(line_id, b"f%d" % line_id)
    assert ring.covers(10) and not ring.covers(9)
    ring.append(14, b"f14")  # 11 is overwritten: the ring can no longer give it
    assert ring.covers(11) and not ring.covers(10)


def test_a_reconnect_inside_the_ring_gets_exactly_the_frames_after_its_id() -> None:
    ring = Ring(channel_id=1, size=8, floor=0)
    for line_id in range(1, 6):
        ring.append(line_id, b"f%d" % line_id)
    client = Client(ring, last_id=3, sock=None)
    ring.resume(client)
    assert ring.read(client) == [b"f4", b"f5"]


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=3, max_value=12),
    st.lists(st.one_of(st.integers(min_value=1, max_value=4), st.none()), max_size=40),
    st.integers(min_value=0, max_value=200),
)
def test_a_resume_lands_on_the_first_frame_a_client_lacks(
    size: int, steps: list[int | None], last_id: int
) -> None:
    """Whatever the ring holds (gaps between ids, redaction events, wrapped):
    the frame a scan from the ring's start would find."""
    ring = Ring(channel_id=1, size=size, floor=0)
    line_id = 0
    for step in steps:
        if step is None:
            ring.append_event(b"event: redact")
        else:
            line_id += step
            ring.append(line_id, b"f%d" % line_id)
    expected = next(
        (seq for seq in range(ring.start, ring.end) if ring.ids[seq % size] > last_id), ring.end
    )
    client = Client(ring, last_id=last_id, sock=None)
    ring.resume(client)
    assert client.pos == expected


def test_a_redaction_event_reaches_clients_whatever_their_last_id() -> None:
    ring = Ring(channel_id=1, size=8, floor=0)
    client = Client(ring, last_id=0, sock=None)
    ring.append(1, b"secret")
    assert ring.read(client) == [b"secret"]
    ring.replace(1, b"redacted")
    ring.append_event(b"event: redact")
    assert ring.read(client) == [b"event: redact"]
    late = Client(ring, last_id=0, sock=None)
    ring.resume(late)
    assert ring.read(late) == [b"redacted", b"event: redact"]


def test_clients_at_one_position_share_one_buffer() -> None:
    ring = Ring(channel_id=1, size=100, floor=0)
    clients = [Client(ring, last_id=0, sock=None) for _ in range(3)]
    for line_id in range(1, 11):
        ring.append(line_id, b"f%d" % line_id)
    taken = [ring.take(client) for client in clients]
    assert taken[0] == (b"".join(b"f%d" % n for n in range(1, 11)), 10)
    assert taken[1][0] is taken[0][0] and taken[2][0] is taken[0][0]


def test_a_chunked_client_gets_the_frames_as_http_chunks() -> None:
    ring = Ring(channel_id=1, size=10, floor=0)
    client = Client(ring, last_id=0, sock=None)
    client.chunked = True
    ring.append(1, b"data: x\n\n")
    assert ring.take(client) == (b"9\r\ndata: x\n\n\r\n", 1)


def test_a_reconnect_catches_up_a_lower_id_committed_while_away(
    hub: Hub, public_channel: Channel, network: Network
) -> None:
    """Channels commit out of id order: the catch-up resumes per channel, not from the top id.

    Channel A's writer takes its id first and commits last, after the hub
    heard a higher id on channel B and lost its connection.
    """
    other = Channel.objects.create(network=network, name="#other", slug="other", is_public=True)
    hub.connect()
    on_a = hub.subscribe(public_channel.pk, last_id=0, sock=None)
    on_b = hub.subscribe(other.pk, last_id=0, sock=None)
    slow = psycopg2.connect(child_database_url())
    try:
        with slow.cursor() as cursor:  # channel A's write, left open
            late_id = insert_live_line(cursor, public_channel.pk, "late")
        [early] = write_lines([_line(other, "early")])
        assert early.id > late_id
        _step_until(hub, 1)
        assert _ids(on_b.ring.read(on_b)) == [early.id]
        hub.disconnect()
        slow.commit()  # heard by nobody
    finally:
        slow.close()
    hub.connect()
    assert _ids(on_a.ring.read(on_a)) == [late_id]


def test_a_warmed_ring_puts_the_queried_lines_before_what_it_heard() -> None:
    ring = Ring(1, 8)
    ring.append(10, b"ten")
    ring.append(11, b"eleven")  # heard while the warm-up query ran
    queried = [(line_id, str(line_id).encode()) for line_id in (6, 7, 8, 9, 10)]
    ring.prefill(queried, complete=False)
    assert [ring.ids[seq % ring.size] for seq in range(ring.start, ring.end)] == [
        6,
        7,
        8,
        9,
        10,
        11,
    ]
    assert ring.frames[(ring.end - 2) % ring.size] == b"ten"  # the heard frame is kept
    assert ring.floor == 6 and ring.last_id == 11
    assert ring.covers(6) and not ring.covers(5)


def test_a_warmed_ring_keeps_only_what_fits_and_vouches_from_there() -> None:
    ring = Ring(1, 4)
    ring.prefill([(line_id, b"x") for line_id in range(1, 7)], complete=True)
    assert [ring.ids[seq % ring.size] for seq in range(ring.start, ring.end)] == [3, 4, 5, 6]
    assert ring.floor == 3  # lines 1 and 2 did not fit: a reader at 2 replays from PostgreSQL


def _dechunk(body: bytes) -> bytes:
    """Undo HTTP/1.1 chunked coding strictly: a size line that is not hex fails."""
    out, position = [], 0
    while position < len(body):
        end = body.index(b"\r\n", position)
        size = int(body[position:end], 16)
        start = end + 2
        out.append(body[start : start + size])
        assert body[start + size : start + size + 2] == b"\r\n", "a chunk not followed by CRLF"
        position = start + size + 2
    return b"".join(out)


class Served(NamedTuple):
    hub: Hub
    client: Client
    theirs: socket.socket  # the reader's end
    serving: gevent.Greenlet


@pytest.fixture
def served(transactional_db: None, public_channel: Channel) -> Iterator[Served]:
    """An HTTP/1.1 stream the hub writes to itself (``Hub.serve``), waiting for lines."""
    hub = Hub(ring_size=100)
    mine, theirs = gevent.socket.socketpair()  # as gunicorn's gevent worker has them
    client = hub.open(public_channel.pk, None, mine, "HTTP/1.1")
    client.last_id = 0
    serving = gevent.spawn(hub.serve, client)
    gevent.sleep(0)
    assert client.waiter is not None
    yield Served(hub, client, theirs, serving)
    serving.kill()
    mine.close()
    theirs.close()
    hub.close()


def _big_rows(channel: Channel, ids: range) -> list[ShownLine]:
    """Lines of 4 kB: thirty are more than the socket buffers take."""
    now = dt.datetime.now(dt.UTC)
    return [ShownLine(n, now, "message", "bob", "", "x" * 4000, channel.pk) for n in ids]


def _partly_pushed(served: Served, rows: list[ShownLine]) -> None:
    """The hub's own write of ``rows`` to the waiting reader, which the socket takes in part."""
    for row in rows:
        served.client.ring.append(row.id, line_frame(row))
    assert not served.hub._pushed(served.client)
    assert served.client.pending is not None


def _line_ids_received(served: Served, count: int) -> list[int]:
    """The ids of the first ``count`` lines the reader gets; the chunked body must stay valid."""
    received = _read_until(served.theirs, lambda body: len(_ids([_dechunk_prefix(body)])) >= count)
    served.hub.end([served.client])
    served.serving.get(timeout=10)
    return _ids([_dechunk(_complete_chunks(received))])


def test_a_line_pushed_while_a_reader_is_woken_to_finish_a_write_waits_its_turn(
    served: Served, public_channel: Channel
) -> None:
    # The hub writes to a waiting reader itself; a write the socket takes
    # only in part leaves the rest to the reader's greenlet, woken by a
    # callback. A second delivery before that callback ran (a busy loop
    # defers callbacks past the hub's next read) must not write ahead of
    # that rest: it would split a chunk and a frame.
    rows = _big_rows(public_channel, range(1, 61))
    served.hub.deliver(rows[:30])  # more than the socket buffers take
    served.hub.deliver(rows[30:])  # before the woken reader ran
    assert _line_ids_received(served, len(rows)) == list(range(1, 61))


def test_a_burst_longer_than_one_write_reaches_a_waiting_reader_whole(
    served: Served, public_channel: Channel
) -> None:
    # One delivery of more lines than one write carries (WRITE_FRAMES), on a
    # quiet channel: nothing after it would wake the reader for the rest.
    count = WRITE_FRAMES + 20  # within the ring (100)
    now = dt.datetime.now(dt.UTC)
    rows = [
        ShownLine(n, now, "message", "bob", "", f"line {n}", public_channel.pk)
        for n in range(1, count + 1)
    ]
    served.hub.deliver(rows)
    assert _line_ids_received(served, count) == list(range(1, count + 1))


def test_a_waiting_reader_holds_none_of_what_it_wrote(
    served: Served, public_channel: Channel
) -> None:
    # A reader's greenlet writes only what the hub could not (a reconnect's
    # first frames, the rest of a burst) and then waits, for minutes: the hub
    # writes every later line itself. What it wrote last, up to WRITE_FRAMES
    # frames, stayed alive for that wait: one buffer per reconnected stream,
    # the soak's worker growing cycle after cycle.
    count = WRITE_FRAMES + 20  # the reader is woken to write the last 20
    now = dt.datetime.now(dt.UTC)
    rows = [
        ShownLine(n, now, "message", "bob", "", f"line {n}", public_channel.pk)
        for n in range(1, count + 1)
    ]
    served.hub.deliver(rows)
    _read_until(served.theirs, lambda body: len(_ids([_dechunk_prefix(body)])) >= count)
    _until(lambda: served.client.waiter is not None)

    written = [data for data, _last_id in served.client.ring.shared.values()]
    assert written  # what the hub and the reader wrote, joined once
    held = [value for value in _locals(served.serving) if isinstance(value, bytes)]
    assert not [data for data in written if any(data is value for value in held)]


def _locals(greenlet: gevent.Greenlet) -> Iterator[object]:
    """The values a suspended greenlet's frames hold."""
    frame = greenlet.gr_frame
    while frame is not None:
        yield from frame.f_locals.values()
        frame = frame.f_back


def test_readers_at_one_position_get_one_write_each_minus_what_they_have() -> None:
    # The hub writes the position's joined frames once for every reader that
    # lacks them all; a reader that replayed the first of them gets the rest.
    hub = Hub(ring_size=16)
    ring = hub.rings[1] = Ring(channel_id=1, size=16, floor=0)
    pairs = [socket.socketpair() for _ in range(3)]
    clients = []
    for last_id, (mine, _theirs) in zip((0, 0, 1), pairs, strict=True):
        mine.setblocking(False)
        client = Client(ring, last_id=last_id, sock=mine)
        client.direct, client.fd, client.waiter = True, mine.fileno(), Waiter()
        ring.clients.add(client)
        clients.append(client)
    for line_id in (1, 2, 3):
        ring.append(line_id, b"f%d;" % line_id)
    hub.push(clients)
    assert [theirs.recv(100) for _mine, theirs in pairs] == [b"f1;f2;f3;"] * 2 + [b"f2;f3;"]
    assert [client.sent for client in clients] == [3, 3, 2]
    assert all(client.waiter is not None for client in clients)  # nothing left to wake them for
    for mine, theirs in pairs:
        mine.close()
        theirs.close()


def test_the_hub_writes_the_keepalive_itself_and_leaves_the_reader_waiting(
    served: Served,
) -> None:
    # Waking every stream's greenlet to write a comment was one burst of
    # switches and sends for all of them, every KEEPALIVE_SECONDS.
    served.hub.ticks = KEEPALIVE_TICKS - 1
    served.hub.tick()
    assert served.client.waiter is not None  # not woken
    assert _read_until(served.theirs, lambda body: body.endswith(b"\r\n")) == KEEPALIVE_CHUNK


def test_a_keepalive_after_frames_the_hub_wrote_in_part_goes_after_their_rest(
    served: Served, public_channel: Channel
) -> None:
    # As Hub.push leaves it: the reader woken to write the rest, its greenlet
    # not run yet when the keep-alive comes.
    _partly_pushed(served, _big_rows(public_channel, range(1, 31)))
    served.hub.wake([served.client], NEW)
    served.hub.ticks = KEEPALIVE_TICKS - 1
    served.hub.tick()
    assert _line_ids_received(served, 30) == list(range(1, 31))


def test_a_keepalive_between_a_partial_write_and_the_end_of_its_push_waits_for_the_rest(
    served: Served, public_channel: Channel
) -> None:
    # Hub.push yields every PUSH_YIELD_EVERY readers; until it woke the
    # readers whose rest it left, the ticker's keep-alive (written by the hub
    # too) went on the socket ahead of that rest: a chunk split, the body
    # unreadable. Seen from outside in a 10,000-stream benchmark run.
    _partly_pushed(served, _big_rows(public_channel, range(1, 31)))
    served.hub.keep_alive([served.client])  # the ticker, during push's yield
    served.hub.wake([served.client], NEW)  # the rest of push: its reader may write
    assert _line_ids_received(served, 30) == list(range(1, 31))


def test_a_keepalive_never_splits_a_frame_the_hub_wrote_in_part(
    served: Served, public_channel: Channel
) -> None:
    # Between the hub's partial write and the end of its push (which yields
    # every PUSH_YIELD_EVERY readers) the ticker may wake the same reader for
    # its keep-alive: the rest of the frame must go first.
    _partly_pushed(served, _big_rows(public_channel, range(1, 31)))
    served.hub.wake([served.client], PING)
    assert _line_ids_received(served, 30) == list(range(1, 31))


def test_a_revoked_stream_with_a_frame_half_written_is_cut_not_ended_cleanly(
    served: Served, public_channel: Channel
) -> None:
    # A clean end (the last chunk) after half a frame would give the reader
    # a body that is not valid chunked coding; a revoked stream is cut.
    _partly_pushed(served, _big_rows(public_channel, range(1, 31)))
    served.hub.revoke([served.client])
    served.serving.get(timeout=10)
    received = _read_until(served.theirs, lambda body: False, eof=True)
    assert _complete_chunks(received) != received  # cut mid-chunk: no clean end


def _read_until(sock: socket.socket, done: Callable[[bytes], bool], *, eof: bool = False) -> bytes:
    """Read what the hub's greenlets write (until ``done``, or the end if ``eof``).

    Yields to the hub's greenlets meanwhile; at most 10 s.
    """
    sock.setblocking(False)
    received = b""
    deadline = time.monotonic() + 10
    while not done(received):
        assert time.monotonic() < deadline, f"only {len(received)} bytes arrived"
        try:
            chunk = sock.recv(1 << 16)
        except BlockingIOError:
            gevent.sleep(0.01)
            continue
        if not chunk and eof:
            break
        assert chunk, "closed early"
        received += chunk
    return received


def _complete_chunks(body: bytes) -> bytes:
    """The longest prefix of ``body`` made of whole chunks."""
    position = 0
    while True:
        end = body.find(b"\r\n", position)
        if end < 0:
            return body[:position]
        try:
            size = int(body[position:end], 16)
        except ValueError:
            return body  # not chunked coding: let _dechunk say where
        if end + 2 + size + 2 > len(body):
            return body[:position]
        position = end + 2 + size + 2


def _dechunk_prefix(body: bytes) -> bytes:
    return _dechunk(_complete_chunks(body))


def _as_gunicorn_serves(stream: Iterator[bytes], sock: socket.socket) -> None:
    """What gunicorn does with a stream's response: each item as a chunk, the last chunk, close."""
    for data in stream:
        sock.sendall(as_chunk(data))
    sock.sendall(b"0\r\n\r\n")
    sock.shutdown(socket.SHUT_WR)


class _Served(NamedTuple):
    mine: socket.socket  # the worker's end
    theirs: socket.socket  # the reader's
    serving: gevent.Greenlet


@contextmanager
def _waiting_stream(hub: Hub, channel: Channel) -> Iterator[_Served]:
    """A stream served as gunicorn's gevent worker serves it, waiting for lines; ended after."""
    mine, theirs = gevent.socket.socketpair()  # as gunicorn's gevent worker has them
    where = {"network": "libera", "channel": "python"}
    stream = hub.stream(channel.pk, 0, mine, "HTTP/1.1", hub.generation, where)
    serving = gevent.spawn(_as_gunicorn_serves, stream, mine)
    try:
        _until(lambda: bool(hub._waiting()))
        yield _Served(mine, theirs, serving)
    finally:
        serving.kill()
        mine.close()
        theirs.close()


def test_a_stopping_hub_ends_a_waiting_stream_on_the_wire_without_waking_it(
    hub: Hub, public_channel: Channel
) -> None:
    # A restart's readers and pages wait for the old worker to exit, and it
    # exits once its streams have ended. Woken to end itself, each stream's
    # greenlet wrote its last frame, then unwound through Django and gunicorn:
    # 10,000 took 1.8 s. The hub writes the last frame and the response's end
    # itself and leaves the greenlet waiting: the worker exits without it.
    open_before = _streams_open()
    with _waiting_stream(hub, public_channel) as (_mine, theirs, serving):
        assert _streams_open() == open_before + 1

        hub.end_streams()  # stopped for good: no reload replaces this worker

        received = _read_until(theirs, lambda body: False, eof=True)
        events = _dechunk(received).split(b"\n\n")
        assert events[-2].startswith(b"retry: ") and received.endswith(b"\r\n0\r\n\r\n")
        assert not serving.dead and serving in hub.ended  # never woken: left for the exit
        assert not hub._waiting() and _streams_open() == open_before
        # Unwound after all (a worker's graceful timeout kills what is left): nothing twice.
        serving.kill()
        assert _streams_open() == open_before


def test_a_stopping_hub_gives_back_the_sockets_it_ended_keeping_their_numbers_taken(
    hub: Hub, public_channel: Channel
) -> None:
    # Closing 10,000 sockets took a stopping worker's exit 40-60 ms of a
    # restart's gap, after it had stopped accepting: given back while it
    # still accepts, they cost the exit nothing. Their numbers stay taken:
    # the greenlets left waiting still hold them, and a connection accepted
    # meanwhile must not get one.
    with _waiting_stream(hub, public_channel) as (mine, theirs, _serving):
        hub.end_streams()
        _read_until(theirs, lambda body: False, eof=True)
        theirs.sendall(b"x")  # ended for writing only: the connection is still there

        hub.release_ended_sockets()

        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            theirs.sendall(b"x")  # gone
        accepted_meanwhile = socket.socket()
        assert accepted_meanwhile.fileno() != mine.fileno()
        assert os.fstat(mine.fileno())  # still open: taken by a stand-in
        accepted_meanwhile.close()
        # Unwound after all (a graceful timeout), the greenlet closes the stand-in.


def test_a_stopped_hub_tells_when_the_streams_open_at_the_stop_have_ended(
    hub: Hub, public_channel: Channel
) -> None:
    # The stopped worker accepts pages until then (streams.gunicorn_worker).
    with _waiting_stream(hub, public_channel) as (_mine, theirs, serving):
        assert not hub.streams_ending()  # not stopped

        hub.stop_streams()
        assert hub.streams_ending()  # its ending has begun, not yet run
        _until(lambda: not hub.streams_ending())

        assert _read_until(theirs, lambda body: False, eof=True).endswith(b"\r\n0\r\n\r\n")
        assert serving in hub.ended


def _streams_open() -> float:
    return float(STREAMS_OPEN._value.get())  # prometheus_client keeps no public getter


def _until(condition: Callable[[], bool]) -> None:
    """Yield to the greenlets until ``condition`` holds; at most 10 s."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "never came true"
        gevent.sleep(0.01)
