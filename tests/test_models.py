import datetime as dt
import zoneinfo

import pytest

from irclogger.models import Channel, Line
from tests.conftest import NOON, say

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def test_it_selects_a_utc_day(public_channel: Channel) -> None:
    inside = say(public_channel, "inside")
    say(public_channel, "before", at=NOON - dt.timedelta(days=1))
    say(public_channel, "after", at=NOON + dt.timedelta(days=1))
    assert list(Line.objects.for_day(NOON.date(), dt.UTC)) == [inside]


def test_it_moves_the_day_boundary_with_the_timezone(public_channel: Channel) -> None:
    # 23:30 UTC on the 9th is 00:30 on the 10th in Paris (UTC+1 in March).
    late = say(public_channel, "late", at=dt.datetime(2024, 3, 9, 23, 30, tzinfo=dt.UTC))
    assert list(Line.objects.for_day(dt.date(2024, 3, 10), PARIS)) == [late]
    assert list(Line.objects.for_day(dt.date(2024, 3, 9), dt.UTC)) == [late]


def test_it_handles_a_dst_day(public_channel: Channel) -> None:
    # 2024-03-31 in Paris is 23 hours long: 22:00 UTC on the 31st is the 1st.
    last = say(public_channel, "last", at=dt.datetime(2024, 3, 31, 21, 59, tzinfo=dt.UTC))
    say(public_channel, "next day", at=dt.datetime(2024, 3, 31, 22, 0, tzinfo=dt.UTC))
    assert list(Line.objects.for_day(dt.date(2024, 3, 31), PARIS))[-1] == last


def test_it_orders_between_by_time_then_id(public_channel: Channel) -> None:
    second = say(public_channel, "second", at=NOON + dt.timedelta(seconds=1))
    first = say(public_channel, "first (imported later)", imported=True)
    same_time = say(public_channel, "same time", at=NOON + dt.timedelta(seconds=1))
    lines = Line.objects.between(NOON, NOON + dt.timedelta(hours=1))
    assert list(lines) == [first, second, same_time]


def test_it_replays_only_live_lines_after_an_id(public_channel: Channel) -> None:
    old = say(public_channel, "old")
    new = say(public_channel, "new")
    say(public_channel, "history", imported=True)
    assert list(Line.objects.after(old.id)) == [new]


def test_it_finds_the_latest_live_id_of_a_channel(public_channel: Channel) -> None:
    assert public_channel.lines.latest_live_id() == 0
    live = say(public_channel, "live")
    say(public_channel, "history", imported=True)
    assert public_channel.lines.latest_live_id() == live.id


@pytest.mark.parametrize(
    "query",
    ['"gevent worker"', "gevent -django", "gevent or nothing", "((( ]]] \" '", "\x00\x01!!", ""],
)
def test_it_answers_any_search_query(public_channel: Channel, query: str) -> None:
    say(public_channel, "the gevent worker runs django")
    list(Line.objects.search(query).with_headline(query))


def test_it_finds_words_behind_colour_codes(public_channel: Channel) -> None:
    line = say(public_channel, "\x0304error\x03 in \x02production\x02")
    assert list(Line.objects.search("error production")) == [line]
    assert not Line.objects.search("04error").exists()


def test_it_hides_private_lines_from_strangers(
    public_channel: Channel, private_channel: Channel, member, stranger
) -> None:
    visible = say(public_channel, "hello")
    hidden = say(private_channel, "hello")
    assert list(Line.objects.visible_to(stranger).search("hello")) == [visible]
    assert set(Line.objects.visible_to(member).search("hello")) == {visible, hidden}
