import calendar
import datetime as dt

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from irclogger.formatting import render_irc
from irclogger.lines import render_log
from irclogger.models import Channel
from irclogger.params import day_start, parse_id, zone_name
from irclogger.views._common import (
    channel_base,
    get_channel,
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
    highlight = parse_id(request.GET.get("hl"))
    is_today = day == today_in(tz)
    base = channel_base(channel)
    channel.topic_html = render_irc(channel.topic)  # type: ignore[attr-defined]
    tzq = tz_query(request)
    context = {
        "channel": channel,
        "day": day,
        "tzq": tzq,
        **zone_context(request, channel, tz),
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
        "previous_day": _active_day(channel, day, tz, before=True),
        "next_day": _active_day(channel, day, tz, before=False),
        "calendar": month_calendar(channel, day, tz, tzq),
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


def _active_day(channel: Channel, day: dt.date, tz: dt.tzinfo, *, before: bool) -> dt.date | None:
    """The nearest earlier (or later) day on which anything was said."""
    if before:
        lines = channel.lines.filter(timestamp__lt=day_start(day, tz)).order_by("-timestamp")
    else:
        next_start = day_start(day + dt.timedelta(days=1), tz)
        lines = channel.lines.filter(timestamp__gte=next_start).order_by("timestamp")
    stamp = lines.values_list("timestamp", flat=True).first()
    return stamp.astimezone(tz).date() if stamp else None


def _active_days(channel: Channel, first: dt.date, last: dt.date, tz: dt.tzinfo) -> set[dt.date]:
    # One EXISTS per day walks the (channel, timestamp) index a few rows at a
    # time; a DISTINCT over the month would read every line of the month.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT d::date FROM generate_series(%s::date, %s::date, '1 day') AS d
            WHERE EXISTS (
                SELECT 1 FROM irclogger_line
                WHERE channel_id = %s
                  AND timestamp >= (d::timestamp AT TIME ZONE %s)
                  AND timestamp < ((d + interval '1 day')::timestamp AT TIME ZONE %s))
            """,
            [first, last, channel.pk, zone_name(tz), zone_name(tz)],
        )
        return {row[0] for row in cursor.fetchall()}


def month_calendar(channel: Channel, day: dt.date, tz: dt.tzinfo, tzq: str) -> dict[str, object]:
    """Weeks of the month, each day with a link when it has lines, and the
    nearest active days of the months before and after (month navigation)."""
    weeks = calendar.Calendar().monthdatescalendar(day.year, day.month)
    active = _active_days(channel, weeks[0][0], weeks[-1][-1], tz)
    base = {"network": channel.network.slug, "channel": channel.slug}

    def cell(d: dt.date) -> dict[str, object]:
        url = reverse("irc-day", kwargs={**base, "day": d}) + tzq if d in active else ""
        return {"date": d, "url": url, "current": d == day, "in_month": d.month == day.month}

    first = day.replace(day=1)
    last = first.replace(day=calendar.monthrange(day.year, day.month)[1])
    return {
        "title": day.strftime("%B %Y"),
        "weeks": [[cell(d) for d in week] for week in weeks],
        "first": first,
        "last": last,
        # The last active day before this month: the previous active month.
        "previous": _active_day(channel, first, tz, before=True),
        "next": _active_day(channel, last, tz, before=False),
    }


def _stream_url(channel: Channel) -> str:
    return channel_base(channel) + "stream/"
