"""The Lounge's and Quassel's SQLite message stores.

Neither program is in Debian, and The Lounge's npm package needs a native
SQLite module built at install time: the stores here are made with the very
CREATE TABLE statements of each program's source (The Lounge:
server/plugins/messageStorage/sqlite.ts, schema 1520239200; Quassel:
src/core/SQL/SQLite/, schema 31 and later, times in milliseconds) and
filled the way each program writes a channel's events (the fields of
The Lounge's Msg per type, Quassel's Message::Type bits and message texts).
"""

import json
import sqlite3
from contextlib import closing
from pathlib import Path

from irclogger.models import Channel
from tests.importing import import_bytes, stored

# 2024-03-10 12:00:00 UTC
NOON_MS = 1_710_072_000_000

LOUNGE_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS options"
    " (name TEXT, value TEXT, CONSTRAINT name_unique UNIQUE (name))",
    "CREATE TABLE IF NOT EXISTS messages"
    " (network TEXT, channel TEXT, time INTEGER, type TEXT, msg TEXT)",
    "CREATE INDEX IF NOT EXISTS network_channel ON messages (network, channel)",
    "CREATE INDEX IF NOT EXISTS time ON messages (time)",
)
ALICE = {"mode": "@", "nick": "alice"}
LOUNGE_MESSAGES = (
    ("join", {"from": {"mode": "", "nick": "bob"}, "hostmask": "~bob@host", "self": False}),
    ("message", {"from": ALICE, "text": "hello \x02bob\x02", "self": False, "highlight": False}),
    ("action", {"from": ALICE, "text": "waves", "self": False}),
    ("notice", {"from": ALICE, "text": "a notice", "self": False}),
    ("topic", {"from": ALICE, "text": "new topic", "self": False}),
    ("mode", {"from": ALICE, "text": "+v bob", "self": False}),
    ("nick", {"from": {"mode": "", "nick": "bob"}, "new_nick": "bobby", "self": False}),
    ("kick", {"from": ALICE, "target": {"mode": "", "nick": "bobby"}, "text": "bye"}),
    ("topic_set_by", {"from": ALICE, "when": "2024-03-10"}),  # the client's note: not a line
)


def _lounge_store(path: Path) -> bytes:
    with closing(sqlite3.connect(path)) as db, db:
        for statement in LOUNGE_SCHEMA:
            db.execute(statement)
        db.execute("INSERT INTO options (name, value) VALUES ('schema_version', 1520239200)")
        for number, (kind, msg) in enumerate(LOUNGE_MESSAGES):
            db.execute(
                "INSERT INTO messages(network, channel, time, type, msg) VALUES(?, ?, ?, ?, ?)",
                ["c1f3a1e0-uuid", "#python", NOON_MS + number * 1000, kind, json.dumps(msg)],
            )
        db.execute(
            "INSERT INTO messages VALUES ('c1f3a1e0-uuid', '#other', ?, 'message', ?)",
            [NOON_MS, json.dumps({"from": ALICE, "text": "elsewhere"})],
        )
    return path.read_bytes()


def test_it_imports_a_channel_from_the_lounges_store_and_adds_nothing_again(
    tmp_path: Path, public_channel: Channel
) -> None:
    store = _lounge_store(tmp_path / "alice.sqlite3")
    summary, reports = import_bytes(tmp_path, "import/alice.sqlite3", store, public_channel)
    assert (summary.unparsable, reports) == (0, [])
    assert stored(public_channel) == [
        ("2024-03-10T12:00:00Z", "join", "bob", "", "~bob@host"),
        ("2024-03-10T12:00:01Z", "message", "alice", "", "hello \x02bob\x02"),
        ("2024-03-10T12:00:02Z", "action", "alice", "", "waves"),
        ("2024-03-10T12:00:03Z", "notice", "alice", "", "a notice"),
        ("2024-03-10T12:00:04Z", "topic", "alice", "", "new topic"),
        ("2024-03-10T12:00:05Z", "mode", "alice", "", "+v bob"),
        ("2024-03-10T12:00:06Z", "nick", "bob", "bobby", ""),
        ("2024-03-10T12:00:07Z", "kick", "alice", "bobby", "bye"),
    ]
    again, _ = import_bytes(tmp_path, "import/alice.sqlite3", store, public_channel)
    assert (again.imported, again.duplicates) == (0, 8)


# Quassel's SQLite schema (the tables an import reads), as its setup files create them.
QUASSEL_SCHEMA = (
    "CREATE TABLE sender (senderid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,"
    " sender TEXT NOT NULL, realname TEXT, avatarurl TEXT)",
    "CREATE TABLE buffer (bufferid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,"
    " userid INTEGER NOT NULL, groupid INTEGER, networkid INTEGER NOT NULL,"
    " buffername TEXT NOT NULL, buffercname TEXT NOT NULL,"
    " buffertype INTEGER NOT NULL DEFAULT 0, lastmsgid INTEGER NOT NULL DEFAULT 0,"
    " lastseenmsgid INTEGER NOT NULL DEFAULT 0, markerlinemsgid INTEGER NOT NULL DEFAULT 0,"
    " bufferactivity INTEGER NOT NULL DEFAULT 0, highlightcount INTEGER NOT NULL DEFAULT 0,"
    " key TEXT, joined INTEGER NOT NULL DEFAULT 0, cipher TEXT)",
    "CREATE TABLE backlog (messageid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,"
    " time INTEGER NOT NULL, bufferid INTEGER NOT NULL, type INTEGER NOT NULL,"
    " flags INTEGER NOT NULL, senderid INTEGER NOT NULL, senderprefixes TEXT,"
    " message TEXT, ignored INTEGER NOT NULL DEFAULT 0)",
)
QUASSEL_MESSAGES = (
    (0x00020, "bob!~bob@host", "#Python"),
    (0x00001, "alice!~alice@host", "hello \x02bob\x02"),
    (0x00004, "alice!~alice@host", "waves"),
    (0x00002, "alice!~alice@host", "a notice"),
    (0x04000, "alice!~alice@host", 'alice has changed topic for #Python to: "new topic"'),
    (0x00010, "alice!~alice@host", "+v bob"),
    (0x00008, "bob!~bob@host", "bobby"),
    (0x00100, "alice!~alice@host", "bobby bye now"),
    (0x02000, "", "{Day changed to Sunday, March 10, 2024}"),  # the client's note
    (0x00080, "carol!~carol@host", "Quit: gone"),
)


def _quassel_store(path: Path) -> bytes:
    with closing(sqlite3.connect(path)) as db, db:
        for statement in QUASSEL_SCHEMA:
            db.execute(statement)
        db.execute(
            "INSERT INTO buffer (userid, networkid, buffername, buffercname, buffertype)"
            " VALUES (1, 1, '#Python', '#python', 2), (1, 1, '#other', '#other', 2)"
        )
        for number, (bits, sender, message) in enumerate(QUASSEL_MESSAGES):
            db.execute("INSERT OR IGNORE INTO sender (sender) VALUES (?)", [sender])
            senderid = db.execute(
                "SELECT senderid FROM sender WHERE sender = ?", [sender]
            ).fetchone()[0]
            db.execute(
                "INSERT INTO backlog (time, bufferid, type, flags, senderid, message)"
                " VALUES (?, 1, ?, 0, ?, ?)",
                [NOON_MS + number * 1000, bits, senderid, message],
            )
        db.execute(
            "INSERT INTO backlog (time, bufferid, type, flags, senderid, message)"
            " VALUES (?, 2, 1, 0, 1, 'elsewhere')",
            [NOON_MS],
        )
    return path.read_bytes()


def test_it_imports_a_channel_from_quassels_backlog_and_adds_nothing_again(
    tmp_path: Path, public_channel: Channel
) -> None:
    store = _quassel_store(tmp_path / "quassel-storage.sqlite")
    summary, reports = import_bytes(
        tmp_path, "import/quassel-storage.sqlite", store, public_channel
    )
    assert (summary.unparsable, reports) == (0, [])
    assert stored(public_channel) == [
        ("2024-03-10T12:00:00Z", "join", "bob", "", "~bob@host"),
        ("2024-03-10T12:00:01Z", "message", "alice", "", "hello \x02bob\x02"),
        ("2024-03-10T12:00:02Z", "action", "alice", "", "waves"),
        ("2024-03-10T12:00:03Z", "notice", "alice", "", "a notice"),
        ("2024-03-10T12:00:04Z", "topic", "alice", "", "new topic"),
        ("2024-03-10T12:00:05Z", "mode", "alice", "", "+v bob"),
        ("2024-03-10T12:00:06Z", "nick", "bob", "bobby", ""),
        ("2024-03-10T12:00:07Z", "kick", "alice", "bobby", "bye now"),
        ("2024-03-10T12:00:09Z", "quit", "carol", "", "Quit: gone"),
    ]
    again, _ = import_bytes(tmp_path, "import/quassel-storage.sqlite", store, public_channel)
    assert (again.imported, again.duplicates) == (0, 9)
