"""The SSE wire format, and django-sse's view made to stream.

Frames are built as bytes once and shared by every client that receives
them (docs/DESIGN.md, "render once, share the bytes").
"""

import json
import random
from collections.abc import Iterator
from typing import Any

from django.http import HttpRequest, StreamingHttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django_sse.views import BaseSseView
from sse import Sse

from irclogger.lines import Line, line_fields, render_line

# A comment line: EventSource ignores it, proxies see traffic. One shared
# object, written to every idle stream at once by the hub.
KEEPALIVE = b": keep-alive\n\n"

# Browsers wait `retry:` ms before reconnecting; a range, not a value, so a
# thousand streams cut at once come back spread over the interval instead
# of as one burst.
RETRY_MS = (1_000, 4_000)
# After a shutdown or a maximum lifetime: long enough to spread a worker's
# thousands of streams over the new workers, short enough that nobody waits
# for a line they would see with a reload.
RETRY_AFTER_END_MS = (500, 5_000)
# After a reload's handoff: the old worker already paces the ends, and a new
# worker listens, so the readers come back at once.
RETRY_AFTER_HANDOFF_MS = (100, 600)


def jittered(bounds: tuple[int, int]) -> int:
    return random.randint(*bounds)


def retry_frame(bounds: tuple[int, int] = RETRY_MS) -> bytes:
    return f"retry: {jittered(bounds)}\n\n".encode()


def line_frame(line: Line) -> bytes:
    """One line as an SSE event: its id, its markup and its fields.

    The markup comes from the one line template and is rendered in UTC, like
    today's page; the page's script moves the clock to the reader's zone.
    """
    data = {**line_fields(line), "html": render_line(line)}
    # ensure_ascii escapes every newline and separator, so data is one line.
    return f"id: {line.id}\nevent: line\ndata: {json.dumps(data)}\n\n".encode()


def event_frame(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def redact_frame(line: Line) -> bytes:
    """A redacted line's new markup, for the page to put in place of ``#L<id>``.

    No ``id:`` field: the event is not a line and must not move the
    client's Last-Event-ID.
    """
    return event_frame("redact", {"id": line.id, "html": render_line(line)})


class StreamingSseView(BaseSseView):  # type: ignore[misc]  # django-sse is untyped
    """django-sse's BaseSseView, returning a response that actually streams.

    Upstream (0.4.1) wraps its generator in a plain ``HttpResponse``, which
    Django drains completely before sending a byte: a stream never reaches
    the client. This keeps its API (``iterator()``, ``self.sse``,
    ``get_last_id()``) and returns a ``StreamingHttpResponse``. ``iterator()``
    may also yield ready-made bytes, sent after whatever it put in
    ``self.sse``: the live path shares pre-rendered frames that way.
    """

    @method_decorator(csrf_exempt)
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> StreamingHttpResponse:
        self.sse = Sse(default_retry=jittered(RETRY_MS))
        self.request = request
        self.args = args
        self.kwargs = kwargs
        return sse_response(self._iterator())

    def _iterator(self) -> Iterator[bytes]:
        for chunk in self.iterator():
            # str() is a join over Sse's buffer: no generator per delivery,
            # unlike iterating the Sse; flush only when something was there.
            buffered = str(self.sse)
            if buffered:
                self.sse.flush()
                # One write for both: the system call per write is what
                # counts with thousands of streams.
                yield buffered.encode() + (chunk or b"")
            elif chunk:
                yield chunk  # the shared frames, not copied


def sse_response(content: Iterator[bytes]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(content, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    # nginx: pass each write on at once (docs/DESIGN.md, trap 3).
    response["X-Accel-Buffering"] = "no"
    return response
