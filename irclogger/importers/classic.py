"""The line body ZNC, EnergyMech and Limnoria share, after their timestamp.

``<nick> text``, ``* nick text``, ``-nick- text`` and the ``*** `` events
(``Joins:``, ``Parts:``, ``Quits:``, ``is now known as``, ``changes topic
to``, ``was kicked by``, ``sets mode:``), plus Limnoria's
``*** nick <nick!user@host> has joined #chan`` shapes.
"""

import datetime as dt
import re

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
    Entry,
    Unparsable,
    strip_mode,
)

_MESSAGE = re.compile(r"<([^>]*)> ?(.*)", re.DOTALL)
_NOTICE = re.compile(r"-(\S+?)-(?: (.*))?", re.DOTALL)

# "nick (user@host)" then maybe " (reason)"; the reason may hold parentheses.
_PRESENCE = re.compile(r"(Joins|Parts|Quits): (\S+)(?: \(([^)]*)\))?(?: \((.*)\))?", re.DOTALL)
_NICK = re.compile(r"(\S+) is now known as (\S+)")
_TOPIC = re.compile(r"(\S+) changes topic to (.*)", re.DOTALL)
_KICK = re.compile(r"(\S+) was kicked by (\S+)(?: \((.*)\))?", re.DOTALL)
_MODE = re.compile(r"(\S+) sets mode: (.*)", re.DOTALL)
# Limnoria: "nick <nick!user@host> has joined #chan", older "nick has joined #chan".
_LIMNORIA = re.compile(
    r"(\S+)(?: <([^>]*)>)? has (joined|left|quit IRC)(?: (?!\()\S+)?(?: \((.*)\))?", re.DOTALL
)
_PRESENCE_KINDS = {"Joins": JOIN, "Parts": PART, "Quits": QUIT}
_LIMNORIA_KINDS = {"joined": JOIN, "left": PART, "quit IRC": QUIT}


def parse_body(at: dt.datetime, body: str) -> Entry:
    """The entry for what follows the timestamp."""
    if body.startswith("<"):
        match = _MESSAGE.fullmatch(body)
        if match:
            return Entry(at, MESSAGE, strip_mode(match[1].strip()), "", match[2])
    elif body.startswith("* "):
        nick, _, text = body[2:].partition(" ")
        if nick:
            return Entry(at, ACTION, nick, "", text)
    elif body.startswith("*** "):
        return parse_event(at, body[4:])
    elif body.startswith("-"):
        match = _NOTICE.fullmatch(body)
        if match:
            return Entry(at, NOTICE, match[1], "", match[2] or "")
    raise Unparsable("not a message, action, notice or *** event")


def parse_event(at: dt.datetime, text: str) -> Entry:
    if match := _PRESENCE.fullmatch(text):
        kind = _PRESENCE_KINDS[match[1]]
        host = match[3] or ""
        return Entry(at, kind, match[2], "", host if kind == JOIN else match[4] or "")
    if match := _NICK.fullmatch(text):
        return Entry(at, NICK, match[1], match[2])
    if match := _TOPIC.fullmatch(text):
        return Entry(at, TOPIC, match[1], "", _unquote(match[2]))
    if match := _KICK.fullmatch(text):
        return Entry(at, KICK, match[2], match[1], match[3] or "")
    if match := _MODE.fullmatch(text):
        return Entry(at, MODE, match[1], "", match[2])
    if match := _LIMNORIA.fullmatch(text):
        kind = _LIMNORIA_KINDS[match[3]]
        prefix = match[2] or ""
        host = prefix.partition("!")[2] if "!" in prefix else prefix
        return Entry(at, kind, match[1], "", host if kind == JOIN else match[4] or "")
    # Connection notes and the like: kept, shown as what they say.
    return Entry(at, SYSTEM, "", "", text)


def _unquote(topic: str) -> str:
    # ZNC and classic EnergyMech write 'topic', current EnergyMech and Limnoria "topic".
    if len(topic) >= 2 and topic[0] == topic[-1] and topic[0] in "'\"":
        return topic[1:-1]
    return topic
