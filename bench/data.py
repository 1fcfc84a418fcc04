"""The benchmark's data: the channels, the big import, and the big-data page timings.

``#live`` is the channel the streams follow (a normal day of history, then
the published lines); ``#big`` holds the imported volume (1,000,000 lines
over 100 days, so each day page has 10,000 lines) that search and the big
day page are timed on.
"""

import datetime as dt
import http.client
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.core.management import call_command
from django.db import connection

from bench.loadgen import percentile
from bench.servers import OUT
from irclogger.bulk import LineRow, copy_lines
from irclogger.demo import generate_rows
from irclogger.models import Channel, Line, Network

NETWORK = "bench"
LIVE = "live"
BIG = "big"
DAYS = "days"
# The common real tree: one file a day (ZNC, irssi, WeeChat, HexChat all
# write so), a year of a moderately busy channel.
DAY_FILES, LINES_PER_DAY_FILE = 300, 250
# The day-files import is timed this many times (its median is the figure).
DAY_FILES_RUNS = 5
# A normal day of a busy channel, for the page timed while streams are open.
LIVE_HISTORY_LINES = 400
# What a person searches for: single words, phrases, exclusions, and rare words.
SEARCH_QUERIES = [
    "postgres",
    "gevent workers",
    '"stream reconnects"',
    "nginx -gzip",
    "unicode decoding error",
    "migration",
    "X-Accel-Buffering",
    "importer yesterday",
    "changelog",
    "butler",
]
# Prefixes as a reader types them, and whole-word queries whose last word is
# still being typed (partial=1).
PREFIX_QUERIES = ["migr*", "postg*", "deplo*", "reconn*", "build gre*", "unicode dec*"]
# Nicks as readers remember them; the filter finds alice_, ALICE, alice|away too.
NICK_QUERIES = ["alice", "Bob_", "carol|away", "OLEG", "sam", "mallory", "ivan", "zoë"]
# A request that takes longer than this is counted as failed.
REQUEST_TIMEOUT = 30.0


@dataclass
class Channels:
    live: Channel
    big: Channel


def prepare_channels() -> Channels:
    network, _ = Network.objects.get_or_create(slug=NETWORK, defaults={"name": "Bench"})
    live, created = Channel.objects.get_or_create(
        network=network, slug=LIVE, defaults={"name": "#live", "bot_enabled": False}
    )
    if created:
        now = dt.datetime.now(dt.UTC)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        copy_lines(generate_rows(live.pk, midnight, now, LIVE_HISTORY_LINES, seed=6))
    big, _ = Channel.objects.get_or_create(
        network=network, slug=BIG, defaults={"name": "#big", "bot_enabled": False}
    )
    return Channels(live, big)


def big_days(lines: int, per_day: int) -> tuple[dt.date, int]:
    """The first day of the big channel's logs and how many days they cover."""
    days = max(1, lines // per_day)
    today = dt.datetime.now(dt.UTC).date()
    return today - dt.timedelta(days=days + 1), days


def write_weechat_log(path: Path, lines: int, per_day: int) -> int:
    """A WeeChat log of ``lines`` generated lines, ``per_day`` a day."""
    first, days = big_days(lines, per_day)
    start = dt.datetime.combine(first, dt.time.min, tzinfo=dt.UTC)
    end = start + dt.timedelta(days=days)
    written = 0
    with open(path, "w", encoding="utf-8") as out:
        for row in generate_rows(0, start, end, lines, seed=1_000_000):
            out.write(_weechat_line(row))
            written += 1
    return written


def _weechat_line(row: LineRow) -> str:
    stamp = row.timestamp.strftime("%Y-%m-%d %H:%M:%S")
    host = f"~{row.nick[:8]}@user/{row.nick}"
    prefixes = {
        "action": (" *", f"{row.nick} {row.text}"),
        "join": ("-->", f"{row.nick} ({host}) has joined #big"),
        "part": ("<--", f"{row.nick} ({host}) has left #big ({row.text})"),
        "quit": ("<--", f"{row.nick} ({host}) has quit ({row.text})"),
        "nick": ("--", f"{row.nick} is now known as {row.target}"),
    }
    prefix, text = prefixes.get(row.kind, (row.nick, row.text))
    return f"{stamp}\t{prefix}\t{text}\n"


def measure_import(lines: int, per_day: int) -> dict[str, Any]:
    """Import a generated WeeChat log through ``manage.py importlogs``: lines/s."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "irc.bench.#big.weechatlog"
    written = write_weechat_log(path, lines, per_day)
    started = time.perf_counter()
    call_command(
        "importlogs",
        "--network",
        NETWORK,
        "--channel",
        "#big",
        "--format",
        "weechat",
        str(path),
        stdout=open(OUT / "importlogs.out", "w"),  # noqa: SIM115  (closed with the process)
    )
    seconds = time.perf_counter() - started
    imported = Channel.objects.get(network__slug=NETWORK, name="#big").lines.count()
    with connection.cursor() as cursor:
        # What autovacuum would do shortly after a big import; the search
        # plans depend on it.
        cursor.execute("ANALYZE irclogger_line")
    path.unlink()
    return {
        "path": "manage.py importlogs --format weechat (one file)",
        "lines": written,
        "imported": imported,
        "seconds": seconds,
        "lines_per_second": imported / seconds if seconds else None,
    }


def timed_gets(
    base_url: str,
    paths: list[str],
    deadline: float,
    timeout: float = REQUEST_TIMEOUT,
    every: float = 0.0,
) -> dict[str, Any]:
    """GET each path in turn (one connection per request, like a fresh visitor).

    With ``every``, the i-th request starts no earlier than ``i * every``
    seconds after the first: a probe spread over a window, not a burst.
    """
    times: list[float] = []
    failures: dict[str, int] = {}
    sizes: list[int] = []
    first = time.monotonic()
    for index, path in enumerate(paths):
        time.sleep(max(0.0, first + index * every - time.monotonic()))
        if time.monotonic() > deadline:
            key = "not sent: time budget over"
            failures[key] = failures.get(key, 0) + 1
            continue
        status, seconds, size = timed_get(base_url, path, timeout)
        if status == "200":
            times.append(seconds)
            sizes.append(size)
        else:
            failures[status] = failures.get(status, 0) + 1
    return {
        "requests": len(paths),
        **percentiles(times),
        "failures": failures,
        "bytes": max(sizes) if sizes else 0,
    }


def timed_get(base_url: str, path: str, timeout: float = REQUEST_TIMEOUT) -> tuple[str, float, int]:
    host, port = base_url.removeprefix("http://").split(":")
    started = time.perf_counter()
    try:
        conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        body = response.read()
        conn.close()
    except (OSError, http.client.HTTPException) as exc:
        return type(exc).__name__, time.perf_counter() - started, 0
    return str(response.status), time.perf_counter() - started, len(body)


def percentiles(times: list[float]) -> dict[str, Any]:
    ordered = sorted(times)
    return {
        "ok": len(ordered),
        "p50": percentile(ordered, 0.5),
        "p99": percentile(ordered, 0.99),
        "max": percentile(ordered, 1.0),
    }


def search_paths(rounds: int) -> Iterator[str]:
    for index in range(rounds):
        query = SEARCH_QUERIES[index % len(SEARCH_QUERIES)]
        yield f"/{NETWORK}/{BIG}/search/?q={quote(query)}"


def prefix_search_paths(rounds: int) -> Iterator[str]:
    for index in range(rounds):
        query = PREFIX_QUERIES[index % len(PREFIX_QUERIES)]
        if " " in query:  # typing: the last word unfinished, without the star
            yield f"/{NETWORK}/{BIG}/search/?q={quote(query.rstrip('*'))}&partial=1"
        else:
            yield f"/{NETWORK}/{BIG}/search/?q={quote(query)}"


def nick_search_paths(rounds: int) -> Iterator[str]:
    """The nick filter alone, and with a word, on alternate requests."""
    for index in range(rounds):
        nick = quote(NICK_QUERIES[index % len(NICK_QUERIES)])
        word = quote(SEARCH_QUERIES[index % len(SEARCH_QUERIES)]) if index % 2 else ""
        yield f"/{NETWORK}/{BIG}/search/?nick={nick}&q={word}"


def statistics_path() -> str:
    return f"/{NETWORK}/{BIG}/stats/"


def big_day_path(lines: int, per_day: int) -> str:
    first, days = big_days(lines, per_day)
    return f"/{NETWORK}/{BIG}/{first + dt.timedelta(days=days // 2)}/"


def live_day_path() -> str:
    return f"/{NETWORK}/{LIVE}/{dt.datetime.now(dt.UTC).date()}/"


def write_znc_tree(root: Path, days: int, per_day: int) -> int:
    """``days`` ZNC day files (``YYYY/MM/#days_YYYYMMDD.log``) of ``per_day`` lines."""
    first = dt.date(2020, 1, 1)
    written = 0
    for number in range(days):
        day = first + dt.timedelta(days=number)
        start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
        path = root / f"{day:%Y/%m}/#{DAYS}_{day:%Y%m%d}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = generate_rows(0, start, start + dt.timedelta(days=1), per_day, seed=number)
        with open(path, "w", encoding="utf-8") as out:
            for row in rows:
                out.write(_znc_line(row))
                written += 1
    return written


def _znc_line(row: LineRow) -> str:
    host = f"~{row.nick[:8]}@user/{row.nick}"
    bodies = {
        "action": f"* {row.nick} {row.text}",
        "notice": f"-{row.nick}- {row.text}",
        "join": f"*** Joins: {row.nick} ({host})",
        "part": f"*** Parts: {row.nick} ({host}) ({row.text})",
        "quit": f"*** Quits: {row.nick} ({host}) ({row.text})",
        "nick": f"*** {row.nick} is now known as {row.target}",
    }
    body = bodies.get(row.kind, f"<{row.nick}> {row.text}")
    return f"[{row.timestamp:%H:%M:%S}] {body}\n"


def measure_day_files_import(runs: int = DAY_FILES_RUNS) -> dict[str, Any]:
    """Import a tree of day files with ``manage.py importlogs DIR`` (detected): lines/s.

    Two seconds of work, so one run says little: the tree is imported
    ``runs`` times into a fresh channel, and the median run is the figure
    (each run's is kept).
    """
    root = OUT / "znc-tree"
    shutil.rmtree(root, ignore_errors=True)
    written = write_znc_tree(root, DAY_FILES, LINES_PER_DAY_FILE)
    timed = [_import_tree(root) for _ in range(runs)]
    shutil.rmtree(root)
    imported, seconds = sorted(timed, key=lambda run: run[1])[len(timed) // 2]
    return {
        "path": f"manage.py importlogs DIR ({DAY_FILES} ZNC day files of {LINES_PER_DAY_FILE}, "
        f"median of {runs} runs)",
        "lines": written,
        "imported": imported,
        "seconds": seconds,
        "lines_per_second": imported / seconds if seconds else None,
        "runs_lines_per_second": [count / took for count, took in timed],
    }


def _import_tree(root: Path) -> tuple[int, float]:
    """One import of the tree into a channel made for it: lines stored, seconds.

    Each run starts as an import into a quiet database would: the last
    run's rows gone (vacuumed, so their keys are not checked again in the
    unique index) and the big import's pages written out (a checkpoint it
    set off would otherwise land in the first run or two).
    """
    Channel.objects.filter(network__slug=NETWORK, name=f"#{DAYS}").delete()
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {Line._meta.db_table}")
        cursor.execute("CHECKPOINT")
    started = time.perf_counter()
    call_command(
        "importlogs",
        "--network",
        NETWORK,
        "--channel",
        f"#{DAYS}",
        str(root),
        stdout=open(OUT / "importlogs-days.out", "w"),  # noqa: SIM115  (closed with the process)
    )
    seconds = time.perf_counter() - started
    return Channel.objects.get(network__slug=NETWORK, name=f"#{DAYS}").lines.count(), seconds
