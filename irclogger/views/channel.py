from django.core.exceptions import BadRequest
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from irclogger.views._common import get_channel, get_id, get_tz, today_in, tz_query
from irclogger.views.converters import DateConverter
from irclogger.views.day import render_day


def today(request: HttpRequest, network: str, channel: str) -> HttpResponse:
    """Today's page in the page's zone: the one that updates live."""
    chan = get_channel(request, network, channel)
    return render_day(request, chan, today_in(get_tz(request, chan)))


def permalink(request: HttpRequest, network: str, channel: str, line_id: int) -> HttpResponse:
    """Redirect to the line's day, with the line highlighted.

    ``?end=<id>`` carries the end of a selected range (``#L10-L20``) along.
    """
    chan = get_channel(request, network, channel)
    line = chan.lines.filter(id=line_id).first()
    if line is None:
        raise Http404("No such line in this channel.")
    tz = get_tz(request, chan)
    day = line.timestamp.astimezone(tz).date()
    url = reverse("irc-day", kwargs={"network": network, "channel": channel, "day": day})
    end = get_id(request, "end")
    fragment = f"#L{line.id}-L{end}" if end is not None and end != line.id else f"#L{line.id}"
    return HttpResponseRedirect(f"{url}{tz_query(request, hl=str(line.id))}{fragment}")


def jump(request: HttpRequest, network: str, channel: str) -> HttpResponse:
    """The date picker's answer: ``?day=YYYY-MM-DD`` to that day's page."""
    chan = get_channel(request, network, channel)
    raw = request.GET.get("day", "")
    try:
        day = DateConverter().to_python(raw)
    except ValueError as exc:
        raise BadRequest(f"Pick a date as YYYY-MM-DD, not {raw[:20]!r}.") from exc
    kwargs = {"network": chan.network.slug, "channel": chan.slug, "day": day}
    return HttpResponseRedirect(reverse("irc-day", kwargs=kwargs) + tz_query(request))
