"""Today's page in headless Chromium matches a reload as lines arrive: runs of
joins fold, the header's count and topic change, midnight starts a new day,
and the state says when the stream is away and when it retries."""

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connection
from playwright.sync_api import Page

from irclogger.models import Channel, Line
from irclogger.publish import write_lines
from tests.browser import chromium, wait_until
from tests.conftest import say
from tests.servers import Gunicorn, gunicorn

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TODAY = "/libera/python/"
WAIT_MS = 15_000


@pytest.fixture(autouse=True)
def _writes_beside_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def server(tmp_path: Path, public_channel: Channel) -> Iterator[Gunicorn]:
    with gunicorn(tmp_path) as server:
        yield server


def _live(channel: Channel, *lines: tuple[str, str, str]) -> list[Line]:
    """Commit (kind, nick, text) lines now, as the bot does."""
    now = dt.datetime.now(dt.UTC)
    created = write_lines(
        [
            Line(channel=channel, timestamp=now, kind=kind, nick=nick, text=text)
            for kind, nick, text in lines
        ]
    )
    connection.close()
    return created


def _open_live(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#live-state[data-state=live]", timeout=WAIT_MS)


def _log_view(page: Page) -> list[str]:
    """The log's items as a reader sees them: kind, id, text (spaces collapsed)."""
    items = page.eval_on_selector_all(
        "#log > li",
        "els => els.map(e => [e.className, e.id, e.textContent].join(' | '))",
    )
    return [" ".join(str(item).split()) for item in items]


def test_joins_fold_live_as_on_a_reload(server: Gunicorn, public_channel: Channel) -> None:
    _live(public_channel, ("message", "alice", "hello"))
    with chromium() as browser:
        page = browser.new_page()
        _open_live(page, server.url + TODAY)
        [join] = _live(public_channel, ("join", "carol", "carol@host"))
        page.wait_for_selector(f"#log #L{join.id}", state="attached", timeout=WAIT_MS)
        lines = _live(public_channel, ("join", "dave", "dave@host"), ("quit", "erin", "bye"))
        page.wait_for_selector(f"#log #L{lines[-1].id}", state="attached", timeout=WAIT_MS)
        assert page.locator("#log .presence-run summary").all_inner_texts() == ["2 joined, 1 quit"]
        [message] = _live(public_channel, ("message", "bob", "after"))
        [join] = _live(public_channel, ("join", "frank", "frank@host"))
        page.wait_for_selector(f"#log #L{join.id}", state="attached", timeout=WAIT_MS)
        live_view = _log_view(page)
        page.reload()
        assert _log_view(page) == live_view
        assert page.locator(f"#log > #L{message.id} + #L{join.id}").count() == 1


def test_the_header_count_and_topic_follow_the_lines(
    server: Gunicorn, public_channel: Channel
) -> None:
    _live(public_channel, ("message", "alice", "one"), ("message", "alice", "two"))
    with chromium() as browser:
        page = browser.new_page()
        _open_live(page, server.url + TODAY)
        assert page.locator("#line-count").inner_text() == "2 lines"
        [topic] = _live(public_channel, ("topic", "alice", "\x02Fresh\x02 topic"))
        page.wait_for_selector(f"#log #L{topic.id}", timeout=WAIT_MS)
        assert page.locator("#line-count").inner_text() == "3 lines"
        assert page.locator("#topic").inner_text() == "Fresh topic"
        assert page.locator("#topic .irc-bold").count() == 1


def test_arriving_lines_are_announced_politely(server: Gunicorn, public_channel: Channel) -> None:
    with chromium() as browser:
        page = browser.new_page()
        _open_live(page, server.url + TODAY)
        assert page.locator("#announcer").get_attribute("aria-live") == "polite"
        _live(public_channel, ("message", "alice", "hello screen readers"))
        wait_until(
            page,
            "document.getElementById('announcer').textContent.includes('hello screen readers')",
            timeout=WAIT_MS,
        )
        assert page.locator("#announcer").inner_text().startswith("New line: ")
        # A burst is one announcement, not five.
        _live(public_channel, *[("message", "bob", f"burst {n}") for n in range(5)])
        wait_until(
            page,
            "document.getElementById('announcer').textContent === '5 new lines'",
            timeout=WAIT_MS,
        )


def test_midnight_starts_a_new_day_on_the_open_page(
    tmp_path: Path, public_channel: Channel
) -> None:
    say(public_channel, "late on the 10th", at=dt.datetime(2024, 3, 10, 23, 59, tzinfo=dt.UTC))
    connection.close()
    # A clock stopped a minute before midnight: the page is the 10th's; a
    # line said now (the real clock) belongs to a later day.
    fixed = "2024-03-10T23:59:30+00:00"
    with gunicorn(tmp_path, FIXED_NOW=fixed) as server, chromium() as browser:
        page = browser.new_page()
        _open_live(page, server.url + TODAY)
        assert page.locator("#no-next").count() == 1
        [line] = _live(public_channel, ("message", "bob", "after midnight"))
        page.wait_for_selector(f"#log #L{line.id}", timeout=WAIT_MS)
        today = dt.datetime.now(dt.UTC).date().isoformat()
        separator = page.locator("#log .day-sep")
        assert separator.get_attribute("data-day") == today
        assert page.locator(f"#log .day-sep + #L{line.id}").count() == 1
        assert page.locator(f".daynav a[rel=next][href='{TODAY}{today}/']").count() == 1
        heading = page.locator("#day-heading").inner_text()
        assert heading.startswith("Sunday, 2024-03-10 and ") and today in heading
        assert f"2024-03-10 and {today}" in page.title()
        href = page.locator(f"#L{line.id} a.ts").get_attribute("href")
        assert href == f"{TODAY}{today}/#L{line.id}"


@pytest.mark.parametrize("polyfill", [False, True])
def test_the_state_says_offline_with_the_next_retry_and_catches_up(
    tmp_path: Path, public_channel: Channel, polyfill: bool
) -> None:
    with chromium() as browser:
        page = browser.new_page()
        if polyfill:
            page.add_init_script("delete window.EventSource")
        with gunicorn(tmp_path) as first:
            _open_live(page, first.url + TODAY)
            port = first.port
        page.wait_for_selector("#live-state[data-state=offline]", timeout=WAIT_MS)
        assert "retry in" in page.locator("#live-state").inner_text()
        # While the server is away, each retry is at most 1.75 s off: the
        # page is back within that (and one request) of the server, native
        # or polyfilled alike (the polyfill's own retry doubles each time).
        for _ in range(3):
            retry_at = int(page.locator("#live-state").get_attribute("data-retry-at") or 0)
            assert retry_at - page.evaluate("Date.now()") <= 1_750
            wait_until(
                page,
                f"document.getElementById('live-state').dataset.retryAt != '{retry_at}'",
                timeout=WAIT_MS,
            )
        missed = _live(public_channel, ("message", "bob", "while down"))
        with gunicorn(tmp_path, port=port):
            started = time.monotonic()
            page.wait_for_selector(f"#log #L{missed[0].id}", timeout=WAIT_MS)
            caught_up = time.monotonic() - started
            assert page.locator("#live-state").inner_text() == "live"
        print(f"caught up {caught_up:.2f} s after the restart (polyfill={polyfill})")


def test_a_redaction_replaces_the_line_on_an_open_page(
    server: Gunicorn, public_channel: Channel
) -> None:
    User.objects.create_superuser("root", password="pw-root-1")
    connection.close()
    with chromium() as browser:
        page = browser.new_page()
        _open_live(page, server.url + TODAY)
        [line] = _live(public_channel, ("message", "mallory", "my password is hunter2"))
        page.wait_for_selector(f"#log #L{line.id}", timeout=WAIT_MS)
        clock = page.locator(f"#L{line.id} a.ts").inner_text()
        page.click(f"#L{line.id} a.ts")  # selected, which the new markup keeps
        # A moderator redacts it in the admin, in another tab.
        admin = browser.new_page()
        admin.goto(server.url + "/admin/irclogger/line/")
        admin.fill("#id_username", "root")
        admin.fill("#id_password", "pw-root-1")
        admin.click("input[type=submit]")
        admin.check(f"input[name=_selected_action][value='{line.id}']")
        admin.select_option("select[name=action]", "redact")
        admin.click("button[name=index]")
        admin.wait_for_selector("text=Redacted 1 line(s).")
        page.wait_for_selector(f"#L{line.id} .msg:has-text('[redacted]')", timeout=WAIT_MS)
        assert "hunter2" not in page.locator("#log").inner_text()
        assert page.locator(f"#L{line.id} a.ts").inner_text() == clock
        assert page.locator(f"#L{line.id}.selected").count() == 1
