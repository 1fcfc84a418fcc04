"""Textual (macOS): ``[2008-07-09T16:13:30+1200] <@nick> text``, one file a day.

Files are ``<network>/Channels/<#chan>/YYYY-MM-DD.txt``; each line starts
with its time and UTC offset (Textual's TLOFileLogger), so ``--tz`` does not
apply. Actions are ``• nick: text``, notices ``-nick- text``; events carry no
nick prefix and read as Textual's English messages (its IRC.strings):
``nick (user@host) joined the channel``, ``… left the channel (reason)``,
``… left IRC (reason)``, ``old is now known as new``, ``op kicked nick from
the channel (reason)``, ``op sets mode +o nick``, ``nick changed the topic
to topic``. Textual strips formatting codes before it writes a line.
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
from irclogger.params import UTC

LINE = re.compile(r"\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:?\d\d)\] (.*)", re.DOTALL)

_MESSAGE = re.compile(r"<([^>]+)> ?(.*)", re.DOTALL)
_ACTION = re.compile(r"\u2022 ([^\s:]+): ?(.*)", re.DOTALL)
_NOTICE = re.compile(r"-([^\s-]+)- ?(.*)", re.DOTALL)
_JOIN = re.compile(r"(\S+) \(([^)]*)\) joined the channel")
_PART = re.compile(r"(\S+) \([^)]*\) left the channel(?: \((.*)\))?", re.DOTALL)
_QUIT = re.compile(r"(\S+) \([^)]*\) left IRC(?: \((.*)\))?", re.DOTALL)
_NICK = re.compile(r"(\S+) is now known as (\S+)")
_KICK = re.compile(r"(\S+) kicked (\S+) from the channel(?: \((.*)\))?", re.DOTALL)
_MODE = re.compile(r"(\S+) sets mode (.+)", re.DOTALL)
_TOPIC = re.compile(r"(\S+) changed the topic to (.*)", re.DOTALL)


class TextualParser:
    def __init__(self, path: Path, clock: Clock) -> None:
        self.clock = clock

    def feed(self, line: str) -> Entry | None:
        if not line:
            return None
        match = LINE.fullmatch(line)
        if not match:
            raise Unparsable("no [YYYY-MM-DDTHH:MM:SS+zzzz] timestamp")
        try:
            at = dt.datetime.fromisoformat(match[1]).astimezone(UTC)
        except ValueError as exc:
            raise Unparsable(f"impossible date or time: {exc}") from None
        at = self.clock.as_written(at.year, at.month, at.day, at.hour, at.minute, at.second)
        return _body(at, match[2])


def _body(at: dt.datetime, body: str) -> Entry:
    if body.startswith("<") and (match := _MESSAGE.fullmatch(body)):
        return Entry(at, MESSAGE, strip_mode(match[1]), "", match[2])
    if match := _ACTION.fullmatch(body):
        return Entry(at, ACTION, match[1], "", match[2])
    if match := _NOTICE.fullmatch(body):
        return Entry(at, NOTICE, match[1], "", match[2])
    if match := _JOIN.fullmatch(body):
        return Entry(at, JOIN, match[1], "", match[2])
    if match := _PART.fullmatch(body):
        return Entry(at, PART, match[1], "", match[2] or "")
    if match := _QUIT.fullmatch(body):
        return Entry(at, QUIT, match[1], "", match[2] or "")
    if match := _NICK.fullmatch(body):
        return Entry(at, NICK, match[1], match[2])
    if match := _KICK.fullmatch(body):
        return Entry(at, KICK, match[1], match[2], match[3] or "")
    if match := _MODE.fullmatch(body):
        return Entry(at, MODE, match[1], "", match[2])
    if match := _TOPIC.fullmatch(body):
        return Entry(at, TOPIC, match[1], "", match[2])
    return Entry(at, SYSTEM, "", "", body)


def sniff(path: Path, head: list[str]) -> int:
    return 2 * sum(1 for line in head if LINE.fullmatch(line))


FORMAT = Format("textual", sniff, TextualParser)
