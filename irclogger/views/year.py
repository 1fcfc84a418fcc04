"""A channel's year at a glance: every day's activity as a heat map."""

import calendar
import datetime as dt

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from irclogger.models import Channel
from irclogger.params import EARLIEST, LATEST, day_bounds
from irclogger.views._common import get_channel, get_tz, tz_query, zone_context

# Heat levels 1..HEAT_LEVELS, as a share of the busiest day (CSS: heat-N).
HEAT_LEVELS = 4


def year(request: HttpRequest, network: str, channel: str, year: int) -> HttpResponse:
    chan = get_channel(request, network, channel)
    if not EARLIEST.year <= year <= LATEST.year:
        raise Http404("No such year.")
    tz = get_tz(request, chan)
    counts = _day_counts(chan, year, tz)
    busiest = max(counts.values(), default=0)
    tzq = tz_query(request)
    base = {"network": chan.network.slug, "channel": chan.slug}

    def cell(d: dt.date, month: int) -> dict[str, object]:
        count = counts.get(d, 0) if d.month == month else 0
        level = -(-count * HEAT_LEVELS // busiest) if count else 0  # ceiling: 1 line shows
        url = reverse("irc-day", kwargs={**base, "day": d}) + tzq if count else ""
        return {"date": d, "count": count, "level": level, "url": url, "in_month": d.month == month}

    months = [
        {
            "title": calendar.month_name[month],
            "weeks": [
                [cell(d, month) for d in week]
                for week in calendar.Calendar().monthdatescalendar(year, month)
            ],
        }
        for month in range(1, 13)
    ]
    context = {
        "channel": chan,
        "year": year,
        "months": months,
        "total": sum(counts.values()),
        "previous_year": year - 1 if _has_lines_before(chan, year, tz) else None,
        "next_year": year + 1 if _has_lines_after(chan, year, tz) else None,
        "tzq": tzq,
        **zone_context(request, chan, tz),
    }
    return render(request, "irclogger/year.html", context)


def _day_counts(channel: Channel, year: int, tz: dt.tzinfo) -> dict[dt.date, int]:
    start, end = day_bounds(dt.date(year, 1, 1), dt.date(year, 12, 31), tz)
    return channel.lines.day_counts(start, end, tz)


def _has_lines_before(channel: Channel, year: int, tz: dt.tzinfo) -> bool:
    start, _ = day_bounds(dt.date(year, 1, 1), dt.date(year, 1, 1), tz)
    return year > EARLIEST.year and channel.lines.filter(timestamp__lt=start).exists()


def _has_lines_after(channel: Channel, year: int, tz: dt.tzinfo) -> bool:
    _, end = day_bounds(dt.date(year, 12, 31), dt.date(year, 12, 31), tz)
    return year < LATEST.year and channel.lines.filter(timestamp__gte=end).exists()
