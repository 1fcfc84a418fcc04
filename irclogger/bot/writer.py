"""The bot's database writer: its own greenlet, fed by a bounded buffer.

The IRC side only ever appends to the buffer, which never blocks, so a slow
or unreachable database cannot delay reading from the server or answering
its PINGs. The writer takes batches off the front and writes each with
``publish.write_lines`` (insert and NOTIFY in one transaction). If the
buffer fills up, further lines are counted per channel and logged, never
dropped silently: once the database keeps up again, each channel gets a
``system`` line saying how many lines are missing.
"""

import collections
import datetime as dt
import logging
from collections.abc import Iterable

import gevent
import gevent.event
from django.conf import settings
from django.db import DataError, IntegrityError, transaction

from irclogger.bot.records import PendingLine
from irclogger.geventpool import release_connection
from irclogger.metrics import LINES_WRITTEN
from irclogger.models import NICK_MAX_LENGTH, Channel, Line, LineKind
from irclogger.publish import write_lines

log = logging.getLogger(__name__)

# Lines per transaction: large enough that a burst costs few commits, small
# enough that one INSERT stays well under a second.
BATCH_SIZE = 500
# After a failed write, wait this long before retrying, doubling up to the
# maximum: a restarting database is back within seconds, a long outage is
# not hammered.
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 30.0


class LineWriter:
    def __init__(self, capacity: int | None = None) -> None:
        # Bounded memory: lines are a few hundred bytes, so the default of
        # 100,000 is tens of MB at worst, minutes of the busiest networks.
        self.capacity = capacity or settings.BOT_BUFFER_LINES
        self.buffer: collections.deque[PendingLine] = collections.deque()
        self.wakeup = gevent.event.Event()
        self.dropped: collections.Counter[int] = collections.Counter()
        self.warned = False
        self.stopping = False

    # -- the IRC side ----------------------------------------------------

    def put(self, lines: Iterable[PendingLine]) -> None:
        """Queue lines for writing; never blocks."""
        for line in lines:
            if len(self.buffer) >= self.capacity:
                self._overflow(line)
                continue
            self.buffer.append(line)
        if len(self.buffer) >= self.capacity // 2 and not self.warned:
            self.warned = True
            log.warning(
                "The database is slow: %d lines are waiting to be written (the limit is %d)",
                len(self.buffer),
                self.capacity,
            )
        if self.buffer:
            self.wakeup.set()

    def _overflow(self, line: PendingLine) -> None:
        total = sum(self.dropped.values())
        if total % 1000 == 0:
            log.error(
                "The line buffer is full (%d lines): %d lines not recorded so far",
                self.capacity,
                total + 1,
            )
        self.dropped[line.channel_id] += 1

    # -- the database side -----------------------------------------------

    def run(self) -> None:
        """Write until stopped and empty; the greenlet's body."""
        delay = RETRY_FIRST_SECONDS
        while not (self.stopping and not self.buffer):
            if not self.buffer:
                self.wakeup.clear()
                self.wakeup.wait(timeout=1.0)
                continue
            try:
                self.write_once()
            except Exception:
                # The database is down or restarting (or a bug): keep the
                # lines, wait, try again; the buffer bounds what waits.
                log.exception("Writing lines failed; retrying in %.1f s", delay)
                gevent.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
            else:
                delay = RETRY_FIRST_SECONDS

    def write_once(self) -> int:
        """Write one batch from the front of the buffer; return its size."""
        size = min(BATCH_SIZE, len(self.buffer))
        dropped, self.dropped = self.dropped, collections.Counter()
        batch = [self.buffer[i] for i in range(size)] + _gap_lines(dropped)
        try:
            try:
                written = _write(batch)
            except IntegrityError:
                # A channel deleted in the admin while its lines were queued.
                release_connection()
                written = _write(_existing_channels_only(batch))
            except (DataError, ValueError):
                # A line the database (or psycopg2: NUL) refuses would block
                # every line behind it.
                release_connection()
                written = _write_one_by_one(batch)
        except BaseException:
            self.dropped.update(dropped)
            raise
        finally:
            release_connection()
        # Only put() ran meanwhile, and it appends: the front is this batch.
        for _ in range(size):
            self.buffer.popleft()
        if len(self.buffer) < self.capacity // 4:
            self.warned = False
        return written

    def stop(self) -> None:
        self.stopping = True
        self.wakeup.set()


def _gap_lines(dropped: collections.Counter[int]) -> list[PendingLine]:
    now = dt.datetime.now(dt.UTC)
    return [
        PendingLine(
            channel_id,
            now,
            LineKind.SYSTEM,
            text=f"{count} lines were not recorded: the database was too slow",
        )
        for channel_id, count in dropped.items()
    ]


def _write(batch: list[PendingLine]) -> int:
    lines = [
        Line(
            channel_id=item.channel_id,
            timestamp=item.timestamp,
            kind=item.kind,
            nick=item.nick[:NICK_MAX_LENGTH],
            target=item.target[:NICK_MAX_LENGTH],
            text=item.text,
            raw=item.raw,
        )
        for item in batch
    ]
    with transaction.atomic():
        write_lines(lines)
        _update_topics(batch)
    LINES_WRITTEN.inc(len(lines))
    return len(lines)


def _update_topics(batch: list[PendingLine]) -> None:
    """The channel's current topic is the last topic line written for it."""
    topics = {item.channel_id: item.text for item in batch if item.kind == LineKind.TOPIC}
    for channel_id, topic in topics.items():
        Channel.objects.filter(id=channel_id).update(topic=topic)


def _write_one_by_one(batch: list[PendingLine]) -> int:
    written = 0
    for item in batch:
        try:
            written += _write([item])
        except (DataError, ValueError):
            log.exception("The database refused a line; not recorded: %r", item)
            release_connection()
    return written


def _existing_channels_only(batch: list[PendingLine]) -> list[PendingLine]:
    existing = set(
        Channel.objects.filter(id__in={item.channel_id for item in batch}).values_list(
            "id", flat=True
        )
    )
    kept = [item for item in batch if item.channel_id in existing]
    log.warning("%d lines of deleted channels not written", len(batch) - len(kept))
    return kept
