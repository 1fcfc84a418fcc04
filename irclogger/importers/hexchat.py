"""HexChat / XChat: ``Mon DD HH:MM:SS <nick>TABtext``, the year from the headers.

``**** BEGIN LOGGING AT Mon Dec 31 21:11:55 2011`` gives the year (the
lines carry none; a month earlier than the previous line's is the next
year). Events and actions share the ``*`` prefix: the known event shapes
are tried first, the rest is an action. Old XChat wrote ``-->``, ``<--`` and
``---`` instead of ``*``. Month names are read in English; localised ones are
reported as unparsable lines.
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

HEADER = re.compile(r"\*\*\*\* (BEGIN|ENDING) LOGGING AT \w+ (\w+) +(\d{1,2}) [\d:]+ (\d{4})")
LINE = re.compile(r"(\S+) +(\d{1,2}) (\d\d):(\d\d):(\d\d) ([^\t]*)\t(.*)", re.DOTALL)

_JOIN = re.compile(r"(\S+) \(([^)]*)\) has joined(?: \S+)?")
_PART = re.compile(r"(\S+) \([^)]*\) has left(?: (?!\()\S+)?(?: \((.*)\))?", re.DOTALL)
_QUIT = re.compile(r"(\S+) has quit(?: \((.*)\))?", re.DOTALL)
_NICK = re.compile(r"(\S+) is now known as (\S+)")
_TOPIC = re.compile(r"(\S+) has changed the topic to: (.*)", re.DOTALL)
_KICK = re.compile(r"(\S+) has kicked (\S+) from \S+(?: \((.*)\))?", re.DOTALL)
_MODE = re.compile(r"(\S+) sets mode (.+)", re.DOTALL)
# HexChat's own words for the common modes: "op gives voice to nick".
_MODE_WORDS = (
    (re.compile(r"(\S+) gives channel operator status to (\S+)"), "+o"),
    (re.compile(r"(\S+) removes channel operator status from (\S+)"), "-o"),
    (re.compile(r"(\S+) gives channel half-operator status to (\S+)"), "+h"),
    (re.compile(r"(\S+) removes channel half-operator status from (\S+)"), "-h"),
    (re.compile(r"(\S+) gives voice to (\S+)"), "+v"),
    (re.compile(r"(\S+) removes voice from (\S+)"), "-v"),
    (re.compile(r"(\S+) sets ban on (\S+)"), "+b"),
    (re.compile(r"(\S+) removes ban on (\S+)"), "-b"),
)
_NOTICE = re.compile(r"-([^\s/]+?)(?:/\S+)?-")
# HexChat's own notes share the "*" prefix too; kept as system lines, not actions.
_NOTES = re.compile(r"Now talking on \S+|Topic for \S+ (?:is: |set by ).*", re.DOTALL)
_EVENT_PREFIXES = {"*", "-->", "<--", "---"}


class HexchatParser:
    def __init__(self, path: Path, clock: Clock) -> None:
        self.clock = clock
        self.year: int | None = None
        self.month = 0

    def feed(self, line: str) -> Entry | None:
        if not line:
            return None
        if line.startswith("**** "):
            self._header(line)
            return None
        match = LINE.fullmatch(line)
        if not match:
            raise Unparsable("not 'Mon DD HH:MM:SS prefix TAB text'")
        if self.year is None:
            raise Unparsable("a line before any '**** BEGIN LOGGING AT' header")
        month = month_number(match[1])
        if month < self.month:
            self.year += 1  # the log went past New Year
        self.month = month
        at = self.clock.utc(
            self.year, month, int(match[2]), int(match[3]), int(match[4]), int(match[5])
        )
        return _entry(at, match[6], match[7])

    def _header(self, line: str) -> None:
        match = HEADER.match(line)
        if not match:
            raise Unparsable("unknown '****' header")
        if match[1] == "BEGIN":
            self.year = int(match[4])
            self.month = month_number(match[2])


def _entry(at: dt.datetime, prefix: str, text: str) -> Entry:
    if prefix in _EVENT_PREFIXES:
        event = _event(at, text)
        if event is not None:
            return event
        if prefix == "*" and not _NOTES.fullmatch(text):
            nick, _, rest = text.partition(" ")
            return Entry(at, ACTION, nick, "", rest)
        return Entry(at, SYSTEM, "", "", text)
    if prefix.startswith("<") and prefix.endswith(">"):
        return Entry(at, MESSAGE, strip_mode(prefix[1:-1]), "", text)
    if match := _NOTICE.fullmatch(prefix):
        return Entry(at, NOTICE, match[1], "", text)
    raise Unparsable(f"unknown prefix {prefix!r}")


def _event(at: dt.datetime, text: str) -> Entry | None:
    if match := _JOIN.fullmatch(text):
        return Entry(at, JOIN, match[1], "", match[2])
    if match := _PART.fullmatch(text):
        return Entry(at, PART, match[1], "", match[2] or "")
    if match := _QUIT.fullmatch(text):
        return Entry(at, QUIT, match[1], "", match[2] or "")
    if match := _NICK.fullmatch(text):
        return Entry(at, NICK, match[1], match[2])
    if match := _TOPIC.fullmatch(text):
        return Entry(at, TOPIC, match[1], "", match[2])
    if match := _KICK.fullmatch(text):
        return Entry(at, KICK, match[1], match[2], match[3] or "")
    if match := _MODE.fullmatch(text):
        return Entry(at, MODE, match[1], "", match[2])
    for pattern, mode in _MODE_WORDS:
        if match := pattern.fullmatch(text):
            return Entry(at, MODE, match[1], "", f"{mode} {match[2]}")
    return None


def sniff(path: Path, head: list[str]) -> int:
    headers = sum(3 for line in head if HEADER.match(line))
    if not headers:  # not HexChat: its lines need not be looked at (detection runs per file)
        return 0
    return headers + sum(1 for line in head if LINE.fullmatch(line))


FORMAT = Format("hexchat", sniff, HexchatParser)
