"""Access changes end open streams, and redactions reach them, on every worker.

Real gunicorn (conf/gunicorn.py, two workers) and real PostgreSQL: the change
is made here through the ORM, as the admin makes it, and announced through
PostgreSQL to every worker's hub. After the change a private line is
written; the stream must end without it.
"""

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.test import Client

from irclogger.models import Channel, Membership
from tests.conftest import publish
from tests.servers import Gunicorn, gunicorn
from tests.sseclient import Stream, connected

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SECRET = "/libera/secret/stream/"
PUBLIC = "/libera/python/stream/"
# How long a stream may take to end after the change (far below the
# keep-alive and the stream's lifetime, which would also end it).
WAIT_SECONDS = 20.0
# A session that expires while its stream is open.
EXPIRES_IN_SECONDS = 3


@pytest.fixture
def server(tmp_path: Path, public_channel: Channel, private_channel: Channel) -> Iterator[Gunicorn]:
    with gunicorn(tmp_path, workers=2, STREAM_KEEPALIVE_SECONDS="600") as server:
        yield server


def _logged_in(user: User) -> tuple[Client, dict[str, str]]:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    return client, {"Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"}


def _line_ids_until_it_ends(stream: Stream) -> list[int]:
    """Every line the stream sends until the server ends it (bounded by the socket timeout)."""
    ids = [int(event.id) for event in stream.events() if event.event == "line" and event.id]
    stream.close()
    return ids


def _ends_without_the_next_line(
    server: Gunicorn,
    path: str,
    channel: Channel,
    headers: dict[str, str],
    change: Callable[[], None],
) -> None:
    # Two streams: with two workers, most runs have one on each.
    streams = [
        connected(server.port, path, headers=headers, timeout=WAIT_SECONDS) for _ in range(2)
    ]
    [before] = publish(channel, 1, "before")
    for stream in streams:
        assert int(stream.next_event("line").id or 0) == before.id
    change()
    [after] = publish(channel, 1, "after the change")
    for stream in streams:
        assert after.id not in _line_ids_until_it_ends(stream)


def test_a_removed_membership_ends_the_members_stream(
    server: Gunicorn, private_channel: Channel, member: User
) -> None:
    _, headers = _logged_in(member)

    def remove() -> None:
        Membership.objects.filter(user=member, channel=private_channel).delete()

    _ends_without_the_next_line(server, SECRET, private_channel, headers, remove)
    refused = Stream(server.port, SECRET, headers=headers)
    assert refused.status == 404
    refused.close()


def test_a_channel_made_private_ends_anonymous_streams(
    server: Gunicorn, public_channel: Channel
) -> None:
    def hide() -> None:
        public_channel.is_public = False
        public_channel.save()

    _ends_without_the_next_line(server, PUBLIC, public_channel, {}, hide)
    refused = Stream(server.port, PUBLIC)
    assert refused.status == 404
    refused.close()


def test_a_deactivated_user_loses_their_stream(
    server: Gunicorn, private_channel: Channel, member: User
) -> None:
    _, headers = _logged_in(member)

    def deactivate() -> None:
        member.is_active = False
        member.save()

    _ends_without_the_next_line(server, SECRET, private_channel, headers, deactivate)


def test_a_deleted_session_ends_its_stream(
    server: Gunicorn, private_channel: Channel, member: User
) -> None:
    client, headers = _logged_in(member)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value

    def delete_the_session() -> None:
        Session.objects.filter(session_key=key).delete()

    _ends_without_the_next_line(server, SECRET, private_channel, headers, delete_the_session)


def test_a_logout_ends_the_stream_of_that_session(
    server: Gunicorn, private_channel: Channel, member: User
) -> None:
    client, headers = _logged_in(member)
    _ends_without_the_next_line(server, SECRET, private_channel, headers, client.logout)


def test_a_member_keeps_streaming_when_someone_else_loses_access(
    server: Gunicorn, private_channel: Channel, member: User
) -> None:
    other = User.objects.create_user("other", password="pw-other-1")
    Membership.objects.create(user=other, channel=private_channel)
    _, headers = _logged_in(member)
    stream = connected(server.port, SECRET, headers=headers, timeout=WAIT_SECONDS)
    Membership.objects.filter(user=other).delete()
    [line] = publish(private_channel, 1, "still here")
    assert int(stream.next_event("line").id or 0) == line.id
    stream.close()


def test_a_redaction_reaches_open_streams(server: Gunicorn, public_channel: Channel) -> None:
    admin = User.objects.create_superuser("root", password="pw-root-1")
    admin_client, _ = _logged_in(admin)
    streams = [connected(server.port, PUBLIC, timeout=WAIT_SECONDS) for _ in range(2)]
    [line] = publish(public_channel, 1, "my password is hunter2")
    for stream in streams:
        assert int(stream.next_event("line").id or 0) == line.id
    response = admin_client.post(
        "/admin/irclogger/line/", {"action": "redact", "_selected_action": [line.id]}
    )
    assert response.status_code == 302
    for stream in streams:
        event = stream.next_event("redact")
        assert event.id is None  # not a line: Last-Event-ID stays where it was
        data = event.json()
        assert data["id"] == line.id
        assert f'id="L{line.id}"' in data["html"]
        assert "hunter2" not in data["html"]
        assert "[redacted]" in data["html"]
        stream.close()
    # A reconnect served from the ring gets the redacted text too.
    resumed = connected(server.port, PUBLIC, last_event_id=line.id - 1, timeout=WAIT_SECONDS)
    event = resumed.next_event("line")
    resumed.close()
    assert int(event.id or 0) == line.id
    assert "hunter2" not in event.data


def test_a_stream_ends_when_its_session_expires(
    server: Gunicorn, private_channel: Channel, member: User
) -> None:
    client, headers = _logged_in(member)
    session = client.session
    session.set_expiry(EXPIRES_IN_SECONDS)
    session.save()
    expires_at = time.monotonic() + EXPIRES_IN_SECONDS
    stream = connected(server.port, SECRET, headers=headers, timeout=WAIT_SECONDS)
    [before] = publish(private_channel, 1, "before the session expires")
    assert int(stream.next_event("line").id or 0) == before.id
    # Past the expiry and the hub's next beat (once a second).
    time.sleep(max(0.0, expires_at - time.monotonic()) + 2.0)
    [after] = publish(private_channel, 1, "after the session expired")
    assert after.id not in _line_ids_until_it_ends(stream)
    refused = Stream(server.port, SECRET, headers=headers)
    assert refused.status == 404
    refused.close()
