"""The reader's zone (a cookie), the date picker, the year view, range paging."""

import datetime as dt

import pytest
from django.test import Client, override_settings

from irclogger.models import Channel
from irclogger.views._common import ZONE_COOKIE
from tests.conftest import NOON, say

pytestmark = pytest.mark.django_db


def test_it_keeps_the_chosen_zone_and_goes_back(client: Client) -> None:
    response = client.post("/zone/", {"zone": "Asia/Tokyo", "next": "/libera/python/"})
    assert response.status_code == 302
    assert response["Location"] == "/libera/python/"
    assert response.cookies[ZONE_COOKIE].value == "Asia/Tokyo"


def test_it_forgets_the_zone_for_the_channels_own(client: Client) -> None:
    client.cookies[ZONE_COOKIE] = "Asia/Tokyo"
    response = client.post("/zone/", {"zone": "", "next": "/"})
    assert response.cookies[ZONE_COOKIE].value == ""


def test_a_bad_zone_is_a_400_and_a_foreign_next_goes_home(client: Client) -> None:
    assert client.post("/zone/", {"zone": "Mars/Olympus"}).status_code == 400
    response = client.post("/zone/", {"zone": "UTC", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_a_stale_zone_cookie_is_passed_over(client: Client, public_channel: Channel) -> None:
    client.cookies[ZONE_COOKIE] = "Europe/Atlantis"
    response = client.get("/libera/python/2024-03-10/")
    assert response.status_code == 200
    assert 'id="zone-name">UTC<' in response.content.decode()


def test_the_cookie_moves_the_days_and_the_exports(client: Client, public_channel: Channel) -> None:
    say(public_channel, "late", at=dt.datetime(2024, 3, 9, 23, 30, tzinfo=dt.UTC))
    client.cookies[ZONE_COOKIE] = "Europe/Paris"
    assert "late" in client.get("/libera/python/2024-03-10/").content.decode()
    text = client.get("/libera/python/2024-03-10.txt").content.decode()
    assert "00:30:00" in text and "(Europe/Paris)" in text


@override_settings(FIXED_NOW=dt.datetime(2024, 3, 10, 18, tzinfo=dt.UTC))
def test_today_follows_the_fixed_clock(client: Client, public_channel: Channel) -> None:
    line = say(public_channel, "said today")
    body = client.get("/libera/python/").content.decode()
    assert f'href="/libera/python/2024-03-10/#L{line.id}"' in body
    assert "data-stream-url" in body


def test_the_date_picker_jumps_and_refuses_a_bad_date(
    client: Client, public_channel: Channel
) -> None:
    response = client.get("/libera/python/jump/?day=2024-02-29")
    assert response["Location"] == "/libera/python/2024-02-29/"
    assert client.get("/libera/python/jump/?day=2024-02-30").status_code == 400
    assert client.get("/libera/python/jump/").status_code == 400


def test_the_year_view_shows_each_days_activity(client: Client, public_channel: Channel) -> None:
    for n in range(4):
        say(public_channel, f"busy {n}", at=NOON + dt.timedelta(minutes=n))
    say(public_channel, "quiet", at=NOON + dt.timedelta(days=5))
    say(public_channel, "last year", at=NOON - dt.timedelta(days=400))
    body = client.get("/libera/python/2024/").content.decode()
    assert 'class="heat-4" data-count="4"' in body
    assert 'class="heat-1" data-count="1"' in body
    assert 'href="/libera/python/2023/"' in body
    assert client.get("/libera/python/1969/").status_code == 404


@override_settings(RANGE_PAGE_SIZE=10)
def test_the_range_pages_both_ways_with_day_separators(
    client: Client, public_channel: Channel
) -> None:
    lines = [say(public_channel, f"n{n}", at=NOON + dt.timedelta(hours=n)) for n in range(25)]
    url = "/libera/python/2024-03-10..2024-03-12/"
    first = client.get(url).content.decode()
    assert first.count('class="day-sep"') == 1  # 12:00-21:00 on the 10th
    assert "?before=" not in first
    second = client.get(f"{url}?after={lines[9].id}").content.decode()
    assert f"?before={lines[10].id}" in second and f"?after={lines[19].id}" in second
    assert 'data-day="2024-03-11"' in second
    back = client.get(f"{url}?before={lines[10].id}").content.decode()
    assert f'id="L{lines[0].id}"' in back and f'id="L{lines[9].id}"' in back
    assert f'id="L{lines[10].id}"' not in back


@override_settings(FIXED_NOW=dt.datetime(2024, 3, 10, tzinfo=dt.UTC), DEBUG=False)
def test_a_stopped_clock_is_refused_in_production() -> None:
    from irclogger.checks import check_fixed_now

    assert [error.id for error in check_fixed_now(None)] == ["irclogger.E004"]


def test_the_offset_shown_is_the_days_own(client: Client, public_channel: Channel) -> None:
    public_channel.timezone = "Europe/Paris"
    public_channel.save()
    winter = client.get("/libera/python/2024-01-10/").content.decode()
    summer = client.get("/libera/python/2024-07-10/").content.decode()
    assert "UTC+01:00" in winter and "UTC+02:00" in summer
