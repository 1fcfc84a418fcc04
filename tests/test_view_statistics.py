"""The statistics page's figures against counts made here, line by line, in Python."""

import datetime as dt
import random
import re
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
from django.test import Client, override_settings

from irclogger.bulk import LineRow, copy_lines
from irclogger.models import Channel, Line
from tests.conftest import say

NOW = dt.datetime(2024, 6, 30, 15, 7, tzinfo=dt.UTC)
SAID = {"message", "action", "notice"}
NICKS = ["alice", "Alice", "bob", "carol", "dave_", "eve"]
KINDS = ["message", "message", "message", "action", "notice", "join", "quit"]


def _lines(channel: Channel, count: int, seed: int) -> list[Line]:
    """Lines over the last ~2 years: some by the bot's path (one INSERT each),
    most by the importers' COPY."""
    rng = random.Random(seed)

    def stamp() -> dt.datetime:
        return NOW - dt.timedelta(seconds=rng.randrange(0, 800 * 86400))

    for n in range(30):
        say(channel, f"live {n}", nick=rng.choice(NICKS), kind=rng.choice(KINDS), at=stamp())
    rows = [
        LineRow(channel.pk, stamp(), rng.choice(KINDS), rng.choice(NICKS), "", f"x {n}", True, None)
        for n in range(count)
    ]
    copy_lines(rows, batch_size=700)
    return list(channel.lines.all())


@pytest.fixture
def lines(public_channel: Channel) -> list[Line]:
    public_channel.timezone = "America/St_Johns"  # UTC-2:30 or -3:30: half hours
    public_channel.save()
    other = Channel.objects.create(network=public_channel.network, name="#o", slug="o")
    _lines(other, 300, seed=2)  # another channel's lines count nowhere here
    return _lines(public_channel, 3000, seed=1)


def _expected_days(said: list[Line]) -> list[tuple[dt.date, int]]:
    zone = ZoneInfo("America/St_Johns")
    today = NOW.astimezone(zone).date()
    per_day = Counter(line.timestamp.astimezone(zone).date() for line in said)
    days = [today - dt.timedelta(days=364 - n) for n in range(365)]
    return [(day, per_day.get(day, 0)) for day in days]


@override_settings(FIXED_NOW=NOW)
def test_the_figures_equal_counts_of_the_lines(client: Client, lines: list[Line]) -> None:
    zone = ZoneInfo("America/St_Johns")
    said = [line for line in lines if line.kind in SAID]
    response = client.get("/libera/python/stats/")
    assert response.status_code == 200
    figures = response.context["figures"]

    assert figures.days == _expected_days(said)

    week = Counter(
        (line.timestamp.astimezone(zone).weekday(), line.timestamp.astimezone(zone).hour)
        for line in said
    )
    assert figures.week == [[week.get((d, h), 0) for h in range(24)] for d in range(7)]

    all_time = Counter(line.nick.lower() for line in said)
    assert dict(figures.top_all_time) == dict(all_time)
    since = NOW.date() - dt.timedelta(days=29)
    recent = Counter(line.nick.lower() for line in said if line.timestamp.date() >= since)
    assert dict(figures.top_30_days) == dict(recent)
    assert [count for _, count in figures.top_all_time] == sorted(all_time.values(), reverse=True)
    assert figures.total == len(said)

    body = response.content.decode()
    assert body.count('<rect class="bar"') == 365
    assert "style=" not in body.split("<main", 1)[1]


@override_settings(FIXED_NOW=NOW)
def test_a_nicks_first_and_last_line_and_count(client: Client, lines: list[Line]) -> None:
    alice = sorted(
        (line for line in lines if line.kind in SAID and line.nick.lower() == "alice"),
        key=lambda line: (line.timestamp, line.id),
    )
    response = client.get("/libera/python/stats/", {"nick": "ALICE"})
    found = response.context["nick_figures"]
    assert found.lines == len(alice)
    assert found.first.id == alice[0].id
    assert found.last.timestamp == alice[-1].timestamp
    body = response.content.decode()
    first_day = alice[0].timestamp.astimezone(ZoneInfo("America/St_Johns")).date()
    assert f"/libera/python/{first_day}/?hl={alice[0].id}#L{alice[0].id}" in body
    nobody = client.get("/libera/python/stats/", {"nick": "nobody"})
    assert "nobody has said nothing here" in nobody.content.decode()


@override_settings(FIXED_NOW=NOW)
def test_moved_and_deleted_lines_are_recounted(client: Client, lines: list[Line]) -> None:
    """A re-import in another zone moves lines (UPDATE); deleting lines removes them."""
    moved = [line.id for line in lines[:400]]
    Line.objects.filter(id__in=moved).update(timestamp=NOW - dt.timedelta(hours=1))
    Line.objects.filter(id__in=[line.id for line in lines[400:900]]).delete()
    Line.objects.filter(id__in=[line.id for line in lines[900:950]]).update(nick="zed")
    remaining = list(Line.objects.filter(channel__slug="python"))
    said = [line for line in remaining if line.kind in SAID]
    figures = client.get("/libera/python/stats/").context["figures"]
    assert dict(figures.top_all_time) == dict(Counter(line.nick.lower() for line in said))
    assert figures.days == _expected_days(said)
    assert figures.total == len(said)


def test_a_private_channels_statistics_are_as_private_as_its_pages(
    anonymous_client: Client,
    stranger_client: Client,
    member_client: Client,
    private_channel: Channel,
) -> None:
    say(private_channel, "hush", nick="spy")
    for reader in (anonymous_client, stranger_client):
        assert reader.get("/libera/secret/stats/").status_code == 404
        assert reader.get("/libera/secret/stats/", {"nick": "spy"}).status_code == 404
    response = member_client.get("/libera/secret/stats/", {"nick": "spy"})
    assert response.status_code == 200
    assert response.context["nick_figures"].lines == 1


def test_the_page_answers_any_nick(client: Client, public_channel: Channel) -> None:
    for nick in ["\x00", "'; --", "a" * 500, "%", "_"]:
        response = client.get("/libera/python/stats/", {"nick": nick})
        assert response.status_code == 200
        assert re.search(r"has said nothing here|Lines", response.content.decode())
