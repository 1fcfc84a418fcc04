import datetime as dt

from django.test import Client

from irclogger.models import Channel
from tests.conftest import say


def test_it_shows_today_with_a_stream(client: Client, public_channel: Channel) -> None:
    line = say(public_channel, "just now", at=dt.datetime.now(dt.UTC))
    response = client.get("/libera/python/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "just now" in body
    assert 'data-stream-url="/libera/python/stream/"' in body
    assert f'data-last-id="{line.id}"' in body


def test_it_resumes_the_stream_after_live_lines_only(
    client: Client, public_channel: Channel
) -> None:
    live = say(public_channel, "live", at=dt.datetime.now(dt.UTC))
    say(public_channel, "imported", imported=True)
    assert client.get("/libera/python/").context["last_id"] == live.id


def test_it_has_no_stream_on_past_days(client: Client, public_channel: Channel) -> None:
    body = client.get("/libera/python/2020-01-01/").content.decode()
    assert "data-stream-url" not in body


def test_it_redirects_a_permalink_to_the_highlighted_line(
    client: Client, public_channel: Channel
) -> None:
    line = say(public_channel, "remember me")
    response = client.get(f"/libera/python/line/{line.id}/")
    assert response.status_code == 302
    assert response["Location"] == f"/libera/python/2024-03-10/?hl={line.id}#L{line.id}"


def test_it_keeps_the_timezone_on_a_permalink(client: Client, public_channel: Channel) -> None:
    line = say(public_channel, "late", at=dt.datetime(2024, 3, 9, 23, 30, tzinfo=dt.UTC))
    response = client.get(f"/libera/python/line/{line.id}/?tz=Europe/Paris")
    assert response["Location"].startswith("/libera/python/2024-03-10/?tz=Europe%2FParis&hl=")


def test_it_answers_404_for_a_line_of_another_channel(
    client: Client, public_channel: Channel, private_channel: Channel
) -> None:
    elsewhere = say(private_channel, "secret")
    assert client.get(f"/libera/python/line/{elsewhere.id}/").status_code == 404
    assert client.get("/libera/python/line/999999999/").status_code == 404
    assert client.get("/libera/python/line/99999999999999999999999/").status_code == 404
