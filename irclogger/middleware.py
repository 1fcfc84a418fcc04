"""One structured log line per request (irclogger.ops_log)."""

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from irclogger.net import client_ip
from irclogger.ops_log import request_finished


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
