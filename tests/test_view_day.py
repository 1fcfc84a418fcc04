import datetime as dt

import pytest
from django.test import Client

from irclogger.models import Channel
from tests.conftest import NOON, say

DAY_URL = "/libera/python/2024-03-10/"


def test_it_shows_the_lines_of_the_day(client: Client, public_channel: Channel) -> None:
    line = say(public_channel, "hello \x0304red\x03 world")
    say(public_channel, "yesterday", at=NOON - dt.timedelta(days=1))
    response = client.get(DAY_URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert f'id="L{line.id}"' in body
    assert "irc-fg4" in body
    assert "yesterday" not in body.split('id="log"')[1]


def test_it_escapes_irc_text(client: Client, public_channel: Channel) -> None:
    say(public_channel, '<script>alert("x")</script>', nick="<b>evil</b>")
    body = client.get(DAY_URL).content.decode()
    assert "<script>alert" not in body
    assert "&lt;script&gt;" in body
    assert "<b>evil</b>" not in body


def test_it_links_the_previous_and_next_active_days(
    client: Client, public_channel: Channel
) -> None:
    say(public_channel, "today")
    say(public_channel, "a week ago", at=NOON - dt.timedelta(days=7))
    say(public_channel, "later", at=NOON + dt.timedelta(days=3))
    body = client.get(DAY_URL).content.decode()
    assert 'href="/libera/python/2024-03-03/"' in body
    assert 'href="/libera/python/2024-03-13/"' in body


def test_it_marks_active_days_in_the_calendar(client: Client, public_channel: Channel) -> None:
    say(public_channel, "today")
    say(public_channel, "the 2nd", at=dt.datetime(2024, 3, 2, 8, tzinfo=dt.UTC))
    response = client.get(DAY_URL)
    days = {
        cell["date"].day
        for week in response.context["calendar"]["weeks"]
        for cell in week
        if cell["url"] and cell["in_month"]
    }
    assert days == {2, 10}


def test_it_moves_the_day_and_clock_with_tz(client: Client, public_channel: Channel) -> None:
    say(public_channel, "late", at=dt.datetime(2024, 3, 9, 23, 30, tzinfo=dt.UTC))
    response = client.get(DAY_URL + "?tz=Europe/Paris")
    body = response.content.decode()
    assert "00:30:00" in body
    assert "?tz=Europe%2FParis" in body  # links keep the reader's timezone
    assert client.get(DAY_URL).context["line_count"] == 0


def test_it_answers_400_for_an_unknown_timezone(client: Client, public_channel: Channel) -> None:
    assert client.get(DAY_URL + "?tz=Mars/Olympus").status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/libera/python/2024-02-30/",
        "/libera/python/2024-13-01/",
        "/libera/python/20240310/",
        "/libera/python/2024-3-10/",
        "/libera/python/9999-99-99/",
        "/nowhere/python/2024-03-10/",
        "/libera/nothing/2024-03-10/",
        "/libera/python/2024-03-10/extra/",
    ],
)
def test_it_answers_404_for_malformed_days_and_unknown_slugs(
    client: Client, public_channel: Channel, path: str
) -> None:
    assert client.get(path).status_code == 404


def test_it_collapses_a_run_of_joins_and_parts(client: Client, public_channel: Channel) -> None:
    say(public_channel, "before")
    for second, kind in enumerate(["join", "join", "quit"], start=1):
        say(
            public_channel, "", kind=kind, nick=f"n{second}", at=NOON + dt.timedelta(seconds=second)
        )
    say(public_channel, "after", at=NOON + dt.timedelta(seconds=10))
    body = client.get(DAY_URL).content.decode()
    assert body.count('class="presence-run"') == 1
    assert "2 joined, 1 quit" in body


def test_it_hides_joins_and_parts_on_request(client: Client, public_channel: Channel) -> None:
    say(public_channel, "", kind="join", nick="joiner")
    say(public_channel, "words", at=NOON + dt.timedelta(seconds=1))
    body = client.get(DAY_URL + "?presence=hide").content.decode()
    assert "joiner" not in body
    assert "words" in body


def test_it_renders_every_line_kind(client: Client, public_channel: Channel) -> None:
    kinds = [
        "message",
        "action",
        "notice",
        "join",
        "part",
        "quit",
        "nick",
        "topic",
        "kick",
        "mode",
        "system",
    ]
    for second, kind in enumerate(kinds):
        say(
            public_channel,
            f"text-{kind}",
            kind=kind,
            nick="op",
            target="victim",
            at=NOON + dt.timedelta(minutes=second),
        )
    response = client.get(DAY_URL)
    assert response.status_code == 200
    body = response.content.decode()
    for kind in kinds:
        assert f"k-{kind}" in body


def test_it_opens_the_presence_run_holding_the_highlighted_line(
    client: Client, public_channel: Channel
) -> None:
    lines = [
        say(public_channel, "", kind="join", nick=f"n{i}", at=NOON + dt.timedelta(seconds=i))
        for i in range(3)
    ]
    body = client.get(DAY_URL + f"?hl={lines[1].id}").content.decode()
    assert "<details open>" in body
    assert f'id="L{lines[1].id}" class="line k-join hl"' in body
