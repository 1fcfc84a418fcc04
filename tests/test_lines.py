import datetime as dt
import re
import zoneinfo

import pytest

from irclogger.lines import presence_summary, render_line, render_log
from irclogger.models import Channel, Line, ShownLine
from tests.conftest import NOON, say

KINDS = [
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


def _line(
    kind: str,
    text: str = "text",
    nick: str = "alice",
    target: str = "bob",
    at: dt.datetime = NOON,
    line_id: int = 7,
) -> Line:
    return Line(id=line_id, timestamp=at, kind=kind, nick=nick, target=target, text=text)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("message", '&lt;<bdi>alice</bdi>&gt;</span> <span class="msg"><bdi>text</bdi>'),
        ("action", "* <bdi>alice</bdi></span>"),
        ("notice", "-<bdi>alice</bdi>-</span>"),
        ("join", '<bdi>alice</bdi></span> joined <span class="host">(<bdi>text</bdi>)</span>'),
        ("part", "<bdi>alice</bdi></span> left (<bdi>text</bdi>)"),
        ("quit", "<bdi>alice</bdi></span> quit (<bdi>text</bdi>)"),
        ("nick", "<bdi>alice</bdi></span> is now known as <bdi>bob</bdi>"),
        ("topic", 'changed the topic to: <span class="msg"><bdi>text</bdi>'),
        ("kick", "<bdi>alice</bdi></span> kicked <bdi>bob</bdi> (<bdi>text</bdi>)"),
        ("mode", "<bdi>alice</bdi></span> sets mode <bdi>text</bdi>"),
        ("system", "— <bdi>text</bdi>"),
    ],
)
def test_it_renders_each_kind(kind: str, expected: str) -> None:
    html = render_line(_line(kind))
    assert expected in html
    assert html.startswith('<li id="L7" class="line k-' + kind)


@pytest.mark.parametrize("kind", KINDS)
def test_it_escapes_every_field(kind: str) -> None:
    evil = '<img src=x onerror="alert(1)">'
    html = render_line(_line(kind, text=evil, nick=evil, target=evil))
    assert "<img" not in html
    assert 'onerror="' not in html


def test_it_shows_local_time_and_links_the_anchor() -> None:
    html = render_line(_line("message"), zoneinfo.ZoneInfo("Asia/Tokyo"))
    assert '<a class="ts" href="#L7"' in html
    assert ">21:00:00</a>" in html


def test_it_marks_the_highlighted_line() -> None:
    assert 'class="line k-message hl"' in render_line(_line("message"), highlight=7)


def test_it_folds_presence_runs_but_not_single_joins() -> None:
    lines = [
        _line("message", line_id=1),
        _line("join", line_id=2),
        _line("message", line_id=3),
        _line("join", line_id=4),
        _line("quit", line_id=5),
        _line("nick", line_id=6),
    ]
    html = render_log(lines, dt.UTC)
    assert html.count('class="presence-run"') == 1
    assert "1 joined, 1 quit, 1 renamed" in html
    assert len(re.findall(r'<li id="L\d+"', html)) == 6
    assert 'id="L2"' in html.split('class="presence-run"')[0]


def test_it_drops_presence_lines_when_hidden() -> None:
    lines = [_line("join", line_id=1), _line("message", line_id=2), _line("part", line_id=3)]
    html = render_log(lines, dt.UTC, hide_presence=True)
    assert re.findall(r'id="L(\d+)"', html) == ["2"]


def test_it_summarises_a_run() -> None:
    run = [_line("join"), _line("join"), _line("part")]
    assert presence_summary(run) == "2 joined, 1 left"


def test_it_renders_rows_from_the_database(public_channel: Channel) -> None:
    say(public_channel, "from the db")
    html = render_log(Line.objects.all().rows(), dt.UTC)
    assert "from the db" in html


def test_a_time_links_to_the_lines_day_in_the_pages_zone() -> None:
    at = dt.datetime(2024, 3, 9, 23, 30, tzinfo=dt.UTC)
    late = ShownLine(7, at, "message", "Bot", "", "hi", channel_id=1)
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    html = render_line(late, paris, day_base="/libera/python/", bots=frozenset({"bot"}))
    assert 'href="/libera/python/2024-03-10/#L7"' in html
    assert 'class="line k-message bot"' in html


def test_a_range_starts_each_day_with_a_heading() -> None:
    lines = [
        ShownLine(n, dt.datetime(2024, 3, 9 + n, 12, tzinfo=dt.UTC), "message", "a", "", "x", 1)
        for n in range(3)
    ]
    html = render_log(lines, dt.UTC, separate_days=True, day_base="/n/c/")
    assert html.count('class="day-sep"') == 3
    assert '<a href="/n/c/2024-03-10/">Sunday, 2024-03-10</a>' in html
