"""The cast every access test speaks of, and the channels they meet in.

- ``member``: a user who belongs to the private channel
- ``stranger``: a logged-in user who does not
- ``staff``: sees every channel
- anonymous: Django's test client without a login
"""

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from irclogger.models import Channel, Line, Membership, Network
from irclogger.publish import NOTIFY_CHANNEL, write_lines
from tests.ircserver import RawClient

NOON = dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def network(db: None) -> Network:
    return Network.objects.create(name="Libera.Chat", slug="libera")


@pytest.fixture
def public_channel(network: Network) -> Channel:
    return Channel.objects.create(network=network, name="#python", slug="python", topic="Python")


@pytest.fixture
def private_channel(network: Network) -> Channel:
    return Channel.objects.create(
        network=network, name="#secret", slug="secret", is_public=False, topic="hush"
    )


@pytest.fixture
def member(private_channel: Channel) -> User:
    user = User.objects.create_user("member", password="pw-member-1")
    Membership.objects.create(user=user, channel=private_channel)
    return user


@pytest.fixture
def stranger(db: None) -> User:
    return User.objects.create_user("stranger", password="pw-stranger-1")


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_user("staff", password="pw-staff-1", is_staff=True)


@pytest.fixture
def member_client(member: User) -> Client:
    client = Client()
    client.force_login(member)
    return client


@pytest.fixture
def stranger_client(stranger: User) -> Client:
    client = Client()
    client.force_login(stranger)
    return client


@pytest.fixture
def anonymous_client() -> Client:
    return Client()


@pytest.fixture
def clients() -> Iterator[list[RawClient]]:
    """The test's real IRC clients (tests/ircserver.py), closed at its end."""
    opened: list[RawClient] = []
    yield opened
    for client in opened:
        client.close()


def insert_live_line(cursor: Any, channel_id: int, text: str) -> int:
    """Insert a live line and notify the streams of it in ``cursor``'s transaction.

    Committing (or leaving the write open) is the caller's: psycopg2
    connections of their own stand for writers in other processes.
    """
    cursor.execute(
        "INSERT INTO irclogger_line (channel_id, timestamp, kind, nick, target, text, imported)"
        " VALUES (%s, %s, 'message', 'bob', '', %s, false) RETURNING id",
        [channel_id, dt.datetime.now(dt.UTC), text],
    )
    line_id = int(cursor.fetchone()[0])
    cursor.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, f"{channel_id}:{line_id}"])
    return line_id


def publish(channel: Channel, count: int, text: str = "line") -> list[Line]:
    """Commit ``count`` lines now, as the bot does: one transaction that notifies streams."""
    now = dt.datetime.now(dt.UTC)
    return write_lines(
        [Line(channel=channel, timestamp=now, nick="bob", text=f"{text} {n}") for n in range(count)]
    )


def say(
    channel: Channel,
    text: str,
    *,
    nick: str = "alice",
    kind: str = "message",
    at: dt.datetime = NOON,
    target: str = "",
    imported: bool = False,
) -> Line:
    """Store one line, as the bot or an importer would."""
    return Line.objects.create(
        channel=channel,
        timestamp=at,
        kind=kind,
        nick=nick,
        text=text,
        target=target,
        imported=imported,
    )
