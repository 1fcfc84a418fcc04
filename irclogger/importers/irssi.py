"""irssi: ``HH:MM <@nick> text``, the date from ``--- Log opened`` and ``--- Day changed``.

``--- Log opened Tue Sep 20 00:01:49 2016`` and ``--- Day changed Wed Sep 21
2016`` set the date of the lines that follow; ``HH:MM`` (or ``HH:MM:SS``,
a common setting) is local time. Events are ``-!- `` lines; unknown ones
(``Irssi: Join to #c was synced``, ``Topic for #c: …``) are kept as system
lines.

With ``/set autolog_colors on`` irssi also writes its theme's own codes:
``\x04`` and one to five characters (a style letter, a colour pair, an
extended or a 24-bit colour) around every field. They are irssi's, not the
channel's, and are removed; the text of a message follows irssi's indent
mark (``\x04e``) and is kept as it came, mIRC formatting codes included.
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

OPENED = re.compile(r"--- Log opened \w+ (\w+) +(\d{1,2}) \d\d:\d\d:\d\d (\d{4})")
DAY_CHANGED = re.compile(r"--- Day changed \w+ (\w+) +(\d{1,2}) (\d{4})")
LINE = re.compile(r"(\d\d):(\d\d)(?::(\d\d))? (.*)", re.DOTALL)
# irssi's theme codes (its formats.h): \x04 then a style letter a-i, a
# foreground/background pair ('/' = unchanged), an extended colour (a marker
# and one character) or a 24-bit colour ('#' and four characters).
THEME_CODE = re.compile(r"\x04(?:[a-i]|#[\s\S]{4}|[.\-,+'&][\s\S]|[/0-?][/0-?])")
# Where a message's own text starts in a coloured log.
_INDENT = "\x04e"

_MESSAGE = re.compile(r"<([^>]+)> ?(.*)", re.DOTALL)
_NOTICE = re.compile(r"-([^\s:!]+?)(?::\S+)?-(?: (.*))?", re.DOTALL)
_JOIN = re.compile(r"(\S+) \[([^\]]*)\] has joined \S+")
_PART = re.compile(r"(\S+) \[[^\]]*\] has left \S+(?: \[(.*)\])?", re.DOTALL)
_QUIT = re.compile(r"(\S+) \[[^\]]*\] has quit(?: \[(.*)\])?", re.DOTALL)
_NICK = re.compile(r"(\S+) is now known as (\S+)")
_TOPIC = re.compile(r"(\S+) changed the topic of \S+ to:(?: (.*))?", re.DOTALL)
_KICK = re.compile(r"(\S+) was kicked from \S+ by (\S+)(?: \[(.*)\])?", re.DOTALL)
_MODE = re.compile(r"(?:Server)?[Mm]ode/\S+ \[(.*)\] by (\S+)", re.DOTALL)


class IrssiParser:
    def __init__(self, path: Path, clock: Clock) -> None:
        self.clock = clock
        self.day: dt.date | None = None

    def feed(self, line: str) -> Entry | None:
        if not line:
            return None
        if line.startswith("--- "):
            self._marker(line)
            return None
        match = LINE.fullmatch(line)
        if not match:
            raise Unparsable("no HH:MM timestamp")
        day = self.day
        if day is None:
            raise Unparsable("a line before any '--- Log opened' or '--- Day changed'")
        at = self.clock.utc(
            day.year, day.month, day.day, int(match[1]), int(match[2]), int(match[3] or 0)
        )
        return _body(at, uncolour(match[4]))

    def _marker(self, line: str) -> None:
        match = OPENED.fullmatch(line) or DAY_CHANGED.fullmatch(line)
        if match:
            try:
                self.day = dt.date(int(match[3]), month_number(match[1]), int(match[2]))
            except ValueError as exc:
                raise Unparsable(f"impossible date: {exc}") from None
        elif not line.startswith("--- Log closed"):
            raise Unparsable("unknown '---' marker")


def uncolour(body: str) -> str:
    """A line body without irssi's theme codes, the text after its indent mark untouched."""
    if not body.startswith("\x04"):
        return body  # written without autolog_colors: every \x04 is the channel's
    head, _, text = body.partition(_INDENT)
    return THEME_CODE.sub("", head) + text


def _body(at: dt.datetime, body: str) -> Entry:
    if body.startswith("-!- "):
        return _event(at, body[4:])
    if body.startswith("<"):
        if match := _MESSAGE.fullmatch(body):
            return Entry(at, MESSAGE, strip_mode(match[1].strip()), "", match[2])
    elif body.startswith(" * "):
        nick, _, text = body[3:].partition(" ")
        if nick:
            return Entry(at, ACTION, nick, "", text)
    elif body.startswith("-") and (match := _NOTICE.fullmatch(body)):
        return Entry(at, NOTICE, match[1], "", match[2] or "")
    raise Unparsable("not a message, action, notice or -!- event")


def _event(at: dt.datetime, text: str) -> Entry:
    if match := _JOIN.fullmatch(text):
        return Entry(at, JOIN, match[1], "", match[2])
    if match := _PART.fullmatch(text):
        return Entry(at, PART, match[1], "", match[2] or "")
    if match := _QUIT.fullmatch(text):
        return Entry(at, QUIT, match[1], "", match[2] or "")
    if match := _NICK.fullmatch(text):
        return Entry(at, NICK, match[1], match[2])
    if match := _TOPIC.fullmatch(text):
        return Entry(at, TOPIC, match[1], "", match[2] or "")
    if match := _KICK.fullmatch(text):
        return Entry(at, KICK, match[2], match[1], match[3] or "")
    if match := _MODE.fullmatch(text):
        return Entry(at, MODE, match[2], "", match[1])
    return Entry(at, SYSTEM, "", "", text)


def sniff(path: Path, head: list[str]) -> int:
    markers = sum(3 for line in head if OPENED.fullmatch(line) or DAY_CHANGED.fullmatch(line))
    if not markers:  # not irssi: its lines need not be looked at (detection runs per file)
        return 0
    lines = sum(
        1 for line in head if (match := LINE.fullmatch(line)) and _looks_irssi(uncolour(match[4]))
    )
    return markers + lines


def _looks_irssi(body: str) -> bool:
    return body.startswith(("<", "-!- ", " * "))


FORMAT = Format("irssi", sniff, IrssiParser)
