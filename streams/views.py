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
from streams import hub as hubs
from streams.sse import StreamingSseView, event_frame, line_frame, sse_response

# At most this many lines are replayed on a reconnect; a page further behind
# than that is told to reload, which is cheaper than a thousand appends.
REPLAY_LIMIT = 1000
# Where the page passes the id it was rendered with (its first connection),
# and where event-source-polyfill passes the id it resumes from.
LAST_ID_PARAMS = ("lastEventId", "last_event_id")


class ChannelStream(StreamingSseView):
    def dispatch(
        self, request: HttpRequest, network: str, channel: str, **kwargs: Any
    ) -> StreamingHttpResponse:
        # The same 404 as the pages for a missing or private channel, before
        # any byte of a stream is sent.
        self.channel = get_channel(request, network, channel)
        # A bad id is a 400 here, before the stream starts, not an error inside it.
        self.last_id = self._requested_id(request)
        if request.method == "HEAD":
            # The headers a GET would have, and no stream to hold open.
            return sse_response(iter(()))
        return super().dispatch(request, network=network, channel=channel, **kwargs)

    def get_last_id(self) -> int | None:
        return self.last_id

    @staticmethod
    def _requested_id(request: HttpRequest) -> int | None:
        """Last-Event-ID (a reconnect) wins over the page's query parameter."""
        candidates = [("Last-Event-ID", request.headers.get("Last-Event-ID"))]
        candidates += [(name, request.GET.get(name)) for name in LAST_ID_PARAMS]
        for name, raw in candidates:
            if raw is not None:
                try:
                    return id_parameter(raw, name)
                except ValueError as exc:
                    raise BadRequest(str(exc)) from exc
        return None

    def iterator(self) -> Iterator[bytes | None]:
        hub = hubs.get()
        requested = self.get_last_id()
        client = hub.subscribe(
            self.channel.pk, requested or 0, self.request.META.get("gunicorn.socket")
        )
        STREAMS_OPENED.inc()
        STREAMS_OPEN.inc()
        STREAMS_OPEN_PER_WORKER.inc()
        where = {"network": self.kwargs["network"], "channel": self.kwargs["channel"]}
        ops_log.stream_opened(**where, last_event_id=requested)
        opened, reason = time.monotonic(), "error"
        try:
            replay = self._replay(client, requested)
            release_connection()  # an open stream holds no connection
            client.writing = hub.clock
            yield replay
            client.writing = 0.0
            yield from hub.follow(client)
            # Overflow, slow write, maximum life or shutdown: the client retries.
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

    def _replay(self, client: hubs.Client, requested: int | None) -> bytes:
        """The missed lines, or a reload event when too many were missed."""
        if requested is None:
            client.last_id = self.channel.lines.latest_live_id()  # live from now
            return b""
        missed = Line.objects.after(requested).filter(channel=self.channel)
        lines = list(missed[: REPLAY_LIMIT + 1].rows())
        if len(lines) > REPLAY_LIMIT:
            client.last_id = self.channel.lines.latest_live_id()
            return f"id: {client.last_id}\n".encode() + event_frame("reload", {})
        if lines:
            client.last_id = lines[-1].id
        client.sent = len(lines)
        LINES_DELIVERED.inc(len(lines))
        return b"".join(line_frame(line) for line in lines)


stream = ChannelStream.as_view()
