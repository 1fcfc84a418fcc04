"""A channel's statistics, summed in PostgreSQL from the rollups the line
triggers keep (ChannelActivity, NickActivity): a page costs thousands of
rows however many millions of lines the channel has."""

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.db.models import Max, Min, Sum

from irclogger.models import SAID_KINDS, Channel, Line, NickActivity
from irclogger.params import UTC, zone_name

TOP_TALKERS = 15
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass
class NickFigures:
    nick: str
    lines: int
    first: Line | None
    last: Line | None


@dataclass
class ChannelStatistics:
    days: list[tuple[dt.date, int]]  # every day of the last year, oldest first
    # [weekday (Monday = 0)][hour] in the zone
    week: list[list[int]]
    top_30_days: list[tuple[str, int]]
    top_all_time: list[tuple[str, int]]
    total: int


def lines_per_day(
    channel: Channel, tz: dt.tzinfo, first: dt.date, last: dt.date
) -> dict[dt.date, int]:
    """Lines said on each day from ``first`` to ``last`` in ``tz``."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT (bucket AT TIME ZONE %s)::date AS day, sum(lines)
            FROM irclogger_channelactivity
            WHERE channel_id = %s
              AND bucket >= (%s::date::timestamp AT TIME ZONE %s)
              AND bucket < ((%s::date + 1)::timestamp AT TIME ZONE %s)
            GROUP BY 1
            """,
            [zone_name(tz), channel.pk, first, zone_name(tz), last, zone_name(tz)],
        )
        return {day: int(count) for day, count in cursor.fetchall()}


def week_grid(channel: Channel, tz: dt.tzinfo) -> list[list[int]]:
    """Lines said, all time, by weekday (Monday first) and hour in ``tz``."""
    grid = [[0] * 24 for _ in WEEKDAYS]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT extract(isodow FROM local)::int - 1, extract(hour FROM local)::int, sum(lines)
            FROM (SELECT bucket AT TIME ZONE %s AS local, lines
                  FROM irclogger_channelactivity WHERE channel_id = %s) AS buckets
            GROUP BY 1, 2
            """,
            [zone_name(tz), channel.pk],
        )
        for weekday, hour, count in cursor.fetchall():
            grid[weekday][hour] = int(count)
    return grid


def top_talkers(channel: Channel, since: dt.date | None) -> list[tuple[str, int]]:
    """The nicks that said most, since a UTC day (None: all time)."""
    rows = NickActivity.objects.filter(channel=channel)
    if since is not None:
        rows = rows.filter(day__gte=since)
    ranked = rows.values("nick").annotate(total=Sum("lines")).order_by("-total", "nick")
    return [(row["nick"], int(row["total"])) for row in ranked[:TOP_TALKERS]]


def channel_statistics(channel: Channel, tz: dt.tzinfo, now: dt.datetime) -> ChannelStatistics:
    """The page's figures; "30 days" are the last 30 UTC days, today's included."""
    today = now.astimezone(tz).date()
    first = today - dt.timedelta(days=364)
    counts = lines_per_day(channel, tz, first, today)
    days = [(day, counts.get(day, 0)) for day in _dates(first, 365)]
    total = NickActivity.objects.filter(channel=channel).aggregate(total=Sum("lines"))["total"]
    utc_today = now.astimezone(UTC).date()
    return ChannelStatistics(
        days=days,
        week=week_grid(channel, tz),
        top_30_days=top_talkers(channel, utc_today - dt.timedelta(days=29)),
        top_all_time=top_talkers(channel, None),
        total=int(total or 0),
    )


def _dates(first: dt.date, count: int) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range(count)]


def nick_figures(channel: Channel, nick: str) -> NickFigures:
    """A nick's (any case) count of lines said, and its first and last of them."""
    name = nick.lower()
    summary = NickActivity.objects.filter(channel=channel, nick=name).aggregate(
        lines=Sum("lines"), first=Min("first"), last=Max("last")
    )
    if not summary["lines"]:
        return NickFigures(nick, 0, None, None)
    return NickFigures(
        nick,
        int(summary["lines"]),
        _said_at(channel, name, summary["first"], first=True),
        _said_at(channel, name, summary["last"], first=False),
    )


def _said_at(channel: Channel, nick: str, at: dt.datetime, *, first: bool) -> Line | None:
    lines = channel.lines.filter(timestamp=at, nick__iexact=nick, kind__in=SAID_KINDS)
    return lines.order_by("id" if first else "-id").defer("search_vector").first()
