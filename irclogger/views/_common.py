"""What the page views share: finding a visible channel, the reader's timezone."""

import datetime as dt
import zoneinfo
from urllib.parse import urlencode

from django.core.exceptions import BadRequest
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from irclogger.models import Channel

UTC = dt.UTC


def get_channel(request: HttpRequest, network: str, channel: str) -> Channel:
    """The channel, or the same 404 whether it is missing or merely private."""
    queryset = Channel.objects.visible_to(request.user).select_related("network")
    return get_object_or_404(queryset, network__slug=network, slug=channel)


def get_tz(request: HttpRequest) -> dt.tzinfo:
    name = request.GET.get("tz", "")
    if not name or name == "UTC":
        return UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise BadRequest(f"Unknown timezone {name!r}; use an IANA name like Europe/Paris.") from exc


def tz_query(tz: dt.tzinfo, **extra: str) -> str:
    """The query string that keeps the reader's timezone on the next link."""
    params = {k: v for k, v in extra.items() if v}
    if tz is not UTC:
        params = {"tz": str(tz), **params}
    return "?" + urlencode(params) if params else ""


def today_in(tz: dt.tzinfo) -> dt.date:
    return dt.datetime.now(tz).date()


def hide_presence(request: HttpRequest) -> bool:
    return request.GET.get("presence") == "hide"
