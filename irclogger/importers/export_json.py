"""irclogger's own day export, ``/<network>/<channel>/<day>.json``: between two instances.

``{"network", "channel", "date", "tz", "lines": [{"id", "timestamp", "kind",
"nick", "target", "text", …}]}``, one document per day (irclogger/views/export.py).
Times are ISO 8601 with their offset, UTC in practice: ``--tz`` does not
apply. Every line of the document goes to the channel imported into,
whatever the channel was called where it came from.
"""

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from irclogger.importers.base import Clock, Entry, Format, Refused, Unparsable, open_log
from irclogger.kinds import LineKind
from irclogger.params import UTC

_KINDS = frozenset(LineKind.values)


def read(path: Path, clock: Clock, channel: str) -> Iterator[Entry | Unparsable]:
    try:
        with open_log(path) as stream:
            document = json.load(stream)
    except (ValueError, OSError, EOFError) as exc:
        raise Refused(f"not a readable JSON document: {exc}") from None
    records = document.get("lines") if isinstance(document, dict) else None
    if not isinstance(records, list):
        raise Refused('not an irclogger export: no "lines" list')
    for record in records:
        try:
            yield _entry(record, clock)
        except (KeyError, TypeError, ValueError) as exc:
            yield Unparsable(f"not a line of an irclogger export: {exc!r}")


def _entry(record: dict[str, Any], clock: Clock) -> Entry:
    at = dt.datetime.fromisoformat(record["timestamp"])
    if at.tzinfo is None:
        raise ValueError("a timestamp without its offset")
    at = at.astimezone(UTC)
    kind = record["kind"]
    if kind not in _KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    # As written: UTC, so the import key is the same wherever it is imported.
    at = clock.as_written(at.year, at.month, at.day, at.hour, at.minute, at.second, at.microsecond)
    fields = (record.get("nick", ""), record.get("target", ""), record["text"])
    if not all(isinstance(field, str) for field in fields):
        raise TypeError("nick, target and text must be strings")
    return Entry(at, kind, *fields)


def sniff(path: Path, head: list[str]) -> int:
    first = next((line for line in head if line.strip()), "")
    if first.lstrip().startswith("{") and any('"lines"' in line for line in head):
        return 100  # nothing else looks like it
    return 0


FORMAT = Format("irclogger-json", sniff, read=read)
