"""The search page and the same search as JSON, for bots and scripts."""

import datetime as dt
from html import escape
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import render
from django.utils.safestring import SafeString, mark_safe

from irclogger.access import get_channel
from irclogger.lines import line_fields, render_line
from irclogger.models import Channel, Line
from irclogger.params import zone_name
from irclogger.search import Cursor, Result, SearchForm, SearchPage, search_lines
from irclogger.views._common import chosen_zone, get_tz, line_url


def search(
    request: HttpRequest, network: str | None = None, channel: str | None = None
) -> HttpResponse:
    """Search one channel, or every channel this reader may see.

    Any query answers: websearch syntax never fails to parse; a bad
    parameter (a date, a cursor, dates in the wrong order) is a 400 that
    shows the form with the reason beside it.
    """
    chan = _channel(request, network, channel)
    form, page = _run(request, chan)
    reader_tz = _reader_zone(request)
    context = {
        "form": form,
        "channel": chan,
        "page": page,
        "results_html": _results_html(request, page, reader_tz, show_channel=chan is None),
        "zone": _zone_note(chan, reader_tz),
        "next_query": _query(request, "after", page.next_after if page else None),
        "previous_query": _query(request, "before", page.previous_before if page else None),
        "hint_query": _query(request, "q", page.prefix_hint if page else None, fresh=True),
        "channels": form.channel_choices() if chan is None else [],
        "chosen_channel": request.GET.get("channel", ""),
    }
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "irclogger/search.html", context, status=status)


def search_json(
    request: HttpRequest, network: str | None = None, channel: str | None = None
) -> JsonResponse:
    """The same search as JSON: results, the count, and the neighbouring pages' URLs."""
    chan = _channel(request, network, channel)
    form, page = _run(request, chan)
    if form.is_bound and form.errors:
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    if page is None:
        return JsonResponse({"errors": {"q": [{"message": "Give q or nick."}]}}, status=400)
    return JsonResponse(
        {
            "count": page.count,
            "count_is_capped": page.count_is_capped,
            "explanation": page.explanation,
            "results": [_result_json(request, result) for result in page.results],
            "next": _absolute(request, "after", page.next_after),
            "previous": _absolute(request, "before", page.previous_before),
        }
    )


def _channel(request: HttpRequest, network: str | None, channel: str | None) -> Channel | None:
    if network is not None and channel is not None:
        return get_channel(request, network, channel)
    return None


def _run(request: HttpRequest, chan: Channel | None) -> tuple[SearchForm, SearchPage | None]:
    form = SearchForm(request.GET or None, user=request.user, fixed_channel=chan)
    if form.is_bound and form.is_valid() and not form.is_empty():
        return form, search_lines(form, request.user)
    return form, None


def _reader_zone(request: HttpRequest) -> dt.tzinfo | None:
    """The zone the reader asked for (?tz=, or the one they chose); None: each
    result in its own channel's zone, as its day page shows it."""
    if request.GET.get("tz") or chosen_zone(request) is not None:
        return get_tz(request)
    return None


def _zone_note(chan: Channel | None, reader_tz: dt.tzinfo | None) -> str:
    if reader_tz is not None:
        return zone_name(reader_tz)
    return chan.timezone if chan is not None else "each channel's own zone"


def _results_html(
    request: HttpRequest,
    page: SearchPage | None,
    reader_tz: dt.tzinfo | None,
    *,
    show_channel: bool,
) -> SafeString:
    if page is None:
        return mark_safe("")
    items = [_result_html(request, result, reader_tz, show_channel) for result in page.results]
    return mark_safe("\n".join(items))  # noqa: S308  (every piece is escaped by render_line)


def _result_html(
    request: HttpRequest, result: Result, reader_tz: dt.tzinfo | None, show_channel: bool
) -> str:
    line = result.line
    chan = line.channel
    tz = reader_tz or chan.tz
    day_url = line_url(request, chan, line.id, line.timestamp)
    pieces = [_context_line(request, chan, other, tz) for other in result.before]
    match = render_line(line, tz, show_date=True, body_html=result.snippet_html, href=day_url)
    pieces.append(_as_search_line(match, line.id, "match"))
    pieces += [_context_line(request, chan, other, tz) for other in result.after]
    label = ""
    if show_channel:
        label = (
            f'<p class="result-channel muted">{escape(chan.name)} on '
            f"{escape(chan.network.name)}</p>"
        )
    return (
        f'<li class="result" data-id="{line.id}">{label}'
        f'<ol class="log context">{"".join(pieces)}</ol>'
        f'<p class="more"><a href="{escape(day_url)}">more context</a></p></li>'
    )


def _context_line(request: HttpRequest, chan: Channel, line: Line, tz: dt.tzinfo) -> str:
    rendered = render_line(
        line, tz, show_date=True, href=line_url(request, chan, line.id, line.timestamp)
    )
    return _as_search_line(rendered, line.id, "ctx")


def _as_search_line(rendered: str, line_id: int, role: str) -> str:
    """A day-page line as a result's line: a role class, and no element id
    (a line may be one result's context and another's match)."""
    return rendered.replace(f'<li id="L{line_id}" class="line ', f'<li class="line {role} ', 1)


def _query(request: HttpRequest, name: str, value: object | None, *, fresh: bool = False) -> str:
    """This request's query string with ``name`` set (and the other cursor dropped)."""
    if not value:
        return ""
    params: QueryDict = request.GET.copy()
    for cursor in ("after", "before"):
        params.pop(cursor, None)
    if fresh:
        params.pop("partial", None)
    params[name] = str(value)
    return "?" + params.urlencode()


def _absolute(request: HttpRequest, name: str, cursor: Cursor | None) -> str | None:
    query = _query(request, name, cursor)
    return request.build_absolute_uri(request.path + query) if query else None


def _result_json(request: HttpRequest, result: Result) -> dict[str, Any]:
    line = result.line
    chan = line.channel
    return {
        **line_fields(line),
        "channel": {"network": chan.network.slug, "slug": chan.slug, "name": chan.name},
        "url": request.build_absolute_uri(line_url(request, chan, line.id, line.timestamp)),
        "before": [line_fields(other) for other in result.before],
        "after": [line_fields(other) for other in result.after],
    }
