"""bench/RESULTS.md from the run's figures: the machine, one table per scenario, the goals."""

import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

import django
import gevent
import psutil
from django.db import connection

from bench import db
from bench.servers import ROOT, listen_queue

RESULTS = ROOT / "bench" / "RESULTS.md"
# The project's speed goals: streams, pages while streams are open, search, import,
# and streams in motion (connect storms, reloads, restarts, faults, the soak).
GOAL_PAGE_P99_WITH_STREAMS = 0.100
GOAL_RSS_PER_STREAM_KIB = 24
GOAL_STORM_CLIENTS = 10_000
# The chaos suite and the soak are judged with this many readers.
GOAL_CHAOS_CLIENTS = 2_000
GOAL_BACK_SECONDS = 10.0
GOAL_PAGE_P99_IN_STORM = 0.300
# The load generator samples its open streams every 0.25 s; a sample this
# late means its own loop was behind, and a storm's times include that lag.
GENERATOR_LAG_SECONDS = 1.0
# From the soak's second lifetime cycle on, the worker's RSS may grow this much in all.
GOAL_SOAK_GROWTH_MB = 5.0
# The streams' maximum lifetime when the soak did not shorten it (streams/hub.py).
DEFAULT_LIFETIME_SECONDS = 660.0
GOAL_IMPORT_LINES_PER_S = 50_000
GOAL_SEARCH_P50 = 0.050
GOAL_SEARCH_P99 = 0.200
GOAL_STATISTICS = 0.200
GOAL_BIG_DAY_PAGE = 0.300
GOAL_VS_NCHAN = 2.0
GOAL_VS_NODE = 1.5
# Below this one-minute load average nothing else was running.
IDLE_LOAD = 0.5
# A process at or above this share of its core is the bottleneck.
SATURATED = 0.9
# Waiting this share of the time for a core means another process had it.
CONTENDED = 0.2


def machine(url: str) -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": _cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "gevent": gevent.__version__,
        "postgresql": db.server_version(url),
        "node": _version(["node", "--version"]),
        "nginx": _version(["nginx", "-v"]),
        "redis": _version(["redis-server", "--version"]),
        "load_average": os.getloadavg(),
        # conf/sysctl.d/, as bench.run applied it (or could not).
        "listen_queue": ", ".join(f"{k} = {v}" for k, v in listen_queue().items()),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _version(command: list[str]) -> str:
    if not shutil.which(command[0]):
        return "not installed"
    done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)  # noqa: S603
    return (done.stdout + done.stderr).strip().splitlines()[0] if done.stdout + done.stderr else "?"


def ms(value: float | None) -> str:
    return (
        "–" if value is None else f"{value * 1000:,.0f}" if value >= 0.01 else f"{value * 1000:.1f}"
    )


def write(results: dict[str, Any]) -> None:
    RESULTS.write_text("\n".join(render(results)) + "\n")


def render(results: dict[str, Any]) -> list[str]:
    out = ["# irclogger benchmark results", ""]
    out += _header(results)
    out += _scenarios(results)
    out += _big_data(results)
    out += _connect_storm(results)
    out += _fault_stage(results, "reload-storm", "Reload and restart storms")
    out += _fault_stage(results, "chaos", "Chaos")
    out += _soak(results)
    out += _goals(results)
    out += _profile(results)
    out += _reading(results)
    out += _machine(results)
    out += _reproduce()
    return out


def _header(results: dict[str, Any]) -> list[str]:
    kind = "`make bench-quick` (N ≤ 1,000, 5 s of lines)" if results["quick"] else "`make bench`"
    load = results["machine"]["load_average"]
    lines = [
        f"Run {results['started']} UTC by {kind}, {results.get('seconds', 0):.0f} s in all.",
        "",
        _sharing(load),
        "",
        "Every scenario: N SSE clients (bench/loadgen.py, pinned to core 0) open one "
        "channel's stream on the service under test (pinned to core 1); lines are then "
        f"written through `irclogger.publish.write_lines` (transaction + NOTIFY) at 10 lines/s "
        f"for {results.get('plan', {}).get('publish_seconds', 10):.0f} s, ~300 bytes each, "
        "each with its publish time in the text; 50 requests of the channel's day page, "
        "one after the other, spread over those seconds. Latency is receipt time minus "
        "publish time (before the write), so it includes the commit and the peer's own hop.",
        "",
    ]
    lines += [f"- {note}" for note in results.get("notes", [])]
    return [*lines, ""] if results.get("notes") else lines


def _sharing(load: tuple[float, float, float]) -> str:
    figures = f"{load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}"
    if load[0] < IDLE_LOAD:
        return f"The machine was otherwise idle at the start (load average {figures})."
    return (
        f"Taken on a shared machine: other work was running (load average at the start "
        f"{figures}) and may have run during the scenarios, so read the figures as orders of "
        "magnitude and as ratios between systems measured minutes apart, not as capacity."
    )


_COLUMNS = (
    "| N | ramp s | open | connect fail | delivered | missed | dup | out of order | p50 ms "
    "| p90 ms | p99 ms | max ms | fan-out p50 / max ms | RSS / stream KiB | PG conns peak (steady) "
    "| server CPU (waiting) | loadgen CPU (waiting) | page p50 / p99 ms (ok/50) |"
)


_LEGEND = (
    "Columns: *ramp* is how long opening the N streams took; *open* how many were still "
    "open at the end; latencies are per delivery; *fan-out* is, per line, the time until "
    "the last client had it (over lines every client received); *RSS / stream* is the "
    "growth of the stream process's RSS from before the N streams to after, divided by N; "
    "*PG conns* is the most connections from the service in pg_stat_activity, over the "
    "whole scenario and (in brackets) after the ramp; *CPU* is the share of one core used "
    "while lines were being published (the last deliveries may come later), and "
    "*waiting* the share spent runnable but waiting for a core (Linux schedstat); "
    "*page* is 50 requests of the channel's day page (~400 lines), one after the other, "
    "spread over the publishing window."
)


def _scenarios(results: dict[str, Any]) -> list[str]:
    out = ["## Streams", "", _LEGEND, ""]
    for name, scenario in results.get("scenarios", {}).items():
        out += [f"### {name}: {scenario['title']}", "", _COLUMNS, "|" + "---|" * 18]
        notes = []
        for run in scenario["runs"]:
            if "skipped" in run or "error" in run:
                reason = run.get("skipped") or run.get("error")
                out.append(f"| {run['clients']:,} | {reason} |" + " |" * 16)
                continue
            out.append(_row(run))
            failures = run.get("loadgen", {}).get("failure_reasons")
            if failures:
                notes.append(f"N={run['clients']:,}: connect failures {failures}")
            page_failures = run.get("pages", {}).get("failures")
            if page_failures:
                notes.append(f"N={run['clients']:,}: page failures {page_failures}")
        out.append("")
        out += [f"- {note}" for note in notes]
        out += [""] if notes else []
    return out


def _row(run: dict[str, Any]) -> str:
    load = run.get("loadgen", {})
    latency = load.get("latency", {})
    fanout = load.get("fanout", {})
    pages = run.get("pages", {})
    rss = run.get("rss_per_stream_kib")
    cells = [
        f"{run['clients']:,}",
        f"{run.get('ready', {}).get('ramp_seconds', 0):.1f}",
        f"{load.get('open_at_stop', '–')}",
        f"{load.get('connect_failures', '–')}",
        f"{load.get('deliveries', 0):,}/{load.get('expected_deliveries', 0):,}",
        f"{load.get('missed', '–')}",
        f"{load.get('duplicated', '–')}",
        f"{load.get('out_of_order', '–')}",
        ms(latency.get("p50")),
        ms(latency.get("p90")),
        ms(latency.get("p99")),
        ms(latency.get("max")),
        f"{ms(fanout.get('p50'))} / {ms(fanout.get('max'))}"
        + f" ({load.get('fanout_complete_lines', 0)}/{load.get('published', 0)} lines)",
        "–" if rss is None else f"{rss:.1f}",
        f"{run.get('pg_connections_peak', '–')} ({run.get('pg_connections_steady', '–')})",
        f"{_share(run.get('server_cpu'))} ({_share(run.get('server_cpu_wait'))})",
        f"{_share(load.get('loadgen_cpu'))} ({_share(load.get('loadgen_cpu_wait'))})",
        f"{ms(pages.get('p50'))} / {ms(pages.get('p99'))} ({pages.get('ok', 0)})",
    ]
    return "| " + " | ".join(cells) + " |"


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f} %"


def _import_row(imported: dict[str, Any]) -> str:
    rate = imported.get("lines_per_second") or 0
    runs = imported.get("runs_lines_per_second")
    each = f" (runs: {', '.join(f'{r:,.0f}' for r in runs)})" if runs else ""
    return (
        f"| import ({imported.get('path', '?')}) | {imported.get('imported', 0):,} lines in "
        f"{imported.get('seconds', 0):.1f} s = **{rate:,.0f} lines/s**{each} |"
    )


# The search and statistics timings of the big channel: result key, what, how.
SEARCH_ROWS = [
    ("search", "search", "channel search page, words and phrases"),
    ("search_prefix", "prefix search", "deplo*, and the last word while typing"),
    ("search_nick", "nick-variant search", "alice finds alice_, ALICE, alice|away"),
    ("statistics", "statistics page", "the year, the week, top talkers"),
]


def _timed_row(what: str, timed: dict[str, Any]) -> str:
    return (
        f"| {what}, {timed.get('requests', 0)} requests | p50 **{ms(timed.get('p50'))} ms**, "
        f"p99 {ms(timed.get('p99'))} ms, max {ms(timed.get('max'))} ms ({timed.get('ok', 0)} ok) |"
    )


def _big_data(results: dict[str, Any]) -> list[str]:
    imported = results.get("import", {})
    big = results.get("big_data", {})
    day = big.get("day_page", {})
    return [
        "## Import, search and the big day page",
        "",
        "| what | figure |",
        "|---|---|",
        _import_row(imported),
        _import_row(results.get("import_days", {})),
        *[
            _timed_row(f"{what} over {big.get('lines', 0):,} lines ({how})", big.get(key, {}))
            for key, what, how in SEARCH_ROWS
        ],
        f"| day page of {big.get('day_lines', 0):,} lines ({day.get('requests', 0)} requests, "
        f"{day.get('bytes', 0) / 2**20:.1f} MiB of HTML) | p50 **{ms(day.get('p50'))} ms**, "
        f"p99 {ms(day.get('p99'))} ms ({day.get('ok', 0)} ok) |",
        "",
        "Search and the day page are timed over HTTP on an idle irclogger service "
        "(1 gevent worker), one request at a time, on loopback: server time plus a few "
        "hundred microseconds of transfer.",
        "",
    ]


def _at(results: dict[str, Any], name: str, clients: int) -> dict[str, Any] | None:
    for run in results.get("scenarios", {}).get(name, {}).get("runs", []):
        if run.get("clients") == clients and "loadgen" in run:
            return dict(run)
    return None


def _p99(run: dict[str, Any] | None) -> float | None:
    if run is None:
        return None
    value = run.get("loadgen", {}).get("latency", {}).get("p99")
    return float(value) if value is not None else None


def _goals(results: dict[str, Any]) -> list[str]:
    sizes = results.get("plan", {}).get("sizes", [])
    top = max(sizes) if sizes else 0
    mine = _at(results, "irclogger", top)
    out = [
        f"## Goals (at the largest N of this run: {top:,})",
        "",
        "| goal | figure | met |",
        "|---|---|---|",
    ]

    def goal(text: str, figure: str, met: bool | None) -> None:
        out.append(_goal_row(text, figure, met))

    if mine is None:
        goal("irclogger holds N streams, 0 missed, 0 duplicated", "not run", None)
    else:
        load = mine["loadgen"]
        goal(
            f"{top:,} streams held, 0 missed, 0 duplicated",
            f"{load.get('open_at_stop')} open, {load.get('missed')} missed, "
            f"{load.get('duplicated')} dup",
            load.get("open_at_stop") == top
            and load.get("missed") == 0
            and load.get("duplicated") == 0,
        )
        for peer, factor in (("nchan", GOAL_VS_NCHAN), ("node", GOAL_VS_NODE)):
            theirs = _p99(_at(results, peer, top))
            ours = _p99(mine)
            if theirs and ours:
                goal(
                    f"delivery p99 within {factor}× of {peer}",
                    f"{ms(ours)} ms vs {ms(theirs)} ms = {ours / theirs:.2f}×",
                    ours <= factor * theirs,
                )
            else:
                goal(f"delivery p99 within {factor}× of {peer}", "not measured", None)
        page = mine.get("pages", {}).get("p99")
        goal(
            f"page p99 < 100 ms with {top:,} streams open",
            f"{ms(page)} ms",
            None if page is None else page < GOAL_PAGE_P99_WITH_STREAMS,
        )
        worst = max(
            (
                run.get("pg_connections_peak", 0)
                for run in results["scenarios"]["irclogger"]["runs"]
                if "loadgen" in run
            ),
            default=None,
        )
        # The services under test inherit this process's environment, DB_POOL_SIZE too.
        limit = int(connection.settings_dict["OPTIONS"]["MAX_CONNS"]) + 1
        goal(
            f"PostgreSQL connections ≤ pool + 1 per worker ({limit}) at every N",
            f"peak {worst}",
            None if worst is None else worst <= limit,
        )
        rss = mine.get("rss_per_stream_kib")
        goal(
            f"≤ {GOAL_RSS_PER_STREAM_KIB} KiB RSS per open stream",
            "–" if rss is None else f"{rss:.1f} KiB",
            None if rss is None else rss <= GOAL_RSS_PER_STREAM_KIB,
        )
    rate = results.get("import", {}).get("lines_per_second")
    goal(
        "import ≥ 50,000 lines/s",
        f"{rate or 0:,.0f} lines/s",
        None if rate is None else rate >= GOAL_IMPORT_LINES_PER_S,
    )
    rate = results.get("import_days", {}).get("lines_per_second")
    goal(
        "import of 300 day files ≥ 50,000 lines/s",
        f"{rate or 0:,.0f} lines/s",
        None if rate is None else rate >= GOAL_IMPORT_LINES_PER_S,
    )
    big = results.get("big_data", {})
    for key, what, _ in SEARCH_ROWS[:3]:
        timed = big.get(key, {})
        p50, p99 = timed.get("p50"), timed.get("p99")
        goal(
            f"{what} p50 < 50 ms, p99 < 200 ms over {big.get('lines', 0):,} lines",
            f"{ms(p50)} ms / {ms(p99)} ms",
            None if p50 is None or p99 is None else p50 < GOAL_SEARCH_P50 and p99 < GOAL_SEARCH_P99,
        )
    statistics = big.get("statistics", {}).get("p99")
    goal(
        f"statistics page < 200 ms over {big.get('lines', 0):,} lines",
        f"{ms(statistics)} ms (p99)",
        None if statistics is None else statistics < GOAL_STATISTICS,
    )
    day = big.get("day_page", {}).get("p50")
    goal(
        "10,000-line day page < 300 ms",
        f"{ms(day)} ms (p50)",
        None if day is None else day < GOAL_BIG_DAY_PAGE,
    )
    out += motion_goals(results.get("stages", {}))
    return [*out, ""]


def _goal_row(text: str, figure: str, met: bool | None) -> str:
    return f"| {text} | {figure} | {'–' if met is None else 'yes' if met else '**no**'} |"


def motion_goals(stages: dict[str, Any]) -> list[str]:
    """The goals of streams in motion: storms, faults, the soak. A smaller N meets nothing."""
    rows = []
    storm = stages.get("connect-storm")
    text = f"{GOAL_STORM_CLIENTS:,} streams opened at 2,000/s all connect (0 timeouts)"
    if not storm or "ready" not in storm:
        rows.append(_goal_row(text, _not_run(storm), None))
    else:
        ready, n = storm["ready"], storm["clients"]
        figure = (
            f"{ready.get('ready', 0):,} of {n:,} connected, {ready.get('failed', 0):,} failed"
            f"{' ' + str(ready['failure_reasons']) if ready.get('failure_reasons') else ''}; "
            f"connect p50 {_s(ready.get('connect_p50'))}, "
            f"p99 {_s(ready.get('connect_p99'))}"
        )
        rows.append(_goal_row(text, figure, _at_size(n, ready.get("failed") == 0)))
    reload = stages.get("reload-storm")
    for fault in ("reload", "restart"):
        figures = _fault(reload, fault)
        if figures is None:
            for text in _storm_goal_texts(fault):
                rows.append(_goal_row(text, _not_run(reload), None))
            continue
        assert reload is not None
        n = reload["clients"]
        back = figures["storm"].get("all_back_after_drop")
        texts = _storm_goal_texts(fault)
        rows.append(
            _goal_row(
                texts[0],
                f"{_s(back)} (N={n:,}; {figures['storm'].get('not_back', '?')} not back"
                f"{_generator_lag(figures['storm'])})",
                _at_size(n, back is not None and back <= GOAL_BACK_SECONDS),
            )
        )
        lost, repeated = figures.get("lost_in_window"), figures.get("repeated_in_window")
        load = reload.get("loadgen", {})
        rows.append(
            _goal_row(
                texts[1],
                f"{lost} lost, {repeated} repeated in the storm "
                f"({load.get('lost')} / {load.get('repeated')} over the whole run)",
                _at_size(n, lost == 0 and repeated == 0 and load.get("lost") == 0),
            )
        )
        page = figures.get("pages", {})
        p99 = page.get("p99")
        rows.append(
            _goal_row(
                texts[2],
                f"{ms(p99)} ms ({page.get('ok', 0)} ok, failed {page.get('failures') or 0})",
                _at_size(n, p99 is not None and p99 < GOAL_PAGE_P99_IN_STORM),
            )
        )
    chaos = stages.get("chaos")
    text = "chaos: every fault, every client has every line exactly once, in order"
    if not chaos or "loadgen" not in chaos:
        rows.append(_goal_row(text, _not_run(chaos), None))
    else:
        load = chaos["loadgen"]
        rows.append(
            _goal_row(
                text,
                f"N={chaos['clients']:,}: {load.get('lost')} lost, {load.get('repeated')} "
                f"repeated, {load.get('out_of_order')} out of order over "
                f"{len(chaos.get('faults', []))} faults",
                _at_size(
                    chaos["clients"],
                    load.get("lost") == 0
                    and load.get("repeated") == 0
                    and load.get("out_of_order") == 0
                    and all(f.get("settled") for f in chaos.get("faults", [])),
                    GOAL_CHAOS_CLIENTS,
                ),
            )
        )
    soak = stages.get("soak")
    text = f"soak: worker RSS from the 2nd lifetime cycle on grows ≤ {GOAL_SOAK_GROWTH_MB:.0f} MB"
    cycles = soak_cycles(soak) if soak and "soak" in soak else []
    if len(cycles) < 3:
        rows.append(
            _goal_row(text, _not_run(soak) if not cycles else f"{len(cycles)} cycles only", None)
        )
    else:
        assert soak is not None
        growth = cycles[-1]["rss_mb"] - cycles[1]["rss_mb"]
        load = soak.get("loadgen", {})
        # Streams that never reached their lifetime did not cycle: nothing is shown.
        cycled = load.get("reconnects", 0) >= soak["clients"] * (len(cycles) - 1)
        met = _at_size(
            soak["clients"],
            growth <= GOAL_SOAK_GROWTH_MB and load.get("lost") == 0,
            GOAL_CHAOS_CLIENTS,
        )
        rows.append(
            _goal_row(
                text,
                f"{growth:+.1f} MB from cycle 2 to cycle {len(cycles)} "
                f"({cycles[1]['rss_mb']:.0f} → {cycles[-1]['rss_mb']:.0f} MB); "
                f"{load.get('lost')} lost, {load.get('repeated')} repeated"
                + (
                    ""
                    if cycled
                    else f"; only {load.get('reconnects', 0):,} reconnects: the "
                    "streams did not end at their lifetime"
                ),
                met if cycled else None,
            )
        )
    return rows


def _generator_lag(storm: dict[str, Any]) -> str:
    """A note when the load generator itself fell behind: its times then include its lag."""
    lag = storm.get("generator_lag_max") or 0.0
    if lag < GENERATOR_LAG_SECONDS:
        return ""
    return f"; the load generator was up to {lag:.1f} s behind"


def _storm_goal_texts(fault: str) -> list[str]:
    return [
        f"{fault}: all streaming again ≤ {GOAL_BACK_SECONDS:.0f} s after the drop",
        f"{fault}: 0 lines lost or repeated",
        f"{fault}: page p99 < {GOAL_PAGE_P99_IN_STORM * 1000:.0f} ms during the storm",
    ]


def _at_size(clients: int, met: bool, goal_clients: int = GOAL_STORM_CLIENTS) -> bool | None:
    """A goal at N streams is met only at N or more; missed at any N is missed."""
    if not met:
        return False
    return True if clients >= goal_clients else None


def _not_run(stage: dict[str, Any] | None) -> str:
    if stage and "error" in stage:
        return f"failed: {stage['error'][:120]}"
    return "not run"


def _fault(stage: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
    for figures in (stage or {}).get("faults", []):
        if figures.get("name") == name:
            return dict(figures)
    return None


def _s(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} s"


def _connect_storm(results: dict[str, Any]) -> list[str]:
    stage = results.get("stages", {}).get("connect-storm")
    if not stage:
        return []
    out = ["## Connect storm", ""]
    if "error" in stage:
        return [*out, f"Failed: {stage['error']}", ""]
    ready, after = stage["ready"], stage.get("after", {})
    latency = after.get("latency", {})
    return [
        *out,
        f"{stage['clients']:,} streams opened at {stage['rate']:,.0f}/s (one new connection "
        f"every {1000 / stage['rate']:.1f} ms, however many are still pending) on an idle "
        f"irclogger (1 gevent worker); a connect without response headers after "
        f"{stage['timeout']:.0f} s failed. Then 3 s of lines at 10/s: did every stream really "
        "open?",
        "",
        "| N | connected | failed (why) | connect p50 / p99 / max s | opening took s "
        "| then delivered | missed | dup | delivery p99 ms |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {stage['clients']:,} | {ready.get('ready', 0):,} | {ready.get('failed', 0):,} "
        f"{ready.get('failure_reasons') or ''} | {_f(ready.get('connect_p50'))} / "
        f"{_f(ready.get('connect_p99'))} / {_f(ready.get('connect_max'))} | "
        f"{_f(ready.get('ramp_seconds'))} | {after.get('deliveries', 0):,}/"
        f"{after.get('expected_deliveries', 0):,} | {after.get('missed', '–')} | "
        f"{after.get('duplicated', '–')} | {ms(latency.get('p99'))} |",
        "",
    ]


def _f(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


_FAULT_LEGEND = (
    "A private PostgreSQL, irclogger as deployed (gunicorn, conf/gunicorn.py, 1 gevent "
    "worker), N clients that reconnect as EventSource does (they honour `retry:` and send "
    "`Last-Event-ID`, for as long as the run lasts), and a writer committing a line every "
    "0.1 s throughout (bench/chaos.py). Faults come one after another; after each the run "
    "waits until every client streams again and has read a line written after it. "
    "*dropped*: clients whose stream ended; *all back*: seconds from the first drop until "
    "the last client streamed again; *settled*: seconds from the fault until every client "
    "had a line written after it; *lines*: committed from 1 s before the fault until "
    "settled (or the wait for it ended); *lost / repeated*: "
    "of those, summed over clients (a line missing for 3 clients counts 3); *pages*: the "
    "channel's day page requested twice a second (each request on its own, not waiting for "
    "the last) from the fault until settled."
)


def _fault_stage(results: dict[str, Any], key: str, title: str) -> list[str]:
    stage = results.get("stages", {}).get(key)
    if not stage:
        return []
    out = [f"## {title}", ""]
    if "error" in stage:
        return [*out, f"Failed: {stage['error']}", ""]
    load = stage.get("loadgen", {})
    out += [
        _FAULT_LEGEND,
        "",
        f"N = {stage['clients']:,}: {stage.get('ready', {}).get('ready', 0):,} streams open "
        f"before the first fault. Over the whole run ({stage.get('seconds', 0):.0f} s): "
        f"{stage.get('written', 0):,} lines in the database ({stage.get('failed_writes', 0)} "
        f"writes failed during outages); every client against them: **{load.get('lost')} "
        f"lost, {load.get('repeated')} repeated, {load.get('out_of_order')} out of order** "
        f"({load.get('clients_with_lost')} clients missed a line, "
        f"{load.get('clients_with_repeated')} saw one twice); {load.get('reconnects', 0):,} "
        f"reconnects; {load.get('reloads', 0):,} `reload` events to "
        f"{load.get('clients_reloaded', 0):,} clients too far behind for a replay (their "
        f"{load.get('reloaded_lines', 0):,} skipped lines come with the page's HTML, not "
        "the stream, and count as neither lost nor delivered); "
        + (
            "every client had the last line when the run ended; "
            if stage.get("caught_up_at_end")
            else "**not every client had the last line when the run ended** (lines still on "
            "their way count as lost); "
        )
        + "delivery p50 / p99 "
        f"{ms(load.get('latency', {}).get('p50'))} / "
        f"{ms(load.get('latency', {}).get('p99'))} ms (replays after a drop included).",
        "",
        "| fault | what | dropped | all back s | downtime p50 / p99 s | settled s | lines "
        "| lost | repeated | page p50 / p99 ms (ok, failed) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for figures in stage.get("faults", []):
        storm, pages = figures.get("storm", {}), figures.get("pages", {})
        settled = _f(figures.get("settle_seconds")) if figures.get("settled") else "**never**"
        out.append(
            f"| {figures['name']} | {figures.get('detail', '')} | {storm.get('dropped', '–')} "
            f"| {_f(storm.get('all_back_after_drop'))} | {_f(storm.get('downtime_p50'))} / "
            f"{_f(storm.get('downtime_p99'))} | {settled} | {figures.get('lines_in_window')} "
            f"| {figures.get('lost_in_window')} | {figures.get('repeated_in_window')} "
            f"| {ms(pages.get('p50'))} / {ms(pages.get('p99'))} ({pages.get('ok', 0)}, "
            f"{sum((pages.get('failures') or {}).values())}) |"
        )
    if load.get("lost_seqs") or load.get("repeated_seqs"):
        out += [
            "",
            f"Lines lost (seq: clients) {load.get('lost_seqs')}; repeated "
            f"{load.get('repeated_seqs')}.",
        ]
    failures = {
        f["name"]: f["pages"]["failures"]
        for f in stage.get("faults", [])
        if f.get("pages", {})
        if f["pages"].get("failures")
    }
    if failures:
        out += ["", f"Page requests that failed during the faults: {failures}."]
    return [*out, ""]


def soak_cycles(stage: dict[str, Any]) -> list[dict[str, Any]]:
    """The soak's sample at the end of each lifetime cycle (the first at or after k × lifetime)."""
    samples = stage.get("soak", [])
    lifetime = stage.get("plan", {}).get("lifetime_seconds") or DEFAULT_LIFETIME_SECONDS
    cycles = []
    k = 1
    for sample in samples:
        if sample["seconds"] >= k * lifetime:
            cycles.append({"cycle": k, **sample})
            k = int(sample["seconds"] // lifetime) + 1
    return cycles


def _types(counts: list[tuple[str, int]]) -> str:
    return ", ".join(f"`{name}` {count:,}" for name, count in counts[:12]) or "–"


def _nearest(samples: list[dict[str, Any]], at: float | None) -> dict[str, Any]:
    if at is None or not samples:
        return {}
    return min(samples, key=lambda sample: abs(float(sample.get("at", 0)) - at))


def _soak(results: dict[str, Any]) -> list[str]:
    stage = results.get("stages", {}).get("soak")
    if not stage:
        return []
    out = ["## Soak", ""]
    if "error" in stage:
        return [*out, f"Failed: {stage['error']}", ""]
    plan, load = stage.get("plan", {}), stage.get("loadgen", {})
    lifetime = plan.get("lifetime_seconds")
    out += [
        f"{stage['clients']:,} clients that reconnect as EventSource does, a line every 0.1 s, "
        f"no fault, for {plan.get('soak_seconds', 0) / 60:.0f} minutes; the streams end at "
        + (
            f"their maximum lifetime (STREAM_MAX_LIFETIME_SECONDS={lifetime:.0f} given to the "
            "service)"
            if lifetime
            else "their maximum lifetime (540–660 s, streams/hub.py)"
        )
        + f" and reconnect. {load.get('reconnects', 0):,} reconnects in all; "
        f"**{load.get('lost')} lost, {load.get('repeated')} repeated, "
        f"{load.get('out_of_order')} out of order**. Worker RSS {stage.get('rss_start_mb', 0):.0f}"
        f" MB with the streams open at the start, {stage.get('rss_end_mb', 0):.0f} MB at the end.",
        "",
        "RSS at the end of each lifetime cycle (USS: the memory only the worker holds; "
        "*tracked*: objects the garbage collector tracks, frozen ones excepted, and its "
        "collections of the oldest generation so far, from bench/probe_gunicorn.py):",
        "",
        "| cycle | minute | open | reconnects so far | worker RSS MB | USS MB | tracked objects "
        "| gen 2 collections |",
        "|---|---|---|---|---|---|---|---|",
    ]
    probes = stage.get("probe", {}).get("samples", [])
    for cycle in soak_cycles(stage):
        probe = _nearest(probes, cycle.get("at"))
        collections = probe.get("gc_collections") or ["–"] * 3
        out.append(
            f"| {cycle['cycle']} | {cycle['seconds'] / 60:.1f} | {cycle.get('open')} "
            f"| {cycle.get('reconnects', 0):,} | {cycle.get('rss_mb', 0):.1f} "
            f"| {cycle.get('uss_mb', 0):.1f} | {probe.get('tracked', '–')} "
            f"| {collections[-1]} |"
        )
    for collect in stage.get("probe", {}).get("collect", []):
        trimmed = collect.get("rss_after_trim_mb")
        out += [
            "",
            f"At the end, a full collection in the worker (gc.collect(), "
            f"{collect.get('collect_seconds', 0) * 1000:.0f} ms) found "
            f"{collect.get('unreachable_found'):,} unreachable objects; tracked objects "
            f"{collect.get('tracked', 0):,} → {collect.get('tracked_after', 0):,}; RSS "
            f"{collect.get('rss_mb', 0):.1f} MB → {collect.get('rss_after_collect_mb', 0):.1f} MB "
            "after the collection"
            + ("" if trimmed is None else f" → {trimmed:.1f} MB after malloc_trim(0)")
            + f". Unreachable objects by type: {_types(collect.get('garbage_types', []))}"
            + ". What a collection frees was garbage waiting for the tuned thresholds; what "
            "only malloc_trim gives back was free memory the allocator kept; the rest is live "
            "or fragmented.",
        ]
    if lifetime is None or load.get("reconnects", 0) < stage["clients"]:
        out += [
            "",
            "If the reconnects are fewer than the clients times the cycles, the streams did "
            "not end at the lifetime asked for (the service may not read "
            "STREAM_MAX_LIFETIME_SECONDS): read the cycles as time, not as lifetimes.",
        ]
    return [*out, ""]


def _profile(results: dict[str, Any]) -> list[str]:
    profile = results.get("profile")
    title = "## Profile of the fan-out"
    if not profile:
        return [
            title,
            "",
            "Not taken in this run (`make bench` takes it, with py-spy, at the "
            "largest N, in a separate pass of the same scenario).",
            "",
        ]
    if "self" not in profile:
        return [title, "", f"Not available: {profile}", ""]
    out = [
        f"{title} (py-spy, {profile.get('clients', 0):,} streams)",
        "",
        f"{profile.get('samples', 0):,} samples of the worker while the lines were published "
        "(a separate pass of the same scenario: the profiler costs CPU). "
        f"{_share(profile.get('requests'))} of them were in Django's request handler (the 50 "
        f"page requests, and any stream still connecting), {_share(profile.get('fanout'))} "
        "in the fan-out: the hub, the stream generators writing to their sockets, gevent's "
        "loop. Shares below are of all samples, fan-out stacks only.",
        "",
        "| self time | function | | self time | file |",
        "|---|---|---|---|---|",
    ]
    for (name, own), (module, share) in zip(profile["self"], profile["modules"], strict=False):
        out.append(f"| {own * 100:.1f} % | `{name}` | | {share * 100:.1f} % | `{module}` |")
    return [*out, ""]


def _reading(results: dict[str, Any]) -> list[str]:
    """What the figures say, by rule; the hand-written reading goes below it."""
    out = ["## Reading (generated from the figures)", ""]
    runs = results.get("scenarios", {}).get("irclogger", {}).get("runs", [])
    measured = [run for run in runs if "loadgen" in run]
    if not measured:
        return [*out, "- irclogger's streams were not measured in this run.", ""]
    top = measured[-1]
    load, clients = top["loadgen"], top["clients"]
    cpu, generator = top.get("server_cpu", 0), load.get("loadgen_cpu") or 0
    out.append(
        f"- At {clients:,} streams irclogger's worker used {cpu * 100:.0f} % of its core and "
        f"the load generator {generator * 100:.0f} % of its own."
    )
    waiting = top.get("server_cpu_wait") or 0
    if waiting >= CONTENDED:
        out.append(
            f"- The worker also spent {waiting * 100:.0f} % of the window runnable but waiting "
            "for its core, which other processes held: on this shared machine that wait, not "
            "irclogger's own CPU time, is a large part of the latency."
        )
    if cpu >= SATURATED:
        out.append(
            "- The server core is saturated: delivery latency there is CPU time in the "
            "fan-out loop (see the profile), and more workers on more cores is the fix."
        )
    if generator >= SATURATED:
        out.append(
            "- The load generator is saturated: latencies at this N are upper bounds "
            "(receipts wait for the generator, not only for the server)."
        )
    rss = top.get("rss_per_stream_kib")
    if rss is not None:
        out.append(
            f"- Memory: {rss:.1f} KiB of worker RSS per open stream "
            f"({rss * clients / 1024:.0f} MiB for {clients:,})."
        )
    profile = results.get("profile", {})
    if profile.get("self"):
        hot = ", ".join(f"`{name}` {share * 100:.0f} %" for name, share in profile["self"][:4])
        out.append(f"- Hottest functions (self time) in the fan-out: {hot}.")
    return [*out, ""]


def _machine(results: dict[str, Any]) -> list[str]:
    info = results["machine"]
    keys = [
        "cores",
        "memory_gib",
        "cpu",
        "kernel",
        "python",
        "django",
        "gevent",
        "postgresql",
        "node",
        "nginx",
        "redis",
        "listen_queue",
    ]
    return (
        ["## The machine", "", "| | |", "|---|---|"]
        + [f"| {key} | {info.get(key)} |" for key in keys]
        + [""]
    )


def _reproduce() -> list[str]:
    return [
        "## How to reproduce",
        "",
        "```",
        "make bench-quick   # N = 100 and 1,000, 50,000 lines, small storms: under 5 minutes",
        "make bench         # N = 100 to 10,000, 1,000,000 lines, py-spy profile, the storms",
        "                   # and chaos at 10,000 and 2,000 streams, then the hour-long soak",
        "make bench BENCH_ARGS=--no-soak   # all of it but the soak",
        "make chaos         # the chaos stage alone (2,000 streams, every fault)",
        "make soak          # the soak alone (SOAK_MINUTES=60, SOAK_LIFETIME=<seconds>)",
        "```",
        "",
        "It needs nothing running: it starts its own database (`irclogger_bench` on the "
        "embedded PostgreSQL, or on the server of DATABASE_URL), each service, Redis if none "
        "answers on 127.0.0.1:6379, and stops them. Peers live in bench/peers/ (the Node.js "
        "one installs its locked dependencies with `npm ci`); a peer whose software is "
        "missing (nginx's nchan module: `apt-get install libnginx-mod-nchan`) is skipped "
        "with a note. Raw figures: bench/out/results.json; logs: bench/out/.",
        "",
    ]


def rerender() -> None:
    """Write RESULTS.md again from bench/out/results.json (after a change to this module)."""
    import json

    from bench.servers import OUT

    write(json.loads((OUT / "results.json").read_text()))


if __name__ == "__main__":
    import django as _django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "irclogger.settings")
    _django.setup()
    rerender()
