"""What the readers of SQLite message stores (The Lounge, Quassel) share."""

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from irclogger.importers.base import Refused

# The first bytes of every SQLite 3 database file.
MAGIC = "SQLite format 3\x00"


def is_sqlite(head: list[str]) -> bool:
    return bool(head) and head[0].startswith(MAGIC)


def tables(path: Path) -> dict[str, set[str]]:
    """Each table's columns; {} when the file cannot be read as SQLite."""
    try:
        with opened(path) as db:
            names = [
                row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
            return {
                name: {row[1] for row in db.execute(f'PRAGMA table_info("{name}")')}
                for name in names
            }
    except (sqlite3.Error, Refused):
        return {}


@contextmanager
def opened(path: Path) -> Iterator[sqlite3.Connection]:
    """The database, read-only: an import never changes the store it reads."""
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise Refused(f"cannot be opened as SQLite: {exc}") from None
    with closing(connection):
        yield connection
