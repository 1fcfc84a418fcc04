"""The load generator: N concurrent SSE clients in one process, one core.

Python asyncio on uvloop with raw ``asyncio.Protocol`` sockets: no HTTP
library, no task per client, one ``data_received`` call per segment. That
keeps a client at a few microseconds per delivery, so 10,000 of them fit on
one core next to the server under test; the process reports its own CPU so a
saturated generator is visible in the results.

Driven by bench/run.py over stdin/stdout, one JSON object per line:

- it opens the connections (ramped in waves, or ``--rate`` per second), then
  prints ``{"ready": ...}`` with how long each connect took;
- ``go`` on stdin starts the measured window (CPU accounting), ``end``
  closes it (the publisher wrote its last line);
- ``fault <name> [<unix time>]`` marks the moment a fault is injected (now,
  or the time given): from then on each client's drop and its first stream
  again are timed (the storm's figures);
- ``status`` prints how many streams are open and how far the slowest
  client has read;
- ``stop <published>`` (after the last deliveries) prints the result and
  exits; ``expect <JSON list of seqs>`` does the same when only the lines
  the database really holds count (a writer that lost its connection
  mid-commit may or may not have written one).

Each published line carries ``BENCH#<seq>@<unix time>#`` in its text; the
receipt time minus that time is the delivery latency.

``--follow`` makes every client an EventSource for good: it reconnects
after every drop or network error, after the server's ``retry:``, with
``Last-Event-ID``, for as long as the run lasts; a ``reload`` event (too
far behind for a replay) stands for the page's reload, whose HTML has the
lines it skips. Every client counts what it received incrementally (the
highest seq, the gaps below it, repeats), so an hour of lines costs a few
integers per client, not a list.
"""

import argparse
import asyncio
import bisect
import json
import os
import re
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

MARKER = re.compile(rb"BENCH#(\d+)@(\d+\.\d+)#")
# A client that has not seen its response headers by then counts as a
# connect failure (the naive app's sync workers never answer).
DEFAULT_CONNECT_TIMEOUT = 10.0
# At most this many connection attempts in flight at once: the listen
# backlog of the servers is 2048 (gunicorn) or 511 (nginx, Node).
RAMP_BATCH = 250
# EventSource reconnects after `retry:` ms; capped so a scenario's 10 s
# window still sees the resumed lines.
MAX_RECONNECT_DELAY = 2.0
MAX_RECONNECTS = 5
# Each client its own loopback address, this many per /24 (LoadGenerator.source).
SOURCES = 250
# How often the number of open streams is sampled for the storm's timeline.
TIMELINE_SECONDS = 0.25
# A chunk's size line is at most this long (hex digits, no extensions): past
# that, bytes without a CRLF are not the start of a chunk.
MAX_SIZE_LINE = 8
# A chunk cut short by a segment waits for its end up to this size; a longer
# one is decoded as its pieces come, and ``_feed`` reads their whole events.
MAX_CARRIED_CHUNK = 16_384
# The longest command line on stdin: ``expect`` lists every seq a run wrote
# (36,000 for the hour-long soak, about 240 KB). asyncio's default of 64 KiB
# refused it, and the soak's tally never came.
COMMAND_LIMIT = 16 * 2**20
# States of the chunked decoder besides "bytes left in this chunk".
_SIZE_LINE = -1
_CHUNK_END = -2


@dataclass
class Client:
    """One EventSource's state: the parser's buffers and what it received."""

    index: int
    connected: bool = False
    failed: str = ""
    last_event_id: str = ""
    retry: float = 3.0
    reconnects: int = 0
    seqs: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    receipts: list[float] = field(default_factory=list)
    other_events: int = 0
    comments: int = 0
    # EventSource failed for good (a non-200 answer or a wrong type).
    gave_up: bool = False
    # Incremental tallies: enough to count lost, repeated and out-of-order
    # lines over any run length.
    highest: int = -1
    gaps: set[int] = field(default_factory=set)
    received: int = 0
    repeated: int = 0
    out_of_order: int = 0
    # `reload` events: the lines skipped by each come with the page's reload.
    reloads: int = 0
    reload_pending: bool = False
    reloaded: set[int] = field(default_factory=set)
    # The first connect's duration, until the response headers.
    connect_seconds: float | None = None
    # Since the last `fault`: when the stream dropped and when it streamed again.
    dropped_at: float | None = None
    back_at: float | None = None
    # When the stream last dropped, fault or not: a fault's command may come
    # after its first drops (``LoadGenerator.fault``).
    lost_at: float = 0.0
    # When the stream of the moment began (its response headers).
    streaming_since: float = 0.0
    # Since the last `fault`: connection attempts, and how the last failed one failed.
    attempts: int = 0
    last_failure: str = ""

    def count(self, seq: int) -> bool:
        """Tally one received line; False if it is a repeat."""
        self.received += 1
        if seq > self.highest:
            skipped = range(self.highest + 1, seq)
            (self.reloaded if self.reload_pending else self.gaps).update(skipped)
            self.reload_pending = False
            self.highest = seq
            return True
        if seq in self.gaps:
            self.gaps.discard(seq)
            self.out_of_order += 1
            return True
        self.repeated += 1
        return False


# Whole events read in one pass: each line event's marker, the last id, the last retry.
Events = tuple[list[re.Match[bytes]], bytes, bytes]


def _read_segment(data: bytes) -> tuple[Events, int, bool]:
    """Reads the whole chunks of whole marked line events and retries that begin ``data``.

    It stops at the first chunk that holds anything else (a keep-alive,
    another kind of event, a line without the marker, the body's end), or
    that this segment cuts short. Returns what it read, where the chunks it
    read end, and whether the rest is the start of a chunk to read with the
    next segment.
    """
    marks: list[re.Match[bytes]] = []
    last_id = retry = b""
    read, size, partial = 0, len(data), False
    while read < size:
        end = data.find(b"\r\n", read)
        if end < 0:
            partial = size - read <= MAX_SIZE_LINE
            break
        try:
            length = int(data[read:end], 16)
        except ValueError:
            break
        stop = end + 2 + length
        if stop + 2 > size:
            # Kept for the next segment, unless it is long: copied again with
            # each piece, a replay of a thousand lines in one chunk would cost
            # its square.
            partial = 0 < length <= MAX_CARRIED_CHUNK
            break
        chunk = _read_chunk(data, end + 2, stop)
        if chunk is None:
            break
        marks += chunk[0]
        last_id = chunk[1] or last_id
        retry = chunk[2] or retry
        read = stop + 2
    return (marks, last_id, retry), read, partial


def _read_chunk(data: bytes, start: int, stop: int) -> Events | None:
    """The chunk ``data[start:stop]``, if it is all marked line events and retries."""
    # No CR inside, and the last event's blank line at the end.
    if start == stop or data.find(b"\r", start) != stop:
        return None
    if not data.startswith(b"\n\n\r\n", stop - 2):
        return None
    return _read_events(data, start, stop)


def _read_events(data: bytes, start: int, stop: int) -> Events | None:
    """``data[start:stop]`` read in place, if it is all marked line events and retries.

    A line event is four lines, "id: N", "event: line", "data: ...", "";
    a retry two, "retry: N", "" (a stream's first write: a retry, then the
    replay). ``data[stop - 2:stop]`` is the last one's end, two LFs. Offsets
    only: the long data lines are searched in C, never copied.
    """
    marks: list[re.Match[bytes]] = []
    id_at = id_end = 0
    retry = b""
    while start < stop:
        end = data.find(b"\n", start, stop)
        if end < 0 or end + 1 >= stop:
            return None
        if data[end + 1] == 10:  # "retry: N" and a blank line
            if not data.startswith(b"retry: ", start) or not data[start + 7 : end].isdigit():
                return None
            retry = data[start + 7 : end]
            start = end + 2
            continue
        if not data.startswith(b"event: line\ndata: ", end + 1, stop):
            return None
        if not data.startswith(b"id: ", start) or not data[start + 4 : end].isdigit():
            return None
        value = end + 19
        last = data.find(b"\n", value, stop)
        mark = MARKER.search(data, value, last)
        if mark is None or data[last + 1] != 10:
            return None  # not a line event, or not the bench's: the general parser's
        marks.append(mark)
        id_at, id_end = start + 4, end
        start = last + 2
    return marks, data[id_at:id_end], retry


class SseProtocol(asyncio.Protocol):
    """HTTP/1.1 response (chunked or not), then the WHATWG event-stream parser."""

    def __init__(
        self,
        client: Client,
        request: bytes,
        headers_seen: asyncio.Future[bool],
        on_lost: Callable[[Client], None],
        lean: "LeanTally | None" = None,
    ):
        self.client = client
        self.on_lost = on_lost
        self.lean = lean
        self.request = request
        self.headers_seen = headers_seen
        self.transport: asyncio.Transport | None = None
        self.head = b""
        self.in_body = False
        self.chunked = False
        self.chunk_left = _SIZE_LINE  # or the bytes left in the current chunk
        self.raw = b""  # undecoded chunked bytes
        self.body_ended = False
        self.pending = b""  # event-stream bytes not yet ending in a line break
        self.data: list[bytes] = []
        self.event_type = b""
        self.event_id: bytes | None = None
        self.first_line = True
        # The start of a chunk of line events that the last segment cut short.
        self.carried = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; same interface.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.headers_seen.done():
            self.headers_seen.set_result(False)
        if self.client.connected:
            self.client.connected = False
            self.on_lost(self.client)

    def data_received(self, data: bytes) -> None:
        if not self.in_body:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            head, data = self.head[:end], self.head[end + 4 :]
            self.head = b""
            if not self._accept(head):
                return
        if self.carried:
            data, self.carried = self.carried + data, b""
        now = time.time()  # when this segment came, all of it
        # A stream's first write (its retry, the replay) may come with the headers.
        if data:
            data = self._whole_line_events(data, now)
        if not data:
            return
        if self.chunked:
            data = self._dechunk(data)
        if data:
            self._feed(data, now)
        if self.body_ended and self.transport is not None:
            self.transport.close()

    def _accept(self, head: bytes) -> bool:
        lines = head.split(b"\r\n")
        status = lines[0].split(b" ", 2)
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            fields[name.strip().lower()] = value.strip().lower()
        ok = len(status) > 1 and status[1] == b"200"
        ok = ok and fields.get(b"content-type", b"").startswith(b"text/event-stream")
        if not ok:
            # EventSource: a non-200 or a wrong type fails the connection for good.
            self.client.failed = lines[0].decode("latin-1")[:80]
            self.client.gave_up = True
            self.headers_seen.set_result(False)
            assert self.transport is not None
            self.transport.close()
            return False
        self.in_body = True
        self.chunked = fields.get(b"transfer-encoding") == b"chunked"
        self.client.connected = True
        self.client.streaming_since = time.time()
        self.headers_seen.set_result(True)
        return True

    def _whole_line_events(self, data: bytes, now: float) -> bytes:
        """Reads the whole chunks of whole line events that begin ``data``; returns the rest.

        At 10,000 streams the generator reads 100,000 events a second, and
        a reconnect storm adds a replay of dozens for each client; a
        generator that falls behind measures itself. So such chunks are read
        in place (``_read_segment``) and their lines tallied in one loop,
        without a call per line. A chunk cut short by the segment's end is
        kept for the next one: a replay arrives in pieces, and the general
        parser, once handed a piece, would read every line after it. The
        rest (a keep-alive, another kind of event, the body's end) is the
        general parser's; both count the same (tests/test_bench_loadgen.py).
        """
        if not self.chunked or self.raw or self.pending or self.data or self.event_type:
            return data
        if self.event_id is not None or self.chunk_left != _SIZE_LINE:
            return data
        events, read, partial = _read_segment(data)
        self._take_in(events, now)
        if read:
            # What was read began "id: " or "retry: ": there was no BOM to drop.
            self.first_line = False
        if partial:
            self.carried = data[read:]
            return b""
        return data[read:]

    def _take_in(self, events: Events, now: float) -> None:
        """The lines' markers, the last id and the last retry of whole events read."""
        marks, last_id, retry = events
        if marks:
            self._tally_marks(marks, now)
            self.client.last_event_id = last_id.decode()
        if retry:
            self.client.retry = int(retry) / 1000

    def _tally_marks(self, marks: list[re.Match[bytes]], now: float) -> None:
        """Count the lines whose markers these are, received together ``now``: each
        one's seq, and the fresh ones' latencies."""
        client, lean = self.client, self.lean
        latencies: list[float] = []
        for mark in marks:
            seq = int(mark[1])
            if seq == client.highest + 1 and not client.reload_pending:
                # The usual case, the next line: Client.count's result, inline.
                client.highest = seq
                client.received += 1
                fresh = True
            else:
                fresh = client.count(seq)
            latency = now - float(mark[2])
            if lean is None:
                client.seqs.append(seq)
                client.latencies.append(latency)
                client.receipts.append(now)
            elif fresh:
                latencies.append(latency)
            else:
                lean.repeats[seq] += 1
        if latencies and lean is not None:
            lean.add(latencies)

    def _dechunk(self, data: bytes) -> bytes:
        """Undo chunked transfer coding; ``chunk_left`` is the state."""
        raw = self.raw + data
        out = []
        position, size = 0, len(raw)
        while position < size:
            if self.chunk_left == _SIZE_LINE:
                end = raw.find(b"\r\n", position)
                if end < 0:
                    break
                length = int(raw[position:end].split(b";", 1)[0].strip() or b"0", 16)
                position = end + 2
                if length == 0:
                    # The body ends here: the stream is over, as a browser sees
                    # it, even if the server keeps the connection for keep-alive.
                    self.body_ended = True
                    break
                self.chunk_left = length
            elif self.chunk_left == _CHUNK_END:
                if size - position < 2:
                    break
                position += 2
                self.chunk_left = _SIZE_LINE
            else:
                take = min(self.chunk_left, size - position)
                out.append(raw[position : position + take])
                position += take
                self.chunk_left -= take
                if self.chunk_left == 0:
                    self.chunk_left = _CHUNK_END
        self.raw = raw[position:]
        return b"".join(out)

    def _feed(self, data: bytes, now: float) -> None:
        text = self.pending + data
        if self.first_line:
            self.first_line = False
            if text.startswith(b"\xef\xbb\xbf"):  # a leading BOM is dropped
                text = text[3:]
        # A CR at the end may be the first half of a CRLF split between two
        # segments: it waits for the next byte, or it would end two lines.
        held = b""
        if text.endswith(b"\r"):
            text, held = text[:-1], b"\r"
        # Lines end in CRLF, LF or CR; the common case (LF only) splits fast.
        if b"\r" in text:
            text = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if not (self.data or self.event_type or self.event_id is not None):
            text = self._whole_events(text, now)
            if b"\n\n" not in text and len(text) <= MAX_CARRIED_CHUNK:
                # The start of an event, kept whole: read line by line, it
                # would leave the next piece to ``_line`` too.
                self.pending = text + held
                return
        lines = text.split(b"\n")
        self.pending = lines.pop() + held
        for line in lines:
            self._line(line, now)

    def _whole_events(self, text: bytes, now: float) -> bytes:
        """Reads the whole events that ``text`` begins with in one pass, if all are
        marked line events and retries (a chunk longer than MAX_CARRIED_CHUNK
        that came in pieces, a stream without chunks); returns what is left."""
        end = text.rfind(b"\n\n") + 2
        events = _read_events(text, 0, end) if end > 1 else None
        if events is None:
            return text
        self._take_in(events, now)
        return text[end:]

    def _line(self, line: bytes, now: float) -> None:
        if not line:
            self._dispatch(now)
            return
        if line[:1] == b":":
            self.client.comments += 1
            return
        name, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self.data.append(value)
        elif name == b"event":
            self.event_type = value
        elif name == b"id":
            if b"\x00" not in value:
                self.event_id = value
        elif name == b"retry" and value.isdigit():
            self.client.retry = int(value) / 1000

    def _dispatch(self, now: float) -> None:
        if self.event_id is not None:
            self.client.last_event_id = self.event_id.decode("utf-8", "replace")
            self.event_id = None
        data, self.data = self.data, []
        event_type, self.event_type = self.event_type, b""
        if not data:
            return
        if event_type == b"reload":
            # Too far behind for a replay: the page reloads (its HTML has the
            # missed lines) and streams on from the id this event carried.
            self.client.reloads += 1
            self.client.reload_pending = True
            return
        self._tally(data[0] if len(data) == 1 else b"\n".join(data), now)

    def _tally(self, data: bytes, now: float) -> None:
        """Count one line event's data: its seq, and its latency."""
        match = MARKER.search(data)
        if match is None:
            self.client.other_events += 1
            return
        self._tally_marks([match], now)


class LeanTally:
    """Deliveries without a list per client: a latency histogram and the repeats."""

    def __init__(self) -> None:
        # Latency in whole milliseconds -> deliveries.
        self.latency_ms: Counter[int] = Counter()
        self.repeats: Counter[int] = Counter()

    def add(self, latencies: list[float]) -> None:
        """Fresh deliveries' latencies, in seconds."""
        histogram = self.latency_ms
        for latency in latencies:
            ms = round(latency * 1000)
            histogram[ms if ms > 0 else 0] += 1

    def percentile(self, fraction: float) -> float | None:
        total = sum(self.latency_ms.values())
        if not total:
            return None
        rank = round(fraction * (total - 1))
        seen = 0
        for ms, count in sorted(self.latency_ms.items()):
            seen += count
            if seen > rank:
                return ms / 1000
        return max(self.latency_ms) / 1000


@dataclass
class Storm:
    """One injected fault, seen from the clients."""

    name: str
    at: float
    timeline: list[tuple[float, int]] = field(default_factory=list)
    # How late the generator's own samples came, at most: its loop's lag.
    lag_max: float = 0.0


class LoadGenerator:
    def __init__(
        self,
        url: str,
        count: int,
        connect_timeout: float,
        *,
        follow: bool = False,
        rate: float | None = None,
        lean: bool = False,
    ):
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.clients = [Client(index) for index in range(count)]
        self.connect_timeout = connect_timeout
        self.follow = follow
        self.rate = rate
        self.lean = LeanTally() if lean else None
        self.running = True
        self.transports: dict[int, asyncio.Transport] = {}
        self.tasks: set[asyncio.Future[None]] = set()
        self.storms: list[Storm] = []

    def request(self, client: Client) -> bytes:
        resume = f"Last-Event-ID: {client.last_event_id}\r\n" if client.last_event_id else ""
        return (
            f"GET {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            "Accept: text/event-stream\r\nCache-Control: no-cache\r\n"
            f"{resume}User-Agent: irclogger-bench\r\n\r\n"
        ).encode()

    def source(self, client: Client) -> tuple[str, int] | None:
        """The client's own loopback address, as readers come from many addresses.

        From one address, 25,000 reconnects reuse ports whose previous
        connection the server still holds in TIME_WAIT: some of those SYNs
        go unanswered and wait 1, 3, 7, 15 s to be sent again, an artifact
        of the load generator that real readers do not meet.
        """
        if self.host != "127.0.0.1":
            return None
        return (f"127.0.{1 + client.index // SOURCES}.{1 + client.index % SOURCES}", 0)

    async def connect(self, client: Client) -> None:
        loop = asyncio.get_running_loop()
        seen: asyncio.Future[bool] = loop.create_future()
        started = time.monotonic()
        client.attempts += 1
        try:
            transport, _ = await asyncio.wait_for(
                loop.create_connection(
                    lambda: SseProtocol(client, self.request(client), seen, self.lost, self.lean),
                    self.host,
                    self.port,
                    local_addr=self.source(client),
                ),
                self.connect_timeout,
            )
        except (OSError, TimeoutError) as exc:
            client.failed = type(exc).__name__
            client.last_failure = f"{client.failed} after {time.monotonic() - started:.1f} s"
            self._network_error(client)
            return
        self.transports[client.index] = transport
        try:
            ok = await asyncio.wait_for(asyncio.shield(seen), self.connect_timeout)
        except TimeoutError:
            ok = False
            client.failed = client.failed or "no response headers"
            transport.abort()
        if ok:
            client.failed = ""
            if client.connect_seconds is None:
                client.connect_seconds = time.monotonic() - started
            if client.dropped_at is not None and client.back_at is None:
                # When its headers came (``SseProtocol._accept``): in a storm
                # this task resumes seconds later, the generator's lag, not the server's.
                client.back_at = client.streaming_since
        elif not client.gave_up:
            client.failed = client.failed or "closed before the response headers"
            client.last_failure = f"{client.failed} after {time.monotonic() - started:.1f} s"
            self._network_error(client)

    def lost(self, client: Client) -> None:
        """Reconnect like EventSource when the server ends a stream mid-run."""
        self._dropped(client)
        if not self.running:
            return
        if self.follow:
            self._later(client, client.retry)
        elif client.reconnects < MAX_RECONNECTS:
            self._later(client, min(client.retry, MAX_RECONNECT_DELAY))

    def _network_error(self, client: Client) -> None:
        """EventSource retries a refused or reset connection after `retry:` too."""
        if self.follow and self.running:
            self._dropped(client)
            self._later(client, client.retry)

    def _dropped(self, client: Client) -> None:
        """The client's stream dropped now: its time, and its storm's if it is the first."""
        client.lost_at = time.time()
        if self.storms and client.dropped_at is None:
            client.dropped_at = client.lost_at

    def _later(self, client: Client, delay: float) -> None:
        client.reconnects += 1
        asyncio.get_running_loop().call_later(delay, self._reconnect, client)

    def _reconnect(self, client: Client) -> None:
        if self.running:
            task = asyncio.ensure_future(self.connect(client))
            self.tasks.add(task)  # a reference, so the task is not collected mid-way
            task.add_done_callback(self.tasks.discard)

    async def ramp(self) -> None:
        if self.rate:
            await self._ramp_at_rate(self.rate)
            return
        for start in range(0, len(self.clients), RAMP_BATCH):
            batch = self.clients[start : start + RAMP_BATCH]
            await asyncio.gather(*(self.connect(client) for client in batch))

    async def _ramp_at_rate(self, rate: float) -> None:
        """A connect storm: a new connection every 1/rate s, however many are pending."""
        started = time.monotonic()
        tasks = []
        for index, client in enumerate(self.clients):
            delay = started + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(self.connect(client)))
        await asyncio.gather(*tasks)

    def fault(self, name: str, at: float | None = None) -> None:
        """A fault was injected ``at`` (now if not given): time each client's drop and return.

        The command comes on stdin while the fault strikes, and a busy
        generator reads it late: a stream that dropped since ``at`` is one of
        this fault's, and may even be back already.
        """
        at = time.time() if at is None else at
        for client in self.clients:
            struck = client.lost_at >= at
            client.dropped_at = client.lost_at if struck else None
            back = struck and client.connected and client.streaming_since >= client.lost_at
            client.back_at = client.streaming_since if back else None
            client.attempts, client.last_failure = 0, ""
        self.storms.append(Storm(name, at))

    async def sample_open(self) -> None:
        """The open streams every TIMELINE_SECONDS, into the current storm's timeline."""
        due = time.monotonic()
        while self.running:
            now = time.monotonic()
            if self.storms:
                storm = self.storms[-1]
                storm.lag_max = max(storm.lag_max, now - due)
                storm.timeline.append((round(time.time() - storm.at, 2), self.open_streams()))
            due = now + TIMELINE_SECONDS
            await asyncio.sleep(TIMELINE_SECONDS)

    def storm_summary(self) -> dict[str, Any]:
        """The last fault's figures: drops, and when every client streamed again."""
        storm = self.storms[-1]
        dropped = [c for c in self.clients if c.dropped_at is not None]
        back = [c.back_at for c in dropped if c.back_at is not None]
        first_drop = min((c.dropped_at or 0.0 for c in dropped), default=None)
        downtimes = sorted(
            (c.back_at or 0.0) - (c.dropped_at or 0.0) for c in dropped if c.back_at is not None
        )
        return {
            "fault": storm.name,
            "dropped": len(dropped),
            "not_back": len(dropped) - len(back),
            "first_drop_after_fault": None if first_drop is None else first_drop - storm.at,
            # Seconds from the first drop until the last client streamed again.
            "all_back_after_drop": (
                max(back) - first_drop
                if back and first_drop and len(back) == len(dropped)
                else None
            ),
            "downtime_p50": percentile(downtimes, 0.5),
            "downtime_p99": percentile(downtimes, 0.99),
            "timeline": _thin(storm.timeline),
            # Over a second: the figures above include the generator's own lag.
            "generator_lag_max": round(storm.lag_max, 2),
            # Why the last ones were late: their attempts and the last failure.
            "slowest": [
                {
                    "downtime": round((c.back_at or time.time()) - (c.dropped_at or 0.0), 2),
                    "attempts": c.attempts,
                    "last_failure": c.last_failure,
                    "retry": c.retry,
                }
                for c in sorted(
                    dropped,
                    key=lambda c: (c.back_at or time.time()) - (c.dropped_at or 0.0),
                )[-5:]
            ],
        }

    def opened_since_fault(self) -> int:
        since = self.storms[-1].at if self.storms else 0.0
        return sum(c.connected and c.streaming_since >= since for c in self.clients)

    def open_streams(self) -> int:
        # Counted, not kept in a counter: a stream that ends while its connect
        # is still being handled would make a counter drift.
        return sum(client.connected for client in self.clients)

    def status(self) -> dict[str, Any]:
        heard = [client.highest for client in self.clients]
        return {
            "open": self.open_streams(),
            "min_highest": min(heard, default=-1),
            "max_highest": max(heard, default=-1),
            "reconnects": sum(client.reconnects for client in self.clients),
            "gave_up": sum(client.gave_up for client in self.clients),
            # Streams opened since the last fault: after a reload, on a new worker.
            "opened_since_fault": self.opened_since_fault(),
        }

    def close(self) -> None:
        self.running = False
        for transport in self.transports.values():
            transport.abort()


def _thin(timeline: list[tuple[float, int]], keep: int = 120) -> list[tuple[float, int]]:
    """At most ``keep`` points of a timeline, its changes kept first."""
    changes = [p for i, p in enumerate(timeline) if i == 0 or p[1] != timeline[i - 1][1]]
    step = max(1, len(changes) // keep)
    return changes[::step]


def percentile(values: list[float], fraction: float) -> float | None:
    """The value at ``fraction`` of the sorted ``values`` (nearest rank), None if empty."""
    if not values:
        return None
    index = min(len(values) - 1, round(fraction * (len(values) - 1)))
    return values[index]


def summarize(gen: LoadGenerator, published: int, cpu: float, wall: float) -> dict[str, Any]:
    latencies: list[float] = []
    last_receipt: dict[int, float] = {}
    first_publish: dict[int, float] = {}
    receivers: dict[int, int] = {}
    missed = duplicated = out_of_order = 0
    clients_missing = 0
    for client in gen.clients:
        latencies.extend(client.latencies)
        unique = set(client.seqs)
        duplicated += len(client.seqs) - len(unique)
        lost = sum(1 for seq in range(published) if seq not in unique)
        missed += lost
        clients_missing += lost > 0
        highest = -1
        for seq, latency, receipt in zip(
            client.seqs, client.latencies, client.receipts, strict=True
        ):
            out_of_order += seq < highest
            highest = max(highest, seq)
            if receipt > last_receipt.get(seq, 0.0):
                last_receipt[seq] = receipt
            first_publish[seq] = receipt - latency
        for seq in unique:
            receivers[seq] = receivers.get(seq, 0) + 1
    latencies.sort()
    count = len(gen.clients)
    fanout = sorted(
        last_receipt[seq] - first_publish[seq]
        for seq in last_receipt
        if receivers.get(seq) == count
    )
    failures: dict[str, int] = {}
    for client in gen.clients:
        if client.failed:
            failures[client.failed] = failures.get(client.failed, 0) + 1
    return {
        "clients": count,
        "published": published,
        "deliveries": len(latencies),
        "expected_deliveries": count * published,
        "latency": {
            "p50": percentile(latencies, 0.50),
            "p90": percentile(latencies, 0.90),
            "p99": percentile(latencies, 0.99),
            "max": latencies[-1] if latencies else None,
        },
        "fanout_complete_lines": len(fanout),
        "fanout": {
            "p50": percentile(fanout, 0.50),
            "p99": percentile(fanout, 0.99),
            "max": fanout[-1] if fanout else None,
        },
        "missed": missed,
        "clients_missing_lines": clients_missing,
        "duplicated": duplicated,
        "out_of_order": out_of_order,
        "connect_failures": sum(failures.values()),
        "failure_reasons": failures,
        "reconnects": sum(client.reconnects for client in gen.clients),
        "other_events": sum(client.other_events for client in gen.clients),
        "loadgen_cpu": cpu / wall if wall > 0 else None,
    }


def tally(gen: LoadGenerator, expected: list[int]) -> dict[str, Any]:
    """Every client against the lines that exist: lost, repeated, out of order.

    ``expected`` is every seq the database holds, in commit order. A client
    lost a seq it never received; it repeated one it received more than
    once; out of order counts lines that arrived after a later one.
    """
    wanted = set(expected)
    ordered = sorted(expected)
    last = ordered[-1] if ordered else -1
    lost_by_seq: Counter[int] = Counter()
    clients_lost = clients_repeated = reloaded = 0
    for client in gen.clients:
        missing = {seq for seq in client.gaps if seq in wanted}
        missing.update(ordered[bisect.bisect_right(ordered, client.highest) :])
        reloaded += sum(1 for seq in client.reloaded if seq in wanted)
        lost_by_seq.update(missing)
        clients_lost += bool(missing)
        clients_repeated += client.repeated > 0
    repeats = gen.lean.repeats if gen.lean else Counter()
    latency: dict[str, float | None] = {}
    if gen.lean:
        latency = {f"p{int(f * 100)}": gen.lean.percentile(f) for f in (0.5, 0.9, 0.99)}
        latency["max"] = gen.lean.percentile(1.0)
    connects = sorted(c.connect_seconds for c in gen.clients if c.connect_seconds is not None)
    failures = Counter(c.failed for c in gen.clients if c.failed)
    return {
        "clients": len(gen.clients),
        "expected_lines": len(expected),
        "last_seq": last,
        "deliveries": sum(client.received for client in gen.clients),
        "lost": sum(lost_by_seq.values()),
        "clients_with_lost": clients_lost,
        "repeated": sum(client.repeated for client in gen.clients),
        "clients_with_repeated": clients_repeated,
        "out_of_order": sum(client.out_of_order for client in gen.clients),
        # Told to reload the page instead of a replay: not lost, but not streamed either.
        "reloads": sum(client.reloads for client in gen.clients),
        "clients_reloaded": sum(client.reloads > 0 for client in gen.clients),
        "reloaded_lines": reloaded,
        # seq -> clients: which lines went missing or twice, for the report.
        "lost_seqs": dict(lost_by_seq.most_common(50)),
        "repeated_seqs": dict(repeats.most_common(50)),
        "latency": latency,
        "connect": {
            "p50": percentile(connects, 0.5),
            "p99": percentile(connects, 0.99),
            "max": connects[-1] if connects else None,
        },
        "reconnects": sum(client.reconnects for client in gen.clients),
        "gave_up": sum(client.gave_up for client in gen.clients),
        "failure_reasons": dict(failures),
        "storms": [],
    }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _usage() -> tuple[float, float, float]:
    return _cpu_seconds(), time.monotonic(), _run_queue_wait()


def _since(start: tuple[float, float, float]) -> tuple[float, float, float]:
    """CPU seconds, wall seconds and run-queue wait since ``start``."""
    now = _usage()
    return now[0] - start[0], now[1] - start[1], now[2] - start[2]


def _run_queue_wait() -> float:
    """Seconds this process was runnable but waiting for its core (Linux schedstat)."""
    try:
        return int(Path("/proc/self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def _emit(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


async def main(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[str] = asyncio.Queue()
    reader = asyncio.StreamReader(limit=COMMAND_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def read_commands() -> None:
        while line := await reader.readline():
            await commands.put(line.decode().strip())
        await commands.put("stop 0")

    reading = asyncio.ensure_future(read_commands())
    gen = LoadGenerator(
        args.url,
        args.clients,
        args.connect_timeout,
        follow=args.follow,
        rate=args.rate,
        lean=args.follow,
    )
    started = time.monotonic()
    await gen.ramp()
    connected = sum(client.connected for client in gen.clients)
    connects = sorted(c.connect_seconds for c in gen.clients if c.connect_seconds is not None)
    failures = Counter(c.failed for c in gen.clients if c.failed and not c.connected)
    _emit(
        {
            "ready": connected,
            "failed": args.clients - connected,
            "ramp_seconds": time.monotonic() - started,
            "connect_p50": percentile(connects, 0.5),
            "connect_p99": percentile(connects, 0.99),
            "connect_max": connects[-1] if connects else None,
            "failure_reasons": dict(failures),
        }
    )
    sampler = asyncio.ensure_future(gen.sample_open())
    storms: list[dict[str, Any]] = []
    start = (0.0, 0.0, 0.0)
    window: tuple[float, float, float] | None = None
    while True:
        command = await commands.get()
        if command == "go":  # the publisher starts
            start = _usage()
        elif command == "end":  # the publisher wrote its last line
            window = _since(start)
        elif command.startswith("fault "):
            if gen.storms:
                storms.append(gen.storm_summary())
            name, *at = command.split()[1:]
            gen.fault(name, float(at[0]) if at else None)
        elif command == "status":
            _emit({"status": gen.status()})
        elif command.startswith("expect "):
            expected = [int(seq) for seq in json.loads(command.split(" ", 1)[1])]
            if gen.storms:
                storms.append(gen.storm_summary())
            gen.close()
            sampler.cancel()
            result = tally(gen, expected)
            result["storms"] = storms
            _emit({"result": result})
            reading.cancel()
            return
        elif command.startswith("stop"):
            published = int(command.split()[1])
            cpu, wall, waited = window or _since(start)
            still_open = sum(client.connected for client in gen.clients)
            gen.close()
            result = summarize(gen, published, cpu, wall)
            result["open_at_stop"] = still_open
            result["loadgen_cpu_wait"] = waited / wall if wall > 0 else None
            sampler.cancel()
            _emit({"result": result})
            reading.cancel()
            return


def _prepare_process(cpu: int | None) -> None:
    # 10,000 sockets need more than the usual 1,024 descriptors.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--connect-timeout", type=float, default=DEFAULT_CONNECT_TIMEOUT)
    parser.add_argument("--cpu", type=int, default=None, help="pin to this core")
    parser.add_argument("--rate", type=float, default=None, help="open this many per second")
    parser.add_argument(
        "--follow", action="store_true", help="reconnect as EventSource does, for good"
    )
    args = parser.parse_args()
    _prepare_process(args.cpu)
    try:
        import uvloop

        uvloop.run(main(args))
    except ImportError:
        asyncio.run(main(args))


if __name__ == "__main__":
    cli()
