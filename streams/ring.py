"""A channel's ring: the last frames of its live lines, shared by every stream.

The hub (streams.hub) renders each line's SSE frame once and appends the
bytes here; a stream client is only a position in its channel's ring, and
each write sends everything after that position (docs/DESIGN.md, "The
fan-out"). A client that falls off the ring's start raises ``Overflow``: it
is disconnected and resumes from the database.
"""

from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    # Only for annotations: the hub owns its clients and imports this module.
    from gevent.event import Event

    from streams.hub import Client

# Frames kept per channel: how far a client may fall behind before it is
# dropped (it reconnects and replays from PostgreSQL). The same as the
# replay limit, so a dropped client can always resume without a reload.
RING_SIZE = settings.STREAM_RING_SIZE

# How often (in appended frames) a ring looks for clients stuck writing to
# a socket that stopped reading, and how far behind they may be.
OVERFLOW_SCAN_EVERY = 64

# At most this many frames per write: what one client holds while its
# write is under way stays bounded however far behind it is.
WRITE_FRAMES = 64

# A redaction frame carries no line id of its own (``Ring.ids``): every
# client positioned before it gets it, whatever its last id.
EVENT_ID = -1


class Overflow(Exception):
    """The client fell off its ring's start."""


class Ring:
    """The last ``size`` frames of one channel, by sequence number.

    ``floor`` is what the ring vouches for: it holds every live line of its
    channel with an id above ``floor`` (up to ``last_id``), because every one
    of them was heard after the ring existed. Lines committed before the ring
    existed are not in it, so ``floor`` is None until the hub or a replay
    learns a real position; it rises as old frames are overwritten. A reader
    resuming at or above ``floor`` is served from the ring's frames alone.
    """

    __slots__ = (
        "channel_id",
        "chunks",
        "clients",
        "end",
        "floor",
        "frames",
        "ids",
        "last_id",
        "scanned",
        "shared",
        "size",
        "warming",
    )

    def __init__(self, channel_id: int, size: int, floor: int | None = None) -> None:
        self.channel_id = channel_id
        self.size = size
        self.frames: list[bytes] = [b""] * size
        # The same frames framed as HTTP/1.1 chunks, once for every client.
        self.chunks: list[bytes] = [b""] * size
        self.ids: list[int] = [0] * size
        self.end = 0  # sequence number of the next frame
        self.last_id = 0
        self.floor = floor
        # The last write taken, by (position, end, chunked): the clients of a
        # wake are mostly at one position and send this one buffer.
        self.shared: dict[tuple[int, int, bool], tuple[bytes, int]] = {}
        self.scanned = 0
        self.clients: set[Client] = set()
        # Set while one query loads the channel's recent lines (Hub.warm);
        # None before, and done (set) after: a storm's connects share it.
        self.warming: Event | None = None

    @property
    def start(self) -> int:
        return max(0, self.end - self.size)

    def append(self, line_id: int, frame: bytes) -> bool:
        # Lines of a channel commit in id order (publish.write_lines makes
        # writers to one channel take turns), so an id at or below the last
        # is a repeated notification or a line caught up twice.
        if line_id <= self.last_id:
            return False
        self._put(line_id, frame)
        self.last_id = line_id
        return True

    def append_event(self, frame: bytes) -> None:
        """A frame that is no line (a redaction): sent to everyone positioned before it."""
        self._put(EVENT_ID, frame)

    def _put(self, line_id: int, frame: bytes) -> None:
        slot = self.end % self.size
        evicted = self.ids[slot]
        if self.floor is not None and evicted > self.floor:
            self.floor = evicted  # that line is no longer here to vouch for
        self.frames[slot] = frame
        self.chunks[slot] = as_chunk(frame)
        self.ids[slot] = line_id
        self.end += 1

    def replace(self, line_id: int, frame: bytes) -> None:
        """Put a line's new frame (after a redaction) where its old one is, if still here."""
        for seq in range(self.start, self.end):
            slot = seq % self.size
            if self.ids[slot] == line_id:
                self.frames[slot] = frame
                self.chunks[slot] = as_chunk(frame)
                self.shared.clear()
                return

    def prefill(self, lines: list[tuple[int, bytes]], complete: bool) -> None:
        """Put the channel's recent lines, queried once, before what the ring heard.

        ``lines`` are the newest live lines of the channel in id order, as a
        query saw them after the ring existed: every later line is heard, so
        lines and heard frames together are the channel's history from the
        first of them (from its start when ``complete``). Lines the ring
        already heard are kept as heard. Clients are positioned again.
        """
        slots = [seq % self.size for seq in range(self.start, self.end)]
        heard = [(self.ids[slot], self.frames[slot]) for slot in slots]
        first_heard = next((line_id for line_id, _ in heard if line_id != EVENT_ID), None)
        older = [item for item in lines if first_heard is None or item[0] < first_heard]
        dropped = max(0, len(older) + len(heard) - self.size)
        older = older[dropped:]
        if not older:
            return
        vouched, self.floor = self.floor, None
        self.ids = [0] * self.size
        self.end = self.last_id = 0
        self.shared.clear()
        for line_id, frame in older + heard:
            self._put(line_id, frame)
            self.last_id = max(self.last_id, line_id)
        self.scanned = self.end
        floor = 0 if complete and not dropped else older[0][0]
        self.floor = floor if vouched is None else min(vouched, floor)
        for client in self.clients:
            self.resume(client)

    def resume_point(self) -> int:
        """An id of this channel after which lies every line the ring has not heard.

        A channel's lines commit in id order, so the last one heard, or the
        floor a query showed, bounds whatever it committed unheard. A ring
        that knows neither resumes from its least advanced client.
        """
        if self.floor is not None or self.last_id:
            return max(self.last_id, self.floor or 0)
        return min((client.last_id for client in self.clients), default=0)

    def covers(self, last_id: int) -> bool:
        """Whether every line after ``last_id`` is (or will be) in this ring."""
        return self.floor is not None and last_id >= self.floor

    def resume(self, client: "Client") -> None:
        """Position a client that has ``client.last_id`` at the first frame it lacks.

        From the end back: a reconnecting reader lacks a few frames, and a
        scan from the start cost a storm's every reconnect the whole ring.
        Line ids rise along the ring (``append``), so the frames a client
        lacks are a run at its end; redaction events inside that run count
        for nothing either way, and those just before its first line are
        skipped, as a scan from the start would.
        """
        ids, size, last_id = self.ids, self.size, client.last_id
        seq, start = self.end - 1, self.start
        while seq >= start and (ids[seq % size] > last_id or ids[seq % size] == EVENT_ID):
            seq -= 1
        seq += 1
        while seq < self.end and ids[seq % size] == EVENT_ID:
            seq += 1
        client.pos = seq

    def take(self, client: "Client") -> tuple[bytes, int]:
        """The client's next write, in its framing, and how many frames it holds.

        A client whose next frame is new to it (every live client) gets the
        buffer joined for the first client at the same position: 600 clients
        behind by 600 lines hold one buffer, not 600 copies.
        """
        if client.pos < self.end - self.size:  # self.start, inlined: hot path
            raise Overflow
        if client.pos >= self.end:
            return b"", 0
        batch = self.batch(client.pos, client.chunked)
        if batch is None or batch[2] <= client.last_id:
            return self._take_filtered(client)  # an event first, or frames it has
        return self.consume(client, batch)

    @staticmethod
    def consume(client: "Client", batch: tuple[bytes, int, int, int]) -> tuple[bytes, int]:
        """Move ``client`` past a batch (``batch``) it lacks whole: its write, its frames."""
        data, stop, _first, last_id = batch
        count = stop - client.pos
        client.pos = stop
        client.last_id = max(client.last_id, last_id)
        return data, count

    def batch(self, pos: int, chunked: bool) -> tuple[bytes, int, int, int] | None:
        """The one write for every client at ``pos`` that lacks all it holds.

        Its bytes, where it stops, its first and its last line id: a client
        whose last id is below the first takes it whole (``consume``), as
        ``take`` does. None where each client's own ``take`` must decide: an
        event first, nothing new, or ``pos`` off the ring.
        """
        if pos < self.end - self.size or pos >= self.end:
            return None
        first = self.ids[pos % self.size]
        if first == EVENT_ID:
            return None
        stop = min(self.end, pos + WRITE_FRAMES)
        data, last_id = self._shared(pos, stop, chunked)
        return data, stop, first, last_id

    def _shared(self, pos: int, stop: int, chunked: bool) -> tuple[bytes, int]:
        """The frames from ``pos`` to ``stop`` joined once, and their last line id."""
        key = (pos, stop, chunked)
        shared = self.shared.get(key)
        if shared is None:
            source = self.chunks if chunked else self.frames
            slots = [seq % self.size for seq in range(pos, stop)]
            data = b"".join([source[slot] for slot in slots])
            last_id = max(self.ids[slot] for slot in slots)
            if len(self.shared) > 4:
                self.shared.clear()
            shared = self.shared[key] = (data, last_id)
        return shared

    def _take_filtered(self, client: "Client") -> tuple[bytes, int]:
        frames = self.read(client)
        if client.chunked:
            return b"".join(as_chunk(frame) for frame in frames), len(frames)
        return b"".join(frames), len(frames)

    def read(self, client: "Client") -> list[bytes]:
        """The frames after the client's position that it has not sent yet (a bounded number)."""
        if client.pos < self.end - self.size:  # self.start, inlined: hot path
            raise Overflow
        out: list[bytes] = []
        seq, end, last_id = client.pos, self.end, client.last_id
        while seq < end and len(out) < WRITE_FRAMES:
            slot = seq % self.size
            line_id = self.ids[slot]
            if line_id > last_id:
                out.append(self.frames[slot])
                last_id = line_id
            elif line_id == EVENT_ID:
                out.append(self.frames[slot])
            seq += 1
        client.pos, client.last_id = seq, last_id
        return out

    def drop_all(self) -> None:
        """Put every client behind the start: each one reconnects and replays."""
        self.end += self.size + 1
        self.scanned = self.end
        self.floor = None  # lines were missed: nothing to vouch for any more

    def stuck_clients(self) -> list["Client"]:
        """Clients busy writing (not waiting) and already off the ring."""
        self.scanned = self.end
        start = self.start
        return [c for c in self.clients if c.waiter is None and c.pos < start]


def as_chunk(frame: bytes) -> bytes:
    """A frame as one HTTP/1.1 chunk, as gunicorn would frame it."""
    return b"%X\r\n%b\r\n" % (len(frame), frame)
