"""The live tail of a channel: ``/<network>/<channel>/stream/``.

Subscribe first, then replay ``id > last seen`` from PostgreSQL, then go
live, dropping ids already sent: no gap and no repeat across reconnects
(docs/DESIGN.md, data flow step 4). The database connection goes back to the
pool before the stream waits, so an open stream holds none.
"""

import time
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import BadRequest
from django.http import HttpRequest, StreamingHttpResponse

from irclogger import ops_log
from irclogger.access import get_channel
from irclogger.geventpool import release_connection
from irclogger.metrics import LINES_DELIVERED, STREAMS_OPEN, STREAMS_OPEN_PER_WORKER, STREAMS_OPENED
from irclogger.models import Line
from irclogger.params import id_parameter
from irclogger.publish import session_tag
from streams import hub as hubs
from streams.sse import StreamingSseView, event_frame, line_frame, retry_frame, sse_response

# At most this many lines are replayed on a reconnect; a page further behind
# than that is told to reload, which is cheaper than a thousand appends.
REPLAY_LIMIT = 1000
# Where the page passes the id it was rendered with (its first connection),
# and where event-source-polyfill passes the id it resumes from.
LAST_ID_PARAMS = ("lastEventId", "last_event_id")
# The protocols whose framing the live path writes itself (Hub.follow).
DIRECT_PROTOCOLS = ("HTTP/1.0", "HTTP/1.1")


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
        # The view's own generator, not StreamingSseView's wrapper around it:
        # each generator level is a frame every waiting stream keeps alive
        # (docs/DESIGN.md, "Memory per stream").
        return sse_response(self.iterator())

    @staticmethod
    def _authorize(
        hub: hubs.Hub, request: HttpRequest, network: str, channel: str
    ) -> tuple[int, str]:
        """The channel's id, and the right by which this reader sees it."""
        user = request.user
        if not user.is_authenticated:
            known = hub.known_channel(network, channel)
            if known is not None:
                return known, hubs.PUBLIC
            generation = hub.generation
            found = get_channel(request, network, channel)
            hub.remember_channel(network, channel, found.pk, generation)
            return found.pk, hubs.PUBLIC
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
        candidates += [(name, request.GET.get(name)) for name in LAST_ID_PARAMS]
        for name, raw in candidates:
            if raw is not None:
                try:
                    return id_parameter(raw, name)
                except ValueError as exc:
                    raise BadRequest(str(exc)) from exc
        return None

    def iterator(self) -> Iterator[bytes]:
        hub = hubs.get()
        requested = self.get_last_id()
        client = self._subscribe(hub, requested)
        STREAMS_OPENED.inc()
        STREAMS_OPEN.inc()
        STREAMS_OPEN_PER_WORKER.inc()
        where = {"network": self.kwargs["network"], "channel": self.kwargs["channel"]}
        ops_log.stream_opened(**where, last_event_id=requested)
        opened, reason = time.monotonic(), "error"
        try:
            if hub.generation != self.generation:
                # Access changed between the check and the subscription: the
                # client checks again on reconnecting.
                yield retry_frame()
                reason = "ended"
                return
            replay = retry_frame() + self._replay(hub, client, requested)
            release_connection()  # an open stream holds no connection
            client.writing = hub.clock
            yield replay
            client.writing = 0.0
            if client.direct:
                hub.serve(client)
            else:
                yield from hub.follow(client)
            # Overflow, slow write, revoked access, maximum life or shutdown.
            reason = "client_gone" if client.gone else "ended"
        except GeneratorExit:
            reason = "client_gone"
            raise
        finally:
            hub.unsubscribe(client)
            STREAMS_OPEN.dec()
            STREAMS_OPEN_PER_WORKER.dec()
            duration = time.monotonic() - opened
            ops_log.stream_closed(**where, duration=duration, lines_sent=client.sent, reason=reason)

    def _subscribe(self, hub: hubs.Hub, requested: int | None) -> hubs.Client:
        user = self.request.user
        session = getattr(self.request, "session", None)
        session_key = session.session_key if session is not None else None
        sock = self.request.META.get("gunicorn.socket")
        client = hub.subscribe(
            self.channel_id,
            requested or 0,
            sock,
            access=self.access,
            user_id=user.pk if user.is_authenticated else None,
            session=session_tag(session_key) if session_key else None,
        )
        # gunicorn frames an HTTP/1.1 response of unknown length as chunks and
        # an HTTP/1.0 one not at all: the live path writes exactly that itself.
        protocol = self.request.META.get("SERVER_PROTOCOL")
        client.direct = sock is not None and protocol in DIRECT_PROTOCOLS
        client.chunked = client.direct and protocol == "HTTP/1.1"
        return client

    def _replay(self, hub: hubs.Hub, client: hubs.Client, requested: int | None) -> bytes:
        """The missed lines, or a reload event when too many were missed.

        A reconnect the ring covers is served from the ring's frames (they
        follow through ``hub.follow``): no query, no rendering. Only readers
        further behind, or on a channel the hub knows too little about, read
        PostgreSQL, and what that shows teaches the hub for the next ones.
        """
        ring, epoch = client.ring, hub.epoch
        if requested is None:
            position = hub.position(self.channel_id)
            if position is None:
                position = Line.objects.filter(channel_id=self.channel_id).latest_live_id()
                hub.learn(ring, latest=position, floor=position, epoch=epoch)
            client.last_id = position  # live from now
            return b""
        if hub.resume(client):
            return b""
        # From the requested line itself: if it is one of this channel's, the
        # ring may vouch from it (below); a made-up id, or another channel's,
        # may lie above a line of this one still being written.
        missed = Line.objects.after(requested - 1).filter(channel_id=self.channel_id)
        lines = list(missed[: REPLAY_LIMIT + 2].rows())
        known = bool(lines) and lines[0].id == requested
        if known:
            del lines[0]
        if len(lines) > REPLAY_LIMIT:
            client.last_id = Line.objects.filter(channel_id=self.channel_id).latest_live_id()
            hub.learn(ring, latest=client.last_id, floor=client.last_id, epoch=epoch)
            return f"id: {client.last_id}\n".encode() + event_frame("reload", {})
        if lines:
            client.last_id = lines[-1].id
            hub.learn(ring, latest=client.last_id, floor=client.last_id, epoch=epoch)
        elif known:
            # Nothing after it: the ring will hear every later line.
            hub.learn(ring, latest=None, floor=requested, epoch=epoch)
        client.sent = len(lines)
        LINES_DELIVERED.inc(len(lines))
        return b"".join(line_frame(line) for line in lines)


stream = ChannelStream.as_view()
