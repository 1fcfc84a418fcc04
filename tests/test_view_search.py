import datetime as dt
import json
import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client, override_settings

from irclogger.models import Channel, Network
from tests.conftest import NOON, say


def _lines(response: Any) -> list[str]:
    return [line.text for line in response.context["page"].lines]


def test_it_finds_lines_with_highlighted_snippets(client: Client, public_channel: Channel) -> None:
    line = say(public_channel, "the gevent worker crashed <again>")
    say(public_channel, "unrelated chatter", at=NOON + dt.timedelta(hours=3))
    response = client.get("/search/", {"q": "gevent"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "<mark>gevent</mark>" in body
    assert "&lt;again&gt;" in body
    assert f"/libera/python/2024-03-10/?hl={line.id}#L{line.id}" in body
    assert _lines(response) == ["the gevent worker crashed <again>"]


def test_it_supports_websearch_syntax(client: Client, public_channel: Channel) -> None:
    say(public_channel, "deploy the release today")
    say(public_channel, "deploy the docs", at=NOON + dt.timedelta(seconds=1))
    assert _lines(client.get("/search/", {"q": "deploy -docs"})) == ["deploy the release today"]
    assert _lines(client.get("/search/", {"q": '"the docs"'})) == ["deploy the docs"]


def test_it_filters_by_nick_and_dates(client: Client, public_channel: Channel) -> None:
    say(public_channel, "hello from alice", nick="alice")
    say(public_channel, "hello from bob", nick="Bob")
    say(public_channel, "hello later", nick="bob", at=NOON + dt.timedelta(days=2))
    page = client.get("/search/", {"q": "hello", "nick": "bob", "until": "2024-03-10"})
    assert _lines(page) == ["hello from bob"]
    assert _lines(client.get("/search/", {"nick": "bob", "since": "2024-03-11"})) == ["hello later"]


def test_it_searches_one_channel(client: Client, network: Network, public_channel: Channel) -> None:
    other = Channel.objects.create(network=network, name="#other", slug="other")
    say(public_channel, "needle here")
    say(other, "needle there")
    assert _lines(client.get("/libera/other/search/", {"q": "needle"})) == ["needle there"]


def test_it_offers_a_channel_choice_on_global_search(
    client: Client, network: Network, public_channel: Channel, private_channel: Channel
) -> None:
    other = Channel.objects.create(network=network, name="#other", slug="other")
    say(public_channel, "needle here")
    say(other, "needle there")
    response = client.get("/search/", {"q": "needle", "channel": "libera/other"})
    assert _lines(response) == ["needle there"]
    body = response.content.decode()
    assert 'value="libera/other" selected' in body
    assert "libera/secret" not in body
    # A private channel is refused in the same words as a missing one.
    hidden = client.get("/search/", {"q": "needle", "channel": "libera/secret"})
    missing = client.get("/search/", {"q": "needle", "channel": "libera/nothing"})
    assert hidden.status_code == missing.status_code == 400
    assert hidden.content.decode().replace("secret", "X") == missing.content.decode().replace(
        "nothing", "X"
    )


def test_it_orders_imported_and_live_lines_by_time(client: Client, public_channel: Channel) -> None:
    # Imported history arrives after the live lines, so its ids are higher.
    say(public_channel, "needle live old", at=NOON - dt.timedelta(days=300))
    say(public_channel, "needle live new", at=NOON)
    say(public_channel, "needle imported", at=NOON - dt.timedelta(days=30), imported=True)
    say(public_channel, "needle imported oldest", at=NOON - dt.timedelta(days=900), imported=True)
    newest = _lines(client.get("/search/", {"q": "needle"}))
    assert newest == [
        "needle live new",
        "needle imported",
        "needle live old",
        "needle imported oldest",
    ]
    assert _lines(client.get("/search/", {"q": "needle", "order": "oldest"})) == newest[::-1]


def _walk(client: Client, params: dict[str, str], rel: str, start: str) -> list[list[int]]:
    """Follow rel=next (or rel=prev) links from ``start``; the ids of each page."""
    pages: list[list[int]] = []
    url = start
    for _ in range(20):
        response = client.get(url)
        assert response.status_code == 200
        pages.append([line.id for line in response.context["page"].lines])
        found = re.search(rf'<a rel="{rel}" href="([^"]+)"', response.content.decode())
        if not found:
            return pages
        url = found.group(1).replace("&amp;", "&")
    raise AssertionError("paging did not end")


@pytest.mark.parametrize("order", ["newest", "oldest"])
# Few matches are paged from the list of all of them; more than the count
# limit, by the database.
@pytest.mark.parametrize("count_limit", [1000, 4])
@override_settings(SEARCH_PAGE_SIZE=5)
def test_it_pages_forward_and_back_returning_every_result_once(
    client: Client,
    public_channel: Channel,
    order: str,
    count_limit: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("irclogger.search.COUNT_LIMIT", count_limit)
    # Equal timestamps too: the id breaks the tie inside the cursor.
    lines = [
        say(
            public_channel,
            f"needle {i}",
            at=NOON + dt.timedelta(seconds=i // 3),
            imported=i % 2 == 0,
        )
        for i in range(12)
    ]
    expected = sorted(lines, key=lambda line: (line.timestamp, line.id))
    if order == "newest":
        expected.reverse()
    forward = _walk(client, {}, "next", f"/search/?q=needle&order={order}")
    assert [i for page in forward for i in page] == [line.id for line in expected]
    assert [len(page) for page in forward] == [5, 5, 2]
    # From the last page back to the first, by the "previous" links.
    last = client.get(f"/search/?q=needle&order={order}")
    next_url = re.findall(r'<a rel="next" href="([^"]+)"', last.content.decode())[0]
    page2 = client.get(next_url.replace("&amp;", "&")).content.decode()
    third = re.findall(r'<a rel="next" href="([^"]+)"', page2)[0].replace("&amp;", "&")
    backward = _walk(client, {}, "prev", third)
    assert [i for page in reversed(backward) for i in page] == [line.id for line in expected]
    page = client.get(third).context["page"]
    assert (page.count, page.count_is_capped) == ((12, False) if count_limit > 12 else (4, True))


@pytest.mark.parametrize("order", ["newest", "oldest"])
# A page found in the lines read in order; partly there and partly beyond
# them; and beyond them only (one line read: rarely a match).
@pytest.mark.parametrize("walk_lines", [10_000, 7, 1])
@pytest.mark.parametrize("path", ["/search/", "/libera/python/search/"])
@override_settings(SEARCH_PAGE_SIZE=5)
def test_a_common_match_pages_in_time_order_across_channels(
    client: Client,
    public_channel: Channel,
    private_channel: Channel,
    order: str,
    walk_lines: int,
    path: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """More matches than the count limit: the page is read in time order."""
    monkeypatch.setattr("irclogger.search.COUNT_LIMIT", 4)
    monkeypatch.setattr("irclogger.search.WALK_LINES", walk_lines)
    other = Channel.objects.create(network=public_channel.network, name="#o", slug="o")
    shown = []
    for i in range(30):
        at = NOON + dt.timedelta(seconds=i // 4)
        channel = [public_channel, other, private_channel][i % 3]
        line = say(channel, f"a needle-like thing {i}" if i % 5 else f"filler {i}", at=at)
        if (
            i % 5
            and channel != private_channel
            and (path == "/search/" or channel == public_channel)
        ):
            shown.append(line)
    expected = sorted(shown, key=lambda line: (line.timestamp, line.id))
    if order == "newest":
        expected.reverse()
    start = f"{path}?q=needle-like&order={order}"
    forward = _walk(client, {}, "next", start)
    assert [i for page in forward for i in page] == [line.id for line in expected]
    assert [len(page) for page in forward] == [5] * (len(expected) // 5) + [len(expected) % 5]
    # From the last page back to the first, by the "previous" links.
    backward = _walk(client, {}, "prev", _page_url(client, start, len(forward) - 1))
    assert [i for page in reversed(backward) for i in page] == [line.id for line in expected]
    assert client.get(start).context["page"].count_is_capped


def _page_url(client: Client, start: str, hops: int) -> str:
    """The URL of the page ``hops`` rel=next links after ``start``."""
    url = start
    for _ in range(hops):
        body = client.get(url).content.decode()
        url = re.findall(r'<a rel="next" href="([^"]+)"', body)[0].replace("&amp;", "&")
    return url


def _insert_many(rows: list[tuple[int, str]], spread_days: int, *, imported: bool) -> None:
    """Messages (channel id, text), at random times over the last ``spread_days``,
    then fresh planner statistics."""
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO irclogger_line (channel_id, timestamp, kind, nick, target, text, imported)"
            " VALUES (%s, now() - %s * random() * interval '1 day', 'message', 'x', '', %s, %s)",
            [(channel_id, spread_days, text, imported) for channel_id, text in rows],
        )
        cursor.execute("ANALYZE irclogger_line")


def test_a_common_phrase_is_paged_without_reading_all_its_lines(
    client: Client, public_channel: Channel
) -> None:
    """A hyphenated word is a phrase ('x-accel' <-> 'x' <-> 'accel'): the
    planner, taking its words as independent, guesses it rare and would sort
    every line with it to show the newest; read in time order instead."""
    rows = [(public_channel.pk, f"set X-Accel-Buffering to no, take {n}") for n in range(3000)]
    rows += [(public_channel.pk, f"filler {n}") for n in range(20000)]
    _insert_many(rows, 100, imported=True)
    plans = _explain_searches()
    with connection.execute_wrapper(plans):
        response = client.get("/libera/python/search/", {"q": "X-Accel-Buffering"})
    page = response.context["page"]
    assert (page.count, page.count_is_capped, len(page.lines)) == (1000, True, 50)
    stamps = [line.timestamp for line in page.lines]
    assert stamps == sorted(stamps, reverse=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT max(timestamp) FROM irclogger_line WHERE search_vector @@"
            " websearch_to_tsquery('english', 'X-Accel-Buffering')"
        )
        assert stamps[0] == cursor.fetchone()[0]
    assert plans.plans
    for plan in plans.plans:
        assert max(_lines_read(plan)) <= 1001, plan


def _lines_read(plan: str) -> list[int]:
    """Per scan of the lines in an EXPLAIN ANALYZE: the rows it kept plus those it threw away."""
    read: list[int] = []
    for row in plan.splitlines():
        scan = re.search(r"Scan(?: Backward)? (?:using \w+ )?on irclogger_line .* rows=(\d+)", row)
        removed = re.search(r"Rows Removed by (?:Filter|Index Recheck): (\d+)", row)
        if scan:
            read.append(int(scan.group(1)))
        elif removed and read:
            read[-1] += int(removed.group(1))
        elif "->" in row and read and "irclogger_line" not in row:
            read.append(0)
    return read or [0]


def test_it_shows_a_line_of_context_each_side(client: Client, public_channel: Channel) -> None:
    other = Channel.objects.create(network=public_channel.network, name="#o", slug="o")
    say(public_channel, "way before", at=NOON - dt.timedelta(minutes=2))
    say(public_channel, "just before", at=NOON - dt.timedelta(minutes=1))
    say(other, "another channel in between", at=NOON - dt.timedelta(seconds=30))
    match = say(public_channel, "the needle", at=NOON)
    say(public_channel, "just after", at=NOON + dt.timedelta(minutes=1), imported=True)
    say(public_channel, "way after", at=NOON + dt.timedelta(minutes=2))
    response = client.get("/libera/python/search/", {"q": "needle"})
    (result,) = response.context["page"].results
    assert [line.text for line in result.before] == ["just before"]
    assert [line.text for line in result.after] == ["just after"]
    body = response.content.decode()
    assert "just before" in body and "just after" in body
    assert "way before" not in body and "way after" not in body
    assert f'href="/libera/python/2024-03-10/?hl={match.id}#L{match.id}">more context' in body


def test_it_shows_times_in_the_readers_or_the_channels_zone(
    client: Client, public_channel: Channel
) -> None:
    public_channel.timezone = "Asia/Tokyo"
    public_channel.save()
    line = say(public_channel, "needle late", at=dt.datetime(2024, 3, 10, 20, 0, tzinfo=dt.UTC))
    body = client.get("/search/", {"q": "needle"}).content.decode()
    # 20:00 UTC is 05:00 the next day in Tokyo: the link names that day.
    assert "2024-03-11 05:00:00" in body
    # The day page is in the channel's zone too: the link needs no ?tz=.
    assert f"/libera/python/2024-03-11/?hl={line.id}#L{line.id}" in body
    body = client.get("/search/", {"q": "needle", "tz": "America/New_York"}).content.decode()
    assert "2024-03-10 16:00:00" in body
    assert f"/libera/python/2024-03-10/?tz=America%2FNew_York&amp;hl={line.id}" in body
    assert client.get("/search/", {"q": "needle", "tz": "Europe"}).status_code == 400


def test_it_keeps_spoilers_hidden_in_snippets(client: Client, public_channel: Channel) -> None:
    say(public_channel, "the killer is \x0301,01the butler\x03 in chapter nine")
    body = client.get("/search/", {"q": "killer butler"}).content.decode()
    assert '<span class="irc-fg1 irc-bg1 irc-spoiler">the butler</span>' in body
    assert "<mark>killer</mark>" in body
    assert "<mark>butler</mark>" not in body


def test_a_lines_own_marker_characters_do_not_become_marks(
    client: Client, public_channel: Channel
) -> None:
    say(public_channel, "needle \ue000<b>forged</b>\ue001 and \ue000fake\ue001 text")
    body = client.get("/search/", {"q": "needle"}).content.decode()
    assert body.count("<mark>") == 1
    assert "<mark>needle</mark>" in body
    assert "&lt;b&gt;forged&lt;/b&gt;" in body


def test_it_matches_prefixes(client: Client, public_channel: Channel) -> None:
    say(public_channel, "we deployed on friday")
    say(public_channel, "deployment failed", at=NOON + dt.timedelta(seconds=1))
    say(public_channel, "nothing here", at=NOON + dt.timedelta(seconds=2))
    response = client.get("/search/", {"q": "deplo*"})
    assert sorted(_lines(response)) == ["deployment failed", "we deployed on friday"]
    assert "<mark>deployed</mark>" in response.content.decode()
    # While typing: the last word is a prefix, the others whole words.
    assert _lines(client.get("/search/", {"q": "failed deplo", "partial": "1"})) == [
        "deployment failed"
    ]
    assert _lines(client.get("/search/", {"q": "deplo"})) == []


def test_it_suggests_a_prefix_for_a_partial_word(client: Client, public_channel: Channel) -> None:
    say(public_channel, "we deployed on friday")
    body = client.get("/search/", {"q": "deplo"}).content.decode()
    assert "Words that start with them" in body
    assert "q=deplo%2A" in body


@pytest.mark.parametrize("variant", ["alice", "ALICE", "alice_", "alice|away"])
def test_the_nick_filter_finds_the_usual_variants(
    client: Client, public_channel: Channel, variant: str
) -> None:
    for n, nick in enumerate(["alice", "Alice_", "alice__", "alice|away", "alice^", "alice[m]"]):
        say(public_channel, f"said by {n}", nick=nick, at=NOON + dt.timedelta(seconds=n))
    for n, nick in enumerate(["alicea", "malice", "bob", "al.ce", "alice2"]):
        say(public_channel, f"not alice {n}", nick=nick, at=NOON + dt.timedelta(minutes=n))
    found = _lines(client.get("/search/", {"nick": variant, "order": "oldest"}))
    assert found == [f"said by {n}" for n in range(6)]


def test_a_nick_is_matched_literally(client: Client, public_channel: Channel) -> None:
    say(public_channel, "dotted", nick="a.b")
    say(public_channel, "any", nick="axb", at=NOON + dt.timedelta(seconds=1))
    say(public_channel, "percent", nick="a%", at=NOON + dt.timedelta(seconds=2))
    assert _lines(client.get("/search/", {"nick": "a.b"})) == ["dotted"]
    assert _lines(client.get("/search/", {"nick": "a%"})) == ["percent"]


def test_it_filters_messages_only(client: Client, public_channel: Channel) -> None:
    say(public_channel, "needle message")
    say(public_channel, "needle action", kind="action", at=NOON + dt.timedelta(seconds=1))
    say(public_channel, "needle reason", kind="quit", at=NOON + dt.timedelta(seconds=2))
    assert len(_lines(client.get("/search/", {"q": "needle"}))) == 3
    found = _lines(client.get("/search/", {"q": "needle", "kinds": "messages"}))
    assert sorted(found) == ["needle action", "needle message"]


@pytest.mark.parametrize(("period", "count"), [("day", 1), ("week", 2), ("month", 3), ("", 4)])
def test_it_filters_the_last_day_week_month(
    client: Client, public_channel: Channel, period: str, count: int
) -> None:
    now = dt.datetime.now(dt.UTC)
    for hours in (1, 24 * 5, 24 * 20, 24 * 60):
        say(public_channel, f"needle {hours}", at=now - dt.timedelta(hours=hours))
    assert len(_lines(client.get("/search/", {"q": "needle", "period": period}))) == count


def test_it_explains_a_query_of_only_common_words(client: Client, public_channel: Channel) -> None:
    say(public_channel, "the and of")
    response = client.get("/search/", {"q": "the of"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Only very common words (“of”, “the”)" in body
    assert "No lines match" not in body
    body = client.get("/search/", {"q": "!!! ..."}).content.decode()
    assert "only punctuation" in body


def test_it_explains_dates_in_the_wrong_order(client: Client, public_channel: Channel) -> None:
    say(public_channel, "needle")
    response = client.get("/search/", {"q": "needle", "since": "2024-03-12", "until": "2024-03-01"})
    assert response.status_code == 400
    assert "From (2024-03-12) is after To (2024-03-01)" in response.content.decode()


def test_the_json_endpoint_pages_with_cursors(client: Client, public_channel: Channel) -> None:
    ids = [
        say(public_channel, f"needle {i}", at=NOON + dt.timedelta(seconds=i)).id for i in range(7)
    ]
    seen: list[int] = []
    url: str | None = "/libera/python/search.json?q=needle&order=oldest"
    with override_settings(SEARCH_PAGE_SIZE=5):
        while url:
            data = json.loads(client.get(url).content)
            seen += [result["id"] for result in data["results"]]
            url = data["next"]
    assert seen == ids
    assert data["count"] == 7
    assert data["results"][0]["channel"] == {
        "network": "libera",
        "slug": "python",
        "name": "#python",
    }
    assert data["results"][0]["before"][0]["text"] == "needle 4"


def test_the_json_endpoint_answers_bad_input_with_400(client: Client, db: None) -> None:
    for params in ({"q": "x", "after": "nope"}, {}, {"q": "x", "since": "2024-02-30"}):
        response = client.get("/search.json", params)
        assert response.status_code == 400
        assert "errors" in json.loads(response.content)


def test_the_json_endpoint_hides_private_channels(
    anonymous_client: Client,
    stranger_client: Client,
    member_client: Client,
    public_channel: Channel,
    private_channel: Channel,
) -> None:
    say(public_channel, "needle public")
    say(private_channel, "needle private")

    def texts(client: Client, url: str) -> list[str]:
        return [r["text"] for r in json.loads(client.get(url).content).get("results", [])]

    for reader in (anonymous_client, stranger_client):
        assert texts(reader, "/search.json?q=needle") == ["needle public"]
        assert reader.get("/libera/secret/search.json?q=needle").status_code == 404
        assert texts(reader, "/search.json?q=needle&channel=libera/secret") == []
    assert sorted(texts(member_client, "/search.json?q=needle")) == [
        "needle private",
        "needle public",
    ]


def test_the_text_scan_is_limited_to_visible_channels_inside_the_index(
    client: Client, public_channel: Channel, private_channel: Channel
) -> None:
    """Lines of channels the reader may not see are never visited: the
    channel ids are a condition of each index scan, not a filter after it."""
    rows = [(private_channel.pk, f"secretword filler {n}") for n in range(20000)]
    rows += [(public_channel.pk, f"public filler {n}") for n in range(20000)]
    rows += [(public_channel.pk, f"secretword in public {n}") for n in range(10)]
    _insert_many(rows, 0, imported=False)
    plans = _explain_searches()
    with connection.execute_wrapper(plans):
        response = client.get("/search/", {"q": "secretword"})
    assert response.context["page"].count == 10
    plan = "\n".join(plans.plans)
    assert plans.plans  # the matches (the page is then read by id)
    assert "Seq Scan on irclogger_line" not in plan
    scans = re.findall(
        r"Scan(?: Backward)? using (\w+) on irclogger_line.*\n\s+Index Cond: (.*)", plan
    )
    scans += re.findall(r"Bitmap Index Scan on (\w+).*\n\s+Index Cond: (.*)", plan)
    assert scans and all("channel_id" in cond for _, cond in scans), plan
    # Each plan reads at most the public lines: none of the private ones.
    for one in plans.plans:
        removed = re.findall(r"Rows Removed by (?:Filter|Index Recheck): (\d+)", one)
        assert sum(map(int, removed)) <= 20010, one


class _explain_searches:
    """Runs EXPLAIN ANALYZE for each search query the page sends (the text match)."""

    def __init__(self) -> None:
        self.plans: list[str] = []

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if "@@" in sql and not sql.startswith("EXPLAIN") and "ts_headline" not in sql:
            cursor = context["cursor"]
            cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql, params)
            self.plans.append("\n".join(row[0] for row in cursor.fetchall()))
        return execute(sql, params, many, context)


@pytest.mark.parametrize(
    "params",
    [
        {"q": "((("},
        {"q": '"unterminated'},
        {"q": "-"},
        {"q": "x*", "partial": "1"},
        {"q": "x:* & y", "partial": "1"},
        {"q": "!@#$%^&*()"},
        {"q": "OR AND NOT <->"},
        {"q": "'; DROP TABLE irclogger_line;--"},
        {"q": "'quoted':*"},
    ],
)
def test_it_answers_any_garbage(
    client: Client, public_channel: Channel, params: dict[str, str]
) -> None:
    say(public_channel, "some text")
    assert client.get("/search/", params).status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        {"q": "x", "since": "garbage"},
        {"q": "\x00"},
        {"q": "a" * 5000},
        {"q": "x", "before": "-5"},
        {"q": "x", "after": "9" * 40},
        {"q": "x", "after": "1_" + "9" * 20},
        {"q": "x", "after": "1_2", "before": "1_2"},
        {"q": "x", "after": "¹_²"},
        {"q": "x", "kinds": "nope"},
        {"q": "x", "period": "year"},
        {"q": "x", "tz": "Etc"},
    ],
)
def test_it_refuses_bad_parameters_with_the_reason(
    client: Client, public_channel: Channel, params: dict[str, str]
) -> None:
    response = client.get("/search/", params)
    assert response.status_code == 400
    assert response.content


def test_it_shows_the_form_without_a_query(client: Client, db: None) -> None:
    response = client.get("/search/")
    assert response.status_code == 200
    assert response.context["page"] is None
