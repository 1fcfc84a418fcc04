"""Reading files into lines of a channel: keys, staging, COPY, progress, summary.

Every parsed line gets an import key: a SHA-256 of its timestamp, kind,
nick, target and text, plus its occurrence index among identical lines of
the same file and timestamp, so a line said twice in a minute is kept twice
while a file imported again (or an overlapping log of the same channel)
adds nothing. Lines are COPYed into a temporary staging table and moved
with ``INSERT … ON CONFLICT DO NOTHING`` on the (channel, import_key)
unique constraint: duplicates are skipped and counted at COPY speed.

Imported lines are history: ``imported=True``, and nothing here calls
``pg_notify``, so no stream is told about them (``Line.objects.after``
skips them on replay too).
"""

import contextlib
import datetime as dt
import hashlib
import io
import queue
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from django.db import connection, transaction
from tqdm import tqdm

from irclogger.bulk import COLUMNS
from irclogger.importers.base import UTC, Clock, Entry, Format, Parser, Refused, Unparsable
from irclogger.importers.detect import FORMATS, detect, head, lines, open_log
from irclogger.models import Channel

STAGE = "irclogger_import_stage"

# Per connection, emptied after each batch. seq keeps the file's order.
_CREATE_STAGE = (
    f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} ("
    " seq bigint GENERATED ALWAYS AS IDENTITY, channel_id bigint,"
    " timestamp timestamptz, kind varchar(8), nick varchar(64), target varchar(64),"
    " text text, imported boolean, import_key varchar(64))"
)
_COPY_STAGE = f"COPY {STAGE} ({', '.join(COLUMNS)}) FROM STDIN"
# Lines already imported are filtered out by the anti-join before anything
# is computed for them (the search vector is the costly part of an insert);
# ON CONFLICT still covers a concurrent import of the same lines. In file
# order, so lines of the same second keep their order by id.
_MOVE_NEW = (
    f"INSERT INTO irclogger_line ({', '.join(COLUMNS)})"  # noqa: S608  (constants, not input)
    f" SELECT {', '.join(COLUMNS)} FROM {STAGE} AS new WHERE NOT EXISTS ("
    "  SELECT 1 FROM irclogger_line AS old WHERE old.channel_id = new.channel_id"
    "  AND old.import_key = new.import_key AND old.import_key IS NOT NULL)"
    " ORDER BY seq"
    " ON CONFLICT (channel_id, import_key) WHERE import_key IS NOT NULL DO NOTHING"
)

# COPY's text format gives these characters a meaning (as in irclogger.bulk).
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})

# Lines per staging round trip: large enough that COPY and the INSERT's
# per-statement cost vanish, small enough that a batch (about 200 bytes a
# line) stays in PostgreSQL's default 8 MB of temp_buffers.
BATCH_SIZE = 20_000

# Progress bar updates every this many lines: per-line updates would cost
# more than parsing.
PROGRESS_STEP = 5_000

# The longest nick or target the Line columns hold.
MAX_NICK = 64

Report = Callable[[str], None]
T = TypeVar("T")


@dataclass
class ImportSummary:
    imported: int = 0
    duplicates: int = 0
    unparsable: int = 0
    files: int = 0
    # (file, why) for each file that was not read at all.
    refused: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def lines(self) -> int:
        """Lines read into the staging table: imported plus duplicates."""
        return self.imported + self.duplicates


def import_files(
    paths: Iterable[str | Path],
    channel: Channel,
    fmt: str | None = None,
    tz: dt.tzinfo = UTC,
    *,
    report: Report | None = None,
    progress: bool = False,
) -> ImportSummary:
    """Import log files into ``channel``; see the package docstring."""
    report = report or _to_stderr
    started = dt.datetime.now(UTC)
    summary = ImportSummary()
    readable = _choose_formats([Path(path) for path in paths], fmt, summary)
    total = _count_lines(path for path, _ in readable) if progress else None
    with tqdm(
        total=total, unit=" lines", unit_scale=True, disable=not progress, file=sys.stderr
    ) as bar:
        for path, format in readable:
            _import_file(path, format, channel, tz, summary, report, bar)
    summary.seconds = (dt.datetime.now(UTC) - started).total_seconds()
    return summary


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


def _choose_formats(
    paths: list[Path], fmt: str | None, summary: ImportSummary
) -> list[tuple[Path, Format]]:
    chosen = []
    for path in paths:
        try:
            first_lines = head(path)
        except OSError as exc:
            summary.refused.append((str(path), f"cannot be read: {exc}"))
            continue
        format = FORMATS[fmt] if fmt else detect(path, first_lines)
        if format is None and first_lines:
            summary.refused.append(
                (str(path), f"not in a known log format (tried {', '.join(FORMATS)})")
            )
            continue
        if format is not None:
            chosen.append((path, format))
        summary.files += 1
    return chosen


def _count_lines(paths: Iterable[Path]) -> int:
    # For the progress bar's ETA: counting newlines is a small fraction of importing.
    total = 0
    for path in paths:
        with open_log(path) as stream:
            while chunk := stream.read(1 << 20):
                total += chunk.count(b"\n")
    return total


def _import_file(
    path: Path,
    format: Format,
    channel: Channel,
    tz: dt.tzinfo,
    summary: ImportSummary,
    report: Report,
    bar: "tqdm[None]",
) -> None:
    try:
        parser = format.parser(path, Clock(tz))
    except Refused as exc:
        summary.refused.append((str(path), str(exc)))
        summary.files -= 1
        return
    with open_log(path) as stream:
        entries = _entries(path, parser, lines(stream), summary, report, bar)
        for batch, count in _in_background(_batches(_copy_text(entries, channel.pk))):
            _store(batch, count, summary)


def _entries(
    path: Path,
    parser: Parser,
    decoded: Iterable[str],
    summary: ImportSummary,
    report: Report,
    bar: "tqdm[None]",
) -> Iterator[Entry]:
    feed = parser.feed
    number = 0
    for number, line in enumerate(decoded, start=1):
        if number % PROGRESS_STEP == 0:
            bar.update(PROGRESS_STEP)
        try:
            entry = feed(line)
        except Unparsable as exc:
            summary.unparsable += 1
            report(f"{path}:{number}: unparsable line ({exc}): {line[:120]!r}")
            continue
        if entry is None:
            continue
        if len(entry.nick) > MAX_NICK or len(entry.target) > MAX_NICK:
            summary.unparsable += 1
            report(f"{path}:{number}: unparsable line (nick too long): {line[:120]!r}")
            continue
        yield entry
    bar.update(number % PROGRESS_STEP)


def _copy_text(entries: Iterable[Entry], channel_id: int) -> Iterator[str]:
    """Each entry as a line of COPY text for the staging table, with its import key."""
    seen: dict[str, int] = {}
    latest_day = ""
    last_timestamp, iso = None, ""
    for entry in entries:
        if entry.timestamp != last_timestamp:
            last_timestamp, iso = entry.timestamp, entry.timestamp.isoformat()
            if iso[:10] > latest_day:
                # Identical lines share a timestamp, so the counts of past
                # days are not needed again: memory stays bounded on huge files.
                seen.clear()
                latest_day = iso[:10]
        nick, target, text = _escape(entry.nick), _escape(entry.target), _escape(entry.text)
        content = f"{iso}\t{entry.kind}\t{nick}\t{target}\t{text}"
        occurrence = seen.get(content, 0)
        seen[content] = occurrence + 1
        digest = hashlib.sha256(f"{content}\t{occurrence}".encode()).hexdigest()
        # The time first, so keys of a file are inserted into the unique
        # index in order (a random key would touch a random page per line).
        yield f"{channel_id}\t{content}\tt\t{iso[:19]}{digest[:45]}\n"


def _escape(value: str) -> str:
    # COPY's text format gives \, TAB, LF and CR a meaning; they are rare in
    # IRC text, so look before paying for a translate. NUL cannot be stored.
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value or "\x00" in value:
        return value.replace("\x00", "").translate(_COPY_ESCAPES)
    return value


def _batches(copy_lines: Iterable[str]) -> Iterator[tuple[str, int]]:
    batch: list[str] = []
    for line in copy_lines:
        batch.append(line)
        if len(batch) == BATCH_SIZE:
            yield "".join(batch), len(batch)
            batch = []
    if batch:
        yield "".join(batch), len(batch)


def _in_background(items: Iterator[T]) -> Iterator[T]:
    """Run ``items`` in a thread, a few ahead: parsing overlaps the database's work.

    psycopg2 releases the GIL while PostgreSQL works, so the thread parses
    the next batch meanwhile: two cores instead of one.
    """
    ahead: queue.Queue[tuple[T | None, BaseException | None, bool]] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                ahead.put((item, None, False))
                if stop.is_set():
                    return
        except BaseException as exc:  # handed to the consumer, re-raised there
            ahead.put((None, exc, True))
            return
        ahead.put((None, None, True))

    thread = threading.Thread(target=produce, name="importlogs-parser", daemon=True)
    thread.start()
    try:
        while True:
            item, error, done = ahead.get()
            if error is not None:
                raise error
            if done:
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while thread.is_alive():
            # Unblocks a producer waiting to put; it stops after at most one
            # more item, so a short poll ends this quickly.
            with contextlib.suppress(queue.Empty):
                ahead.get(timeout=0.1)
        thread.join()


def _store(batch: str, count: int, summary: ImportSummary) -> None:
    """COPY one batch into the staging table and move the new lines into place."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_CREATE_STAGE)
        cursor.cursor.copy_expert(_COPY_STAGE, io.StringIO(batch))
        # Probe the unique index for each staged line: the planner, which
        # cannot know the lines are new, would otherwise hash the whole
        # table once per batch. Sorting a batch needs more than the default 4 MB.
        cursor.execute("SET LOCAL enable_hashjoin = off")
        cursor.execute("SET LOCAL enable_mergejoin = off")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(_MOVE_NEW)
        inserted = cursor.rowcount
        cursor.execute(f"TRUNCATE {STAGE}")
    summary.imported += inserted
    summary.duplicates += count - inserted
