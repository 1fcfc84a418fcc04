"""What the page views share: the visible channel, the reader's timezone, links."""

import datetime as dt
from urllib.parse import urlencode

from django.core.exceptions import BadRequest
from django.http import HttpRequest

# The pages find their channel where the streams do.
from irclogger.access import get_channel as get_channel
from irclogger.params import UTC, parse_zone


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
