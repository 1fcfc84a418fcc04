"""The Lounge's SQLite message store, ``logs/<user>.sqlite3``.

One table, ``messages (network TEXT, channel TEXT, time INTEGER, type TEXT,
msg TEXT)`` (its server/plugins/messageStorage/sqlite.ts): ``channel`` is the
lowercased channel name, ``time`` milliseconds since the epoch (UTC), ``msg``
the message as JSON: ``from`` ({"nick", "mode"}), ``text``, ``hostmask``
(joins), ``new_nick`` (nick changes), ``target`` (the kicked user). The
channel imported is the one of the same name, on every network the store
holds.
"""

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    TOPIC,
    Clock,
    Entry,
    Format,
    Refused,
    Unparsable,
)
from irclogger.params import UTC

_COLUMNS = {"network", "channel", "time", "type", "msg"}
_KINDS = {
    "message": MESSAGE,
    "action": ACTION,
    "notice": NOTICE,
    "join": JOIN,
    "part": PART,
    "quit": QUIT,
    "nick": NICK,
    "topic": TOPIC,
    "kick": KICK,
    "mode": MODE,
}


def read(path: Path, clock: Clock, channel: str) -> Iterator[Entry | Unparsable]:
    with sqlite_store.opened(path) as db:
        try:
            rows = db.execute(
                "SELECT time, type, msg FROM messages WHERE channel = ? ORDER BY time, rowid",
                [channel.lower()],
            )
            for millis, kind, msg in rows:
                if kind not in _KINDS:
                    continue  # what the client shows but is no line of the channel's log
                try:
                    yield _entry(clock, millis, _KINDS[kind], json.loads(msg))
                except (KeyError, TypeError, ValueError, OverflowError) as exc:
                    yield Unparsable(f"not a message of The Lounge: {exc!r}")
        except sqlite3.Error as exc:
            raise Refused(f"cannot be read as The Lounge's store: {exc}") from None


def _entry(clock: Clock, millis: int, kind: str, msg: dict[str, Any]) -> Entry:
    at = dt.datetime.fromtimestamp(millis / 1000, UTC)
    at = clock.as_written(at.year, at.month, at.day, at.hour, at.minute, at.second, at.microsecond)
    nick = _nick(msg.get("from"))
    text = str(msg.get("text") or "")
    if kind == JOIN:
        return Entry(at, kind, nick, "", str(msg.get("hostmask") or ""))
    if kind == NICK:
        return Entry(at, kind, nick, str(msg["new_nick"]))
    if kind == KICK:
        return Entry(at, kind, nick, _nick(msg.get("target")), text)
    return Entry(at, kind, nick, "", text)


def _nick(user: Any) -> str:
    return str(user.get("nick") or "") if isinstance(user, dict) else ""


def sniff(path: Path, head: list[str]) -> int:
    if not sqlite_store.is_sqlite(head):
        return 0
    return 100 if sqlite_store.tables(path).get("messages", set()) >= _COLUMNS else 0


FORMAT = Format("thelounge", sniff, read=read)
