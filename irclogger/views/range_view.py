import datetime as dt

from django.conf import settings
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from irclogger.lines import render_log
from irclogger.models import Channel, LineQuerySet, ShownLine
from irclogger.params import day_bounds, zone_name
from irclogger.views._common import (
    channel_base,
    get_channel,
    get_id,
    get_tz,
    hide_presence,
    tz_query,
    zone_context,
)

MAX_RANGE_DAYS = 31


def date_range(
    request: HttpRequest, network: str, channel: str, start: dt.date, end: dt.date
) -> HttpResponse:
    """Several days on one page, paged both ways by (time, id) keyset.

    ``?after=<id>`` is the page after that line, ``?before=<id>`` the page
    before it.
    """
    chan = get_channel(request, network, channel)
    _check_range(start, end)
    tz = get_tz(request, chan)
    lines = chan.lines.between(*day_bounds(start, end, tz))
    page = _page(chan, lines, get_id(request, "after"), get_id(request, "before"))
    has_later = bool(page) and _after_line(chan, lines, page[-1].id).exists()
    has_earlier = bool(page) and _before_line(chan, lines, page[0].id).exists()
    base = channel_base(chan)
    context = {
        "channel": chan,
        "start": start,
        "end": end,
        "tzq": tz_query(request),
        **zone_context(request, chan, tz, on=start),
        "log_html": render_log(
            page,
            tz,
            hide_presence=hide_presence(request),
            show_date=True,
            day_base=base,
            separate_days=True,
            bots=chan.bots,
        ),
        "line_count": len(page),
        "next_query": tz_query(request, after=str(page[-1].id)) if has_later else "",
        "previous_query": tz_query(request, before=str(page[0].id)) if has_earlier else "",
        "page_data": {"base": base, "tz": zone_name(tz), "bots": sorted(chan.bots)},
    }
    return render(request, "irclogger/range.html", context)


def _page(
    channel: Channel, lines: LineQuerySet, after: int | None, before: int | None
) -> list[ShownLine]:
    size = settings.RANGE_PAGE_SIZE
    if before is not None:
        earlier = _before_line(channel, lines, before).order_by("-timestamp", "-id")
        return list(reversed(list(earlier[:size].rows())))
    if after is not None:
        lines = _after_line(channel, lines, after)
    return list(lines[:size].rows())


def _check_range(start: dt.date, end: dt.date) -> None:
    if end < start:
        raise BadRequest("The range ends before it starts.")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise BadRequest(f"A range covers at most {MAX_RANGE_DAYS} days.")


def _after_line(channel: Channel, lines: LineQuerySet, line_id: int) -> LineQuerySet:
    """Lines that come after ``line_id`` in reading order (time, then id).

    The line is looked up in this channel only: an id from any other channel (a
    private one above all) is treated as unknown, so the answer never tells
    whether such a line exists or when it was written.
    """
    return lines.reading_after(channel.lines.time_of(line_id), line_id)


def _before_line(channel: Channel, lines: LineQuerySet, line_id: int) -> LineQuerySet:
    """Lines that come before ``line_id`` in reading order (see _after_line)."""
    return lines.reading_before(channel.lines.time_of(line_id), line_id)
