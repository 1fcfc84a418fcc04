"""WeeChat: ``time TAB prefix TAB message``, file ``irc.<server>.<#chan>.weechatlog``.

Time is ``YYYY-MM-DD HH:MM:SS`` local (before 4.8) or
``YYYY-MM-DD HH:MM:SS.ffffffZ`` UTC (4.8 and later; ``--tz`` does not apply).
Prefixes: ``-->`` join, ``<--`` part/quit, ``--`` nick/topic/kick/mode and
other network notes (kept as system lines), `` *`` action, else the nick
(maybe with a mode char, ``@nick``).
"""

import datetime as dt
import re
from pathlib import Path

from irclogger.importers.base import (
    ACTION,
    JOIN,
    KICK,
    MESSAGE,
    MODE,
    NICK,
    NOTICE,
    PART,
    QUIT,
    SYSTEM,
    TOPIC,
    Clock,
    Entry,
    Format,
    Unparsable,
    strip_mode,
)

TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6})Z)?")
# The head of a line, for sniffing.
HEAD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6}Z)?\t")

_JOIN = re.compile(r"(\S+) \(([^)]*)\) has joined \S+")
_PART = re.compile(r"(\S+) \([^)]*\) has left \S+(?: \((.*)\))?", re.DOTALL)
_QUIT = re.compile(r"(\S+) \([^)]*\) has quit(?: \((.*)\))?", re.DOTALL)
_NICK = re.compile(r"(\S+) is now known as (\S+)")
_TOPIC = re.compile(r'(\S+) has changed topic for \S+ (?:from ".*" )?to "(.*)"', re.DOTALL)
_UNSET_TOPIC = re.compile(r"(\S+) has unset topic for \S+(?: \(old topic: .*\))?", re.DOTALL)
_KICK = re.compile(r"(\S+) has kicked (\S+)(?: \((.*)\))?", re.DOTALL)
_MODE = re.compile(r"Mode \S+ \[(.*)\] by (\S+)", re.DOTALL)
_NOTICE = re.compile(r"Notice\(([^)]+)\)(?: -> \S+)?: (.*)", re.DOTALL)
# Join, part and quit, and the network's notes: nick, topic, kick, mode.
_EVENT_PREFIXES = frozenset({"-->", "<--", "--"})


class WeechatParser:
    def __init__(self, path: Path, clock: Clock) -> None:
        self.clock = clock

    def feed(self, line: str) -> Entry | None:
        if not line:
            return None
        stamp, _, rest = line.partition("\t")
        prefix, tab2, message = rest.partition("\t")
        if not tab2:
            raise Unparsable("not time TAB prefix TAB message")
        return _entry(self._utc(stamp), prefix, message)

    def _utc(self, stamp: str) -> dt.datetime:
        match = TIME.fullmatch(stamp)
        if not match:
            raise Unparsable("no YYYY-MM-DD HH:MM:SS timestamp")
        year, month, day, hour, minute, second = map(int, match.group(1, 2, 3, 4, 5, 6))
        if match[7] is None:
            return self.clock.utc(year, month, day, hour, minute, second)
        micro = int(match[7].ljust(6, "0"))
        # WeeChat ≥ 4.8 writes UTC whatever --tz says.
        return self.clock.as_written(year, month, day, hour, minute, second, micro)


def _entry(at: dt.datetime, prefix: str, message: str) -> Entry:
    if prefix in _EVENT_PREFIXES:
        return _event(at, message)
    if prefix.strip() == "*":
        nick, _, text = message.partition(" ")
        return Entry(at, ACTION, nick, "", text)
    if prefix and not prefix.startswith(("=!=", " ")):
        return Entry(at, MESSAGE, strip_mode(prefix), "", message)
    return Entry(at, SYSTEM, "", "", message)


def _event(at: dt.datetime, message: str) -> Entry:
    # By the text, not the prefix: WeeChat shows a kick with "<--", like a part.
    if match := _JOIN.fullmatch(message):
        return Entry(at, JOIN, match[1], "", match[2])
    if match := _PART.fullmatch(message):
        return Entry(at, PART, match[1], "", match[2] or "")
    if match := _QUIT.fullmatch(message):
        return Entry(at, QUIT, match[1], "", match[2] or "")
    if match := _NOTICE.fullmatch(message):
        return Entry(at, NOTICE, match[1], "", match[2])
    if match := _NICK.fullmatch(message):
        return Entry(at, NICK, match[1], match[2])
    if match := _TOPIC.fullmatch(message):
        return Entry(at, TOPIC, match[1], "", match[2])
    if match := _UNSET_TOPIC.fullmatch(message):
        return Entry(at, TOPIC, match[1], "", "")
    if match := _KICK.fullmatch(message):
        return Entry(at, KICK, match[1], match[2], match[3] or "")
    if match := _MODE.fullmatch(message):
        return Entry(at, MODE, match[2], "", match[1])
    return Entry(at, SYSTEM, "", "", message)


def sniff(path: Path, head: list[str]) -> int:
    return sum(1 for line in head if HEAD.match(line))


FORMAT = Format("weechat", sniff, WeechatParser)
