"""What the page views share: finding a visible channel, the reader's timezone."""

import datetime as dt
from urllib.parse import urlencode

from django.core.exceptions import BadRequest
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from irclogger.models import Channel
from irclogger.params import UTC, parse_zone


def get_channel(request: HttpRequest, network: str, channel: str) -> Channel:
    """The channel, or the same 404 whether it is missing or merely private."""
    queryset = Channel.objects.visible_to(request.user).select_related("network")
    return get_object_or_404(queryset, network__slug=network, slug=channel)


def get_tz(request: HttpRequest) -> dt.tzinfo:
    name = request.GET.get("tz", "")
    if not name:
        return UTC
    try:
        return parse_zone(name)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc


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
