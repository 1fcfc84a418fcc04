"""mIRC: ``[HH:nn] <nick> text``, the date from ``Session Start:`` and ``Session Time:``.

``Session Start: Sun Mar 10 09:00:00 2024`` opens a session and
``Session Time: Mon Mar 11 00:00:00 2024`` marks a new day; the lines
carry mIRC's default timestamp ``[HH:nn]`` (or ``[HH:nn:ss]``), local time.
Events and actions share the ``* `` prefix: the known event shapes (with or
without the address, "Show addresses" being an option) are tried first, the
rest is an action. ``Session Ident:`` and ``Session Close:`` carry nothing.
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
    month_number,
    strip_mode,
)

SESSION = re.compile(r"Session (Start|Time): \w+ (\w+) +(\d{1,2}) [\d:]+ (\d{4})")
LINE = re.compile(r"\[(\d\d):(\d\d)(?::(\d\d))?\] (.*)", re.DOTALL)

_MESSAGE = re.compile(r"<([^>]+)> ?(.*)", re.DOTALL)
_NOTICE = re.compile(r"-([^\s:]+?)(?::\S+)?- ?(.*)", re.DOTALL)
_HOST = r"(?: \(([^)]*)\))?"
_JOIN = re.compile(rf"(\S+){_HOST} has joined \S+")
_PART = re.compile(rf"(\S+){_HOST} has left \S+(?: \((.*)\))?", re.DOTALL)
_QUIT = re.compile(rf"(\S+){_HOST} (?:Quit|has quit IRC)(?: \((.*)\))?", re.DOTALL)
_NICK = re.compile(r"(\S+) is now known as (\S+)")
_TOPIC = re.compile(r"(\S+) changes topic to '(.*)'", re.DOTALL)
_KICK = re.compile(r"(\S+) was kicked by (\S+)(?: \((.*)\))?", re.DOTALL)
_MODE = re.compile(r"(\S+) sets mode: (.*)", re.DOTALL)
# mIRC's own notes on joining: kept as system lines, not actions.
_NOTES = re.compile(
    r"Now talking in \S+|Topic is .*|Set by .*|Disconnected|Attempting .*", re.DOTALL
)


class MircParser:
    def __init__(self, path: Path, clock: Clock) -> None:
        self.clock = clock
        self.day: dt.date | None = None

    def feed(self, line: str) -> Entry | None:
        if not line or line.startswith(("Session Ident:", "Session Close:")):
            return None
        if line.startswith("Session "):
            self._session(line)
            return None
        match = LINE.fullmatch(line)
        if not match:
            raise Unparsable("no [HH:nn] timestamp")
        day = self.day
        if day is None:
            raise Unparsable("a line before any 'Session Start:'")
        at = self.clock.utc(
            day.year, day.month, day.day, int(match[1]), int(match[2]), int(match[3] or 0)
        )
        return _body(at, match[4])

    def _session(self, line: str) -> None:
        match = SESSION.match(line)
        if not match:
            raise Unparsable("unknown 'Session' line")
        try:
            self.day = dt.date(int(match[4]), month_number(match[2]), int(match[3]))
        except ValueError as exc:
            raise Unparsable(f"impossible date: {exc}") from None


def _body(at: dt.datetime, body: str) -> Entry:
    if body.startswith("<") and (match := _MESSAGE.fullmatch(body)):
        return Entry(at, MESSAGE, strip_mode(match[1]), "", match[2])
    if body.startswith("* "):
        return _event(at, body[2:])
    if body.startswith("-") and (match := _NOTICE.fullmatch(body)):
        return Entry(at, NOTICE, match[1], "", match[2])
    raise Unparsable("not a message, action, notice or * event")


def _event(at: dt.datetime, text: str) -> Entry:
    if match := _JOIN.fullmatch(text):
        return Entry(at, JOIN, match[1], "", match[2] or "")
    if match := _PART.fullmatch(text):
        return Entry(at, PART, match[1], "", match[3] or "")
    if match := _QUIT.fullmatch(text):
        return Entry(at, QUIT, match[1], "", match[3] or "")
    if match := _NICK.fullmatch(text):
        return Entry(at, NICK, match[1], match[2])
    if match := _TOPIC.fullmatch(text):
        return Entry(at, TOPIC, match[1], "", match[2])
    if match := _KICK.fullmatch(text):
        return Entry(at, KICK, match[2], match[1], match[3] or "")
    if match := _MODE.fullmatch(text):
        return Entry(at, MODE, match[1], "", match[2])
    if _NOTES.fullmatch(text):
        return Entry(at, SYSTEM, "", "", text)
    nick, _, rest = text.partition(" ")
    return Entry(at, ACTION, nick, "", rest)


def sniff(path: Path, head: list[str]) -> int:
    sessions = sum(3 for line in head if SESSION.match(line))
    if not sessions:  # not mIRC: its lines need not be looked at (detection runs per file)
        return 0
    return sessions + sum(1 for line in head if LINE.fullmatch(line))


FORMAT = Format("mirc", sniff, MircParser)
