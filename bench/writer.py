"""The bot's stand-in for the fault scenarios: lines at a fixed rate, through every outage.

    DATABASE_URL=… python -m bench.writer [--rate 10]

Prints ``{"ready": <stream path>}`` once the channels exist, starts writing
on ``go`` (a line on stdin), prints one ``{"seq": n, "ok": bool, "at": unix
time}`` per attempt, and stops when its stdin closes. A write that fails
(PostgreSQL restarting, the connection terminated) is not retried under
the same seq: the next attempt gets the next one. Whether a failed commit
happened anyway only the database knows, so the lines that count are the
ones it holds at the end (``written_seqs``).
"""

import argparse
import json
import os
import sys
import threading
import time
from typing import Any

import psycopg2

from bench.loadgen import MARKER

RATE = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=RATE)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "irclogger.settings")
    import django

    django.setup()
    from bench import data

    channels = data.prepare_channels()
    _emit({"ready": f"/{data.NETWORK}/{data.LIVE}/stream/"})
    go, stopped = threading.Event(), threading.Event()

    def commands() -> None:
        for _line in sys.stdin:
            go.set()
        stopped.set()
        go.set()

    threading.Thread(target=commands, daemon=True).start()
    go.wait()
    write(channels.live, args.rate, stopped)


def write(channel: Any, rate: float, stopped: threading.Event) -> None:
    from django.db import Error, connection

    from bench.scenario import bench_line
    from irclogger.publish import write_lines

    started = time.monotonic()
    seq = 0
    while not stopped.is_set():
        stopped.wait(max(0.0, started + seq / rate - time.monotonic()))
        if stopped.is_set():
            break
        try:
            write_lines([bench_line(channel, seq)])
            ok = True
        except Error:
            # A fresh connection for the next line, as the bot's writer does.
            connection.close()
            ok = False
        _emit({"seq": seq, "ok": ok, "at": time.time()})
        seq += 1


def written_seqs(database_url: str, nick: str) -> list[tuple[int, float]]:
    """(seq, publish time) of every benchmark line the database holds, in id order."""
    connection = psycopg2.connect(database_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT text FROM irclogger_line WHERE nick = %s ORDER BY id", [nick])
            found = []
            for (text,) in cursor.fetchall():
                match = MARKER.search(text.encode())
                if match:
                    found.append((int(match[1]), float(match[2])))
            return found
    finally:
        connection.close()


def _emit(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
