"""Quassel core's SQLite backlog, ``quassel-storage.sqlite``.

``backlog (messageid, time, bufferid, type, flags, senderid, message)``,
``buffer (bufferid, …, buffername, buffercname, buffertype)`` and ``sender
(senderid, sender)`` (its src/core/SQL/SQLite/ schema): ``time`` is
milliseconds since the epoch in UTC since schema 31 (Quassel 0.13), seconds
before; ``type`` a bit of Message::Type; ``sender`` is ``nick!user@host``.
The channel imported is the buffer of the same name (``buffercname``, the
lowercased name) on every network of every user the core holds.
"""

import datetime as dt
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from irclogger.importers import sqlite_store
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
    Refused,
    Unparsable,
)
from irclogger.params import UTC

# Quassel's Message::Type bits; netsplit joins and quits are joins and quits.
_KINDS = {
    0x00001: MESSAGE,
    0x00002: NOTICE,
    0x00004: ACTION,
    0x00008: NICK,
    0x00010: MODE,
    0x00020: JOIN,
    0x00040: PART,
    0x00080: QUIT,
    0x00100: KICK,
    0x00400: SYSTEM,  # Server
    0x00800: SYSTEM,  # Info
    0x01000: SYSTEM,  # Error
    0x04000: TOPIC,
    0x08000: JOIN,
    0x10000: QUIT,
}
# Before schema 31 times were seconds: no second since 1970 reaches this.
_MILLISECONDS_FROM = 10**11
_TOPIC = re.compile(r'\S+ has changed topic for \S+ to: "(.*)"', re.DOTALL)

_QUERY = (
    "SELECT backlog.time, backlog.type, sender.sender, backlog.message"
    " FROM backlog JOIN buffer ON buffer.bufferid = backlog.bufferid"
    " JOIN sender ON sender.senderid = backlog.senderid"
    " WHERE buffer.buffercname = ? ORDER BY backlog.time, backlog.messageid"
)


def read(path: Path, clock: Clock, channel: str) -> Iterator[Entry | Unparsable]:
    with sqlite_store.opened(path) as db:
        try:
            for stamp, bits, sender, message in db.execute(_QUERY, [channel.lower()]):
                kind = _KINDS.get(bits)
                if kind is None:
                    continue  # day changes, invites and the like: the client's notes
                try:
                    yield _entry(clock, stamp, kind, sender or "", message or "")
                except (TypeError, ValueError, OverflowError) as exc:
                    yield Unparsable(f"not a Quassel backlog message: {exc!r}")
        except sqlite3.Error as exc:
            raise Refused(f"cannot be read as Quassel's backlog: {exc}") from None


def _entry(clock: Clock, stamp: int, kind: str, sender: str, message: str) -> Entry:
    seconds = stamp / 1000 if stamp >= _MILLISECONDS_FROM else stamp
    at = dt.datetime.fromtimestamp(seconds, UTC)
    at = clock.as_written(at.year, at.month, at.day, at.hour, at.minute, at.second, at.microsecond)
    nick, _, host = sender.partition("!")
    if kind == JOIN:
        return Entry(at, kind, nick, "", host)
    if kind == NICK:
        return Entry(at, kind, nick, message)
    if kind == KICK:
        kicked, _, reason = message.partition(" ")
        return Entry(at, kind, nick, kicked, reason)
    if kind == TOPIC and (match := _TOPIC.fullmatch(message)):
        return Entry(at, kind, nick, "", match[1])
    if kind == SYSTEM:
        return Entry(at, kind, "", "", message)
    return Entry(at, kind, nick, "", message)


def sniff(path: Path, head: list[str]) -> int:
    if not sqlite_store.is_sqlite(head):
        return 0
    found = sqlite_store.tables(path)
    wanted = {
        "backlog": {"time", "bufferid", "type", "senderid", "message"},
        "buffer": {"bufferid", "buffercname"},
        "sender": {"senderid", "sender"},
    }
    return 100 if all(columns <= found.get(name, set()) for name, columns in wanted.items()) else 0


FORMAT = Format("quassel", sniff, read=read)
