"""One structured log line per request (irclogger.ops_log); a 503 while the database is away."""

import logging
import time
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from irclogger.net import client_ip
from irclogger.ops_log import request_finished

log = logging.getLogger(__name__)


def request_log(
    get_response: Callable[[HttpRequest], HttpResponseBase],
) -> Callable[[HttpRequest], HttpResponseBase]:
    """Log method, path, status and duration once the view has answered.

    For a stream the duration is the time to its first byte; the stream's own
    close line (irclogger.stream) carries how long it stayed open.
    """

    def middleware(request: HttpRequest) -> HttpResponseBase:
        started = time.monotonic()
        response = get_response(request)
        request_finished(
            request.method or "",
            request.path,
            response.status_code,
            time.monotonic() - started,
            # The reader's address, not nginx's: the trusted-proxy rule /metrics uses.
            client=str(client_ip(request) or request.META.get("REMOTE_ADDR", "")),
            streaming=response.streaming,
        )
        return response

    return middleware


# How long a reader is asked to wait while PostgreSQL is away: about what a
# restart or a failover takes.
RETRY_AFTER_SECONDS = 5
# What psycopg2 raises, through Django, when PostgreSQL is not there.
DATABASE_GONE = (OperationalError, InterfaceError)


class DatabaseUnavailable:
    """A page whose database went away answers 503 with Retry-After, not 500.

    A PostgreSQL restart or failover is not the page's fault nor the
    reader's: the reader (and any crawler or proxy) is told to come back
    shortly. Other database errors are bugs and stay 500s.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return unavailable(request, exception) if isinstance(exception, DATABASE_GONE) else None


def unavailable(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The 503 for one of DATABASE_GONE.

    Also for a view called outside Django's view stage (an anonymous
    stream, streams.middleware), which process_exception never sees.
    """
    log.warning("database unavailable: %s %s: %s", request.method, request.path, exception)
    response = HttpResponse(
        "The logs are briefly unavailable; try again in a few seconds.\n",
        content_type="text/plain; charset=utf-8",
        status=503,
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
