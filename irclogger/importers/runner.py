"""Reading files into lines of a channel: formats, import keys, progress, summary.

Every parsed line gets an import key: the minute its log wrote
(``YYYY-MM-DDTHH:MM``, the local time as written, so the key does not
depend on ``--tz``), then the first 64 bits of a SHA-256 of its kind, nick,
target and text plus its occurrence index among identical lines of the same
file and minute. A line said twice in a minute is kept twice, while a file
imported again adds nothing; so does an overlapping log of the same channel
by another client, even one that writes only ``HH:MM`` (irssi) beside one
that writes seconds (WeeChat): the same lines of a minute match in order.
Re-importing with another ``--tz`` moves the lines' times in place
(store.py). The time comes first so a file's keys go into the unique index
in order. Migration 0006 gave the lines imported before the same keys.

The channel's privacy rules (irclogger.privacy) apply as to live lines; the
key is computed before them, so a nick excluded later does not make its
lines new. When a topic line is imported and the channel's newest topic
line is an imported one, it becomes the channel's topic.

Imported lines are history: ``imported=True``, and nothing here calls
``pg_notify``, so no stream is told about them (``Line.objects.after``
skips them on replay too).
"""

import contextlib
import datetime as dt
import gzip
import hashlib
import queue
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from django.conf import settings
from tqdm import tqdm

from irclogger.bulk import copy_bytes, copy_text
from irclogger.importers import store
from irclogger.importers.base import (
    TOPIC,
    Clock,
    Entry,
    Format,
    Parser,
    Refused,
    Unparsable,
    open_log,
)
from irclogger.importers.detect import FORMATS, Lines, detect, head, lines
from irclogger.models import NICK_MAX_LENGTH, Channel
from irclogger.params import UTC
from irclogger.privacy import excluded_nicks, stored_text

# What irclogger.bulk.copy_text changes: characters COPY's text format gives
# a meaning, and NUL. They are rare in IRC text: one search per line finds
# them before paying for a translate of each field.
_SPECIAL = re.compile(r"[\\\t\n\r\x00]")

# Progress bar updates every this many lines: per-line updates would cost
# more than parsing.
PROGRESS_STEP = 5_000

# Hex digits of the hash in an import key. Keys only need to differ among
# one channel's lines of one minute: 64 bits make a clash between two of
# them practically impossible, and the unique index a third smaller than
# with the whole hash.
KEY_HASH_DIGITS = 16

# "HH:MM" by hour * 60 + minute, and ":SS" by second: formatting the numbers
# of every line's time cost as much as parsing the line.
_HOURS_MINUTES = [f"{hour:02d}:{minute:02d}" for hour in range(24) for minute in range(60)]
_SECONDS = [f":{second:02d}" for second in range(60)]

Report = Callable[[str], None]
T = TypeVar("T")


@dataclass
class ImportSummary:
    imported: int = 0
    duplicates: int = 0
    # Lines already stored whose time this import corrected (another --tz).
    moved: int = 0
    unparsable: int = 0
    files: int = 0
    # (file, why) for each file not read at all, or not to its end.
    refused: list[tuple[str, str]] = field(default_factory=list)
    # (file, why) for each file read to its end that gave not one line.
    no_lines: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def lines(self) -> int:
        """Lines parsed and written: imported plus duplicates."""
        return self.imported + self.duplicates

    @property
    def failed(self) -> list[tuple[str, str]]:
        """The files to tell the user about: refused, or read with nothing in them."""
        return self.refused + self.no_lines


def import_files(
    paths: Iterable[str | Path],
    channel: Channel,
    fmt: str | None = None,
    tz: dt.tzinfo = UTC,
    *,
    report: Report | None = None,
    progress: bool = False,
) -> ImportSummary:
    """Import log files (and the files under folders) into ``channel``; see the package docstring.

    All files go through one parsing thread and one set of writer
    connections, in batches that span files: a tree of small day files
    imports as fast as one large file.
    """
    report = report or _to_stderr
    started = dt.datetime.now(UTC)
    summary = ImportSummary()
    readable = _choose_formats(list(walk(Path(path) for path in paths)), fmt, summary)
    total = _count_lines(readable, quick_only=not progress)
    with tqdm(
        total=total, unit=" lines", unit_scale=True, disable=not progress, file=sys.stderr
    ) as bar:
        rules = _Rules(channel.pk, channel.name, excluded_nicks(channel.excluded_nicks))
        rows = _rows_of_files(readable, rules, tz, summary, report, bar)
        for stored in store.write(_in_background(store.batches(rows, channel.pk, total))):
            summary.imported += stored.inserted
            summary.duplicates += stored.size - stored.inserted
            summary.moved += stored.moved
    if rules.saw_topic:
        _update_topic(channel)
    summary.seconds = (dt.datetime.now(UTC) - started).total_seconds()
    return summary


def walk(paths: Iterable[Path]) -> Iterator[Path]:
    """Each path; a folder stands for the files under it, sorted (dated names: by date)."""
    for path in paths:
        if path.is_dir():
            yield from sorted(child for child in path.rglob("*") if not child.is_dir())
        else:
            yield path


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
        summary.files += 1
        if not any(first_lines):
            summary.no_lines.append((str(path), "empty"))
            continue
        format = FORMATS[fmt] if fmt else detect(path, first_lines)
        if format is None:
            summary.files -= 1
            summary.refused.append(
                (str(path), f"not in a known log format (tried {', '.join(FORMATS)})")
            )
            continue
        chosen.append((path, format))
    return chosen


def _count_lines(readable: list[tuple[Path, Format]], *, quick_only: bool) -> int | None:
    """The lines to read: the progress bar's ETA, and the store makes its last batches small.

    Counting newlines is a small fraction of importing, unless a file is
    gzipped; ``quick_only`` gives up (None) on those, and on stores (not
    lines), where newlines say nothing.
    """
    total = 0
    try:
        for path, format in readable:
            with open_log(path) as stream:
                if quick_only and (format.parser is None or isinstance(stream, gzip.GzipFile)):
                    return None
                while chunk := stream.read(1 << 20):
                    total += chunk.count(b"\n")
    except (OSError, EOFError):  # the import reports it, file by file
        return None
    return total


@dataclass
class _Rules:
    """What every row of one import shares."""

    channel_id: int
    channel_name: str
    excluded: frozenset[str]
    nolog_prefix: str = field(default_factory=lambda: str(settings.BOT_NOLOG_PREFIX))
    saw_topic: bool = False


def _update_topic(channel: Channel) -> None:
    newest = channel.lines.filter(kind=TOPIC).order_by("-timestamp", "-id").first()
    if newest is not None and newest.imported and newest.text != channel.topic:
        channel.topic = newest.text
        channel.save(update_fields=["topic"])


def _rows_of_files(
    readable: list[tuple[Path, Format]],
    rules: _Rules,
    tz: dt.tzinfo,
    summary: ImportSummary,
    report: Report,
    bar: "tqdm[None]",
) -> Iterator[tuple[str, str, str]]:
    """The rows of every file, one file after the other."""
    for path, format in readable:
        unparsable_before, count = summary.unparsable, 0
        try:
            for row in _rows_of_file(path, format, Clock(tz), rules, summary, report, bar):
                count += 1
                yield row
        except Refused as exc:
            summary.refused.append((str(path), str(exc)))
            summary.files -= 1
            continue
        if count == 0:
            bad = summary.unparsable - unparsable_before
            why = f"not one line read as {format.name}" + (f" ({bad} unparsable)" if bad else "")
            summary.no_lines.append((str(path), why))


def _rows_of_file(
    path: Path,
    format: Format,
    clock: Clock,
    rules: _Rules,
    summary: ImportSummary,
    report: Report,
    bar: "tqdm[None]",
) -> Iterator[tuple[str, str, str]]:
    if format.read is not None:
        records = _records(path, format.read(path, clock, rules.channel_name), summary, report)
        yield from _copy_rows(records, clock, _NOT_DECODED, rules)
        return
    assert format.parser is not None  # a format is a parser or a reader
    parser = format.parser(path, clock)
    with open_log(path) as stream:
        decoded = lines(stream)
        entries = _entries(path, parser, decoded, summary, report, bar)
        yield from _copy_rows(entries, clock, decoded, rules)


class _Undecoded:
    """The entries of a store are text already: no line has bytes to keep."""

    raw: bytes | None = None


_NOT_DECODED = _Undecoded()


def _records(
    path: Path, records: Iterable[Entry | Unparsable], summary: ImportSummary, report: Report
) -> Iterator[Entry]:
    for number, record in enumerate(records, start=1):
        if isinstance(record, Unparsable):
            summary.unparsable += 1
            report(f"{path}: record {number}: unparsable ({record})")
            continue
        yield record


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
    try:
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
            if len(entry.nick) > NICK_MAX_LENGTH or len(entry.target) > NICK_MAX_LENGTH:
                summary.unparsable += 1
                report(f"{path}:{number}: unparsable line (nick too long): {line[:120]!r}")
                continue
            yield entry
    except (OSError, EOFError) as exc:
        # A truncated or corrupt gzip file: keep what was read before it.
        summary.refused.append((str(path), f"unreadable after line {number}: {exc}"))
    bar.update(number % PROGRESS_STEP)


def _copy_rows(
    entries: Iterable[Entry], clock: Clock, decoded: Lines | _Undecoded, rules: _Rules
) -> Iterator[tuple[str, str, str]]:
    """(timestamp, import key, line of COPY text) per entry to store.

    ``clock.written`` is the minute of the entry just parsed, ``decoded.raw``
    its line's bytes if they were not UTF-8: entries come one at a time,
    straight from the parser.
    """
    seen: dict[str, int] = {}
    latest_day = ""
    written, minute = (0, 0, 0, 0, 0), ""
    written_day, day_prefix = (0, 0, 0), ""
    utc_text = _UtcText()
    excluded, nolog_prefix = rules.excluded, rules.nolog_prefix
    for entry in entries:
        if clock.written != written:
            written = clock.written
            if written[:3] != written_day:
                written_day = written[:3]
                day_prefix = "{:04d}-{:02d}-{:02d}T".format(*written_day)
                if day_prefix[:10] > latest_day:
                    # Identical lines share a minute, so the counts of past days
                    # are not needed again: memory stays bounded on huge files.
                    seen.clear()
                    latest_day = day_prefix[:10]
            minute = day_prefix + _HOURS_MINUTES[written[3] * 60 + written[4]]
        iso = utc_text(entry.timestamp)
        kind, nick, target = entry.kind, entry.nick, entry.target
        # The key is of the line as the log has it, as stored (no NUL).
        content = f"{kind}\t{nick}\t{target}\t{entry.text}"
        special = _SPECIAL.search(f"{nick}{target}{entry.text}") is not None
        if special:
            content = content.replace("\x00", "")
        counted = f"{minute}\t{content}"
        occurrence = seen.get(counted, 0)
        seen[counted] = occurrence + 1
        text = stored_text(kind, nick, entry.text, excluded=excluded, nolog_prefix=nolog_prefix)
        if text is None:
            continue
        if kind == TOPIC:
            rules.saw_topic = True
        digest = hashlib.sha256(f"{content}\t{occurrence}".encode()).hexdigest()
        # The time first, so keys of a file are inserted into the unique
        # index in order (a random key would touch a random page per line).
        key = f"{minute}{digest[:KEY_HASH_DIGITS]}"
        if special:
            nick, target, text = copy_text(nick), copy_text(target), copy_text(text)
        raw = "\\N" if decoded.raw is None else copy_bytes(decoded.raw)
        fields = f"{rules.channel_id}\t{iso}\t{kind}\t{nick}\t{target}\t{text}\tt\t{key}\t{raw}"
        yield iso, key, f"{fields}\n"


class _UtcText:
    """A UTC time as ``datetime.isoformat`` writes it, several times faster.

    isoformat and formatting the numbers cost as much as parsing a line;
    the date changes rarely, and the time of day comes from tables.
    """

    def __init__(self) -> None:
        self.last: dt.datetime | None = None
        self.text = ""
        self.day = 0
        self.date = ""

    def __call__(self, moment: dt.datetime) -> str:
        if moment == self.last:
            return self.text
        if moment.tzinfo is not UTC:  # not from a Clock: never the case, but stay right
            text = moment.isoformat()
        else:
            day = moment.toordinal()
            if day != self.day:
                self.day = day
                self.date = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
            micro = moment.microsecond
            time_of_day = _HOURS_MINUTES[moment.hour * 60 + moment.minute] + _SECONDS[moment.second]
            text = f"{self.date}{time_of_day}{f'.{micro:06d}' if micro else ''}+00:00"
        self.last, self.text = moment, text
        return text


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
