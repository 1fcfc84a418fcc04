import datetime as dt

from django.core.management import call_command

from irclogger.demo import generate_rows, load_demo
from irclogger.models import Channel, Line, LineKind


def test_it_loads_a_demo_with_every_kind_and_a_private_channel(db) -> None:
    count = load_demo(days=3, lines_per_day=300)
    assert Line.objects.count() == count + 2 * Channel.objects.count()
    assert set(Line.objects.values_list("kind", flat=True)) == set(LineKind.values)
    assert Channel.objects.filter(is_public=False).exists()
    assert Channel.objects.values("network").distinct().count() == 2
    texts = list(Line.objects.values_list("text", flat=True))
    assert any("\x03" in text for text in texts)
    assert any("https://" in text for text in texts)
    assert any(not text.isascii() for text in texts)


def test_it_ends_the_demo_at_now(db) -> None:
    now = dt.datetime(2024, 5, 1, 15, 0, tzinfo=dt.UTC)
    load_demo(days=2, lines_per_day=100, now=now)
    assert Line.objects.latest("timestamp").timestamp < now


def test_it_generates_the_same_lines_for_the_same_seed() -> None:
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    first = list(generate_rows(1, start, start + dt.timedelta(days=1), 500, seed=3))
    again = list(generate_rows(1, start, start + dt.timedelta(days=1), 500, seed=3))
    assert first == again
    assert [row.timestamp for row in first] == sorted(row.timestamp for row in first)


def test_it_loads_the_demo_only_into_an_empty_database(db, capsys) -> None:
    call_command("demo", "--days", "1", "--lines-per-day", "50")
    count = Line.objects.count()
    call_command("demo")
    assert Line.objects.count() == count
    assert "already has lines" in capsys.readouterr().out
