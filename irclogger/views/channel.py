from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from irclogger.views._common import get_channel, get_tz, today_in, tz_query
from irclogger.views.day import render_day


def today(request: HttpRequest, network: str, channel: str) -> HttpResponse:
    """Today's page in the reader's timezone: the one that updates live."""
    chan = get_channel(request, network, channel)
    return render_day(request, chan, today_in(get_tz(request)))


def permalink(request: HttpRequest, network: str, channel: str, line_id: int) -> HttpResponse:
    """Redirect to the line's day, with the line highlighted."""
    chan = get_channel(request, network, channel)
    line = chan.lines.filter(id=line_id).first()
    if line is None:
        raise Http404("No such line in this channel.")
    tz = get_tz(request)
    day = line.timestamp.astimezone(tz).date()
    url = reverse("irc-day", kwargs={"network": network, "channel": channel, "day": day})
    return HttpResponseRedirect(f"{url}{tz_query(tz, hl=str(line.id))}#L{line.id}")
