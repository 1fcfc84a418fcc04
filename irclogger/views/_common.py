"""What the page views share: finding a visible channel, the reader's time zone."""

import datetime as dt
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.urls import reverse
from django.utils import timezone

# The pages find their channel where the streams do.
from irclogger.access import get_channel as get_channel
from irclogger.models import Channel
from irclogger.params import UTC, day_start, id_parameter, parse_zone, zone_name

# Where the reader's chosen zone is kept across visits (irclogger.views.zone).
# A cookie rather than localStorage: the server needs the zone to cut days.
ZONE_COOKIE = "irclogger_tz"


def get_tz(request: HttpRequest, channel: Channel | None = None) -> dt.tzinfo:
    """The zone a page is in: ``?tz=``, else the reader's chosen one, else the channel's.

    A bad ``?tz=`` is the reader's typing, a 400 saying why; a bad cookie is
    stale (a zone since removed), so it is passed over instead.
    """
    name = request.GET.get("tz", "")
    if name:
        try:
            return parse_zone(name)
        except ValueError as exc:
            raise BadRequest(str(exc)) from exc
    chosen = chosen_zone(request)
    if chosen is not None:
        return chosen
    return channel.tz if channel is not None else UTC


def get_id(request: HttpRequest, name: str) -> int | None:
    """The line id in query parameter ``name``: None when absent, a 400 naming it when bad."""
    try:
        return id_parameter(request.GET.get(name), name)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: the reason a view gave, so the reader can mend the URL.

    Only BadRequest carries a reason meant for the reader; other suspicious
    requests (a forged Host, too many fields) get Django's terse answer.
    """
    reason = str(exception) if isinstance(exception, BadRequest) else "Bad request."
    return HttpResponseBadRequest(f"{reason}\n", content_type="text/plain; charset=utf-8")


def zone_context(
    request: HttpRequest, channel: Channel | None, tz: dt.tzinfo, on: dt.date | None = None
) -> dict[str, str]:
    """What a page says about its zone: which one, why, and where to change it.

    The offset is the one at the start of ``on`` (the page's day; else now):
    a winter day in Paris is UTC+01:00 even when read in summer.
    """
    if request.GET.get("tz"):
        source = "from the link"
    elif chosen_zone(request) is not None:
        source = "your choice"
    elif channel is not None:
        source = "the channel's zone"
    else:
        source = "the default"
    at = day_start(on, tz) if on is not None else now().astimezone(tz)
    offset = at.strftime("%z")
    return {
        "zone": zone_name(tz),
        "zone_offset": f"UTC{offset[:3]}:{offset[3:]}",
        "zone_source": source,
        "zone_change_url": reverse("irc-zone") + "?" + urlencode({"next": request.get_full_path()}),
    }


def channel_base(channel: Channel) -> str:
    """The channel's path, /<network>/<channel>/: day pages hang below it."""
    return reverse("irc-today", kwargs={"network": channel.network.slug, "channel": channel.slug})


def chosen_zone(request: HttpRequest) -> dt.tzinfo | None:
    """The zone the reader chose and kept in the cookie, if it is a valid one."""
    try:
        return parse_zone(request.COOKIES.get(ZONE_COOKIE, ""))
    except ValueError:
        return None


def tz_query(request: HttpRequest, **extra: str) -> str:
    """The query string that keeps an explicit ``?tz=`` on the next link."""
    params = {k: v for k, v in extra.items() if v}
    if request.GET.get("tz"):
        params = {"tz": request.GET["tz"], **params}
    return "?" + urlencode(params) if params else ""


def now() -> dt.datetime:
    """The current time; ``settings.FIXED_NOW`` stops the clock for tests and screenshots."""
    fixed: dt.datetime | None = settings.FIXED_NOW
    return fixed if fixed is not None else timezone.now()


def today_in(tz: dt.tzinfo) -> dt.date:
    return now().astimezone(tz).date()


def hide_presence(request: HttpRequest) -> bool:
    return request.GET.get("presence") == "hide"


def line_url(request: HttpRequest, channel: Channel, line_id: int, stamp: dt.datetime) -> str:
    """A line on its dated day page in ``request``'s zone, highlighted.

    The day page picks its zone as every page does (``get_tz``), so the date
    here is the date there.
    """
    day = stamp.astimezone(get_tz(request, channel)).date()
    kwargs = {"network": channel.network.slug, "channel": channel.slug, "day": day}
    return f"{reverse('irc-day', kwargs=kwargs)}{tz_query(request, hl=str(line_id))}#L{line_id}"
