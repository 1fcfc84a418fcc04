"""Faults against a service full of streams: every client must end with every line once, in order.

One run: a private PostgreSQL (tests/throwaway_postgres.py, so it may be
restarted), irclogger as deployed (gunicorn with conf/gunicorn.py, on a socket held
across restarts as conf/systemd/irclogger.socket holds it), N
clients that reconnect as EventSource does (bench/loadgen.py ``--follow``),
and a writer committing lines at 10/s the whole time (bench/writer.py).
Faults are injected one after another; after each, the run waits until every
client streams again and has read a line written after the fault (bounded:
``settle_timeout``). At the end each client is compared with the lines the
database holds.

The same run serves the reload and restart storms of the benchmark (with
page timings during each storm), the chaos suite (all faults), and the soak
(no fault, a long time, the worker's memory sampled).

    python -m bench.run --only chaos    # make chaos: 2,000 streams, every fault
"""

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psutil
import psycopg2

from bench import servers
from bench.scenario import PUBLISHER_NICK, Loadgen
from bench.servers import OUT, ROOT, Service
from bench.writer import written_seqs
from tests.throwaway_postgres import Postgres, migrate, throwaway_postgres

APP_NAME = "irclogger-chaos"
FAULTS = ("reload", "restart", "kill-worker", "pg-terminate-hub", "pg-restart")
# Faults after which no stream is left on the workers that held them.
SERVICE_REPLACED = ("reload", "restart")
# A restart is systemd's: SIGTERM, wait for the workers to drain, start.
GRACEFUL_STOP_SECONDS = 40.0
# A browser waits for a stream's response headers as long as TCP lets it; a
# client that gives up early and retries only adds requests the server has
# already begun to a storm. Bounded, so a run always ends.
CONNECT_TIMEOUT = 120.0
# Lines written this long before a fault count as written during it.
WINDOW_LEAD_SECONDS = 1.0
# How often the settle loop asks the load generator where its clients are.
POLL_SECONDS = 0.25
# A page request during a storm that takes longer counts as failed.
PAGE_TIMEOUT = 5.0
# The storm's page load: a reader opening the channel's day page every half second.
PAGES_PER_SECOND = 2
CONFIG = "conf/gunicorn.py"
PROBE_CONFIG = "bench/probe_gunicorn.py"
# How long a worker may take to collect, trim and write its probe.
PROBE_COLLECT_SECONDS = 5.0


@dataclass
class Plan:
    clients: int
    faults: list[str]
    # Per fault, and for the last lines at the end: the run never waits longer.
    settle_timeout: float = 60.0
    # Lines written before the first fault.
    lead_seconds: float = 3.0
    # Time the pages during each storm.
    pages: bool = False
    # The soak: this long with no fault, the worker's memory every sample_seconds.
    soak_seconds: float = 0.0
    sample_seconds: float = 30.0
    # Passed to the service as STREAM_MAX_LIFETIME_SECONDS when set.
    lifetime_seconds: float | None = None
    # Open the clients at this rate per second (None: in waves, as fast as possible).
    connect_rate: float | None = None
    workers: int = 1
    # Run the service with bench/probe_gunicorn.py: the workers' GC and RSS in the results.
    probe: bool = False


@dataclass
class FaultRecord:
    name: str
    at: float
    detail: str = ""
    settled: bool = False
    settle_seconds: float | None = None
    # When the run stopped waiting for it to settle (settled or not).
    ended: float | None = None
    pages: dict[str, Any] = field(default_factory=dict)


def run(workdir: Path, plan: Plan, log: Callable[[str], None] = print) -> dict[str, Any]:
    """One chaos run; its figures (see the module's docstring)."""
    unknown = set(plan.faults) - set(FAULTS)
    if unknown:
        raise ValueError(f"unknown faults: {sorted(unknown)}; known: {', '.join(FAULTS)}")
    started = time.monotonic()
    # Held for the whole run, as systemd's socket unit holds it
    # (conf/systemd/irclogger.socket): a restart's reconnects queue in it
    # instead of being refused.
    listening = servers.held_socket(servers.free_port())
    with throwaway_postgres(workdir) as postgres, listening as listener:
        migrate(postgres)
        with Writer(postgres.url) as writer:
            env = {}
            if plan.lifetime_seconds:
                env["STREAM_MAX_LIFETIME_SECONDS"] = str(int(plan.lifetime_seconds))
            if plan.probe:
                env["SOAK_PROBE_DIR"] = str(workdir / "probe")
                env["SOAK_PROBE_SECONDS"] = str(plan.sample_seconds)
            # The service of the moment: a restart replaces it.
            holder = {"service": _start(postgres, listener, plan, env)}
            try:
                result = _drive(plan, postgres, writer, holder, listener, env, log)
                if plan.probe:
                    result["probe"] = _probe(holder["service"], workdir / "probe")
            finally:
                servers.stop(holder["service"])
    result["seconds"] = time.monotonic() - started
    return result


def _drive(
    plan: Plan,
    postgres: Postgres,
    writer: "Writer",
    holder: dict[str, Service],
    listener: socket.socket,
    env: dict[str, str],
    log: Callable[[str], None],
) -> dict[str, Any]:
    options = ["--follow"]
    if plan.connect_rate:
        options.append(f"--rate={plan.connect_rate}")
    with Loadgen(
        holder["service"], writer.path, plan.clients, CONNECT_TIMEOUT, tuple(options)
    ) as loadgen:
        ready = loadgen.ready()
        log(f"chaos: {ready.get('ready')} of {plan.clients:,} streams open")
        rss_start = _rss(holder["service"])
        writer.go()
        time.sleep(plan.lead_seconds)
        records = []
        for name in plan.faults:
            log(f"chaos: {name}")
            record = FaultRecord(name, time.time())
            loadgen.send(f"fault {name} {record.at}")
            probe = PageProbe(listener.getsockname()[1]) if plan.pages else None
            record.detail = _inject(name, holder, postgres, listener, plan, env)
            _settle(record, plan, loadgen, writer)
            if probe is not None:
                record.pages = probe.stop()
            log(f"chaos:   settled={record.settled} in {record.settle_seconds or 0:.1f} s")
            records.append(record)
        soak = _soak(plan, holder, loadgen, log) if plan.soak_seconds else []
        writer.stop()
        expected = written_seqs(postgres.url, PUBLISHER_NICK)
        last = max((seq for seq, _at in expected), default=-1)
        caught_up = _wait_for(
            lambda: loadgen.status().get("min_highest", -1) >= last, plan.settle_timeout
        )
        result = loadgen.expect([seq for seq, _at in expected])
        rss_end = _rss(holder["service"])
    return {
        "plan": {key: value for key, value in vars(plan).items()},
        "ready": ready,
        "attempts": writer.attempts,
        "failed_writes": writer.failed,
        "written": len(expected),
        "in_order_in_database": [seq for seq, _ in expected] == sorted(s for s, _ in expected),
        "caught_up_at_end": caught_up,
        "faults": [_fault_figures(record, result, expected) for record in records],
        "soak": soak,
        "rss_start_mb": rss_start / 2**20,
        "rss_end_mb": rss_end / 2**20,
        "loadgen": result,
    }


def _inject(
    name: str,
    holder: dict[str, Service],
    postgres: Postgres,
    listener: socket.socket,
    plan: Plan,
    env: dict[str, str],
) -> str:
    """Do the fault; a word on what was hit."""
    service = holder["service"]
    if name == "reload":
        service.process.send_signal(signal.SIGHUP)
        return "SIGHUP to the gunicorn master"
    if name == "restart":
        servers.stop_gracefully(service, GRACEFUL_STOP_SECONDS)
        holder["service"] = _start(postgres, listener, plan, env, append_log=True)
        return "SIGTERM, drained, started again on the same socket"
    if name == "kill-worker":
        worker = service.stream_processes()[0]
        worker.send_signal(signal.SIGKILL)
        return f"SIGKILL to worker {worker.pid}"
    if name == "pg-terminate-hub":
        return f"{_terminate_hub(postgres.url)} LISTEN connection(s) terminated"
    if name == "pg-restart":
        postgres.stop()
        postgres.start()
        return "pg_ctl stop -m fast, start"
    raise ValueError(name)


def _start(
    postgres: Postgres,
    listener: socket.socket,
    plan: Plan,
    env: dict[str, str],
    append_log: bool = False,
) -> Service:
    return servers.start_irclogger(
        postgres.url,
        APP_NAME,
        listener.getsockname()[1],
        plan.workers,
        append_log=append_log,
        extra_env=env,
        config=PROBE_CONFIG if plan.probe else CONFIG,
        listener=listener,
    )


def _probe(service: Service, folder: Path) -> dict[str, Any]:
    """The probe's samples, and a full collection asked for now (bench/probe_gunicorn.py)."""
    for worker in service.stream_processes():
        worker.send_signal(signal.SIGUSR2)
    time.sleep(PROBE_COLLECT_SECONDS)
    samples: list[dict[str, Any]] = []
    collects: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            payload = json.loads(line)
            (collects if payload.get("kind") == "collect" else samples).append(payload)
    return {"samples": samples, "collect": collects}


def _terminate_hub(url: str) -> int:
    connection = psycopg2.connect(url)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = %s",
                [APP_NAME + "-hub"],
            )
            return sum(1 for (done,) in cursor.fetchall() if done)
    finally:
        connection.close()


def _settle(record: FaultRecord, plan: Plan, loadgen: Loadgen, writer: "Writer") -> None:
    """Until every client streams and has read a line committed a second after the fault.

    A reload or restart replaces every worker: it has settled only once every
    stream moved too (a reload's old worker keeps streaming for a while, so
    lines after the fault alone do not say the storm is over).
    """
    deadline = time.monotonic() + plan.settle_timeout
    target: int | None = None
    everyone_moves = record.name in SERVICE_REPLACED
    while time.monotonic() < deadline:
        target = target if target is not None else writer.first_ok_after(record.at + 1.0)
        status = loadgen.status()
        moved = not everyone_moves or status.get("opened_since_fault") == plan.clients
        if (
            target is not None
            and moved
            and status.get("open") == plan.clients
            and status.get("min_highest", -1) >= target
        ):
            record.settled = True
            record.settle_seconds = time.time() - record.at
            break
        time.sleep(POLL_SECONDS)
    record.ended = time.time()


def _wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(POLL_SECONDS)
    return False


def _fault_figures(
    record: FaultRecord, result: dict[str, Any], expected: list[tuple[int, float]]
) -> dict[str, Any]:
    """The fault's storm as the clients saw it, and the lines written in its window."""
    storms: list[dict[str, Any]] = result.get("storms", [])
    storm = next((s for s in storms if s.get("fault") == record.name), {})
    window_end = record.ended or record.at
    # A line committed just before the fault may still be on its way to the
    # streams when it strikes: the window opens a little earlier.
    window_start = record.at - WINDOW_LEAD_SECONDS
    in_window = [seq for seq, at in expected if window_start <= at <= window_end]
    lost = result.get("lost_seqs", {})
    repeated = result.get("repeated_seqs", {})
    return {
        "name": record.name,
        "detail": record.detail,
        "settled": record.settled,
        "settle_seconds": record.settle_seconds,
        "storm": storm,
        "pages": record.pages,
        "lines_in_window": len(in_window),
        # Only the 50 most-missed seqs are reported; enough to place a loss.
        "lost_in_window": sum(lost.get(str(seq), lost.get(seq, 0)) for seq in in_window),
        "repeated_in_window": sum(
            repeated.get(str(seq), repeated.get(seq, 0)) for seq in in_window
        ),
    }


def _soak(
    plan: Plan, holder: dict[str, Service], loadgen: Loadgen, log: Callable[[str], None]
) -> list[dict[str, Any]]:
    """No fault for ``soak_seconds``: the worker's memory and the clients, every sample."""
    samples = []
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < plan.soak_seconds:
        time.sleep(min(plan.sample_seconds, plan.soak_seconds - elapsed))
        status = loadgen.status()
        sample = {"seconds": round(time.monotonic() - started, 1), "at": time.time(), **status}
        sample |= _memory(holder["service"])
        log(
            f"soak: {sample['seconds']:.0f} s, {status.get('open')} open, "
            f"{status.get('reconnects')} reconnects, RSS {sample.get('rss_mb', 0):.1f} MB"
        )
        samples.append(sample)
    return samples


def _memory(service: Service) -> dict[str, float]:
    """The workers' RSS and unique set (what closing them would free), in MB."""
    rss = uss = 0
    for process in service.stream_processes():
        try:
            info = process.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        rss += info.rss
        uss += getattr(info, "uss", 0)
    return {"rss_mb": rss / 2**20, "uss_mb": uss / 2**20}


def _rss(service: Service) -> int:
    total = 0
    for process in service.stream_processes():
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


class Writer:
    """bench/writer.py against the run's database; what it attempted and when."""

    def __init__(self, database_url: str):
        env = {**os.environ, "DATABASE_URL": database_url, "PGAPPNAME": "irclogger-writer"}
        OUT.mkdir(parents=True, exist_ok=True)
        self.stderr = open(OUT / "writer.err", "ab")  # noqa: SIM115  (closed in __exit__)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.writer"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )
        self.ok: list[tuple[int, float]] = []
        self.attempts = self.failed = 0
        self.ready: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None
        self.thread = threading.Thread(target=self._pump, args=(self.process.stdout,))
        self.thread.daemon = True
        self.thread.start()
        try:
            self.path = self.ready.get(timeout=120)
        except queue.Empty:
            self.__exit__()
            raise RuntimeError("bench.writer did not start; see bench/out/writer.err") from None

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.stderr.close()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            if not line.startswith("{"):
                continue  # Django's start-up logging (django-axes logs to stdout)
            payload = json.loads(line)
            if "ready" in payload:
                self.ready.put(payload["ready"])
                continue
            self.attempts += 1
            if payload["ok"]:
                self.ok.append((payload["seq"], payload["at"]))
            else:
                self.failed += 1

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(30)
        self.thread.join(5)

    def first_ok_after(self, moment: float) -> int | None:
        return next((seq for seq, at in reversed(self.ok) if at >= moment), None)


class PageProbe:
    """The live channel's day page, asked for at a steady rate until stopped: the storm's pages.

    Open-loop: a request starts every ``1 / PAGES_PER_SECOND`` s whether the
    last one is done or not, as readers' page loads come. One after another,
    a slow page delayed the next and hid the pages that would have come
    meanwhile (the slowest stretch gave the fewest samples), and a faster
    service was sent more pages, their CPU taken from the storm.
    """

    def __init__(self, port: int):
        from bench import data

        self.port = port
        self.path = data.live_day_path()
        self.times: list[float] = []
        self.failures: dict[str, int] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._requests: list[threading.Thread] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.wait(1 / PAGES_PER_SECOND):
            request = threading.Thread(target=self._get, daemon=True)
            request.start()
            self._requests.append(request)

    def _get(self) -> None:
        from bench import data

        status, seconds, _size = data.timed_get(
            f"http://127.0.0.1:{self.port}", self.path, PAGE_TIMEOUT
        )
        with self._lock:
            if status == "200":
                self.times.append(seconds)
            else:
                self.failures[status] = self.failures.get(status, 0) + 1

    def stop(self) -> dict[str, Any]:
        from bench import data

        self._stop.set()
        self.thread.join()
        for request in self._requests:
            request.join(PAGE_TIMEOUT + 1)
        return {**data.percentiles(self.times), "failures": self.failures}
