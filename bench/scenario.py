"""One scenario: N streams open on one service while lines are published.

The order is fixed: start the service, warm it, measure its RSS, open the N
streams (load generator on its own core), measure RSS again, then publish at
10 lines/s while 50 page requests are spread over the window, wait for the last
deliveries, and collect every figure. Everything is bounded in time.
"""

import datetime as dt
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psutil
from django.db import InterfaceError, OperationalError, connection

from bench import data
from bench.db import ConnectionSampler
from bench.servers import LOADGEN_CPU, OUT, ROOT, Service, run_queue_wait
from irclogger.lines import render_line
from irclogger.models import Channel, Line
from irclogger.publish import write_lines

# The publishing rate and line size of a busy IRC channel.
LINES_PER_SECOND = 10
LINE_BYTES = 300
PAGE_REQUESTS = 50
# A page that takes longer is a failure for a person too (and the naive
# app's pages never come): the probe moves on.
PAGE_TIMEOUT = 5.0
FILLER = (
    "this is a benchmark line about the gevent hub, nginx buffering and PostgreSQL "
    "LISTEN/NOTIFY, padded to the length of a long IRC message so the frame is real "
    "sized; the quick brown fox jumps over the lazy dog while the build turns green "
)
PUBLISHER_NICK = "benchbot"
# Opening 1,000 streams takes 0.2 s (nchan) to 11 s (irclogger) here; slack for a slow server.
RAMP_SECONDS_PER_1000 = 15.0
# After the last line, how long deliveries may still arrive.
GRACE_SECONDS = 3.0


Publisher = Callable[[Line], None]


@dataclass
class Target:
    """A system under test: how to start it and how a line reaches it."""

    name: str
    title: str
    streams: Callable[[], AbstractContextManager[Service]]
    # None when the streams service serves the pages too.
    pages: Callable[[], AbstractContextManager[Service]] | None
    # After the line is committed (and NOTIFY sent): the peer's own hop.
    forward: Callable[[Service], AbstractContextManager[Publisher]]
    app_name: str
    connect_timeout: float = 10.0
    # Open (and close) one stream before measuring the base RSS; not for
    # the naive app, where it would hang a worker.
    warm_stream: bool = True


@dataclass
class Plan:
    publish_seconds: float
    profile: bool = False


def run(target: Target, clients: int, channel: Channel, plan: Plan) -> dict[str, Any]:
    with ExitStack() as stack:
        streams = stack.enter_context(target.streams())
        pages = stack.enter_context(target.pages()) if target.pages else streams
        forward = stack.enter_context(target.forward(streams))
        _warm(pages, streams, channel, target.warm_stream)
        rss_before = _rss(streams)
        with (
            ConnectionSampler(os.environ["DATABASE_URL"], target.app_name) as sampler,
            Loadgen(streams, channel, clients, target.connect_timeout) as loadgen,
        ):
            result = _ramp(loadgen, streams, rss_before)
            sampler.mark()
            profiler = _profiler(streams, plan.publish_seconds + 2) if plan.profile else None
            result |= _window(streams, pages, channel, forward, plan, loadgen)
            result["pg_connections_peak"] = sampler.peak
            result["pg_connections_steady"] = sampler.peak_since_mark
            if profiler is not None:
                result["profile"] = _profile_summary(profiler)
        result["log_tail"] = streams.log_path.read_text(errors="replace")[-1500:]
    forget_published(channel)
    return result


def forget_published(channel: Channel) -> None:
    # The next scenario's page must be the same size as this one's.
    Line.objects.filter(channel=channel, nick=PUBLISHER_NICK).delete()


def _ramp(loadgen: "Loadgen", streams: Service, rss_before: int) -> dict[str, Any]:
    """Open the N streams; the RSS they added."""
    ready = loadgen.ready()
    rss_after = _rss(streams)
    connected = int(ready.get("ready", 0))
    return {
        "clients": loadgen.clients,
        "ready": ready,
        "rss_before_mb": rss_before / 2**20,
        "rss_after_mb": rss_after / 2**20,
        "rss_per_stream_kib": (rss_after - rss_before) / connected / 1024 if connected else None,
        "stream_workers": len(streams.stream_processes()),
    }


def _window(
    streams: Service,
    pages: Service,
    channel: Channel,
    forward: Publisher,
    plan: Plan,
    loadgen: "Loadgen",
) -> dict[str, Any]:
    """Publish while pages are requested; the server's CPU, the pages, the deliveries."""
    pids = [process.pid for process in streams.stream_processes()]
    wait_before, cpu_before = run_queue_wait(pids), _cpu(streams)
    started = time.monotonic()
    loadgen.send("go")
    probe = PageProbe(
        pages.url, data.live_day_path(), plan.publish_seconds + 20, window=plan.publish_seconds
    )
    published = publish_lines(channel, forward, plan.publish_seconds)
    # CPU shares are of the publishing window: the sustained load.
    loadgen.send("end")
    wall = time.monotonic() - started
    server_cpu = (_cpu(streams) - cpu_before) / wall
    server_wait = (run_queue_wait(pids) - wait_before) / wall
    time.sleep(GRACE_SECONDS + loadgen.clients / 5000)
    return {
        "server_cpu": server_cpu,
        "server_cpu_wait": server_wait,
        "pages": probe.join(),
        "loadgen": loadgen.stop(published),
    }


def _warm(pages: Service, streams: Service, channel: Channel, stream: bool) -> None:
    """First requests load code and fill caches: not the cost of a stream."""
    for _ in range(3):
        data.timed_get(pages.url, data.live_day_path())
    if stream:
        path = f"/{channel.network.slug}/{channel.slug}/{streams.stream_path}"
        with socket.create_connection(("127.0.0.1", streams.port), timeout=5) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            with suppress(OSError):
                sock.recv(4096)


def _rss(service: Service) -> int:
    total = 0
    for process in service.stream_processes():
        with suppress(psutil.NoSuchProcess):
            total += process.memory_info().rss
    return total


def _cpu(service: Service) -> float:
    total = 0.0
    for process in service.processes():
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def publish_lines(channel: Channel, forward: Publisher, seconds: float) -> int:
    """Write lines as the bot does, on a fixed schedule; returns how many."""
    count = int(seconds * LINES_PER_SECOND)
    started = time.monotonic()
    for seq in range(count):
        time.sleep(max(0.0, started + seq / LINES_PER_SECOND - time.monotonic()))
        forward(_write(bench_line(channel, seq)))
    return count


def bench_line(channel: Channel, seq: int) -> Line:
    """A line of the benchmark: its seq and publish time in its text, ~300 bytes."""
    marker = f"BENCH#{seq}@{time.time():.6f}# "
    return Line(
        channel=channel,
        timestamp=dt.datetime.now(dt.UTC),
        kind="message",
        nick=PUBLISHER_NICK,
        text=marker + FILLER[: LINE_BYTES - len(marker)],
    )


def _write(line: Line) -> Line:
    """write_lines, once more on a fresh connection if the server dropped ours.

    Tests running on the same PostgreSQL terminate backends to exercise
    reconnects; the bot reconnects then too, and the line keeps its marker.
    """
    try:
        [written] = write_lines([line])
    except (OperationalError, InterfaceError):
        connection.close()
        [written] = write_lines([line])
    return written


def event_data(line: Line) -> str:
    """The event's JSON as the peers receive it: rendered once by the publisher."""
    return json.dumps({"id": line.id, "html": render_line(line), "text": line.text})


class Loadgen:
    """bench/loadgen.py in its own process on the load generator's core."""

    def __init__(
        self,
        service: Service,
        channel: Channel | str,
        clients: int,
        timeout: float,
        options: tuple[str, ...] = (),
    ):
        path = channel if isinstance(channel, str) else stream_path(channel, service)
        url = f"{service.url}{path}"
        command = [sys.executable, "-m", "bench.loadgen", url, f"--clients={clients}"]
        command += [f"--cpu={LOADGEN_CPU}", f"--connect-timeout={timeout}", *options]
        self.clients = clients
        self.timeout = timeout
        self.stderr = open(OUT / "loadgen.err", "ab")  # noqa: SIM115  (closed in __exit__)
        self.process = subprocess.Popen(  # noqa: S603  (our own module)
            command,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None
        threading.Thread(target=_pump, args=(self.process.stdout, self.lines), daemon=True).start()

    def __enter__(self) -> "Loadgen":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.stderr.close()

    def ready(self) -> dict[str, Any]:
        budget = 30 + self.timeout * 2 + RAMP_SECONDS_PER_1000 * self.clients / 1000
        return dict(self._read(budget, "ready_line").get("ready_line", {}))

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def stop(self, published: int) -> dict[str, Any]:
        self.send(f"stop {published}")
        return dict(self._read(120, "result").get("result", {}))

    def expect(self, seqs: list[int]) -> dict[str, Any]:
        """Stop, and count every client against the lines the database holds."""
        self.send("expect " + json.dumps(seqs))
        return dict(self._read(120, "result").get("result", {}))

    def status(self) -> dict[str, Any]:
        self.send("status")
        return dict(self._read(30, "status").get("status", {}))

    def _read(self, timeout: float, wanted: str) -> dict[str, Any]:
        """The next answer holding ``wanted``; a late answer to an earlier
        question (a status that took longer than its wait) is skipped."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                payload = json.loads(self.lines.get(timeout=left))
            except queue.Empty:
                break
            if "ready" in payload:
                payload = {"ready_line": payload}
            if wanted in payload:
                return dict(payload)
        return {"error": f"no answer from the load generator in {timeout:.0f} s"}


def stream_path(channel: Channel, service: Service) -> str:
    return f"/{channel.network.slug}/{channel.slug}/{service.stream_path}"


def _pump(stream: IO[str], lines: "queue.Queue[str]") -> None:
    for line in stream:
        if line.strip():
            lines.put(line)


class PageProbe:
    """Page requests in a thread, one after the other, spread over the publishing window.

    A probe of what a reader waits for while lines go out. Fired back to
    back, its 50 pages were a burst in the window's first second or two
    that took the worker from the first lines' fan-out (docs/DESIGN.md,
    "Pages and the fan-out"), and left the rest of the window without pages.
    """

    def __init__(
        self,
        base_url: str,
        path: str,
        budget: float,
        requests: int = PAGE_REQUESTS,
        window: float = 0.0,
    ):
        self.result: dict[str, Any] = {}
        deadline = time.monotonic() + budget
        paths = [path] * requests
        every = window / requests
        self.thread = threading.Thread(
            target=lambda: self.result.update(
                data.timed_gets(base_url, paths, deadline, PAGE_TIMEOUT, every)
            ),
            daemon=True,
        )
        self.thread.start()

    def join(self) -> dict[str, Any]:
        self.thread.join()
        return self.result


@dataclass
class Profiler:
    process: subprocess.Popen[bytes]
    output: str


def _profiler(service: Service, seconds: float) -> Profiler | None:
    from bench.servers import BIN

    workers = service.stream_processes()
    if not workers:
        return None
    output = str(OUT / f"profile-{service.name}.txt")
    command = [str(BIN / "py-spy"), "record", "--pid", str(workers[0].pid), "--rate", "250"]
    command += [
        "--duration",
        str(round(seconds)),
        "--nonblocking",
        "--format",
        "raw",
        "--output",
        output,
    ]
    process = subprocess.Popen(  # noqa: S603  (py-spy from our virtualenv)
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return Profiler(process, output)


def _profile_summary(profiler: Profiler) -> dict[str, Any]:
    try:
        profiler.process.wait(30)
    except subprocess.TimeoutExpired:
        profiler.process.kill()
        return {"error": "py-spy did not finish"}
    try:
        text = Path(profiler.output).read_text()
    except OSError as exc:
        return {"error": f"no profile: {exc}"}
    return summarize_profile(text)


def summarize_profile(text: str, top: int = 12) -> dict[str, Any]:
    """Where the worker's samples went, from py-spy's collapsed stacks.

    Stacks under Django's request handler are requests (the page probe and
    each stream's connect); all others are the fan-out: the hub, the stream
    generators writing to their sockets, gevent's loop. Shares are of all
    samples.
    """
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    modules: dict[str, int] = {}
    total = requests = 0
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_frame_name(frame) for frame in stack.split(";")]
        if any(frame.startswith(REQUEST_FRAME) for frame in frames):
            requests += count
            continue
        own[frames[-1]] = own.get(frames[-1], 0) + count
        module = _module_of(frames[-1])
        modules[module] = modules.get(module, 0) + count
        for name in set(frames):
            inclusive[name] = inclusive.get(name, 0) + count

    def ranked(table: dict[str, int]) -> list[tuple[str, float]]:
        best = sorted(table.items(), key=lambda item: item[1], reverse=True)[:top]
        return [(name, count / total) for name, count in best]

    return {
        "samples": total,
        "requests": requests / total if total else None,
        "fanout": (total - requests) / total if total else None,
        "self": ranked(own),
        "inclusive": ranked(inclusive),
        "modules": ranked(modules),
    }


REQUEST_FRAME = "WSGIHandler.__call__"


def _module_of(name: str) -> str:
    return name.rpartition(" (")[2].rstrip(")") or name


def _frame_name(frame: str) -> str:
    # "function (package/module.py:123)" -> "function (package/module.py)"
    name, _, where = frame.partition(" (")
    module = where.split(":", 1)[0].rstrip(")")
    return f"{name} ({module})" if module else name
