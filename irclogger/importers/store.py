"""The database side of an import: batches of COPY text, each in one transaction.

A batch whose first and last import keys are not stored yet (a first
import) is COPYed straight into ``irclogger_line``. Otherwise, or when that
COPY meets a line already stored (the unique (channel, import_key)
constraint), the batch is COPYed into a per-connection temporary staging
table and moved with one ``INSERT … SELECT … ON CONFLICT DO NOTHING``: an
anti-join drops the known lines before anything is computed for them (the
search vector is the costly part of an insert), so duplicates are skipped
and counted at COPY speed.

Outside a transaction, batches are written by ``WRITERS`` connections at
once: PostgreSQL's work per line (the search vector, its GIN index and
four btree indexes) is the slowest part of an import, and it spreads over the cores. Inside a
caller's transaction (a test, a larger unit of work) other connections
could not see its uncommitted rows, so its own connection writes alone.
"""

import io
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, NamedTuple

import psycopg2
import psycopg2.errors
from django.db import connection, transaction

from irclogger.bulk import COLUMNS, COPY_LINES
from irclogger.geventpool import direct_connection_params

STAGE = "irclogger_import_stage"

# Lines per batch: large enough that the per-statement costs vanish, small
# enough that a batch (about 200 bytes a line) stays in PostgreSQL's default
# 8 MB of temp_buffers.
BATCH_SIZE = 20_000
# The first batch is small, so the writers start while the parser is still
# at the first files instead of waiting for a whole batch; each next batch
# is twice as large, up to BATCH_SIZE.
FIRST_BATCH_SIZE = 1_000
# The smallest of the last batches (see _next_size).
LAST_BATCH_SIZE = 4_000

# Connections writing at once: one per core (PostgreSQL's work per line is
# most of an import's), at most 4, past which the parsing thread cannot keep
# them busy anyway.
WRITERS = min(4, os.cpu_count() or 2)

# seq keeps the file's order within a batch.
_CREATE_STAGE = (
    f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} ("
    " seq bigint GENERATED ALWAYS AS IDENTITY, channel_id bigint,"
    " timestamp timestamptz, kind varchar(8), nick varchar(64), target varchar(64),"
    " text text, imported boolean, import_key varchar(64), raw bytea)"
)
_COPY_STAGE = f"COPY {STAGE} ({', '.join(COLUMNS)}) FROM STDIN"
_ANY_STORED = (
    "SELECT EXISTS (SELECT 1 FROM irclogger_line WHERE channel_id = %s"
    " AND import_key = ANY(%s) AND import_key IS NOT NULL)"
)
# The anti-join drops the lines already stored before anything is computed
# for them; ON CONFLICT still covers a concurrent import of the same lines.
_MOVE_UNKNOWN = (
    f"INSERT INTO irclogger_line ({', '.join(COLUMNS)})"  # noqa: S608  (constants, not input)
    f" SELECT {', '.join(COLUMNS)} FROM {STAGE} AS new"
    " WHERE NOT EXISTS (SELECT 1 FROM irclogger_line AS old"
    " WHERE old.channel_id = new.channel_id AND old.import_key = new.import_key"
    " AND old.import_key IS NOT NULL)"
    # An imported line an admin redacted lost its text, and with it the key a
    # file's line would match if its key was computed after the redaction
    # (migration 0007): the same line (time, kind, who) is not added back.
    " AND NOT EXISTS (SELECT 1 FROM irclogger_line AS gone"
    " WHERE gone.channel_id = new.channel_id AND gone.timestamp = new.timestamp"
    " AND gone.redacted_by_id IS NOT NULL AND gone.imported"
    " AND gone.kind = new.kind AND gone.nick = new.nick AND gone.target = new.target)"
    " ORDER BY seq"
    " ON CONFLICT (channel_id, import_key) WHERE import_key IS NOT NULL DO NOTHING"
)
# A line imported before in another zone (the key does not hold the zone):
# its time moves to the new one. Within the same minute a time with seconds
# wins over one without: where a client wrote only HH:MM, another client's
# log of the same line knows the second.
_MOVE_KNOWN = (
    f"UPDATE irclogger_line AS old SET timestamp = new.timestamp FROM {STAGE} AS new"  # noqa: S608
    " WHERE old.channel_id = new.channel_id AND old.import_key = new.import_key"
    " AND old.import_key IS NOT NULL AND old.timestamp <> new.timestamp"
    " AND (date_trunc('minute', old.timestamp) <> date_trunc('minute', new.timestamp)"
    " OR new.timestamp <> date_trunc('minute', new.timestamp))"
)
# For the anti-join: probe the unique index per staged line, as the planner,
# which cannot know how many lines are new, would otherwise hash the whole
# table once per batch. Sorting a batch needs more than the default 4 MB.
_PROBE_SETTINGS = (
    "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; SET LOCAL work_mem = '64MB'"
)


class Stored(NamedTuple):
    """What one batch did."""

    size: int
    inserted: int
    moved: int


class Batch(NamedTuple):
    text: str  # COPY text, one line per row
    size: int
    channel_id: int
    edge_keys: list[str]  # the first and last import keys


def batches(
    rows: Iterable[tuple[str, str, str]], channel_id: int, expected: int | None = None
) -> Iterator[Batch]:
    """Group (timestamp, key, COPY line) rows, never splitting lines of one timestamp.

    Batches may be written concurrently, so ids are only in file order within
    a batch; pages order by (timestamp, id), so keeping each timestamp's lines
    in one batch keeps their order. With the number of rows ``expected``
    (an estimate), the last batches get smaller, so the writers finish
    together instead of one writing a whole batch alone at the end.
    """
    lines: list[str] = []
    first_key = last_key = last_time = ""
    size, done = min(FIRST_BATCH_SIZE, BATCH_SIZE), 0
    for timestamp, key, line in rows:
        if len(lines) >= size and timestamp != last_time:
            yield Batch("".join(lines), len(lines), channel_id, [first_key, last_key])
            done += len(lines)
            lines = []
            size = _next_size(size, None if expected is None else expected - done)
        if not lines:
            first_key = key
        lines.append(line)
        last_key, last_time = key, timestamp
    if lines:
        yield Batch("".join(lines), len(lines), channel_id, [first_key, last_key])


def _next_size(size: int, rows_left: int | None) -> int:
    """Twice the last batch's size, up to BATCH_SIZE; at most a writer's share of the rest."""
    size = min(2 * size, BATCH_SIZE)
    if rows_left is None:
        return size
    # Each batch at most a writer's share of the rows left: the last few are
    # small, so no writer ends long after the others. Not smaller than
    # LAST_BATCH_SIZE: two writers filling adjacent stretches of the same
    # indexes cost PostgreSQL more per batch (measured: 30 batches of 2,500
    # lines took a fifth more CPU than 4 of 20,000).
    return min(size, max(rows_left // WRITERS, LAST_BATCH_SIZE))


def write(all_batches: Iterable[Batch]) -> Iterator[Stored]:
    """Store each batch; yields what each did, as they finish."""
    if connection.in_atomic_block:
        for batch in all_batches:
            with transaction.atomic(), connection.cursor() as cursor:
                yield _store(cursor.cursor, batch)
    else:
        yield from _write_in_parallel(all_batches)


def _write_in_parallel(all_batches: Iterable[Batch]) -> Iterator[Stored]:
    # Plain psycopg2 connections: the default pool is gevent's, which
    # threads must not share.
    params = direct_connection_params("irclogger-importlogs")
    local = threading.local()
    opened: list[Any] = []
    lock = threading.Lock()

    def connect() -> Any:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = psycopg2.connect(**params)
            with lock:
                opened.append(conn)
        return conn

    def store(batch: Batch) -> Stored:
        with connect() as conn, conn.cursor() as cursor:  # one transaction per batch
            return _store(cursor, batch)

    pending: deque[Future[Stored]] = deque()
    try:
        with ThreadPoolExecutor(WRITERS, thread_name_prefix="importlogs-writer") as pool:
            # Connect while the first batch is parsed, not after. A failure
            # here is raised again by the first batch's connect().
            for _ in range(WRITERS):
                pool.submit(connect)
            for batch in all_batches:
                pending.append(pool.submit(store, batch))
                # Bounded: a slow database holds the parser back, not memory.
                while len(pending) > WRITERS:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
    finally:
        for conn in opened:
            conn.close()


def _store(cursor: Any, batch: Batch) -> Stored:
    """Store one batch in the cursor's transaction."""
    # An import can always be run again (it adds only what is missing), so
    # a crash losing the last committed batches costs nothing: do not wait
    # for each commit's WAL flush.
    cursor.execute("SET LOCAL synchronous_commit = off")
    cursor.execute(_ANY_STORED, [batch.channel_id, batch.edge_keys])
    if not cursor.fetchone()[0] and _copy_new(cursor, batch):
        return Stored(batch.size, batch.size, 0)
    return _stage_and_move(cursor, batch)


def _copy_new(cursor: Any, batch: Batch) -> bool:
    """COPY a batch of new lines straight into place; False if one was there already.

    Two to three times faster than staging; a line already stored (an
    overlapping file, a concurrent import) undoes the COPY, and the batch
    goes through the staging table instead.
    """
    cursor.execute("SAVEPOINT irclogger_import_copy")
    try:
        _copy(cursor, COPY_LINES, batch.text)
    except psycopg2.errors.UniqueViolation:
        cursor.execute("ROLLBACK TO SAVEPOINT irclogger_import_copy")
        return False
    cursor.execute("RELEASE SAVEPOINT irclogger_import_copy")
    return True


def _stage_and_move(cursor: Any, batch: Batch) -> Stored:
    """Stage one batch, correct the times of the lines stored already, add the others."""
    cursor.execute(_CREATE_STAGE)
    _copy(cursor, _COPY_STAGE, batch.text)
    cursor.execute(_PROBE_SETTINGS)
    cursor.execute(_MOVE_KNOWN)
    moved: int = cursor.rowcount
    cursor.execute(_MOVE_UNKNOWN)
    inserted: int = cursor.rowcount
    cursor.execute(f"TRUNCATE {STAGE}")
    return Stored(batch.size, inserted, moved)


def _copy(cursor: Any, sql: str, text: str) -> None:
    # In one read: psycopg2 takes the GIL back for every chunk it reads (8 kB
    # by default), and each time waits for the parsing thread to let go of it.
    cursor.copy_expert(sql, io.StringIO(text), size=len(text))
