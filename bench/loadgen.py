"""The load generator: N concurrent SSE clients in one process, one core.

Python asyncio on uvloop with raw ``asyncio.Protocol`` sockets: no HTTP
library, no task per client, one ``data_received`` call per segment. That
keeps a client at a few microseconds per delivery, so 10,000 of them fit on
one core next to the server under test; the process reports its own CPU so a
saturated generator is visible in the results.

Driven by bench/run.py over stdin/stdout, one JSON object per line:

- it opens the connections (ramped), then prints ``{"ready": ...}``;
- ``go`` on stdin starts the measured window (CPU accounting), ``end``
  closes it (the publisher wrote its last line);
- ``stop <published>`` (after the last deliveries) prints the result and exits.

Each published line carries ``BENCH#<seq>@<unix time>#`` in its text; the
receipt time minus that time is the delivery latency.
"""

import argparse
import asyncio
import json
import os
import re
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

MARKER = re.compile(rb"BENCH#(\d+)@(\d+\.\d+)#")
# A client that has not seen its response headers by then counts as a
# connect failure (the naive app's sync workers never answer).
DEFAULT_CONNECT_TIMEOUT = 10.0
# At most this many connection attempts in flight at once: the listen
# backlog of the servers is 2048 (gunicorn) or 511 (nginx, Node).
RAMP_BATCH = 250
# EventSource reconnects after `retry:` ms; capped so a scenario's 10 s
# window still sees the resumed lines.
MAX_RECONNECT_DELAY = 2.0
MAX_RECONNECTS = 5
# States of the chunked decoder besides "bytes left in this chunk".
_SIZE_LINE = -1
_CHUNK_END = -2


@dataclass
class Client:
    """One EventSource's state: the parser's buffers and what it received."""

    index: int
    connected: bool = False
    failed: str = ""
    last_event_id: str = ""
    retry: float = 3.0
    reconnects: int = 0
    seqs: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    receipts: list[float] = field(default_factory=list)
    other_events: int = 0
    comments: int = 0


class SseProtocol(asyncio.Protocol):
    """HTTP/1.1 response (chunked or not), then the WHATWG event-stream parser."""

    def __init__(
        self,
        client: Client,
        request: bytes,
        headers_seen: asyncio.Future[bool],
        on_lost: Callable[[Client], None],
    ):
        self.client = client
        self.on_lost = on_lost
        self.request = request
        self.headers_seen = headers_seen
        self.transport: asyncio.Transport | None = None
        self.head = b""
        self.in_body = False
        self.chunked = False
        self.chunk_left = _SIZE_LINE  # or the bytes left in the current chunk
        self.raw = b""  # undecoded chunked bytes
        self.pending = b""  # event-stream bytes not yet ending in a line break
        self.data: list[bytes] = []
        self.event_type = b""
        self.event_id: bytes | None = None
        self.first_line = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; same interface.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.headers_seen.done():
            self.headers_seen.set_result(False)
        if self.client.connected:
            self.client.connected = False
            self.on_lost(self.client)

    def data_received(self, data: bytes) -> None:
        if not self.in_body:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            head, data = self.head[:end], self.head[end + 4 :]
            self.head = b""
            if not self._accept(head):
                return
        if self.chunked:
            data = self._dechunk(data)
        if data:
            self._feed(data, time.time())

    def _accept(self, head: bytes) -> bool:
        lines = head.split(b"\r\n")
        status = lines[0].split(b" ", 2)
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            fields[name.strip().lower()] = value.strip().lower()
        ok = len(status) > 1 and status[1] == b"200"
        ok = ok and fields.get(b"content-type", b"").startswith(b"text/event-stream")
        if not ok:
            # EventSource: a non-200 or a wrong type fails the connection for good.
            self.client.failed = lines[0].decode("latin-1")[:80]
            self.headers_seen.set_result(False)
            assert self.transport is not None
            self.transport.close()
            return False
        self.in_body = True
        self.chunked = fields.get(b"transfer-encoding") == b"chunked"
        self.client.connected = True
        self.headers_seen.set_result(True)
        return True

    def _dechunk(self, data: bytes) -> bytes:
        """Undo chunked transfer coding; ``chunk_left`` is the state."""
        raw = self.raw + data
        out = []
        position, size = 0, len(raw)
        while position < size:
            if self.chunk_left == _SIZE_LINE:
                end = raw.find(b"\r\n", position)
                if end < 0:
                    break
                length = int(raw[position:end].split(b";", 1)[0].strip() or b"0", 16)
                position = end + 2
                # A zero-length chunk ends the body; the server then closes.
                self.chunk_left = length or _SIZE_LINE
            elif self.chunk_left == _CHUNK_END:
                if size - position < 2:
                    break
                position += 2
                self.chunk_left = _SIZE_LINE
            else:
                take = min(self.chunk_left, size - position)
                out.append(raw[position : position + take])
                position += take
                self.chunk_left -= take
                if self.chunk_left == 0:
                    self.chunk_left = _CHUNK_END
        self.raw = raw[position:]
        return b"".join(out)

    def _feed(self, data: bytes, now: float) -> None:
        text = self.pending + data
        if self.first_line:
            self.first_line = False
            if text.startswith(b"\xef\xbb\xbf"):  # a leading BOM is dropped
                text = text[3:]
        # Lines end in CRLF, LF or CR; the common case (LF only) splits fast.
        if b"\r" in text:
            text = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = text.split(b"\n")
        self.pending = lines.pop()
        for line in lines:
            self._line(line, now)

    def _line(self, line: bytes, now: float) -> None:
        if not line:
            self._dispatch(now)
            return
        if line[:1] == b":":
            self.client.comments += 1
            return
        name, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self.data.append(value)
        elif name == b"event":
            self.event_type = value
        elif name == b"id":
            if b"\x00" not in value:
                self.event_id = value
        elif name == b"retry" and value.isdigit():
            self.client.retry = int(value) / 1000

    def _dispatch(self, now: float) -> None:
        if self.event_id is not None:
            self.client.last_event_id = self.event_id.decode("utf-8", "replace")
            self.event_id = None
        data, self.data = self.data, []
        self.event_type = b""
        if not data:
            return
        match = MARKER.search(data[0] if len(data) == 1 else b"\n".join(data))
        if match is None:
            self.client.other_events += 1
            return
        self.client.seqs.append(int(match[1]))
        self.client.latencies.append(now - float(match[2]))
        self.client.receipts.append(now)


class LoadGenerator:
    def __init__(self, url: str, count: int, connect_timeout: float):
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.clients = [Client(index) for index in range(count)]
        self.connect_timeout = connect_timeout
        self.running = True
        self.transports: dict[int, asyncio.Transport] = {}
        self.tasks: set[asyncio.Future[None]] = set()

    def request(self, client: Client) -> bytes:
        resume = f"Last-Event-ID: {client.last_event_id}\r\n" if client.last_event_id else ""
        return (
            f"GET {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            "Accept: text/event-stream\r\nCache-Control: no-cache\r\n"
            f"{resume}User-Agent: irclogger-bench\r\n\r\n"
        ).encode()

    async def connect(self, client: Client) -> None:
        loop = asyncio.get_running_loop()
        seen: asyncio.Future[bool] = loop.create_future()
        try:
            transport, _ = await asyncio.wait_for(
                loop.create_connection(
                    lambda: SseProtocol(client, self.request(client), seen, self.lost),
                    self.host,
                    self.port,
                ),
                self.connect_timeout,
            )
        except (OSError, TimeoutError) as exc:
            client.failed = type(exc).__name__
            return
        self.transports[client.index] = transport
        try:
            ok = await asyncio.wait_for(asyncio.shield(seen), self.connect_timeout)
        except TimeoutError:
            ok = False
            client.failed = client.failed or "no response headers"
            transport.abort()
        if ok:
            client.failed = ""

    def lost(self, client: Client) -> None:
        """Reconnect like EventSource when the server ends a stream mid-run."""
        if self.running and client.reconnects < MAX_RECONNECTS:
            client.reconnects += 1
            asyncio.get_running_loop().call_later(
                min(client.retry, MAX_RECONNECT_DELAY),
                self._reconnect,
                client,
            )

    def _reconnect(self, client: Client) -> None:
        if self.running:
            task = asyncio.ensure_future(self.connect(client))
            self.tasks.add(task)  # a reference, so the task is not collected mid-way
            task.add_done_callback(self.tasks.discard)

    async def ramp(self) -> None:
        for start in range(0, len(self.clients), RAMP_BATCH):
            batch = self.clients[start : start + RAMP_BATCH]
            await asyncio.gather(*(self.connect(client) for client in batch))

    def close(self) -> None:
        self.running = False
        for transport in self.transports.values():
            transport.abort()


def percentile(values: list[float], fraction: float) -> float | None:
    """The value at ``fraction`` of the sorted ``values`` (nearest rank), None if empty."""
    if not values:
        return None
    index = min(len(values) - 1, round(fraction * (len(values) - 1)))
    return values[index]


def summarize(gen: LoadGenerator, published: int, cpu: float, wall: float) -> dict[str, Any]:
    latencies: list[float] = []
    last_receipt: dict[int, float] = {}
    first_publish: dict[int, float] = {}
    receivers: dict[int, int] = {}
    missed = duplicated = out_of_order = 0
    clients_missing = 0
    for client in gen.clients:
        latencies.extend(client.latencies)
        unique = set(client.seqs)
        duplicated += len(client.seqs) - len(unique)
        lost = sum(1 for seq in range(published) if seq not in unique)
        missed += lost
        clients_missing += lost > 0
        highest = -1
        for seq, latency, receipt in zip(
            client.seqs, client.latencies, client.receipts, strict=True
        ):
            out_of_order += seq < highest
            highest = max(highest, seq)
            if receipt > last_receipt.get(seq, 0.0):
                last_receipt[seq] = receipt
            first_publish[seq] = receipt - latency
        for seq in unique:
            receivers[seq] = receivers.get(seq, 0) + 1
    latencies.sort()
    count = len(gen.clients)
    fanout = sorted(
        last_receipt[seq] - first_publish[seq]
        for seq in last_receipt
        if receivers.get(seq) == count
    )
    failures: dict[str, int] = {}
    for client in gen.clients:
        if client.failed:
            failures[client.failed] = failures.get(client.failed, 0) + 1
    return {
        "clients": count,
        "published": published,
        "deliveries": len(latencies),
        "expected_deliveries": count * published,
        "latency": {
            "p50": percentile(latencies, 0.50),
            "p90": percentile(latencies, 0.90),
            "p99": percentile(latencies, 0.99),
            "max": latencies[-1] if latencies else None,
        },
        "fanout_complete_lines": len(fanout),
        "fanout": {
            "p50": percentile(fanout, 0.50),
            "p99": percentile(fanout, 0.99),
            "max": fanout[-1] if fanout else None,
        },
        "missed": missed,
        "clients_missing_lines": clients_missing,
        "duplicated": duplicated,
        "out_of_order": out_of_order,
        "connect_failures": sum(failures.values()),
        "failure_reasons": failures,
        "reconnects": sum(client.reconnects for client in gen.clients),
        "other_events": sum(client.other_events for client in gen.clients),
        "loadgen_cpu": cpu / wall if wall > 0 else None,
    }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _usage() -> tuple[float, float, float]:
    return _cpu_seconds(), time.monotonic(), _run_queue_wait()


def _since(start: tuple[float, float, float]) -> tuple[float, float, float]:
    """CPU seconds, wall seconds and run-queue wait since ``start``."""
    now = _usage()
    return now[0] - start[0], now[1] - start[1], now[2] - start[2]


def _run_queue_wait() -> float:
    """Seconds this process was runnable but waiting for its core (Linux schedstat)."""
    try:
        return int(Path("/proc/self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def _emit(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


async def main(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[str] = asyncio.Queue()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def read_commands() -> None:
        while line := await reader.readline():
            await commands.put(line.decode().strip())
        await commands.put("stop 0")

    reading = asyncio.ensure_future(read_commands())
    gen = LoadGenerator(args.url, args.clients, args.connect_timeout)
    started = time.monotonic()
    await gen.ramp()
    connected = sum(client.connected for client in gen.clients)
    _emit(
        {
            "ready": connected,
            "failed": args.clients - connected,
            "ramp_seconds": time.monotonic() - started,
        }
    )
    start = (0.0, 0.0, 0.0)
    window: tuple[float, float, float] | None = None
    while True:
        command = await commands.get()
        if command == "go":  # the publisher starts
            start = _usage()
        elif command == "end":  # the publisher wrote its last line
            window = _since(start)
        elif command.startswith("stop"):
            published = int(command.split()[1])
            cpu, wall, waited = window or _since(start)
            still_open = sum(client.connected for client in gen.clients)
            gen.close()
            result = summarize(gen, published, cpu, wall)
            result["open_at_stop"] = still_open
            result["loadgen_cpu_wait"] = waited / wall if wall > 0 else None
            _emit({"result": result})
            reading.cancel()
            return


def _prepare_process(cpu: int | None) -> None:
    # 10,000 sockets need more than the usual 1,024 descriptors.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--connect-timeout", type=float, default=DEFAULT_CONNECT_TIMEOUT)
    parser.add_argument("--cpu", type=int, default=None, help="pin to this core")
    args = parser.parse_args()
    _prepare_process(args.cpu)
    try:
        import uvloop

        uvloop.run(main(args))
    except ImportError:
        asyncio.run(main(args))


if __name__ == "__main__":
    cli()
