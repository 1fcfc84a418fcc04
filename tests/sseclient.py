"""A small EventSource for end-to-end tests, on gevent sockets, and what tests do with it.

Thousands of these fit in one test process: each is one socket and, when
run concurrently, one greenlet. It speaks HTTP/1.0 so the body is the raw
event stream (no chunked framing to undo).
"""

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import gevent
from gevent import socket

from irclogger.models import Channel
from tests.conftest import publish


@dataclass
class Event:
    event: str = "message"
    id: str | None = None
    data: str = ""
    retry: int | None = None
    comment: bool = False

    def json(self) -> Any:
        return json.loads(self.data)


class StreamError(Exception):
    pass


class Stream:
    def __init__(
        self,
        port: int,
        path: str,
        *,
        last_event_id: int | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30.0,
        rcvbuf: int | None = None,
    ) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        lines = [f"GET {path} HTTP/1.0", "Host: 127.0.0.1", "Accept: text/event-stream"]
        if last_event_id is not None:
            lines.append(f"Last-Event-ID: {last_event_id}")
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buffer = b""
        head = self._read_until(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        self.status = int(status_line.split()[1])
        self.headers = {
            k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines if h)
        }

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise StreamError("connection closed")
            self.buffer += chunk
        block, self.buffer = self.buffer.split(marker, 1)
        return block

    def events(self) -> Iterator[Event]:
        """Events (and keep-alive comments) until the server ends the stream."""
        while True:
            try:
                block = self._read_until(b"\n\n")
            except (StreamError, ConnectionResetError):
                return
            yield _parse(block.decode())

    def next_event(self, kind: str = "line") -> Event:
        for event in self.events():
            if event.event == kind and not event.comment:
                return event
        raise StreamError(f"stream ended before a {kind!r} event")

    def close(self) -> None:
        self.sock.close()


def _parse(block: str) -> Event:
    event = Event()
    data: list[str] = []
    for line in block.split("\n"):
        if line.startswith(":"):
            event.comment = True
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event.event = value
        elif name == "id":
            event.id = value
        elif name == "data":
            data.append(value)
        elif name == "retry" and value.isdigit():
            event.retry = int(value)
    event.data = "\n".join(data)
    if event.retry is not None and not data:
        event.event = "retry"
    return event


@dataclass
class Follower:
    """An EventSource that reconnects like a browser, collecting line ids."""

    port: int
    path: str
    last_id: int
    until_id: int
    ids: list[int] = field(default_factory=list)
    connects: int = 0
    # Honour the server's retry, but never wait longer than this in a test.
    max_retry_seconds: float = 6.0

    def run(self, deadline: float) -> None:
        retry = 1.0
        while time.monotonic() < deadline and self.last_id < self.until_id:
            try:
                stream = Stream(self.port, self.path, last_event_id=self.last_id, timeout=10)
            except (OSError, StreamError):
                gevent.sleep(0.2)
                continue
            self.connects += 1
            try:
                for event in stream.events():
                    if event.retry is not None:
                        retry = min(event.retry / 1000, self.max_retry_seconds)
                    if event.event == "line" and event.id is not None:
                        self.ids.append(int(event.id))
                        self.last_id = int(event.id)
                        if self.last_id >= self.until_id:
                            break
            except OSError:
                pass
            finally:
                stream.close()
            if self.last_id < self.until_id:
                gevent.sleep(retry)


def connected(port: int, path: str, **kwargs: Any) -> Stream:
    """A stream that has received its first bytes (the retry frame)."""
    stream = Stream(port, path, **kwargs)
    assert stream.status == 200, stream.status
    assert stream.next_event("retry").retry
    return stream


def follow_through_a_reload(
    port: int, path: str, channel: Channel, readers: int, reload: Callable[[], None]
) -> tuple[list[Follower], list[int]]:
    """``readers`` followers while 150 lines are written, with ``reload`` after the 31st.

    Returns the followers, once each has the last line or time is up, and
    the ids written, for the test to compare.
    """
    [first] = publish(channel, 1, "start")
    followers = [Follower(port, path, last_id=first.id, until_id=2**62) for _ in range(readers)]
    deadline = time.monotonic() + 150
    greenlets = [gevent.spawn(follower.run, deadline) for follower in followers]
    for _ in range(100):
        if all(f.connects for f in followers):
            break
        gevent.sleep(0.1)

    written: list[int] = []
    for n in range(150):
        written += [line.id for line in publish(channel, 1, f"during {n}")]
        if n == 30:
            reload()
        gevent.sleep(0.02)
    for _ in range(1200):
        if all(f.last_id >= written[-1] for f in followers):
            break
        gevent.sleep(0.1)
    gevent.killall(greenlets)
    return followers, written
