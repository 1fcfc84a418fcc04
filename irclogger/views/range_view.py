import datetime as dt

from django.conf import settings
from django.core.exceptions import BadRequest
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from irclogger.lines import render_log
from irclogger.models import Line, LineQuerySet
from irclogger.params import day_bounds, parse_id
from irclogger.views._common import (
    get_channel,
    get_tz,
    hide_presence,
    tz_query,
)

MAX_RANGE_DAYS = 31


def date_range(
    request: HttpRequest, network: str, channel: str, start: dt.date, end: dt.date
) -> HttpResponse:
    """Several days on one page, paginated by (time, id) keyset."""
    chan = get_channel(request, network, channel)
    _check_range(start, end)
    tz = get_tz(request)
    lines = chan.lines.between(*day_bounds(start, end, tz))
    after = parse_id(request.GET.get("after"))
    if after is not None:
        lines = _after_line(lines, after)
    page = list(lines[: settings.RANGE_PAGE_SIZE + 1].rows())
    has_more = len(page) > settings.RANGE_PAGE_SIZE
    page = page[: settings.RANGE_PAGE_SIZE]
    context = {
        "channel": chan,
        "start": start,
        "end": end,
        "tzq": tz_query(tz),
        "log_html": render_log(page, tz, hide_presence=hide_presence(request), show_date=True),
        "line_count": len(page),
        "next_query": tz_query(tz, after=str(page[-1].id)) if has_more else "",
    }
    return render(request, "irclogger/range.html", context)


def _check_range(start: dt.date, end: dt.date) -> None:
    if end < start:
        raise BadRequest("The range ends before it starts.")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise BadRequest(f"A range covers at most {MAX_RANGE_DAYS} days.")


def _after_line(lines: LineQuerySet, line_id: int) -> LineQuerySet:
    """Lines that come after ``line_id`` in reading order (time, then id)."""
    anchor = Line.objects.filter(id=line_id).values_list("timestamp", flat=True).first()
    if anchor is None:
        return lines
    return lines.filter(Q(timestamp__gt=anchor) | Q(timestamp=anchor, id__gt=line_id))
