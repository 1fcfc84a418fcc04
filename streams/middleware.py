"""Anonymous streams skip the middleware a stream has no use for.

A stream connect should cost about what a minimal view costs: a reader
without a session cookie has no session to load, no CSRF token to check
and no messages to show, and thousands of them reconnect at once after a
deploy. A request with a session cookie goes the whole way, so a member's
cookie still opens their private channels.
"""

from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponseBase
from django.urls import Resolver404, ResolverMatch, resolve

from irclogger.middleware import DATABASE_GONE, unavailable
from streams.paths import is_stream_path

STREAM_URL_NAME = "irc-stream"
# Stream paths whose route is known: a reader reconnects to the same few
# paths over and over, and resolving one took a twentieth of a reconnect.
ROUTES_CACHED = 4096


def anonymous_streams(
    get_response: Callable[[HttpRequest], HttpResponseBase],
) -> Callable[[HttpRequest], HttpResponseBase]:
    def middleware(request: HttpRequest) -> HttpResponseBase:
        if (
            is_stream_path(request.path_info)
            and settings.SESSION_COOKIE_NAME not in request.COOKIES
        ):
            match = _stream_route(request.path_info)
            if match is not None:
                request.get_host()  # ALLOWED_HOSTS, as CommonMiddleware would check
                request.user = AnonymousUser()
                try:
                    response: HttpResponseBase = match.func(request, *match.args, **match.kwargs)
                except DATABASE_GONE as exc:
                    # Django's view stage is skipped, and with it process_exception.
                    return unavailable(request, exc)
                return response
        return get_response(request)

    return middleware


@lru_cache(maxsize=ROUTES_CACHED)
def _stream_route(path: str) -> ResolverMatch | None:
    """The route of a stream's path, or None for any other path."""
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return match if match.url_name == STREAM_URL_NAME else None
