import datetime as dt

from django.test import Client

from irclogger.models import Channel
from tests.conftest import NOON, say


def test_it_exports_a_day_as_plain_text(client: Client, public_channel: Channel) -> None:
    say(public_channel, "\x02bold\x02 and \x0304,01red\x03 text")
    say(public_channel, "waves", kind="action", at=NOON + dt.timedelta(seconds=1))
    say(
        public_channel,
        "",
        kind="kick",
        nick="op",
        target="troll",
        at=NOON + dt.timedelta(seconds=2),
    )
    response = client.get("/libera/python/2024-03-10.txt")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    lines = response.content.decode().splitlines()
    assert lines[1] == "12:00:00 <alice> bold and red text"
    assert lines[2] == "12:00:01  * alice waves"
    assert lines[3] == "12:00:02 -!- troll was kicked from #python by op []"


def test_it_exports_a_day_as_json_with_a_cursor(client: Client, public_channel: Channel) -> None:
    first = say(public_channel, "\x0304red")
    second = say(public_channel, "two", at=NOON + dt.timedelta(seconds=1))
    data = client.get("/libera/python/2024-03-10.json").json()
    assert [line["id"] for line in data["lines"]] == [first.id, second.id]
    assert data["lines"][0]["text"] == "\x0304red"
    assert data["lines"][0]["plain"] == "red"
    assert data["cursor"] == second.id
    assert data["channel"] == "#python"


def test_it_exports_an_empty_day(client: Client, public_channel: Channel) -> None:
    data = client.get("/libera/python/2001-01-01.json").json()
    assert data["lines"] == []
    assert data["cursor"] is None


def test_it_exports_in_the_readers_timezone(client: Client, public_channel: Channel) -> None:
    say(public_channel, "late", at=dt.datetime(2024, 3, 9, 23, 30, tzinfo=dt.UTC))
    text = client.get("/libera/python/2024-03-10.txt?tz=Europe/Paris").content.decode()
    assert "00:30:00 <alice> late" in text


def test_it_answers_404_for_bad_export_dates(client: Client, public_channel: Channel) -> None:
    assert client.get("/libera/python/2024-02-31.txt").status_code == 404
    assert client.get("/libera/python/2024-02-31.json").status_code == 404
    assert client.get("/libera/python/today.json").status_code == 404
