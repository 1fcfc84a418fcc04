"""Helpers for the importer tests: parse text with one format, import bytes into a channel."""

import datetime as dt
from pathlib import Path

from irclogger.importers import FORMATS, ImportSummary, import_files
from irclogger.importers.base import Clock, Unparsable
from irclogger.models import Channel, Line
from irclogger.params import UTC


def parse(
    fmt: str, text: str, name: str = "chan.log", tz: dt.tzinfo = UTC
) -> list[tuple[str, ...]]:
    """(time as ISO, kind, nick, target, text) per entry; ("unparsable", why) per bad line."""
    make_parser = FORMATS[fmt].parser
    assert make_parser is not None, f"{fmt} is read whole, not line by line"
    parser = make_parser(Path(name), Clock(tz))
    out: list[tuple[str, ...]] = []
    for line in text.split("\n"):
        try:
            entry = parser.feed(line)
        except Unparsable as exc:
            out.append(("unparsable", str(exc)))
            continue
        if entry is not None:
            iso = entry.timestamp.isoformat().replace("+00:00", "Z")
            out.append((iso, entry.kind, entry.nick, entry.target, entry.text))
    return out


def import_bytes(
    tmp_path: Path, name: str, data: bytes, channel: Channel, **options: object
) -> tuple[ImportSummary, list[str]]:
    """Write ``data`` to ``tmp_path/name`` and import it; returns the summary and reports."""
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    reports: list[str] = []
    summary = import_files([path], channel, report=reports.append, **options)  # type: ignore[arg-type]
    return summary, reports


def stored(channel: Channel) -> list[tuple[str, ...]]:
    """The channel's lines in page order, as (time ISO, kind, nick, target, text)."""
    return [
        (
            line.timestamp.isoformat().replace("+00:00", "Z"),
            line.kind,
            line.nick,
            line.target,
            line.text,
        )
        for line in Line.objects.filter(channel=channel).in_order()
    ]
