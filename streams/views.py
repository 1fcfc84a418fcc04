"""The live tail of a channel: ``/<network>/<channel>/stream/``.

The view reads the request (which channel, from which line, over which
socket) and checks that the reader may see the channel; the hub runs the
stream (``Hub.stream``): it is the one owner of a stream client's state,
its subscription, replay and delivery counts (docs/DESIGN.md, data flow
step 4).
"""

from collections.abc import Iterator
from typing import Any

from django.contrib.sessions.models import Session
from django.core.exceptions import BadRequest
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone

from irclogger.access import get_channel
from irclogger.params import id_parameter
from irclogger.publish import session_tag
from streams import hub as hubs
from streams.sse import StreamingSseView, sse_response

# Where the page passes the id it was rendered with (its first connection),
# and where event-source-polyfill passes the id it resumes from.
LAST_ID_PARAMS = ("lastEventId", "last_event_id")


class ChannelStream(StreamingSseView):
    def dispatch(
        self, request: HttpRequest, network: str, channel: str, **kwargs: Any
    ) -> StreamingHttpResponse:
        hub = hubs.get()
        # Any access change heard after this makes the check below stale.
        self.generation = hub.generation
        # The same 404 as the pages for a missing or private channel, before
        # any byte of a stream is sent.
        self.channel_id, self.access = self._authorize(hub, request, network, channel)
        # A bad id is a 400 here, before the stream starts, not an error inside it.
        self.last_id = self._requested_id(request)
        if request.method == "HEAD":
            # The headers a GET would have, and no stream to hold open.
            return sse_response(iter(()))
        # The hub's generator itself, not StreamingSseView's wrapper around
        # it: each generator level is a frame every waiting stream keeps alive
        # (docs/DESIGN.md, "Memory per stream").
        return sse_response(self.iterator())

    @staticmethod
    def _authorize(
        hub: hubs.Hub, request: HttpRequest, network: str, channel: str
    ) -> tuple[int, str]:
        """The channel's id, and the right by which this reader sees it."""
        user = request.user
        if not user.is_authenticated:
            found_id = hub.public_channel(
                network, channel, lambda: get_channel(request, network, channel).pk
            )
            return found_id, hubs.PUBLIC
        found = get_channel(request, network, channel)
        if getattr(user, "is_staff", False):
            return found.pk, hubs.STAFF
        return found.pk, hubs.PUBLIC if found.is_public else hubs.MEMBER

    def get_last_id(self) -> int | None:
        return self.last_id

    @staticmethod
    def _requested_id(request: HttpRequest) -> int | None:
        """Last-Event-ID (a reconnect) wins over the page's query parameter."""
        # From META: request.headers would build (and keep, for the stream's
        # whole life) a second copy of every header.
        candidates = [("Last-Event-ID", request.META.get("HTTP_LAST_EVENT_ID"))]
        # request.GET is parsed only where there is a query string: building
        # it for a reconnect's bare URL cost 6 µs, about 1 % of the reconnect.
        if request.META.get("QUERY_STRING"):
            candidates += [(name, request.GET.get(name)) for name in LAST_ID_PARAMS]
        for name, raw in candidates:
            if raw is not None:
                try:
                    return id_parameter(raw, name)
                except ValueError as exc:
                    raise BadRequest(str(exc)) from exc
        return None

    def iterator(self) -> Iterator[bytes]:
        """The stream, run by the hub: this view keeps nothing of it."""
        request = self.request
        user = request.user
        session = getattr(request, "session", None)
        session_key = session.session_key if session is not None else None
        return hubs.get().stream(
            self.channel_id,
            self.get_last_id(),
            request.META.get("gunicorn.socket"),
            request.META.get("SERVER_PROTOCOL"),
            generation=self.generation,
            where={"network": self.kwargs["network"], "channel": self.kwargs["channel"]},
            access=self.access,
            user_id=user.pk if user.is_authenticated else None,
            session=session_tag(session_key) if session_key else None,
            session_ends_in=_seconds_left(session_key) if self.access != hubs.PUBLIC else None,
        )


def _seconds_left(session_key: str | None) -> float:
    """How long the session that lets this reader in lasts (0 if it is gone).

    From its row, not the session object: that one answers the default age
    from now, not when the stored session expires.
    """
    expires = (
        Session.objects.filter(session_key=session_key)
        .values_list("expire_date", flat=True)
        .first()
    )
    return 0.0 if expires is None else (expires - timezone.now()).total_seconds()


stream = ChannelStream.as_view()
