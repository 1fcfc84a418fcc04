import datetime as dt
import re
import zoneinfo

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Value
from django.test.utils import CaptureQueriesContext

from irclogger.formatting import CODE_PATTERN, strip_irc
from irclogger.models import Channel, Line, Network, NickBase
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
    list(Line.objects.search(query))
    list(Line.objects.search(query, prefix_last=True))


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


def test_it_refuses_a_line_of_a_channel_that_does_not_exist(public_channel: Channel) -> None:
    missing = Channel(pk=public_channel.pk + 1000)
    with pytest.raises(IntegrityError, match="channel that does not exist"), transaction.atomic():
        say(missing, "orphan")
    line = say(public_channel, "kept")
    with pytest.raises(IntegrityError), transaction.atomic():
        Line.objects.filter(pk=line.pk).update(channel_id=missing.pk)


def test_it_deletes_a_channels_lines_with_the_channel(network: Network) -> None:
    by_orm = Channel.objects.create(network=network, name="#a", slug="a")
    by_sql = Channel.objects.create(network=network, name="#b", slug="b")
    kept = Channel.objects.create(network=network, name="#c", slug="c")
    for channel in (by_orm, by_sql, kept):
        say(channel, "hello")
    by_orm.delete()
    with connection.cursor() as cursor:
        # SQL run by hand: the database itself cascades, as a foreign key would.
        cursor.execute("DELETE FROM irclogger_channel WHERE id = %s", [by_sql.pk])
    assert set(Line.objects.values_list("channel_id", flat=True)) == {kept.pk}


def test_it_replays_from_the_index_of_live_lines(public_channel: Channel) -> None:
    say(public_channel, "live")
    with connection.cursor() as cursor:
        # Too few rows for the planner to prefer an index on its own.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
    plan = public_channel.lines.after(0).explain()
    assert "line_channel_id" in plan


def test_a_nicks_base_is_computed_inline_not_by_a_function_call(db: None) -> None:
    # An SQL function call per row runs its own executor: on every insert
    # (the nick index) and every row a nick filter reads. PostgreSQL inlines
    # the function's expression only where it is not STRICT.
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN VERBOSE SELECT irclogger_nick_base(nick) FROM irclogger_line")
        plan = "\n".join(row for (row,) in cursor.fetchall())
    assert "irclogger_nick_base" not in plan
    assert "regexp_replace" in plan


def test_the_nick_filter_reads_the_nick_index(public_channel: Channel) -> None:
    say(public_channel, "hi", nick="Alice_")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    lines = public_channel.lines.alias(base=NickBase("nick")).filter(
        base=NickBase(Value("alice|away"))
    )
    plan = lines.explain()
    assert re.search(r"Index Cond: .*channel_id = .* AND .*regexp_replace", plan), plan
    assert [line.text for line in lines] == ["hi"]


# Codes whose arguments are easy to read differently: two digits at most, a
# comma only before a digit, six hex digits or none, stray control bytes.
CODED_TEXTS = [
    "\x0304error",
    "\x03123",
    "\x0304,05on red",
    "\x0304,text",
    "\x03,5",
    "\x04FF00FFpink",
    "\x04ff00ff,00FF00on green",
    "\x04FF00F short",
    "\x02bold\x02 \x1ditalic\x1d \x1funder\x1f \x0freset \x16rev \x11mono \x1estrike",
    "\x01ACTION waves\x01",
    "del\x7fete",
]


def test_it_strips_codes_in_postgresql_as_the_formatter_does(db: None) -> None:
    # The search index strips with the formatter's pattern; both engines must
    # read it alike, or a word is indexed differently from how it shows.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT regexp_replace(t, %s, ' ', 'g') FROM unnest(%s::text[]) WITH ORDINALITY"
            " AS u(t, n) ORDER BY n",
            [CODE_PATTERN, CODED_TEXTS],
        )
        in_sql = [row[0] for row in cursor.fetchall()]
    assert in_sql == [re.sub(CODE_PATTERN, " ", text) for text in CODED_TEXTS]
    assert [strip_irc(text) for text in CODED_TEXTS] == [
        re.sub(CODE_PATTERN, "", text) for text in CODED_TEXTS
    ]


def test_it_finds_a_word_that_follows_a_colour_code(public_channel: Channel) -> None:
    coloured = say(public_channel, "\x0304error\x03 in the build")
    assert list(Line.objects.search("error")) == [coloured]


def test_it_counts_lines_per_day_in_the_channels_zone(public_channel: Channel) -> None:
    # 23:30 UTC on the 9th of March is 00:30 on the 10th in Paris.
    say(public_channel, "late", at=dt.datetime(2024, 3, 9, 23, 30, tzinfo=dt.UTC))
    say(public_channel, "noon", at=NOON)
    start = dt.datetime(2024, 3, 1, tzinfo=PARIS)
    end = dt.datetime(2024, 4, 1, tzinfo=PARIS)
    assert public_channel.lines.day_counts(start, end, PARIS) == {dt.date(2024, 3, 10): 2}
    assert public_channel.lines.day_counts(start, end, dt.UTC) == {
        dt.date(2024, 3, 9): 1,
        dt.date(2024, 3, 10): 1,
    }


def test_it_pages_in_reading_order_around_a_line(public_channel: Channel) -> None:
    first, second, third = (say(public_channel, text) for text in ("a", "b", "c"))
    lines = public_channel.lines.in_order()
    at = lines.time_of(second.id)
    assert at == NOON
    assert list(lines.reading_after(at, second.id)) == [third]
    assert list(lines.reading_before(at, second.id)) == [first]
    assert list(lines.reading_after(None, second.id)) == [first, second, third]


def _lines_of(channel: Channel, count: int, start: dt.datetime, step: dt.timedelta) -> None:
    Line.objects.bulk_create(
        Line(channel=channel, timestamp=start + n * step, kind="message", nick="bob", text=f"{n}")
        for n in range(count)
    )


def test_the_calendar_probes_each_day_however_stale_the_statistics(
    public_channel: Channel, private_channel: Channel
) -> None:
    # The statistics know only another channel's lines: the planner thinks
    # this one has almost none, and once joined every day against all of its
    # lines (42 days x 3,000 lines compared for one month's calendar).
    _lines_of(private_channel, 2_000, NOON - dt.timedelta(days=30), dt.timedelta(minutes=20))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE irclogger_line")
    _lines_of(public_channel, 3_000, NOON - dt.timedelta(days=2), dt.timedelta(minutes=1))
    with CaptureQueriesContext(connection) as queries:
        days = Line.objects.active_days(
            public_channel.pk, dt.date(2024, 2, 26), dt.date(2024, 4, 7), dt.UTC
        )
    assert days == {dt.date(2024, 3, 8), dt.date(2024, 3, 9), dt.date(2024, 3, 10)}
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {queries.captured_queries[-1]['sql']}")
        plan = "\n".join(row for (row,) in cursor.fetchall())
    # One probe of the (channel, time) index per day, never a join filter.
    assert "Rows Removed by Join Filter" not in plan, plan
    assert re.search(r'Index Cond: .*channel_id = .*"timestamp" >=', plan), plan
