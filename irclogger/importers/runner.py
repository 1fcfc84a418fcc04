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

import datetime as dt
import hashlib
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection, transaction
from tqdm import tqdm

from irclogger.bulk import LineRow, copy_lines
from irclogger.importers.base import UTC, Clock, Entry, Format, Parser, Refused, Unparsable
from irclogger.importers.detect import FORMATS, detect, head, lines, open_log
from irclogger.models import Channel

STAGE = "irclogger_import_stage"

# Lines per staging round trip: large enough that COPY and the INSERT's
# per-statement cost vanish, small enough to bound memory and to show progress.
BATCH_SIZE = 50_000

# Progress bar updates every this many lines: per-line updates would cost
# more than parsing.
PROGRESS_STEP = 5_000

# The longest nick or target the Line columns hold.
MAX_NICK = 64

Report = Callable[[str], None]


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
        rows = _rows(entries, channel.pk)
        batch: list[LineRow] = []
        for row in rows:
            batch.append(row)
            if len(batch) == BATCH_SIZE:
                _store(batch, summary)
                batch = []
        _store(batch, summary)


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


def _rows(entries: Iterable[Entry], channel_id: int) -> Iterator[LineRow]:
    """The rows to stage, each with its import key."""
    seen: dict[bytes, int] = {}
    day = None
    for entry in entries:
        timestamp = entry.timestamp
        if timestamp.date() != day:
            # Identical lines share a timestamp, so the counts of a past day
            # are not needed again: this bounds memory on huge files.
            seen.clear()
            day = timestamp.date()
        content = "\x00".join(
            (timestamp.isoformat(), entry.kind, entry.nick, entry.target, entry.text)
        ).encode("utf-8", "surrogatepass")
        digest = hashlib.sha256(content).digest()
        occurrence = seen.get(digest, 0)
        seen[digest] = occurrence + 1
        key = hashlib.sha256(content + b"\x00%d" % occurrence).hexdigest()
        yield LineRow(
            channel_id, timestamp, entry.kind, entry.nick, entry.target, entry.text, True, key
        )


def _store(batch: list[LineRow], summary: ImportSummary) -> None:
    """COPY one batch into the staging table and move the new lines into place."""
    if not batch:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} ("
            " seq bigint GENERATED ALWAYS AS IDENTITY, channel_id bigint,"
            " timestamp timestamptz, kind varchar(8), nick varchar(64), target varchar(64),"
            " text text, imported boolean, import_key varchar(64))"
        )
        copy_lines(batch, batch_size=len(batch), table=STAGE)
        # In file order, so lines of the same second keep their order by id.
        cursor.execute(
            "INSERT INTO irclogger_line"  # noqa: S608  (STAGE is a constant, not input)
            " (channel_id, timestamp, kind, nick, target, text, imported, import_key)"
            " SELECT channel_id, timestamp, kind, nick, target, text, imported, import_key"
            f" FROM {STAGE} ORDER BY seq"
            " ON CONFLICT (channel_id, import_key) WHERE import_key IS NOT NULL DO NOTHING"
        )
        inserted = cursor.rowcount
        cursor.execute(f"TRUNCATE {STAGE}")
    summary.imported += inserted
    summary.duplicates += len(batch) - inserted
