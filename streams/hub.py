"""The per-worker hub: one LISTEN connection feeds every stream of the worker.

The writer of a line notifies ``<channel_id>:<line_id>`` inside its
transaction (irclogger.publish), so the hub hears of it only on commit. The
hub loads the notified lines in one query on its own connection, renders
each SSE frame once, and appends the bytes to one bounded ring per channel.
A client is only a position in that ring: woken with a bare gevent
``Waiter``, it sends everything after its position in one write. A client
that falls off the ring's start is disconnected and resumes from the
database (docs/DESIGN.md, "The fan-out"). The hub runs each stream too
(``Hub.stream``): a client's subscription, replay and delivery counts are
its alone; the view only checks access and hands the request over.

The loops (``run_listener``, ``run_ticker``) only repeat small steps
(``connect``, ``step``, ``handle``, ``tick``) that tests call one by one.
"""

import contextlib
import heapq
import itertools
import logging
import os
import random
import socket
import time
from collections.abc import Callable, Generator, Iterable
from typing import Any

import gevent
import psycopg2
import psycopg2.extensions
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from gevent.event import AsyncResult, Event
from gevent.hub import Waiter, get_hub, getcurrent
from gevent.socket import wait_read

from irclogger import health, ops_log
from irclogger.geventpool import direct_connection_params, release_connection
from irclogger.metrics import (
    HUB_CONNECTED,
    HUB_LAG_SECONDS,
    HUB_RECONNECTS,
    LINES_DELIVERED,
    QUEUE_OVERFLOWS,
    STREAMS_OPEN,
    STREAMS_OPEN_PER_WORKER,
    STREAMS_OPENED,
)
from irclogger.models import Channel, Line, LineQuerySet, ShownLine
from irclogger.params import parse_id
from irclogger.publish import CHANGE_CHANNEL, NOTIFY_CHANNEL
from streams.handoff import SUCCESSOR_WAIT_SECONDS, Handoff
from streams.ring import OVERFLOW_SCAN_EVERY, RING_SIZE, Overflow, Ring, as_chunk
from streams.sse import (
    KEEPALIVE,
    RETRY_AFTER_END_MS,
    RETRY_AFTER_HANDOFF_MS,
    RETRY_MS,
    event_frame,
    line_frame,
    redact_frame,
    retry_frame,
)

log = logging.getLogger(__name__)

# A keep-alive comment every 15 s: below the polyfill's 45 s heartbeat
# timeout and nginx's 60 s proxy_read_timeout (docs/DESIGN.md, trap 6).
# STREAM_KEEPALIVE_SECONDS shortens it for tests of proxies' read timeouts.
KEEPALIVE_SECONDS = float(settings.STREAM_KEEPALIVE_SECONDS)
# The ticker's beat: keep-alives, slow writers, and how often delivery counts
# reach the metrics; a worker shutdown is looked for STOP_CHECKS_PER_TICK
# times a beat.
TICK_SECONDS = 1.0
KEEPALIVE_TICKS = round(KEEPALIVE_SECONDS / TICK_SECONDS)
STOP_CHECKS_PER_TICK = 10
# A stream ends itself after about ten minutes (STREAM_MAX_LIFETIME_SECONDS),
# so that reloads and deploys never meet only ancient connections; jittered
# ±10 % so they do not end together.
MAX_LIFETIME_SECONDS = (
    0.9 * settings.STREAM_MAX_LIFETIME_SECONDS,
    1.1 * settings.STREAM_MAX_LIFETIME_SECONDS,
)
# Let page requests run between every 64 wakeups of a sweep: page p99 fell
# from ~216 ms to ~10 ms for 5-15 % more delivery latency (docs/DESIGN.md, "The fan-out").
YIELD_EVERY = 64
# The hub's own sends (Hub.push) yield every 256 clients, for a loop turn
# that polls sockets: a sleep(0) lets only greenlets already woken run, so a
# page waiting on PostgreSQL waited for the whole sweep (page p99 223 ms at
# 10,000 streams; 48 ms so, for delivery p99 213 → 256 ms).
PUSH_YIELD_EVERY = 256
POLL_YIELD_SECONDS = 1e-6
# Reconnect the LISTEN connection after 0.5 s, doubling to 30 s: quick for a
# blip, gentle on a PostgreSQL that is restarting.
BACKOFF_SECONDS = (0.5, 30.0)
# With no notification for this long, ping the LISTEN connection: a
# half-open TCP connection would otherwise look idle forever.
PING_SECONDS = 30.0
# After a reconnect, more missed lines than this are not caught up through
# the rings: every client is dropped and replays from PostgreSQL instead.
CATCH_UP_LIMIT = 5_000
# A write to one client that has not finished after this long ends its
# stream, even on a quiet channel; the client resumes with Last-Event-ID.
WRITE_TIMEOUT_SECONDS = float(settings.STREAM_WRITE_TIMEOUT_SECONDS)
# Once the worker stops, a write blocked this long ends its stream: the
# worker exits only when its streams have ended, and a restart, with every
# reader and page waiting for it, waited out WRITE_TIMEOUT_SECONDS for a
# reader that had stopped reading.
STOPPING_WRITE_TIMEOUT_SECONDS = 1.0
# The kernel's send buffer of a stream's socket (Linux doubles it): bounds
# what a client that stopped reading holds in the kernel, and makes its
# write block (and time out) after that much instead of after megabytes.
SEND_BUFFER_BYTES = settings.STREAM_SEND_BUFFER_BYTES

# How often a starting worker looks whether its hub listens yet: a LISTEN
# connection takes a few milliseconds to open.
LISTEN_POLL_SECONDS = 0.005
# A reload's old worker keeps its streams until a new worker listens (at most
# streams.handoff's SUCCESSOR_WAIT_SECONDS), then ends them at
# STREAM_HANDOFF_PER_SECOND, a batch a beat: dropped at once, 10,000 readers
# came back into a worker still loading Django, and the last of them after
# 16 s (docs/DESIGN.md, "Reload without a storm").
HANDOFF_POLL_SECONDS = 0.1
HANDOFF_PER_SECOND = settings.STREAM_HANDOFF_PER_SECOND
HANDOFF_BEAT_SECONDS = 0.05

# At most this many lines are replayed on a reconnect; a page further behind
# than that is told to reload, which is cheaper than a thousand appends.
REPLAY_LIMIT = 1000
# The protocols whose framing the live path writes itself (Hub.serve).
DIRECT_PROTOCOLS = ("HTTP/1.0", "HTTP/1.1")

# What wakes a waiting client.
NEW = "new"
PING = "keepalive"
STOP = "stop"
HANGUP = "hangup"  # its socket became readable: most likely the peer closed it
REVOKED = "revoked"  # the reader may no longer see the channel

# How a stream's reader was let in: what an access change must end.
PUBLIC = "public"  # the channel is public
MEMBER = "member"  # a membership of the private channel
STAFF = "staff"  # staff see every channel


class Client:
    __slots__ = (
        "access",
        "chunked",
        "closed",
        "direct",
        "ended",
        "expires",
        "fd",
        "gone",
        "greenlet",
        "hangup",
        "last_id",
        "opened",
        "pending",
        "pos",
        "revoked",
        "ring",
        "sent",
        "session",
        "sock",
        "user_id",
        "waiter",
        "watcher",
        "where",
        "writing",
    )

    def __init__(
        self,
        ring: Ring,
        last_id: int,
        sock: socket.socket | None,
        access: str = PUBLIC,
        user_id: int | None = None,
        session: str | None = None,
    ) -> None:
        self.ring = ring
        # Who reads, and through what right: what an access change ends.
        self.access = access
        self.user_id = user_id
        self.session = session  # publish.session_tag() of the reader's session
        self.revoked = False
        self.ended = False  # its last frame (a retry:) was taken
        # Whether the live path writes to the socket itself (Hub.follow), and
        # whether the response is HTTP/1.1 chunked: it then sends the ring's
        # pre-framed chunks. The view sets both for gunicorn's HTTP/1.x.
        self.direct = False
        self.chunked = False
        self.pos = ring.end
        self.last_id = last_id
        # Lines sent to this client, replay included: for the close log.
        self.sent = 0
        self.sock = sock
        # The socket's descriptor, for the hub's own sends (Hub.push): only
        # to a subscribed, waiting client, whose socket gunicorn holds open.
        self.fd = sock.fileno() if sock is not None else -1
        # What the hub's own send (Hub.push) could not write: the client's
        # greenlet writes it, with the write timeout, when woken.
        self.pending: bytes | None = None
        self.waiter: Waiter | None = None
        self.expires = time.monotonic() + random.uniform(*MAX_LIFETIME_SECONDS)
        # When the write under way began (the hub's clock), 0.0 when none is.
        self.writing = 0.0
        # The socket's read watcher (see Hub.watch), and what it saw.
        self.watcher: Any = None
        self.hangup = False
        self.gone = False
        # Set by Hub.stream: the stream's greenlet, and what its close log
        # line says; closed once that line is written (Hub.close_stream).
        self.greenlet: Any = None
        self.where: dict[str, str] = {}
        self.opened = 0.0
        self.closed = False


class Hub:
    def __init__(self, ring_size: int = RING_SIZE) -> None:
        self.ring_size = ring_size
        self.rings: dict[int, Ring] = {}
        self.conn: Any = None  # psycopg2 connection, untyped
        # Whether a LISTEN connection was ever open: a new one follows a gap.
        self.connected_before = False
        self.stopping = False
        # The greenlet ending every stream once the worker stops (end_streams).
        self.ending: gevent.Greenlet | None = None
        # The streams open when the worker stopped, until each has ended (stop_streams).
        self.stopped_with: list[Client] = []
        # The retry a stream ended by the hub sends: shorter after a handoff.
        self.end_retry = RETRY_AFTER_END_MS
        # How this worker learns that a reload replaces it (gunicorn only).
        self.handoff: Handoff | None = None
        self.delivered = 0
        self.ticks = 0
        # Monotonic time as of the last tick: what the write timeout reads.
        self.clock = time.monotonic()
        # Per channel, the newest line id heard (or learned from a query)
        # while connected: where a stream without Last-Event-ID starts, and
        # what a new ring vouches from. Forgotten when the connection drops.
        self.latest: dict[int, int] = {}
        # Public channels by (network slug, channel slug): an anonymous
        # stream's visibility check without a query. Emptied on every access
        # change announced through PostgreSQL, and while not listening.
        self.channels: dict[tuple[str, str], int] = {}
        # The lookups of public channels under way, by the same key: the
        # readers who ask meanwhile wait for its answer (``public_channel``).
        self.finding: dict[tuple[str, str], AsyncResult[int | None]] = {}
        # Counts access changes heard: a check made before a change is stale.
        self.generation = 0
        # Counts LISTEN connections and losses: knowledge from a query run in
        # another epoch may have missed notifications.
        self.epoch = 0
        self.greenlets: list[gevent.Greenlet] = []
        # The greenlets of streams the hub ended itself on a stopping worker
        # (``finish``): they wait for the worker's exit, not for a turn. Each
        # with its socket's number (``release_ended_sockets``).
        self.ended: dict[Any, int] = {}
        # The streams let in by a session (a member's, staff's), by when
        # that session expires (monotonic): the tick ends them then, as a
        # logout would (a heap; the counter breaks ties between deadlines).
        self.session_ends: list[tuple[float, int, Client]] = []
        self._session_order = itertools.count()

    # A stream, from its subscription to its close log (the view hands it over).

    def stream(
        self,
        channel_id: int,
        requested: int | None,
        sock: socket.socket | None,
        protocol: str | None,
        generation: int,
        where: dict[str, str],
        access: str = PUBLIC,
        user_id: int | None = None,
        session: str | None = None,
        session_ends_in: float | None = None,
    ) -> Generator[bytes, None, None]:
        """Everything one stream sends: its replay, then the ring, until it ends.

        Subscribed before the replay, so a line committed meanwhile is in the
        ring; the client's last id drops it there (docs/DESIGN.md, data flow
        step 4). The view returns this generator itself, ``generation`` being
        the hub's as of the view's access check.
        """
        client = self.open(channel_id, requested, sock, protocol, access, user_id, session)
        if session_ends_in is not None:
            self.end_with_session(client, session_ends_in)
        STREAMS_OPENED.inc()
        STREAMS_OPEN.inc()
        STREAMS_OPEN_PER_WORKER.inc()
        ops_log.stream_opened(**where, last_event_id=requested)
        client.greenlet, client.where, client.opened = getcurrent(), where, time.monotonic()
        reason = "error"
        try:
            if self.generation != generation:
                # Access changed between the check and the subscription: the
                # client checks again on reconnecting.
                yield retry_frame()
                reason = "ended"
                return
            replayed = self.replay(client, requested)
            release_connection()  # an open stream holds no connection
            client.writing = self.clock
            yield retry_frame() + replayed
            client.writing = 0.0
            if replayed:
                # Lines from PostgreSQL, up to REPLAY_LIMIT rendered: gunicorn
                # holds the last item it wrote until it asks for the next, and
                # the stream waits for minutes (docs/DESIGN.md, "Memory per
                # stream"). An empty item it writes nothing for.
                del replayed
                yield b""
            if client.direct:
                self.serve(client)
            else:
                yield from self.follow(client)
            # Overflow, slow write, revoked access, maximum life or shutdown.
            reason = "client_gone" if client.gone else "ended"
        except GeneratorExit:
            reason = "client_gone"
            raise
        finally:
            self.close_stream(client, reason)

    def close_stream(self, client: Client, reason: str) -> None:
        """A stream's end, once: its subscription, the gauges, its close log line."""
        if client.closed:
            return  # the hub ended it (``finish``) before its greenlet was unwound
        client.closed = True
        self.unsubscribe(client)
        STREAMS_OPEN.dec()
        STREAMS_OPEN_PER_WORKER.dec()
        duration = time.monotonic() - client.opened
        ops_log.stream_closed(
            **client.where, duration=duration, lines_sent=client.sent, reason=reason
        )

    def open(
        self,
        channel_id: int,
        requested: int | None,
        sock: socket.socket | None,
        protocol: str | None,
        access: str = PUBLIC,
        user_id: int | None = None,
        session: str | None = None,
    ) -> Client:
        """Subscribe a stream, framed as its response is (``protocol``, SERVER_PROTOCOL)."""
        client = self.subscribe(channel_id, requested or 0, sock, access, user_id, session)
        # gunicorn frames an HTTP/1.1 response of unknown length as chunks and
        # an HTTP/1.0 one not at all: the live path writes exactly that itself.
        client.direct = sock is not None and protocol in DIRECT_PROTOCOLS
        client.chunked = client.direct and protocol == "HTTP/1.1"
        return client

    def replay(self, client: Client, requested: int | None) -> bytes:
        """The lines a subscribed client missed, or a reload event when too many were missed.

        Sets where the client goes live from (``client.last_id``). A
        reconnect the ring covers is served from the ring's frames (they
        follow through ``follow``): no query, no rendering. Only readers
        further behind, or on a channel the hub knows too little about, read
        PostgreSQL, and what that shows teaches the hub for the next ones.
        """
        ring, epoch = client.ring, self.epoch
        channel_id = ring.channel_id
        if requested is None:
            position = self.position(channel_id)
            if position is None:
                position = Line.objects.filter(channel_id=channel_id).latest_live_id()
                self.learn(ring, latest=position, floor=position, epoch=epoch)
            client.last_id = position  # live from now
            return b""
        if self.resume(client):
            return b""
        self.warm(ring, lambda limit: _recent_lines(channel_id, limit))
        if self.resume(client):
            return b""
        # From the requested line itself: if it is one of this channel's, the
        # ring may vouch from it (below); a made-up id, or another channel's,
        # may lie above a line of this one still being written.
        missed = Line.objects.after(requested - 1).filter(channel_id=channel_id)
        lines = list(missed[: REPLAY_LIMIT + 2].rows())
        known = bool(lines) and lines[0].id == requested
        if known:
            del lines[0]
        if len(lines) > REPLAY_LIMIT:
            client.last_id = Line.objects.filter(channel_id=channel_id).latest_live_id()
            self.learn(ring, latest=client.last_id, floor=client.last_id, epoch=epoch)
            return f"id: {client.last_id}\n".encode() + event_frame("reload", {})
        if lines:
            client.last_id = lines[-1].id
            self.learn(ring, latest=client.last_id, floor=client.last_id, epoch=epoch)
        elif known:
            # Nothing after it: the ring will hear every later line.
            self.learn(ring, latest=None, floor=requested, epoch=epoch)
        client.sent = len(lines)
        LINES_DELIVERED.inc(len(lines))
        return b"".join(line_frame(line) for line in lines)

    # The stream side.

    def subscribe(
        self,
        channel_id: int,
        last_id: int,
        sock: socket.socket | None,
        access: str = PUBLIC,
        user_id: int | None = None,
        session: str | None = None,
    ) -> Client:
        ring = self.rings.get(channel_id)
        if ring is None:
            floor = self.latest.get(channel_id)
            ring = self.rings[channel_id] = Ring(channel_id, self.ring_size, floor)
        client = Client(ring, last_id, sock, access, user_id, session)
        ring.clients.add(client)
        if sock is not None:
            self.watch(client, sock)
        return client

    def unsubscribe(self, client: Client) -> None:
        ring = client.ring
        ring.clients.discard(client)
        if not ring.clients and self.rings.get(ring.channel_id) is ring:
            del self.rings[ring.channel_id]
        if client.watcher is not None:
            client.watcher.stop()
            client.watcher.close()
            client.watcher = None

    def watch(self, client: Client, sock: socket.socket) -> None:
        """Notice a client that went away while its stream waits.

        A stream's client never sends anything after its request, so its
        socket becoming readable means end of file (or a reset): without
        this, a closed stream would count as open until the next
        keep-alive write failed. One libev watcher, no greenlet.
        """
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        client.watcher = get_hub().loop.io(sock.fileno(), 1)
        client.watcher.start(self._readable, client)

    def _readable(self, client: Client) -> None:
        # Once: level-triggered, it would fire until the stream ends.
        client.watcher.stop()
        client.hangup = True
        _resume(client, HANGUP)

    def _has_hung_up(self, client: Client) -> bool:
        """Whether the readable socket is at its end (else the client sent bytes: ignored)."""
        client.hangup = False
        if client.sock is None:
            return False
        try:
            client.gone = not client.sock.recv(1, socket.MSG_PEEK)
        except OSError:
            client.gone = True
        return client.gone

    def follow(self, client: Client) -> Generator[bytes, None, None]:
        """What one stream sends after its replay, until it ends.

        Each write is timed (``client.writing``): the ticker cuts a client
        whose write has not finished within WRITE_TIMEOUT_SECONDS.
        """
        if client.direct:
            self.serve(client)
            return
        while (data := self._next_write(client)) is not None:
            client.writing = self.clock
            yield data
            client.writing = 0.0

    def serve(self, client: Client) -> None:
        """Follow for a direct client: one send per wake on the raw socket.

        The bytes are already framed as the response is (gunicorn sent the
        headers with the replay). A plain call, not a generator: a waiting
        stream keeps fewer frames alive (docs/DESIGN.md, "Memory per stream").
        """
        sock = client.sock
        assert sock is not None
        while (data := self._next_write(client)) is not None:
            client.writing = self.clock
            try:
                sock.sendall(data)
            except OSError:
                client.gone = True
                return
            client.writing = 0.0
            # The next write waits, mostly for minutes (the hub writes later
            # lines itself): what was just written, up to a ring batch, must
            # not stay alive for it.
            del data

    def _next_write(self, client: Client) -> bytes | None:
        """The stream's next write, in the client's framing; None when it ends."""
        while True:
            if client.revoked or client.ended or client.gone:
                return None
            if client.pending is not None:
                data, client.pending = client.pending, None
                return data
            try:
                data, count = self._take(client)
            except Overflow:
                QUEUE_OVERFLOWS.inc()
                client.ended = True  # this frame is the last
                return _framed(client, retry_frame(RETRY_MS))
            if count:
                return data
            if client.hangup and self._has_hung_up(client):
                return None
            token = self.wait(client)
            if token == REVOKED:
                return None
            if client.pending is not None:
                # The hub wrote part of a frame while this stream waited: its
                # rest goes before anything else (every other token is also a
                # flag, seen on the next turn; a keep-alive is not needed).
                continue
            if token == STOP or (token == PING and self._ending(client)):
                client.ended = True  # this frame is the last
                return _framed(client, retry_frame(self.end_retry))
            if token == PING:
                return _keepalive(client)

    def _take(self, client: Client) -> tuple[bytes, int]:
        """The client's next write from its ring (Ring.take), counted as delivered."""
        data, count = client.ring.take(client)
        self.delivered += count
        client.sent += count
        return data, count

    def _ending(self, client: Client) -> bool:
        """Whether the hub ends this stream at its next wake: the worker stops,
        its lifetime is over, or a handoff reached it (Hub.end)."""
        return self.stopping or client.expires < self.clock

    def wait(self, client: Client) -> str:
        if self._ending(client):
            return STOP
        # No timeout: a timer per waiting client costs more than the wait;
        # the ticker wakes everyone for the shared keep-alive instead.
        client.waiter = waiter = Waiter()
        try:
            return str(waiter.get())
        finally:
            client.waiter = None

    # What a stream learns on connecting.

    def public_channel(self, network: str, channel: str, find: Callable[[], int]) -> int:
        """A public channel's id: known, or looked up by ``find`` once for all who ask meanwhile.

        A new worker's first readers (a reload's thousands) arrive before the
        first lookup has answered; each ran its own. A lookup that fails (a
        404, a reader gone) is its reader's own: those waiting look for
        themselves.
        """
        key = (network, channel)
        known = self.channels.get(key)
        if known is not None:
            return known
        finding = self.finding.get(key)
        if finding is not None:
            shared: int | None = finding.get()
            if shared is not None:
                return shared
        result: AsyncResult[int | None] = AsyncResult()
        self.finding[key] = result
        generation = self.generation
        try:
            found = find()
        except BaseException:
            result.set(None)
            raise
        finally:
            if self.finding.get(key) is result:
                del self.finding[key]
        result.set(found)
        # Kept only from a query made while listening, in the current generation.
        if generation == self.generation and self.is_listening():
            self.channels[key] = found
        return found

    def position(self, channel_id: int) -> int | None:
        """The channel's newest line id as far as the hub knows, without a query."""
        return self.latest.get(channel_id)

    def learn(self, ring: Ring, latest: int | None, floor: int | None, epoch: int) -> None:
        """What a query run at ``epoch`` showed: the newest line, what the ring now covers.

        ``latest`` must be a real line id; ``floor`` an id after which the
        query saw no line the ring will not hear of.
        """
        if epoch != self.epoch or not self.is_listening():
            return
        if latest is not None:
            self.latest[ring.channel_id] = max(self.latest.get(ring.channel_id, 0), latest)
        if floor is not None and ring.floor is None and self.rings.get(ring.channel_id) is ring:
            ring.floor = floor

    def warm(self, ring: Ring, load: Callable[[int], tuple[list[ShownLine], bool]]) -> None:
        """Load a new ring with its channel's recent lines, once for all its readers.

        After a deploy every reader reconnects to a worker whose rings are
        new and vouch only from the lines heard since: without this, each
        reader behind that point would run and render its own replay. One
        reader's ``load(limit)`` (the newest live lines in id order, and
        whether they are all the channel has) fills the ring; the readers
        arriving meanwhile wait for it, then resume from the shared frames.
        Only while listening, and only if no notification could have been
        missed during the query (same epoch).
        """
        if ring.warming is not None:
            ring.warming.wait()
            return
        if not self.is_listening():
            return
        ring.warming = Event()
        try:
            epoch = self.epoch
            lines, complete = load(self.ring_size)
            if (
                epoch == self.epoch
                and self.is_listening()
                and self.rings.get(ring.channel_id) is ring
            ):
                ring.prefill([(line.id, line_frame(line)) for line in lines], complete)
                if lines:
                    self.latest[ring.channel_id] = max(
                        self.latest.get(ring.channel_id, 0), lines[-1].id
                    )
        finally:
            ring.warming.set()

    def resume(self, client: Client) -> bool:
        """Serve a reconnect from the ring's frames if the ring covers its last id."""
        if not client.ring.covers(client.last_id):
            return False
        client.ring.resume(client)
        return True

    # Access changes and redactions (irclogger.publish.CHANGE_CHANNEL).

    def handle_change(self, payload: str) -> None:
        """Apply one change notification (the forms are listed at CHANGE_CHANNEL)."""
        kind, *fields = payload.split()
        ids = [parse_id(field) for field in fields]
        if kind == "redact" and ids and None not in ids:
            self.redact(ids[0] or 0, [i for i in ids[1:] if i is not None])
        elif kind == "member" and fields[2:] == ["in"]:
            pass  # a new right makes no check stale and ends no stream
        elif kind in ("channel", "member", "user", "session", "network"):
            self.generation += 1
            self.channels.clear()
            self.revoke([c for c in self._clients() if _loses_access(c, kind, fields)])
        else:
            log.warning("ignoring change notification %r", payload)

    def revoke(self, clients: list[Client]) -> None:
        """End these streams now: their reader may no longer see the channel.

        A waiting stream is woken to end; one in the middle of a write is
        shut down, so not even a line already taken from the ring follows.
        """
        for client in clients:
            client.revoked = True
            self.unsubscribe(client)
            # Mid-write, or with a frame the hub sent in part: a clean end
            # would follow half a frame, so the connection is cut instead.
            if client.waiter is None or client.pending is not None:
                _shut_down(client)
            _resume(client, REVOKED)

    def redact(self, channel_id: int, line_ids: list[int]) -> None:
        """Give open streams the redacted lines' new markup (an ``event: redact``)."""
        ring = self.rings.get(channel_id)
        if ring is None or not line_ids:
            return
        rows = self._fetch(Line.objects.filter(id__in=line_ids, channel_id=channel_id))
        for row in rows:
            ring.replace(row.id, line_frame(row))
            ring.append_event(redact_frame(row))
        self.wake([c for c in ring.clients if c.waiter is not None], NEW)

    def _clients(self) -> list[Client]:
        return [c for ring in self.rings.values() for c in ring.clients]

    # The database side.

    def connect(self) -> None:
        """Open the LISTEN connection, then catch up on what it missed."""
        # Named after the service (libpq's PGAPPNAME, as the pool's connections
        # are), so pg_stat_activity tells which service's hub this is.
        name = settings.DATABASE_APPLICATION_NAME + "-hub"
        conn = psycopg2.connect(**direct_connection_params(name))
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'UTC'")
            cursor.execute(f"LISTEN {NOTIFY_CHANNEL}")
            cursor.execute(f"LISTEN {CHANGE_CHANNEL}")
        self.conn = conn
        reconnected = self.connected_before
        self.connected_before = True
        if not reconnected and self.handoff is not None:
            self.handoff.announce_listening()
        self.epoch += 1
        HUB_CONNECTED.set(1)
        if self.rings:
            self._catch_up()
        if reconnected:
            self._recheck_access()

    def _recheck_access(self) -> None:
        """After a gap, end the streams whose access may have changed unheard.

        Whether a public channel is still public takes one query; memberships,
        users and sessions would take one each per reader, so streams let in
        through them end and check again on reconnecting (a small minority).
        """
        public = {
            row[0] for row in self._query(Channel.objects.filter(is_public=True).values_list("id"))
        }
        self.revoke(
            [
                c
                for ring in self.rings.values()
                for c in ring.clients
                if c.access != PUBLIC or ring.channel_id not in public
            ]
        )

    def disconnect(self) -> None:
        HUB_CONNECTED.set(0)
        # Whatever was committed from now on goes unheard until the catch-up.
        self.epoch += 1
        self.generation += 1
        self.latest.clear()
        self.channels.clear()
        conn, self.conn = self.conn, None
        if conn is not None and not conn.closed:
            conn.close()

    def is_listening(self) -> bool:
        return self.conn is not None and not self.conn.closed

    def step(self, timeout: float = PING_SECONDS) -> int:
        """Wait for notifications once and deliver them; return how many lines."""
        if not self.conn.notifies:
            try:
                wait_read(self.conn.fileno(), timeout=timeout)
            except TimeoutError:
                self.ping()
        return self.drain()

    def ping(self) -> None:
        with self.conn.cursor() as cursor:
            cursor.execute("SELECT 1")

    def drain(self) -> int:
        """Deliver every notification received, including those a query read.

        Any query on this connection (the line fetch, the ping) parses the
        notifications that arrive meanwhile into ``conn.notifies``; the socket
        then has nothing left to read, so they must be taken here, before
        the next wait, or they would wait for the next line anywhere.
        """
        delivered = 0
        self.conn.poll()
        while self.conn.notifies:
            notifies = list(self.conn.notifies)
            del self.conn.notifies[:]
            # In the order they were committed: a revocation ends a stream
            # before the next private line is fetched for it.
            lines: list[str] = []
            for notify in notifies:
                if notify.channel == CHANGE_CHANNEL:
                    delivered += self.handle(lines)
                    lines = []
                    self.handle_change(notify.payload)
                else:
                    lines.append(notify.payload)
            delivered += self.handle(lines)
            self.conn.poll()
        return delivered

    def handle(self, payloads: Iterable[str]) -> int:
        wanted = []
        for payload in payloads:
            raw_channel, _, raw_line = payload.partition(":")
            channel_id, line_id = parse_id(raw_channel), parse_id(raw_line)
            if channel_id is None or line_id is None:
                log.warning("ignoring notification %r", payload)
                continue
            if line_id > self.latest.get(channel_id, 0):
                self.latest[channel_id] = line_id
            if channel_id in self.rings:
                wanted.append(line_id)
        if not wanted:
            return 0
        return self.deliver(self._fetch(Line.objects.after(0).filter(id__in=wanted)))

    def deliver(self, rows: list[ShownLine]) -> int:
        """Render each line once, append it to its ring, wake the waiting clients."""
        touched: dict[int, Ring] = {}
        for row in rows:
            ring = self.rings.get(row.channel_id)
            if ring is not None and ring.append(row.id, line_frame(row)):
                touched[ring.channel_id] = ring
        if rows:
            HUB_LAG_SECONDS.set((timezone.now() - rows[-1].timestamp).total_seconds())
        if self.stopping:
            # Every stream is ending (``finish``), and resumes from its last
            # id elsewhere: a fan-out now would only hold up those ends.
            return len(rows)
        waiting: list[Client] = []
        for ring in touched.values():
            waiting.extend(ring.clients)  # push passes over those not waiting
            if ring.start and ring.end - ring.scanned >= OVERFLOW_SCAN_EVERY:
                self.cut(ring.stuck_clients())
        self.push(waiting)
        return len(rows)

    def push(self, clients: list[Client]) -> None:
        """Send each waiting client its new frames from here, one system call each.

        Waking a client's greenlet to send cost two greenlet switches and
        gevent's sendall layers per client and line; a send on the
        non-blocking socket that takes everything leaves the client waiting
        as it was (docs/DESIGN.md, "One send per wake"). A client whose socket
        would block keeps the rest as ``pending`` and is woken to write it
        with the write timeout; one that failed, overflowed, is ending or
        writes through a proxied protocol is woken to do it all itself.

        This loop runs once per client and line, so what it asks of each
        client is inlined here, each step named after its owner: four calls
        per client cost 0.5-0.8 µs of a delivery's 4-5 µs (docs/DESIGN.md).
        """
        woken: list[Client] = []
        batch, ring, pos, chunked = None, None, -1, False
        data, stop, first, last_id, frames = b"", 0, 0, 0, 0
        stopping, clock, delivered = self.stopping, self.clock, 0
        for count, client in enumerate(clients, 1):
            if client.waiter is None:
                continue
            # Hub._writes_for, inlined.
            if stopping or client.expires < clock or not client.direct or client.hangup:
                woken.append(client)
                continue
            if client.ring is not ring or client.pos != pos or client.chunked is not chunked:
                ring, pos, chunked = client.ring, client.pos, client.chunked
                batch = ring.batch(pos, chunked)
                if batch is not None:
                    data, stop, first, last_id = batch
                    frames = stop - pos
            if batch is not None and client.last_id < first:
                # Ring.consume: it lacks the whole batch, whose last id is above its own.
                client.pos, client.last_id = stop, last_id
                client.sent += frames
                delivered += frames
                written = self._sent_whole(client, data)
            else:
                written = self._pushed(client)
            if not written:
                woken.append(client)
            if count % PUSH_YIELD_EVERY == 0:
                gevent.sleep(POLL_YIELD_SECONDS)
                ring = None  # the rings may have moved on meanwhile
        self.delivered += delivered
        self.wake(woken, NEW)

    def _pushed(self, client: Client) -> bool:
        """Whether the hub wrote all of this waiting client's new frames itself
        (a client it writes for, as ``push`` tells)."""
        try:
            data, count = self._take(client)
        except Overflow:
            return False  # its greenlet meets the overflow and ends the stream
        if not count:
            return True
        return self._sent_whole(client, data)

    @staticmethod
    def _sent_whole(client: Client, data: bytes) -> bool:
        """Write a waiting client's next frames on its non-blocking socket; whether
        they all went and it has nothing more to write.

        A rest left is its greenlet's to write, and the client stops waiting
        now, not once the caller's loop is done: ``push`` and ``keep_alive``
        yield on the way, and a write by the other meanwhile went ahead of
        the rest, splitting a chunk (docs/DESIGN.md, "One send per wake").
        """
        try:
            sent = os.write(client.fd, data)
        except BlockingIOError:
            sent = 0
        except OSError:
            client.gone = True
            return False
        if sent < len(data):
            client.pending = data[sent:]  # rare: a reader behind by a socket buffer
            _resume(client, NEW)
            return False
        # More new frames than one write carries (a burst): its greenlet
        # writes the rest, or they would wait for the channel's next line.
        return client.pos >= client.ring.end

    def wake(self, clients: list[Client], token: str) -> None:
        """Switch to each waiting client from the gevent hub, yielding now and then."""
        for count, client in enumerate(clients, 1):
            _resume(client, token)
            if count % YIELD_EVERY == 0:
                gevent.sleep(0)

    def cut(self, clients: list[Client]) -> None:
        """Drop clients whose socket stopped taking data: their blocked write fails."""
        for client in clients:
            QUEUE_OVERFLOWS.inc()
            self.unsubscribe(client)
            _shut_down(client)

    def tick(self, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Once a second: shutdown, keep-alive, slow writers, metrics."""
        self.ticks += 1
        self.clock = time.monotonic()
        self.cut(self._slow_writers())
        self.revoke(self._expired_sessions())
        if self.delivered:
            LINES_DELIVERED.inc(self.delivered)
            self.delivered = 0
        if not self._begin_stop(should_stop) and self.ticks % KEEPALIVE_TICKS == 0:
            self.keep_alive(self._waiting())

    def keep_alive(self, clients: list[Client]) -> None:
        """The shared keep-alive, written by the hub itself as ``push`` writes lines.

        Waking every waiting stream's greenlet to write it cost two switches
        and gevent's sendall per stream, all in one burst (docs/DESIGN.md,
        "One send per wake"). A stream the hub does not write for is woken
        with PING, as before: its greenlet writes the keep-alive, or ends it.
        One whose keep-alive did not all go, or with frames to write, is
        woken to write them.
        """
        pinged: list[Client] = []
        woken: list[Client] = []
        for count, client in enumerate(clients, 1):
            if client.waiter is None:
                continue  # woken meanwhile: its greenlet writes before it waits again
            if not self._writes_for(client):
                pinged.append(client)
            elif not self._sent_whole(client, _keepalive(client)):
                woken.append(client)
            if count % PUSH_YIELD_EVERY == 0:
                gevent.sleep(POLL_YIELD_SECONDS)
        self.wake(pinged, PING)
        self.wake(woken, NEW)

    def _writes_for(self, client: Client) -> bool:
        """Whether the hub may write a waiting client's bytes itself; else its
        greenlet does it all: a proxied protocol, a hang-up, or an ending stream."""
        return client.direct and not client.hangup and not self._ending(client)

    def stop_streams(self) -> None:
        """The worker stops: end every stream now, not at the ticker's next look.

        ``streams_ending`` then tells whether one of those streams is still open.
        """
        self.stopped_with = self._clients()
        self._begin_stop(lambda: True)

    def streams_ending(self) -> bool:
        """Whether a stream open when the worker stopped (``stop_streams``) is still open."""
        self.stopped_with = [client for client in self.stopped_with if not client.closed]
        return bool(self.stopped_with)

    def _begin_stop(self, should_stop: Callable[[], bool]) -> bool:
        """Start ending every stream if the worker stops (once); whether it began now."""
        if self.ending is None and should_stop():
            self.ending = gevent.spawn(self.end_streams)
            return True
        return False

    def end_streams(self) -> None:
        """End every stream of a stopping worker: handed over, or all at once.

        Replaced by a reload, the worker keeps streaming until a new worker
        listens, then ends its streams a batch a beat, so the new worker
        takes them in at a pace it can serve pages beside. Stopped for good,
        it ends them all now, with a retry spread wide enough for a restart.
        """
        handoff = self.handoff
        if handoff is not None and handoff.expected() and _until(handoff.ready):
            clients = self._clients()
            log.info(
                "hub: a new worker listens; handing over %d streams at %d/s",
                len(clients),
                HANDOFF_PER_SECOND,
            )
            self.end_retry = RETRY_AFTER_HANDOFF_MS
            self._end_paced(clients)
        self.stopping = True
        self.finish(self._waiting())

    def _end_paced(self, clients: list[Client]) -> None:
        """End ``clients`` at HANDOFF_PER_SECOND by the clock, a batch a beat.

        By the clock, not a fixed batch per beat: a worker short of CPU
        (its core shared with the new worker) ends bigger batches instead of
        stretching the handoff, which would keep it fanning out to streams
        the new worker could serve.
        """
        started, done = time.monotonic(), 0
        while done < len(clients):
            elapsed = time.monotonic() - started + HANDOFF_BEAT_SECONDS
            due = min(len(clients), max(done + 1, int(elapsed * HANDOFF_PER_SECOND)))
            self.finish(clients[done:due])
            done = due
            gevent.sleep(HANDOFF_BEAT_SECONDS)

    def end(self, clients: list[Client]) -> None:
        """End these streams at their next write: now, for those waiting."""
        for client in clients:
            client.expires = 0.0  # past: wait() answers STOP
        self.wake([c for c in clients if c.waiter is not None], STOP)

    def finish(self, clients: list[Client]) -> None:
        """End these streams of a worker about to exit: on the wire where the hub can.

        Woken to end itself, each stream's greenlet wrote its last frame and
        then unwound through gunicorn and Django: a stopping worker with
        10,000 streams spent 1.8 s on that, and a restart's readers and pages
        waited for it (docs/DESIGN.md, "Restart"). A waiting stream the hub
        writes for gets its last frame and the response's end from here, one
        write, and its connection is closed for writing as gunicorn would;
        its greenlet is left waiting, for the worker's exit
        (``streams.worker.exit_worker``). The rest end as ``end`` ends them.
        """
        left: list[Client] = []
        for count, client in enumerate(clients, 1):
            if not self._ended_on_the_wire(client):
                left.append(client)
            if count % PUSH_YIELD_EVERY == 0:
                gevent.sleep(POLL_YIELD_SECONDS)
        self.end(left)

    def _ended_on_the_wire(self, client: Client) -> bool:
        """Write a waiting stream's last frame and end; whether it is over now."""
        if (
            client.waiter is None  # woken meanwhile: its greenlet writes, and ends
            or not client.direct
            or client.pending is not None
            or client.hangup
            or client.greenlet is None
        ):
            return False
        last = _framed(client, retry_frame(self.end_retry))
        if client.chunked:
            last += LAST_CHUNK
        try:
            sent = os.write(client.fd, last)
        except OSError:  # a full socket buffer, or the peer is gone
            return False
        if sent < len(last):
            # Half a frame went: no clean end can follow, as for a cut.
            client.gone = True
            _shut_down(client)
            return False
        client.waiter = None  # the hub's sends and wakes pass it by from now on
        client.ended = True
        _shut_down(client, socket.SHUT_WR)
        self.ended[client.greenlet] = client.fd
        self.close_stream(client, "ended")
        return True

    def release_ended_sockets(self) -> None:
        """Give back the sockets of the streams ended on the wire; their numbers stay taken.

        Closed by the worker's exit, 10,000 of them took it 40-60 ms, after
        it had stopped accepting: a restart's pages wait through that
        (docs/DESIGN.md, "Restart"). Given back while it still accepts, they
        cost the exit nothing. Each number is taken over by one unconnected
        stand-in socket rather than closed: the greenlets left waiting still
        hold it, and a connection accepted meanwhile must not get it. Those
        greenlets never run between their end and this (only a graceful
        timeout, later, kills them), so each number is still their socket's.
        """
        stand_in = socket.socket()
        try:
            for count, fd in enumerate(self.ended.values(), 1):
                os.dup2(stand_in.fileno(), fd, inheritable=False)
                if count % PUSH_YIELD_EVERY == 0:
                    gevent.sleep(POLL_YIELD_SECONDS)
        finally:
            stand_in.close()

    def end_with_session(self, client: Client, seconds: float) -> None:
        """End this stream, as revoked, once the session that let it in expires.

        Only a session that expires within the stream's lifetime is kept: a
        stream ends at its lifetime anyway, and its reconnect is checked
        again. So the heap holds each stream for minutes at most.
        """
        deadline = time.monotonic() + seconds
        if deadline < client.expires:
            heapq.heappush(self.session_ends, (deadline, next(self._session_order), client))

    def _expired_sessions(self) -> list[Client]:
        """The open streams whose session expired by now."""
        expired = []
        while self.session_ends and self.session_ends[0][0] <= self.clock:
            client = heapq.heappop(self.session_ends)[2]
            if client in client.ring.clients:
                expired.append(client)
        return expired

    def _slow_writers(self) -> list[Client]:
        """Clients whose write has been under way too long: they stopped reading."""
        bound = STOPPING_WRITE_TIMEOUT_SECONDS if self.stopping else WRITE_TIMEOUT_SECONDS
        since = self.clock - bound
        return [
            c
            for ring in self.rings.values()
            for c in ring.clients
            if c.writing and c.writing < since
        ]

    def _waiting(self) -> list[Client]:
        return [c for ring in self.rings.values() for c in ring.clients if c.waiter is not None]

    def _catch_up(self) -> None:
        """Deliver what the followed channels committed while nobody listened.

        Each channel resumes from its own ring (Ring.resume_point), never from
        the highest id heard anywhere: channels commit out of id order, so a
        line of one channel may commit, unheard, after a higher id of another.
        """
        missed = Q()
        for channel_id, ring in self.rings.items():
            missed |= Q(channel_id=channel_id, id__gt=ring.resume_point())
        rows = self._fetch(Line.objects.after(0).filter(missed)[: CATCH_UP_LIMIT + 1])
        if len(rows) > CATCH_UP_LIMIT:
            for ring in self.rings.values():
                ring.drop_all()
            self.wake(self._waiting(), NEW)
            return
        self.deliver(rows)

    def _fetch(self, lines: LineQuerySet) -> list[ShownLine]:
        return [ShownLine(*row) for row in self._query(lines.values_list(*ShownLine._fields))]

    def _query(self, queryset: Any) -> list[tuple[Any, ...]]:
        # The ORM writes the SQL; the hub's own connection runs it, so the
        # hub never waits behind pages for a pooled connection.
        sql, params = queryset.query.sql_with_params()
        with self.conn.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())

    # The loops.

    def run_listener(self) -> None:
        backoff = BACKOFF_SECONDS[0]
        while True:
            try:
                self.connect()
                backoff = BACKOFF_SECONDS[0]
                while True:
                    self.step()
            except (psycopg2.Error, OSError) as exc:
                log.warning("hub: LISTEN connection lost (%s); retrying in %.1f s", exc, backoff)
            except Exception:
                # A bug in handling one notification must not leave the
                # worker's streams unfed for good: start over, with a catch-up.
                log.exception("hub: listener failed; reconnecting in %.1f s", backoff)
            self.disconnect()
            HUB_RECONNECTS.inc()
            gevent.sleep(random.uniform(backoff / 2, backoff))
            backoff = min(backoff * 2, BACKOFF_SECONDS[1])

    def run_ticker(self, should_stop: Callable[[], bool]) -> None:
        # A stop is looked for ten times a beat: a restart's readers wait for
        # this worker to end their streams before any new one can take them.
        beats = 0
        while True:
            gevent.sleep(TICK_SECONDS / STOP_CHECKS_PER_TICK)
            beats += 1
            if beats % STOP_CHECKS_PER_TICK == 0:
                self.tick(should_stop)
            else:
                self._begin_stop(should_stop)

    def start(self, should_stop: Callable[[], bool], handoff: Handoff | None = None) -> None:
        self.handoff = handoff
        self.greenlets = [
            gevent.spawn(self.run_listener),
            gevent.spawn(self.run_ticker, should_stop),
        ]

    def close(self) -> None:
        gevent.killall(self.greenlets)
        self.greenlets = []
        self.disconnect()


KEEPALIVE_CHUNK = as_chunk(KEEPALIVE)
# The end of a chunked response, as gunicorn writes it when a response is done.
LAST_CHUNK = b"0\r\n\r\n"


def _recent_lines(channel_id: int, limit: int) -> tuple[list[ShownLine], bool]:
    """A channel's newest live lines, oldest first, and whether that is all of them.

    No more than a replay may send: a reader further behind is told to
    reload whether or not the ring is warm.
    """
    limit = min(limit, REPLAY_LIMIT)
    newest = Line.objects.after(0).filter(channel_id=channel_id).order_by("-id")
    lines = list(newest[: limit + 1].rows())
    return lines[:limit][::-1], len(lines) <= limit


def _until(
    condition: Callable[[], bool],
    timeout: float = SUCCESSOR_WAIT_SECONDS,
    poll: float = HANDOFF_POLL_SECONDS,
) -> bool:
    """Whether ``condition`` came true within ``timeout`` seconds (polled)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        gevent.sleep(poll)
    return True


def _resume(client: Client, token: str) -> None:
    """Have a waiting client's greenlet run with ``token``, soon (from the gevent hub).

    The waiter is taken off the client now, not when the greenlet runs: until
    then the client's writes are its greenlet's. A busy loop runs callbacks
    late (after the hub's next read, past gevent's switch interval), and the
    hub's next push must not write ahead of a rest its greenlet was woken to
    send; a second wake is then needless (its reason is a flag the greenlet
    checks).
    """
    waiter, client.waiter = client.waiter, None
    if waiter is not None:
        get_hub().loop.run_callback(waiter.switch, token)


def _shut_down(client: Client, how: int = socket.SHUT_RDWR) -> None:
    """Cut the client's connection: a write under way fails, no clean end follows.

    ``SHUT_WR`` instead ends it after what was written, as a close would.
    """
    if client.sock is not None:
        with contextlib.suppress(OSError):  # already gone
            client.sock.shutdown(how)


def _framed(client: Client, frame: bytes) -> bytes:
    return as_chunk(frame) if client.chunked else frame


def _keepalive(client: Client) -> bytes:
    """The keep-alive comment in the client's framing (``_framed``, built once)."""
    return KEEPALIVE_CHUNK if client.chunked else KEEPALIVE


def _loses_access(client: Client, kind: str, fields: list[str]) -> bool:
    """Whether an access change (see CHANGE_CHANNEL) takes this client's right away."""
    match kind, fields:
        case "channel", [channel_id, visibility]:
            if str(client.ring.channel_id) != channel_id:
                return False
            return visibility == "gone" or (visibility == "private" and client.access == PUBLIC)
        case "member", [channel_id, user_id, "out"]:
            return (
                client.access == MEMBER
                and str(client.ring.channel_id) == channel_id
                and str(client.user_id) == user_id
            )
        case "user", [user_id, state]:
            if str(client.user_id) != user_id:
                return False
            return state != "unstaffed" or client.access == STAFF
        case "session", [tag]:
            return client.session == tag
    return False


_hub: Hub | None = None


def start(should_stop: Callable[[], bool] = lambda: False, handoff: Handoff | None = None) -> Hub:
    """Start this process's hub (gunicorn's post_worker_init calls it)."""
    global _hub
    if _hub is None:
        _hub = Hub()
        _hub.start(should_stop, handoff)
        health.register("hub", _health)
    return _hub


def get() -> Hub:
    """The running hub; started here when no server hook did (runserver, tests)."""
    return _hub if _hub is not None else start()


def stop() -> None:
    global _hub
    if _hub is not None:
        _hub.close()
        _hub = None
        health.unregister("hub")


def is_listening() -> bool:
    """This worker's hub holds its LISTEN connection."""
    return _hub is not None and _hub.is_listening()


def wait_until_listening(timeout: float) -> bool:
    """Whether this process's hub holds its LISTEN connection within ``timeout`` seconds."""
    return _until(is_listening, timeout, poll=LISTEN_POLL_SECONDS)


def _health() -> str:
    return "ok" if is_listening() else "not listening"
