import datetime as dt

import pytest
from django.test import Client, override_settings

from irclogger.models import Channel
from tests.conftest import NOON, say


def test_it_finds_lines_with_highlighted_snippets(client: Client, public_channel: Channel) -> None:
    line = say(public_channel, "the gevent worker crashed <again>")
    say(public_channel, "unrelated chatter")
    response = client.get("/search/", {"q": "gevent"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "<mark>gevent</mark>" in body
    assert "&lt;again&gt;" in body
    assert f"/libera/python/line/{line.id}/" in body
    assert "unrelated" not in body


def test_it_supports_websearch_syntax(client: Client, public_channel: Channel) -> None:
    say(public_channel, "deploy the release today")
    say(public_channel, "deploy the docs", at=NOON + dt.timedelta(seconds=1))
    found = client.get("/search/", {"q": "deploy -docs"}).context["page"].lines
    assert [line.text for line in found] == ["deploy the release today"]
    found = client.get("/search/", {"q": '"the docs"'}).context["page"].lines
    assert [line.text for line in found] == ["deploy the docs"]


def test_it_filters_by_nick_and_dates(client: Client, public_channel: Channel) -> None:
    say(public_channel, "hello from alice", nick="alice")
    say(public_channel, "hello from bob", nick="Bob")
    say(public_channel, "hello later", nick="bob", at=NOON + dt.timedelta(days=2))
    page = client.get("/search/", {"q": "hello", "nick": "bob", "until": "2024-03-10"})
    assert [line.text for line in page.context["page"].lines] == ["hello from bob"]
    page = client.get("/search/", {"nick": "bob", "since": "2024-03-11"})
    assert [line.text for line in page.context["page"].lines] == ["hello later"]


def test_it_searches_one_channel(client: Client, network, public_channel: Channel) -> None:
    other = Channel.objects.create(network=network, name="#other", slug="other")
    say(public_channel, "needle here")
    say(other, "needle there")
    page = client.get("/libera/other/search/", {"q": "needle"}).context["page"]
    assert [line.text for line in page.lines] == ["needle there"]


@override_settings(SEARCH_PAGE_SIZE=5)
def test_it_pages_results_by_keyset(client: Client, public_channel: Channel) -> None:
    ids = [
        say(public_channel, f"needle {i}", at=NOON + dt.timedelta(seconds=i)).id for i in range(12)
    ]
    seen: list[int] = []
    params: dict[str, str] = {"q": "needle"}
    for _ in range(4):
        response = client.get("/search/", params)
        page = response.context["page"]
        seen += [line.id for line in page.lines]
        if not page.next_before:
            break
        params = {"q": "needle", "before": str(page.next_before)}
    assert seen == sorted(ids, reverse=True)
    assert response.context["page"].count == 12  # the total, on every page


@pytest.mark.parametrize(
    "params",
    [
        {"q": "((("},
        {"q": "\x00"},
        {"q": '"unterminated'},
        {"q": "-"},
        {"q": "a" * 5000},
        {"q": "x", "since": "garbage"},
        {"q": "x", "before": "-5"},
        {"q": "x", "before": "9" * 40},
        {"q": "!@#$%^&*()"},
        {"q": "OR AND NOT <->"},
        {"q": "'; DROP TABLE irclogger_line;--"},
    ],
)
def test_it_answers_any_garbage(client: Client, public_channel: Channel, params) -> None:
    say(public_channel, "some text")
    assert client.get("/search/", params).status_code == 200


def test_it_shows_the_form_without_a_query(client: Client, db) -> None:
    response = client.get("/search/")
    assert response.status_code == 200
    assert response.context["page"] is None
