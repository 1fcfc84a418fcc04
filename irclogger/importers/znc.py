"""ZNC's ``log`` module: ``[HH:MM:SS] <nick> text``, the date from the file name.

Files are ``…/<network>/<#chan>/YYYY-MM-DD.log`` (older:
``<user>_<network>_<#chan>_YYYYMMDD.log``; published trees rename them, e.g.
``YYYY/MM/#chan_YYYYMMDD.log.txt``): the date is read from anywhere in the
path (``base.file_date``), the format from the lines alone. Times are in the
ZNC user's timezone. Classic EnergyMech logs have the very same lines and are read by
the same rules.
"""

import re
from pathlib import Path

from irclogger.importers.base import (
    DATE_FORMS,
    Clock,
    Entry,
    Format,
    Refused,
    Unparsable,
    file_date,
)
from irclogger.importers.classic import parse_body

LINE = re.compile(r"\[(\d\d):(\d\d):(\d\d)\] (.*)", re.DOTALL)


class ZncParser:
    def __init__(self, path: Path, clock: Clock) -> None:
        day = file_date(path)
        if day is None:
            raise Refused(
                f"a ZNC log: its lines carry no date, and its path has none ({DATE_FORMS})"
            )
        self.day = day
        self.clock = clock

    def feed(self, line: str) -> Entry | None:
        if not line:
            return None
        match = LINE.fullmatch(line)
        if not match:
            raise Unparsable("no [HH:MM:SS] timestamp")
        day = self.day
        at = self.clock.utc(
            day.year, day.month, day.day, int(match[1]), int(match[2]), int(match[3])
        )
        return parse_body(at, match[4])


def sniff(path: Path, head: list[str]) -> int:
    # By the lines alone: a missing date is the parser's refusal, which says so.
    return sum(1 for line in head if LINE.fullmatch(line))


FORMAT = Format("znc", sniff, ZncParser)
