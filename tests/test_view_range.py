import datetime as dt
import re

from django.test import Client, override_settings

from irclogger.models import Channel
from tests.conftest import NOON, say


def test_it_shows_several_days(client: Client, public_channel: Channel) -> None:
    say(public_channel, "day one")
    say(public_channel, "day three", at=NOON + dt.timedelta(days=2))
    say(public_channel, "outside", at=NOON + dt.timedelta(days=5))
    response = client.get("/libera/python/2024-03-10..2024-03-12/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "day one" in body
    assert "day three" in body
    assert "outside" not in body


def test_it_refuses_more_than_31_days(client: Client, public_channel: Channel) -> None:
    assert client.get("/libera/python/2024-01-01..2024-01-31/").status_code == 200
    assert client.get("/libera/python/2024-01-01..2024-02-01/").status_code == 400


def test_it_refuses_a_range_that_ends_before_it_starts(
    client: Client, public_channel: Channel
) -> None:
    assert client.get("/libera/python/2024-03-10..2024-03-01/").status_code == 400


def test_it_answers_404_for_malformed_range_dates(client: Client, public_channel: Channel) -> None:
    assert client.get("/libera/python/2024-02-30..2024-03-01/").status_code == 404
    assert client.get("/libera/python/2024-03-01...2024-03-02/").status_code == 404


@override_settings(RANGE_PAGE_SIZE=10)
def test_it_pages_by_keyset_without_gaps_or_repeats(
    client: Client, public_channel: Channel
) -> None:
    # Same-second lines make the (time, id) order matter.
    expected = [
        say(public_channel, f"line {i}", at=NOON + dt.timedelta(seconds=i // 3)).id
        for i in range(25)
    ]
    seen: list[int] = []
    url = "/libera/python/2024-03-10..2024-03-10/"
    for _ in range(5):
        response = client.get(url)
        seen += [int(i) for i in re.findall(r'data-id="(\d+)"', response.content.decode())]
        if not response.context["next_query"]:
            break
        url = "/libera/python/2024-03-10..2024-03-10/" + response.context["next_query"]
    assert seen == expected
