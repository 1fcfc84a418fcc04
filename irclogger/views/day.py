import calendar
import datetime as dt
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from irclogger.lines import render_log
from irclogger.models import Channel, Line
from irclogger.params import day_start, zone_name
from irclogger.views._common import (
    channel_base,
    get_channel,
    get_id,
    get_tz,
    hide_presence,
    today_in,
    tz_query,
    zone_context,
)


def day(request: HttpRequest, network: str, channel: str, day: dt.date) -> HttpResponse:
    chan = get_channel(request, network, channel)
    return render_day(request, chan, day)


def render_day(request: HttpRequest, channel: Channel, day: dt.date) -> HttpResponse:
    tz = get_tz(request, channel)
    lines = list(channel.lines.for_day(day, tz).rows())
    highlight = get_id(request, "hl")
    is_today = day == today_in(tz)
    base = channel_base(channel)
    tzq = tz_query(request)
    nearby = _nearby_days(channel, day, tz)
    context = {
        "channel": channel,
        "day": day,
        "tzq": tzq,
        **zone_context(request, channel, tz, on=day),
        "log_html": render_log(
            lines,
            tz,
            hide_presence=hide_presence(request),
            highlight=highlight,
            day_base=base,
            bots=channel.bots,
        ),
        "line_count": len(lines),
        "hide_presence": hide_presence(request),
        "presence_toggle": tz_query(request, presence="" if hide_presence(request) else "hide"),
        "previous_day": nearby.previous_day,
        "next_day": nearby.next_day,
        "calendar": month_calendar(channel, day, tz, tzq, nearby),
        "week_start": day - dt.timedelta(days=6),
        "is_today": is_today,
        # Where the page's stream resumes, closing the render-to-connect gap.
        "last_id": channel.lines.latest_live_id() if is_today else None,
        "stream_url": _stream_url(channel) if is_today else "",
        "page_data": {
            "base": base,
            "day": day.isoformat(),
            "tz": zone_name(tz),
            "bots": sorted(channel.bots),
        },
    }
    return render(request, "irclogger/day.html", context)


@dataclass(frozen=True)
class NearbyDays:
    """The nearest days with lines before and after a day, and before and after its month."""

    previous_day: dt.date | None
    next_day: dt.date | None
    previous_month_day: dt.date | None
    next_month_day: dt.date | None


def _nearby_days(channel: Channel, day: dt.date, tz: dt.tzinfo) -> NearbyDays:
    # One query, four index probes on (channel, timestamp): max before, min after.
    first, last = _month_of(day)
    bounds = (
        day_start(day, tz),
        day_start(day + dt.timedelta(days=1), tz),
        day_start(first, tz),
        day_start(last + dt.timedelta(days=1), tz),
    )
    row = Line.objects.nearest_times(channel.pk, bounds)
    days = [stamp.astimezone(tz).date() if stamp else None for stamp in row]
    return NearbyDays(*days)


def _month_of(day: dt.date) -> tuple[dt.date, dt.date]:
    first = day.replace(day=1)
    return first, first.replace(day=calendar.monthrange(day.year, day.month)[1])


def month_calendar(
    channel: Channel, day: dt.date, tz: dt.tzinfo, tzq: str, nearby: NearbyDays
) -> dict[str, object]:
    """Weeks of the month, each day with a link when it has lines, and the
    nearest active days of the months before and after (month navigation)."""
    weeks = calendar.Calendar().monthdatescalendar(day.year, day.month)
    active = Line.objects.active_days(channel.pk, weeks[0][0], weeks[-1][-1], tz)
    base = {"network": channel.network.slug, "channel": channel.slug}

    def cell(d: dt.date) -> dict[str, object]:
        url = reverse("irc-day", kwargs={**base, "day": d}) + tzq if d in active else ""
        return {"date": d, "url": url, "current": d == day, "in_month": d.month == day.month}

    first, last = _month_of(day)
    return {
        "title": day.strftime("%B %Y"),
        "weeks": [[cell(d) for d in week] for week in weeks],
        "first": first,
        "last": last,
        "previous": nearby.previous_month_day,
        "next": nearby.next_month_day,
    }


def _stream_url(channel: Channel) -> str:
    return channel_base(channel) + "stream/"
