"""A channel's statistics page: lines per day, the week's rhythm, who talks."""

import datetime as dt
from html import escape

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import SafeString, mark_safe

from irclogger.statistics import WEEKDAYS, channel_statistics, nick_figures
from irclogger.views._common import get_channel, get_tz, line_url, now, tz_query, zone_context

# The lines-per-day chart: one bar per day, drawn by the server as SVG.
BAR_WIDTH = 3
CHART_HEIGHT = 120
LABEL_HEIGHT = 16
HEAT_LEVELS = 4


def statistics(request: HttpRequest, network: str, channel: str) -> HttpResponse:
    """As private as the channel's pages: get_channel's 404 for those who may not read it."""
    chan = get_channel(request, network, channel)
    tz = get_tz(request, chan)
    figures = channel_statistics(chan, tz, now())
    # Any text answers: what cannot be in a nick (NUL, controls) is dropped.
    nick = "".join(ch for ch in request.GET.get("nick", "") if ch.isprintable()).strip()[:64]
    found = nick_figures(chan, nick) if nick else None
    busiest = max((count for row in figures.week for count in row), default=0)
    context = {
        "channel": chan,
        "figures": figures,
        "chart": _day_chart(figures.days),
        "days_total": sum(count for _, count in figures.days),
        "week": [
            (WEEKDAYS[n], [(hour, count, _level(count, busiest)) for hour, count in enumerate(row)])
            for n, row in enumerate(figures.week)
        ],
        "hours": range(24),
        "talkers": [
            ("Last 30 days", figures.top_30_days),
            ("All time", figures.top_all_time),
        ],
        "nick": nick,
        "nick_figures": found,
        "first_url": line_url(request, chan, found.first.id, found.first.timestamp)
        if found and found.first
        else "",
        "last_url": line_url(request, chan, found.last.id, found.last.timestamp)
        if found and found.last
        else "",
        "tzq": tz_query(request),
        **zone_context(request, chan, tz),
    }
    return render(request, "irclogger/statistics.html", context)


def _level(count: int, busiest: int) -> int:
    return -(-count * HEAT_LEVELS // busiest) if count else 0  # ceiling: 1 line shows


def _day_chart(days: list[tuple[dt.date, int]]) -> SafeString:
    """An SVG bar per day; each bar's <title> names the day and its count."""
    busiest = max((count for _, count in days), default=0) or 1
    width = BAR_WIDTH * len(days)
    bars: list[str] = []
    for n, (day, count) in enumerate(days):
        height = round(count * CHART_HEIGHT / busiest, 1)
        bars.append(
            f'<rect class="bar" x="{n * BAR_WIDTH}" y="{CHART_HEIGHT - height}" '
            f'width="{BAR_WIDTH - 1}" height="{height}"><title>{day:%Y-%m-%d}: '
            f"{count} line{'s' if count != 1 else ''}</title></rect>"
        )
        if day.day == 1:
            bars.append(
                f'<text x="{n * BAR_WIDTH}" y="{CHART_HEIGHT + LABEL_HEIGHT - 3}" '
                f'class="month">{day:%b}</text>'
            )
    total = sum(count for _, count in days)
    label = escape(f"Lines per day from {days[0][0]} to {days[-1][0]}: {total} in all")
    return mark_safe(  # noqa: S308  (numbers and dates only, the label escaped)
        f'<svg class="day-chart" viewBox="0 0 {width} {CHART_HEIGHT + LABEL_HEIGHT}" '
        f'width="{width}" height="{CHART_HEIGHT + LABEL_HEIGHT}" role="img" '
        f'aria-label="{label}" preserveAspectRatio="none">{"".join(bars)}</svg>'
    )
