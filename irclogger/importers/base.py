"""What every importer shares: the parsed line, dates and local times.

A format is a ``Format``: a name, a ``sniff`` that scores how much the head of
a file looks like it, and a parser factory. A parser is fed one decoded line
at a time (line ending removed) and answers with an ``Entry``, ``None`` for a
line that carries nothing to store (a date marker, an empty line), or raises
``Unparsable``; the runner numbers the lines and reports the problems.
"""

import datetime as dt
import gzip
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple, Protocol

from irclogger.models import LineKind
from irclogger.params import UTC

MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}

# The kinds as plain strings: they are hashed into import keys and written by COPY.
MESSAGE = LineKind.MESSAGE.value
ACTION = LineKind.ACTION.value
NOTICE = LineKind.NOTICE.value
JOIN = LineKind.JOIN.value
PART = LineKind.PART.value
QUIT = LineKind.QUIT.value
NICK = LineKind.NICK.value
TOPIC = LineKind.TOPIC.value
KICK = LineKind.KICK.value
MODE = LineKind.MODE.value
SYSTEM = LineKind.SYSTEM.value

# The mode characters clients put before a nick (op, voice, halfop, …).
NICK_MODES = "@+%&~!"


class Entry(NamedTuple):
    """One line of a log, its timestamp already in UTC."""

    timestamp: dt.datetime
    kind: str
    nick: str = ""
    target: str = ""
    text: str = ""


class Unparsable(ValueError):
    """A line this format cannot read; the message says why."""


class Refused(ValueError):
    """A whole file this format cannot read (e.g. no date in its name)."""


class Parser(Protocol):
    def feed(self, line: str) -> Entry | None: ...


@dataclass(frozen=True)
class Format:
    name: str
    # How much the first lines of a file look like this format: 0 is not at all.
    sniff: Callable[[Path, list[str]], int]
    # A log of lines: a parser fed one line at a time.
    parser: Callable[[Path, "Clock"], Parser] | None = None
    # A store that is not a log of lines (a database, a JSON document): the
    # channel's entries read whole, by the channel's IRC name; an Unparsable
    # in their place for a record that cannot be read. May raise Refused.
    read: Callable[[Path, "Clock", str], Iterator["Entry | Unparsable"]] | None = None


_GZIP_MAGIC = b"\x1f\x8b"


def open_log(path: Path) -> BinaryIO:
    """The file's bytes, gunzipped when it is a gzip file (by content, not by name)."""
    raw = path.open("rb")
    if raw.peek(2)[:2] == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def strip_mode(nick: str) -> str:
    """``@alice`` → ``alice``: the channel mode a client shows is not the nick."""
    return nick[1:] if nick[:1] in NICK_MODES and len(nick) > 1 else nick


def month_number(name: str) -> int:
    try:
        return MONTHS[name[:3].title()]
    except KeyError:
        raise Unparsable(f"unknown month name {name!r}") from None


class Clock:
    """Turns a log's local wall-clock times into UTC, deterministically.

    Times are read in ``tz`` (zoneinfo, so DST applies). A time that happens
    twice when the clocks go back is the first occurrence, unless the file
    already went past it: then it is the second (the log is in time order).
    A time that never happened when the clocks go forward is read with the
    offset in force before the change (zoneinfo's fold=0), i.e. as if the
    clock had not been changed yet.

    ``written`` is the minute of the last time read, as the log wrote it
    (year, month, day, hour, minute): import keys use it, so they do not
    change with the zone the times are read in.
    """

    def __init__(self, tz: dt.tzinfo) -> None:
        self.tz = tz
        self.written = (0, 0, 0, 0, 0)
        self.is_utc = tz is UTC or getattr(tz, "key", None) in ("UTC", "Etc/UTC")
        self._last = dt.datetime.min.replace(tzinfo=UTC)
        # One lookup per local hour: offsets only change at DST transitions,
        # and converting every line through zoneinfo is the slowest step.
        self._offsets: dict[tuple[int, int, int, int], dt.timedelta | None] = {}

    def utc(
        self, year: int, month: int, day: int, hour: int, minute: int, second: int, micro: int = 0
    ) -> dt.datetime:
        # as_written() inlined: this runs for every line of every file.
        try:
            as_utc = dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
        except ValueError as exc:
            raise Unparsable(f"impossible date or time: {exc}") from None
        self.written = (year, month, day, hour, minute)
        if self.is_utc:
            return as_utc
        key = (year, month, day, hour)
        offset = self._offsets.get(key, ...)
        if offset is ...:
            offset = self._steady_offset(as_utc.replace(tzinfo=None))
            self._offsets[key] = offset
        if offset is not None:
            result = as_utc - offset
        else:
            result = self._transition_hour(as_utc.replace(tzinfo=None))
        self._last = result
        return result

    def as_written(
        self, year: int, month: int, day: int, hour: int, minute: int, second: int, micro: int = 0
    ) -> dt.datetime:
        """A time the log wrote in UTC already (WeeChat ≥ 4.8), whatever the zone."""
        try:
            as_utc = dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
        except ValueError as exc:
            raise Unparsable(f"impossible date or time: {exc}") from None
        self.written = (year, month, day, hour, minute)
        return as_utc

    def _steady_offset(self, naive: dt.datetime) -> dt.timedelta | None:
        """The hour's UTC offset, or None when a transition falls inside it."""
        start = naive.replace(minute=0, second=0, microsecond=0)
        end = start + dt.timedelta(minutes=59, seconds=59)
        offsets = {
            moment.replace(tzinfo=self.tz, fold=fold).utcoffset()
            for moment in (start, end)
            for fold in (0, 1)
        }
        return offsets.pop() if len(offsets) == 1 else None

    def _transition_hour(self, naive: dt.datetime) -> dt.datetime:
        first = naive.replace(tzinfo=self.tz, fold=0).astimezone(UTC)
        second = naive.replace(tzinfo=self.tz, fold=1).astimezone(UTC)
        if first != second and first < self._last <= second:
            return second
        return first


# A date in a file or folder name: 2024-03-10 or 20240310, not inside a longer number.
_NAME_DATE = re.compile(r"(?<!\d)(\d{4})(-?)(\d\d)\2(\d\d)(?!\d)")
# YYYY/MM/DD folders; the day may also be a file name (2024/03/10.log).
_YEAR, _MONTH, _DAY = re.compile(r"\d{4}"), re.compile(r"\d\d"), re.compile(r"(\d\d)(?:\..*)?")
# IRC began in 1988: a "date" before it is some other number.
_FIRST_YEAR, _LAST_YEAR = 1988, 2200

DATE_FORMS = "YYYY-MM-DD or YYYYMMDD in its name or a folder's, or YYYY/MM/DD folders"


def file_date(path: Path) -> dt.date | None:
    """The date a log file's path gives: its name first, then its folders.

    ``2024-03-10.log``, ``#chan_20240310.log.txt``, ZNC's
    ``user_network_#chan_20240310.log``, ``2024/03/10.log``,
    ``2024/03/10/chan.log`` or ``2024-03-10/chan.log``; the last date in a
    name wins (a network may have digits in its name).
    """
    if day := _date_in_name(path.name):
        return day
    parts = path.parts
    for end in range(len(parts), 2, -1):
        year, month, day_part = parts[end - 3 : end]
        day_match = _DAY.fullmatch(day_part)
        found = (
            _YEAR.fullmatch(year)
            and _MONTH.fullmatch(month)
            and day_match
            and _valid_date(year, month, day_match[1])
        )
        if found:
            return found
    for folder in reversed(parts[:-1]):
        if found := _date_in_name(folder):
            return found
    return None


def _date_in_name(name: str) -> dt.date | None:
    for match in reversed(list(_NAME_DATE.finditer(name))):
        if found := _valid_date(match[1], match[3], match[4]):
            return found
    return None


def _valid_date(year: str, month: str, day: str) -> dt.date | None:
    if not _FIRST_YEAR <= int(year) <= _LAST_YEAR:
        return None
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        return None
