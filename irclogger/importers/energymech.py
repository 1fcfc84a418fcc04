"""EnergyMech channel logs, both timestamp shapes.

Classic: ``[HH:MM:SS] <nick> text`` in ``server_#channel_YYYYMMDD.log`` (the
date from the name, as ZNC). Current versions: ``[Mon D YYYY HH:MM:SS]`` and
double-quoted topics. The bodies are the ``*** Joins:`` family that ZNC
copied (see classic.py).
"""

import re
from pathlib import Path

from irclogger.importers.base import (
    DATE_FORMS,
    Clock,
    Entry,
    Format,
    Unparsable,
    file_date,
    month_number,
)
from irclogger.importers.classic import parse_body
from irclogger.importers.znc import LINE as SHORT

LONG = re.compile(r"\[([A-Za-z]{3}) +(\d{1,2}) (\d{4}) (\d\d):(\d\d):(\d\d)\] (.*)", re.DOTALL)


class EnergyMechParser:
    def __init__(self, path: Path, clock: Clock) -> None:
        self.day = file_date(path)
        self.clock = clock

    def feed(self, line: str) -> Entry | None:
        if not line:
            return None
        if match := LONG.fullmatch(line):
            at = self.clock.utc(
                int(match[3]),
                month_number(match[1]),
                int(match[2]),
                int(match[4]),
                int(match[5]),
                int(match[6]),
            )
            return parse_body(at, match[7])
        if match := SHORT.fullmatch(line):
            if self.day is None:
                raise Unparsable(
                    f"[HH:MM:SS] lines carry no date, and the path has none ({DATE_FORMS})"
                )
            day = self.day
            at = self.clock.utc(
                day.year, day.month, day.day, int(match[1]), int(match[2]), int(match[3])
            )
            return parse_body(at, match[4])
        raise Unparsable("no [HH:MM:SS] or [Mon D YYYY HH:MM:SS] timestamp")


def sniff(path: Path, head: list[str]) -> int:
    # The short shape is scored by ZNC's sniff; only the long one is EnergyMech's own.
    return sum(1 for line in head if LONG.fullmatch(line))


FORMAT = Format("energymech", sniff, EnergyMechParser)
