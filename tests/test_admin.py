from django.contrib.auth.models import Permission, User
from django.test import Client

from irclogger.models import Channel
from tests.conftest import say


def _admin_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_it_redacts_lines_and_records_who(public_channel: Channel) -> None:
    admin = User.objects.create_superuser("root", password="pw-root-1")
    line = say(public_channel, "my password is hunter2")
    response = _admin_client(admin).post(
        "/admin/irclogger/line/", {"action": "redact", "_selected_action": [line.id]}
    )
    assert response.status_code == 302
    line.refresh_from_db()
    assert line.text == "[redacted]"
    assert line.redacted_by == admin
    assert line.redacted_at is not None


def test_it_keeps_lines_read_only(public_channel: Channel) -> None:
    admin = User.objects.create_superuser("root", password="pw-root-1")
    line = say(public_channel, "original")
    client = _admin_client(admin)
    client.post(f"/admin/irclogger/line/{line.id}/change/", {"text": "forged"})
    line.refresh_from_db()
    assert line.text == "original"
    assert client.get("/admin/irclogger/line/add/").status_code == 403


def test_it_lets_only_redactors_redact(public_channel: Channel) -> None:
    viewer = User.objects.create_user("viewer", password="pw-viewer-1", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_line"))
    line = say(public_channel, "keep me")
    _admin_client(viewer).post(
        "/admin/irclogger/line/", {"action": "redact", "_selected_action": [line.id]}
    )
    line.refresh_from_db()
    assert line.text == "keep me"
