"""Parsing what readers type: line ids and time zones, the one place.

Every route that takes an id (``after``, ``hl``, ``Last-Event-ID``, a
permalink) or a zone (``?tz=``, ``Channel.timezone``, ``importlogs --tz``)
parses it here, so a bad value is the same clear 400 everywhere and never a
500. ``str.isdigit()`` accepts superscripts and other Unicode digits that
``int()`` refuses; ``zoneinfo.ZoneInfo`` accepts directory names such as
``Europe`` until it reads them. Both are checked strictly instead.
"""

import datetime as dt
import functools
import re
import zoneinfo

UTC = dt.UTC

# Line ids are PostgreSQL bigint.
MAX_ID = 2**63 - 1
_ASCII_DIGITS = re.compile(r"[0-9]{1,19}")
# The longest IANA key today is 32 characters; anything far longer is not one.
MAX_ZONE_LENGTH = 64
# How much of a bad value an error message repeats back.
SHOWN_LENGTH = 64


def id_parameter(raw: str | None, name: str) -> int | None:
    """A line id a client sent in ``name``: None when absent or blank.

    ValueError naming the parameter when it is anything but an id; the views
    answer that with a 400.
    """
    if raw is None or not raw.strip():
        return None
    line_id = parse_id(raw)
    if line_id is None:
        shown = raw if len(raw) <= SHOWN_LENGTH else raw[:SHOWN_LENGTH] + "…"
        raise ValueError(f"{name} must be a line id (ASCII digits), not {shown!r}.")
    return line_id


def parse_id(raw: str | None) -> int | None:
    """A line id from ASCII digits (surrounding blanks allowed), else None."""
    if raw is None:
        return None
    raw = raw.strip()
    if not _ASCII_DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if value <= MAX_ID else None


@functools.cache
def zone_names() -> frozenset[str]:
    """Every IANA key the system's tz database has (no directories)."""
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


def parse_zone(name: str) -> dt.tzinfo:
    """The zone named by an IANA key; ValueError saying why otherwise."""
    if name == "UTC":
        return UTC
    if len(name) > MAX_ZONE_LENGTH or name not in zone_names():
        shown = name if len(name) <= MAX_ZONE_LENGTH else name[:MAX_ZONE_LENGTH] + "…"
        raise ValueError(f"Unknown time zone {shown!r}; use an IANA name like Europe/Paris.")
    return zoneinfo.ZoneInfo(name)


def zone_name(tz: dt.tzinfo) -> str:
    """The IANA key of a zone from parse_zone."""
    return "UTC" if tz is UTC else str(tz)


def day_start(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """The first instant of a calendar day in a zone."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=tz)


def day_bounds(first: dt.date, last: dt.date, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """[start of ``first``, start of the day after ``last``) in a zone."""
    return day_start(first, tz), day_start(last + dt.timedelta(days=1), tz)


# The dates a page can ask for. IRC is younger than 1970, and keeping a year
# clear of datetime's limits lets a view add a day or shift by a timezone
# without overflowing.
EARLIEST = dt.date(1970, 1, 1)
LATEST = dt.date(9998, 12, 31)


def in_range(day: dt.date) -> bool:
    return EARLIEST <= day <= LATEST
