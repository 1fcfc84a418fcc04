"""The SSE wire format, and django-sse's view made to stream (keeping its API)."""

import datetime as dt
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

from django.http import StreamingHttpResponse
from django.test import RequestFactory

from streams.sse import RETRY_MS, StreamingSseView, line_frame, retry_frame


class Ticker(StreamingSseView):
    """A view written against django-sse's documented API."""

    def iterator(self) -> Iterator[None]:
        for n in range(2):
            self.sse.add_message("tick", f"{n}\nsecond line")
            yield None


def _line(text: str) -> Any:
    return SimpleNamespace(
        id=7,
        timestamp=dt.datetime(2024, 3, 10, 12, 0, 5, tzinfo=dt.UTC),
        kind="message",
        nick="alice",
        target="",
        text=text,
    )


def test_it_streams_what_a_django_sse_view_writes() -> None:
    response = Ticker.as_view()(RequestFactory().get("/ticks/"))
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/event-stream"
    chunks = list(response.streaming_content)  # type: ignore[arg-type]
    assert len(chunks) == 2
    assert chunks[0].startswith(b"retry: ")
    assert chunks[0].endswith(b"event: tick\ndata: 0\ndata: second line\n\n")
    assert chunks[1] == b"event: tick\ndata: 1\ndata: second line\n\n"


def test_it_keeps_django_sses_last_id() -> None:
    view = Ticker()
    view.request = RequestFactory().get("/ticks/", HTTP_LAST_EVENT_ID="41")
    assert view.get_last_id() == "41"


def test_it_frames_a_line_as_one_event_with_its_id() -> None:
    frame = line_frame(_line("two\nlines\r and\u2028separators"))
    assert frame.startswith(b"id: 7\nevent: line\ndata: ")
    assert frame.endswith(b"\n\n")
    assert frame.count(b"\n") == 4  # id, event, one data line, blank line
    data = json.loads(frame.split(b"data: ", 1)[1])
    assert data["text"] == "two\nlines\r and\u2028separators"
    assert data["timestamp"] == "2024-03-10T12:00:05+00:00"
    assert data["html"].startswith('<li id="L7" class="line k-message"')
    assert {"id", "kind", "nick", "target"} <= data.keys()


def test_it_jitters_the_retry() -> None:
    values = {int(retry_frame().split()[1]) for _ in range(50)}
    assert all(RETRY_MS[0] <= value <= RETRY_MS[1] for value in values)
    assert len(values) > 1
