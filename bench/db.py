"""The benchmark's own database, and how many connections a service holds.

By default: a fresh ``irclogger_bench`` database on the server of
DATABASE_URL, or on the embedded PostgreSQL (irclogger.devdb), dropped and
made again on every run so the import is measured into an empty table.
BENCH_DATABASE_URL names a database to use as it is (never dropped).
"""

import os
import threading
from urllib.parse import urlsplit, urlunsplit

import psycopg2

BENCH_DB = "irclogger_bench"
# pg_stat_activity is sampled this often while a scenario runs: fast enough
# to catch a connection opened for one page request.
SAMPLE_SECONDS = 0.1


def database_url() -> str:
    given = os.environ.get("BENCH_DATABASE_URL")
    if given:
        return given
    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        from irclogger import devdb

        server_url = devdb.database_url()
    url = _with_name(server_url, BENCH_DB)
    _recreate(_with_name(server_url, "postgres"), BENCH_DB)
    return url


def _with_name(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _recreate(maintenance_url: str, name: str) -> None:
    connection = psycopg2.connect(maintenance_url)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            # `name` is this module's constant, not input.
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()


def server_version(url: str) -> str:
    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            row = cursor.fetchone()
            return str(row[0]) if row else "?"
    finally:
        connection.close()


class ConnectionSampler:
    """The most connections of one service (``application_name`` and its hub) at once."""

    def __init__(self, url: str, application_name: str):
        self.url = url
        self.application_name = application_name
        self.peak = 0
        # The peak since mark(): the steady state, after the connection storm.
        self.peak_since_mark = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "ConnectionSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def mark(self) -> None:
        self.peak_since_mark = 0

    def _run(self) -> None:
        connection = psycopg2.connect(self.url)
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                while not self._stop.is_set():
                    cursor.execute(
                        # The service's pool and its hub's LISTEN connection.
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name IN (%s, %s)",
                        [self.application_name, self.application_name + "-hub"],
                    )
                    row = cursor.fetchone()
                    count = int(row[0]) if row else 0
                    self.peak = max(self.peak, count)
                    self.peak_since_mark = max(self.peak_since_mark, count)
                    self._stop.wait(SAMPLE_SECONDS)
        finally:
            connection.close()
