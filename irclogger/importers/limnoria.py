"""Limnoria / Supybot ChannelLogger: ``YYYY-MM-DDTHH:MM:SS  <nick> text``.

The timestamp is followed by two spaces; older Supybot wrote
``02-Feb-2004 14:18:55``. Times are the bot's local time. The bodies are the
``*** `` family of classic.py, with Limnoria's own join/part/quit shapes.
"""

import re
from pathlib import Path

from irclogger.importers.base import Clock, Entry, Format, Unparsable, month_number
from irclogger.importers.classic import parse_body

ISO = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)  (.*)", re.DOTALL)
OLD = re.compile(r"(\d\d)-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d)  (.*)", re.DOTALL)


class LimnoriaParser:
    def __init__(self, path: Path, clock: Clock) -> None:
        self.clock = clock

    def feed(self, line: str) -> Entry | None:
        if not line:
            return None
        if match := ISO.fullmatch(line):
            year, month, day = int(match[1]), int(match[2]), int(match[3])
        elif match := OLD.fullmatch(line):
            year, month, day = int(match[3]), month_number(match[2]), int(match[1])
        else:
            raise Unparsable("no YYYY-MM-DDTHH:MM:SS timestamp followed by two spaces")
        at = self.clock.utc(year, month, day, int(match[4]), int(match[5]), int(match[6]))
        return parse_body(at, match[7])


def sniff(path: Path, head: list[str]) -> int:
    return sum(1 for line in head if ISO.fullmatch(line) or OLD.fullmatch(line))


FORMAT = Format("limnoria", sniff, LimnoriaParser)
