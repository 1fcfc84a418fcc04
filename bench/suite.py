"""The benchmark's run, once Django is set up on the bench database (bench/run.py)."""

import argparse
import datetime as dt
import http.client
import json
import socket
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.management import call_command

from bench import data, report, scenario, servers, stages
from bench.scenario import Plan, Publisher, Target, event_data
from bench.servers import OUT, Service, Unavailable

FULL_SIZES = [100, 1_000, 5_000, 10_000]
QUICK_SIZES = [100, 1_000]
# The naive app serves nobody at 100 already; more only lengthens the run.
NAIVE_SIZES = [100]
FULL_LINES = 1_000_000
QUICK_LINES = 50_000
# 10,000 lines a day: the big day page of the goals.
LINES_PER_DAY = 10_000
REDIS_CHANNEL = "irclogger-bench"
# Whole run budgets: a scenario not started by then is skipped, not run late.
FULL_BUDGET = 45 * 60
QUICK_BUDGET = 130


def main(args: argparse.Namespace, url: str, started: float) -> None:
    budget = QUICK_BUDGET if args.quick else FULL_BUDGET
    call_command("migrate", verbosity=0)
    channels = data.prepare_channels()
    only = set(args.only or [])
    stage_names = [s for s in stages.STAGES if (s in only if only else _by_default(s, args))]
    if only and only <= set(stages.STAGES):
        # Stages alone (make soak, make chaos): added to the last run's figures.
        results = _previous() or _fresh(url, args.quick)
    else:
        results = _fresh(url, args.quick)
        _streams(args, url, started, budget, channels, results)
    sizes = stages.sizes(args.quick)
    options = {"soak_minutes": args.soak_minutes, "lifetime_seconds": args.lifetime_seconds}
    results.setdefault("stages", {})
    for name in stage_names:
        results["stages"][name] = stages.run_stage(name, sizes[name], url, channels.live, options)
    results["seconds"] = time.monotonic() - started
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=1, default=str))
    report.write(results)
    print(f"bench: done in {results['seconds']:.0f} s; see bench/RESULTS.md", flush=True)


def _by_default(stage: str, args: argparse.Namespace) -> bool:
    """Every stage runs in a full run; --quick skips the soak, --no-soak too."""
    return not (stage == "soak" and (args.quick or args.no_soak))


def _fresh(url: str, quick: bool) -> dict[str, Any]:
    return {
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "machine": report.machine(url),
        "notes": [],
    }


def _previous() -> dict[str, Any] | None:
    try:
        return dict(json.loads((OUT / "results.json").read_text()))
    except (OSError, ValueError):
        return None


def _streams(
    args: argparse.Namespace,
    url: str,
    started: float,
    budget: float,
    channels: data.Channels,
    results: dict[str, Any],
) -> None:
    """The import, the big-data pages, every system at every N, the profile."""
    lines = args.lines or (QUICK_LINES if args.quick else FULL_LINES)
    print(f"bench: importing {lines:,} generated lines", flush=True)
    results["import"] = data.measure_import(lines, LINES_PER_DAY)
    results["import_days"] = data.measure_day_files_import()
    results["big_data"] = _big_data(url, lines, args.quick)
    plan = Plan(publish_seconds=5.0 if args.quick else 10.0)
    sizes = args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES)
    results["plan"] = {"sizes": sizes, "publish_seconds": plan.publish_seconds}
    only = set(args.only or []) - set(stages.STAGES)
    targets = [t for t in _targets(url, results["notes"]) if not only or t.name in only]
    results["scenarios"] = {t.name: {"title": t.title, "runs": []} for t in targets}
    # N by N, every system at each N: the systems compared at one N are
    # measured minutes apart, and a run out of time loses the largest N only.
    for clients in sizes:
        for target in targets:
            if target.name == "naive" and clients not in NAIVE_SIZES:
                continue
            if time.monotonic() - started > budget:
                results["notes"].append(f"{target.name} N={clients:,}: skipped, time budget over")
                continue
            run = _scenario(target, clients, channels.live, plan)
            results["scenarios"][target.name]["runs"].append(run)
    if not args.quick and "irclogger" in results["scenarios"] and not args.no_profile:
        results["profile"] = _profile(url, channels.live, plan, max(sizes))


def _scenario(target: Target, clients: int, channel: Any, plan: Plan) -> dict[str, Any]:
    print(f"bench: {target.name} with {clients:,} streams", flush=True)
    try:
        result = scenario.run(target, clients, channel, plan)
    except Unavailable as exc:
        return {"clients": clients, "skipped": str(exc)}
    except Exception as exc:  # a broken peer is a result, not the end of the run
        return {
            "clients": clients,
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc()[-2000:],
        }
    loadgen = result.get("loadgen", {})
    print(
        f"bench:   delivered {loadgen.get('deliveries')}/{loadgen.get('expected_deliveries')},"
        f" p99 {loadgen.get('latency', {}).get('p99')}",
        flush=True,
    )
    return result


def _big_data(url: str, lines: int, quick: bool) -> dict[str, Any]:
    """Search and the 10,000-line day page, on an idle irclogger service."""
    searches = 20 if quick else 50
    day_pages = 5 if quick else 20
    deadline = time.monotonic() + (40 if quick else 300)
    with servers.irclogger(url, "irclogger-bench-pages") as service:
        data.timed_get(service.url, data.big_day_path(lines, LINES_PER_DAY))
        search = data.timed_gets(service.url, list(data.search_paths(searches)), deadline)
        prefix = data.timed_gets(service.url, list(data.prefix_search_paths(searches)), deadline)
        nick = data.timed_gets(service.url, list(data.nick_search_paths(searches)), deadline)
        statistics = data.timed_gets(service.url, [data.statistics_path()] * day_pages, deadline)
        day = data.timed_gets(
            service.url, [data.big_day_path(lines, LINES_PER_DAY)] * day_pages, deadline
        )
    return {
        "lines": lines,
        "search": search,
        "search_prefix": prefix,
        "search_nick": nick,
        "statistics": statistics,
        "day_page": day,
        "day_lines": LINES_PER_DAY,
    }


def _targets(url: str, notes: list[str]) -> list[Target]:
    targets = []
    if streams_available():
        targets.append(
            Target(
                "irclogger",
                "irclogger (gunicorn, conf/gunicorn.py, 1 gevent worker)",
                lambda: servers.irclogger(url, "irclogger-bench"),
                None,
                _no_forward,
                "irclogger-bench",
            )
        )
    else:
        notes.append("irclogger: no stream route yet (streams/urls.py has none): scenario not run.")
    targets.append(
        Target(
            "naive",
            "naive: django-sse as published, gunicorn 4 sync workers",
            lambda: servers.naive(url, "irclogger-bench-naive"),
            None,
            _no_forward,
            "irclogger-bench-naive",
            connect_timeout=5.0,
            warm_stream=False,
        )
    )
    pages = lambda: servers.irclogger(url, "irclogger-bench-pages")  # noqa: E731
    targets.append(
        Target(
            "node",
            "two processes: Node.js SSE fan-out fed by Redis pub/sub (+ irclogger for pages)",
            _node_with_redis,
            pages,
            _redis_forward,
            "irclogger-bench-pages",
        )
    )
    targets.append(
        Target(
            "nchan",
            "nginx nchan (C), 1 worker (+ irclogger for pages)",
            servers.nchan,
            pages,
            _nchan_forward,
            "irclogger-bench-pages",
        )
    )
    return targets


def streams_available() -> bool:
    from django.urls import Resolver404, resolve

    try:
        match = resolve("/bench/live/stream/")
    except Resolver404:
        return False
    return str(match.func.__module__).startswith("streams")


@contextmanager
def _node_with_redis() -> Iterator[Service]:
    with (
        servers.redis() as address,
        servers.node(f"redis://{address[0]}:{address[1]}", REDIS_CHANNEL) as service,
    ):
        service.extra["redis"] = address
        yield service


@contextmanager
def _no_forward(service: Service) -> Iterator[Publisher]:
    yield lambda line: None


@contextmanager
def _redis_forward(service: Service) -> Iterator[Publisher]:
    """PUBLISH "<id>\\n<JSON>" after commit: the two-process architecture's hop."""
    with socket.create_connection(service.extra["redis"], timeout=5) as sock:

        def publish(line: Any) -> None:
            payload = f"{line.id}\n{event_data(line)}".encode()
            parts = [b"PUBLISH", REDIS_CHANNEL.encode(), payload]
            command = b"*3\r\n" + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
            sock.sendall(command)
            reply = sock.recv(64)
            if not reply.startswith(b":"):
                raise RuntimeError(f"redis answered {reply!r}")

        yield publish


@contextmanager
def _nchan_forward(service: Service) -> Iterator[Publisher]:
    """POST the event to nchan's publisher location after commit."""
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=5)

    def publish(line: Any) -> None:
        body = event_data(line).encode()
        conn.request("POST", "/pub", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        if response.status not in {200, 201, 202}:
            raise RuntimeError(f"nchan answered {response.status}")

    try:
        yield publish
    finally:
        conn.close()


def _profile(url: str, channel: Any, plan: Plan, clients: int) -> dict[str, Any]:
    """The fan-out under py-spy at the largest N (a separate pass: it costs CPU)."""
    target = _targets(url, [])[0]
    if target.name != "irclogger":
        return {"skipped": "no irclogger streams"}
    print(f"bench: profiling irclogger's fan-out at {clients:,} streams", flush=True)
    try:
        run = scenario.run(target, clients, channel, Plan(plan.publish_seconds, profile=True))
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {"clients": clients, **run.get("profile", {})}
