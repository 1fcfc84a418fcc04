"""COPY lines into PostgreSQL: the fast path for the importers and the demo."""

import datetime as dt
import io
from collections.abc import Iterable
from typing import NamedTuple

from django.db import connection

COLUMNS = (
    "channel_id",
    "timestamp",
    "kind",
    "nick",
    "target",
    "text",
    "imported",
    "import_key",
    "raw",
)
COPY_LINES = f"COPY irclogger_line ({', '.join(COLUMNS)}) FROM STDIN"

# COPY's text format gives these characters a meaning; everything else,
# IRC formatting bytes included, passes through as it is.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


class LineRow(NamedTuple):
    channel_id: int
    timestamp: dt.datetime
    kind: str
    nick: str
    target: str
    text: str
    imported: bool
    import_key: str | None
    raw: bytes | None = None


def copy_lines(rows: Iterable[LineRow], *, batch_size: int = 50_000) -> int:
    """COPY rows into irclogger_line in batches; returns how many were written."""
    total = 0
    buffer = io.StringIO()
    count = 0
    for row in rows:
        buffer.write(_copy_line(row))
        count += 1
        if count == batch_size:
            total += _flush(buffer, count)
            buffer, count = io.StringIO(), 0
    return total + _flush(buffer, count)


def _copy_line(row: LineRow) -> str:
    fields = (
        str(row.channel_id),
        row.timestamp.isoformat(),
        row.kind,
        copy_text(row.nick),
        copy_text(row.target),
        copy_text(row.text),
        "t" if row.imported else "f",
        "\\N" if row.import_key is None else copy_text(row.import_key),
        copy_bytes(row.raw),
    )
    return "\t".join(fields) + "\n"


def copy_text(value: str) -> str:
    # PostgreSQL text cannot hold NUL; it carries no meaning on IRC anyway.
    return value.replace("\x00", "").translate(_COPY_ESCAPES)


def copy_bytes(value: bytes | None) -> str:
    """A bytea field of COPY's text format: \\x and hex digits (the backslash escaped)."""
    return "\\N" if value is None else f"\\\\x{value.hex()}"


def _flush(buffer: io.StringIO, count: int) -> int:
    if count == 0:
        return 0
    buffer.seek(0)
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg2 cursor under Django's wrapper
        raw.copy_expert(COPY_LINES, buffer)
    return count
