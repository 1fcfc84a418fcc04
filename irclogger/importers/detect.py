"""Which format a log file is in, and how to read its bytes (plain or gzipped)."""

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from irclogger.encoding import decode_line
from irclogger.importers import (
    energymech,
    export_json,
    hexchat,
    irssi,
    limnoria,
    mirc,
    quassel,
    textual,
    thelounge,
    weechat,
    znc,
)
from irclogger.importers.base import Format, open_log

# In order of preference when two formats score the same (ZNC before
# EnergyMech: classic EnergyMech lines are ZNC's, and read the same).
FORMATS: dict[str, Format] = {
    format.name: format
    for format in (
        irssi.FORMAT,
        weechat.FORMAT,
        znc.FORMAT,
        energymech.FORMAT,
        hexchat.FORMAT,
        limnoria.FORMAT,
        mirc.FORMAT,
        textual.FORMAT,
        export_json.FORMAT,
        thelounge.FORMAT,
        quassel.FORMAT,
    )
}

# Enough lines to get past a header and a few events, few enough to be instant.
HEAD_LINES = 50


class Lines:
    """Decoded lines without their line ending; ``raw`` is the bytes of the line
    just yielded when they were not all valid UTF-8, else None."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.raw: bytes | None = None

    def __iter__(self) -> Iterator[str]:
        for data in self.stream:
            line = data.rstrip(b"\r\n")
            try:  # decode_line() inlined: this loop runs for every line of every file
                self.raw = None
                yield line.decode("utf-8")
            except UnicodeDecodeError:
                text, self.raw = decode_line(line)
                yield text


def lines(stream: BinaryIO) -> Lines:
    return Lines(stream)


def head(path: Path) -> list[str]:
    with open_log(path) as stream:
        result = []
        for line in lines(stream):
            result.append(line)
            if len(result) == HEAD_LINES:
                break
        return result


def detect(path: Path, first_lines: list[str]) -> Format | None:
    """The best-scoring format, or None when no format recognises the file."""
    best: Format | None = None
    best_score = 0
    for format in FORMATS.values():
        score = format.sniff(path, first_lines)
        if score > best_score:
            best, best_score = format, score
    return best
