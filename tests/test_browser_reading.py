"""Reading in headless Chromium: the page's zone, links that last, selection,
the keyboard, the calendar and the range view."""

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection
from playwright.sync_api import Page

from irclogger.models import Channel, Line
from tests.browser import chromium
from tests.conftest import NOON, say
from tests.servers import Gunicorn, gunicorn

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DAY = "/libera/python/2024-03-10/"
TOKYO_NOON = dt.datetime(2024, 3, 10, 12, 34, 56, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _writes_beside_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    # Playwright's sync API runs an event loop in this thread; these ORM
    # writes happen before pages load and do not touch it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _lines(channel: Channel, count: int, at: dt.datetime = NOON) -> list[Line]:
    lines = [say(channel, f"line {n}", at=at + dt.timedelta(seconds=n)) for n in range(count)]
    connection.close()  # see test_browser_live: it would outlive the test database
    return lines


@pytest.fixture
def server(tmp_path: Path, public_channel: Channel) -> Iterator[Gunicorn]:
    with gunicorn(tmp_path) as server:
        yield server


def _selected(page: Page) -> list[int]:
    return list(
        page.eval_on_selector_all("#log li.line.selected", "els => els.map(e => +e.dataset.id)")
    )


# ---- time zones -------------------------------------------------------------


def test_a_channel_in_tokyo_shows_tokyo_time_and_says_so(
    tmp_path: Path, public_channel: Channel
) -> None:
    public_channel.timezone = "Asia/Tokyo"
    public_channel.save()
    [line] = [say(public_channel, "konnichiwa", at=TOKYO_NOON)]
    connection.close()
    with gunicorn(tmp_path) as server, chromium() as browser:
        page = browser.new_page()
        page.goto(server.url + DAY)
        assert page.locator(f"#L{line.id} .ts").inner_text() == "21:34:56"
        assert page.locator("#zone-name").inner_text() == "Asia/Tokyo"
        assert "UTC+09:00" in page.locator(".zone-line").inner_text()


def test_a_chosen_zone_overrides_the_channels_and_persists(
    tmp_path: Path, public_channel: Channel
) -> None:
    public_channel.timezone = "Asia/Tokyo"
    public_channel.save()
    line = say(public_channel, "bonjour", at=TOKYO_NOON)
    connection.close()
    with gunicorn(tmp_path) as server, chromium() as browser:
        context = browser.new_context(timezone_id="Europe/Paris")
        page = context.new_page()
        page.goto(server.url + DAY)
        page.click("text=change zone")
        # zone.js is deferred: read the list once it has run.
        page.wait_for_selector("#zone-own", state="attached")
        # The browser's own zone is offered first, and chosen by default.
        assert page.locator("#zone-select option").nth(1).get_attribute("value") == "Europe/Paris"
        assert page.locator("#zone-select").input_value() == "Europe/Paris"
        page.click("text=Use this zone")
        assert page.url == server.url + DAY
        assert page.locator(f"#L{line.id} .ts").inner_text() == "13:34:56"
        assert page.locator("#zone-name").inner_text() == "Europe/Paris"
        # A later visit, in a new tab: still the reader's zone.
        later = context.new_page()
        later.goto(server.url + DAY)
        assert later.locator(f"#L{line.id} .ts").inner_text() == "13:34:56"
        # A link's ?tz= still wins.
        later.goto(server.url + DAY + "?tz=UTC")
        assert later.locator(f"#L{line.id} .ts").inner_text() == "12:34:56"


# ---- links that last --------------------------------------------------------


def test_a_line_link_copied_from_today_opens_the_line_after_the_day_changed(
    tmp_path: Path, public_channel: Channel
) -> None:
    [line] = _lines(public_channel, 1)
    with chromium() as browser:
        context = browser.new_context()
        context.grant_permissions(["clipboard-read", "clipboard-write"])
        page = context.new_page()
        # The day the line was said, still "today" on this server's clock.
        with gunicorn(tmp_path, FIXED_NOW="2024-03-10T18:00:00+00:00") as yesterday:
            page.goto(yesterday.url + "/libera/python/")
            assert page.locator(f"#L{line.id}").count() == 1
            href = page.locator(f"#L{line.id} a.ts").get_attribute("href")
            page.click(f"#L{line.id} a.ts")
            page.click("#copy-link")
            page.wait_for_selector("#copy-status:has-text('Link copied.')")
            copied = str(page.evaluate("navigator.clipboard.readText()"))
            port = yesterday.port
        assert href == f"{DAY}#L{line.id}"
        assert copied == f"{yesterday.url}{DAY}#L{line.id}"
        # The next day (the real clock, long after): the copied link still works.
        with gunicorn(tmp_path, port=port) as today:
            page.goto(copied)
            assert _selected(page) == [line.id]
            assert page.locator(f"#L{line.id}").is_visible()
            # Even the undated "today" link finds its day, through the permalink.
            page.goto(f"{today.url}/libera/python/#L{line.id}")
            page.wait_for_url(f"**{DAY}**")
            assert _selected(page) == [line.id]


def test_click_selects_a_line_and_shift_click_a_range(
    server: Gunicorn, public_channel: Channel
) -> None:
    lines = _lines(public_channel, 5)
    ids = [line.id for line in lines]
    with chromium() as browser:
        context = browser.new_context()
        context.grant_permissions(["clipboard-read", "clipboard-write"])
        page = context.new_page()
        page.goto(f"{server.url}{DAY}?hl={ids[0]}")
        page.click(f"#L{ids[1]} a.ts")
        assert _selected(page) == [ids[1]]
        assert page.url == f"{server.url}{DAY}#L{ids[1]}"  # no stale ?hl
        page.click(f"#L{ids[3]} a.ts", modifiers=["Shift"])
        assert _selected(page) == ids[1:4]
        assert page.url.endswith(f"{DAY}#L{ids[1]}-L{ids[3]}")
        page.click("#copy-link")
        page.wait_for_selector("#copy-status:has-text('Link copied.')")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == f"{server.url}{DAY}#L{ids[1]}-L{ids[3]}"
        # The copied range opens as a range.
        fresh = context.new_page()
        fresh.goto(copied)
        assert _selected(fresh) == ids[1:4]
        fresh.keyboard.press("Escape")
        assert _selected(fresh) == []
        assert fresh.url == f"{server.url}{DAY}"


def test_a_linked_line_has_context_above_it(server: Gunicorn, public_channel: Channel) -> None:
    lines = _lines(public_channel, 200)
    target = lines[150]
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        page.goto(f"{server.url}{DAY}#L{target.id}")
        top = page.evaluate(f"document.getElementById('L{target.id}').getBoundingClientRect().top")
        assert 100 < top < 400
        assert page.evaluate("window.scrollY") > 0


# ---- keyboard ---------------------------------------------------------------


def test_the_keyboard_moves_between_days_and_to_search(
    server: Gunicorn, public_channel: Channel
) -> None:
    say(public_channel, "the day before", at=NOON - dt.timedelta(days=3))
    _lines(public_channel, 1)
    say(public_channel, "the day after", at=NOON + dt.timedelta(days=2))
    connection.close()
    with chromium() as browser:
        page = browser.new_page()
        page.goto(server.url + DAY)
        page.keyboard.press("ArrowLeft")
        page.wait_for_url("**/libera/python/2024-03-07/")
        page.keyboard.press("ArrowRight")
        page.wait_for_url("**/libera/python/2024-03-10/")
        page.keyboard.press("ArrowRight")
        page.wait_for_url("**/libera/python/2024-03-12/")
        page.keyboard.press("/")
        assert page.evaluate("document.activeElement.id") == "quick-search"
        page.keyboard.press("Escape")
        page.locator("body").click(position={"x": 5, "y": 300})
        page.keyboard.press("?")
        assert page.locator("#shortcuts").is_visible()
        page.keyboard.press("Escape")
        assert not page.locator("#shortcuts").is_visible()


def test_the_skip_link_comes_first_and_leads_to_the_log(
    server: Gunicorn, public_channel: Channel
) -> None:
    _lines(public_channel, 3)
    with chromium() as browser:
        page = browser.new_page()
        page.goto(server.url + DAY)
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip"
        assert page.locator(".skip").is_visible()
        page.keyboard.press("Enter")
        # The jump to the fragment lands after the key press returns: read
        # at once, the address was sometimes still the page's (a CI run).
        page.wait_for_url(f"**{DAY}#log", timeout=5_000)
        assert page.url.endswith("#log")


# ---- calendar and range -----------------------------------------------------


def test_the_calendar_moves_through_active_months_and_shows_the_year(
    server: Gunicorn, public_channel: Channel
) -> None:
    say(public_channel, "december", at=dt.datetime(2023, 12, 24, 9, tzinfo=dt.UTC))
    for n in range(3):
        say(public_channel, f"busy {n}", at=NOON + dt.timedelta(minutes=n))
    say(public_channel, "june", at=dt.datetime(2024, 6, 2, 9, tzinfo=dt.UTC))
    connection.close()
    with chromium() as browser:
        page = browser.new_page()
        page.goto(server.url + DAY)
        assert page.locator(".calendar caption").inner_text() == "March 2024"
        page.click(".month-prev")  # January and February were quiet
        assert page.locator(".calendar caption").inner_text() == "December 2023"
        page.click(".month-next")
        page.click(".month-next")
        assert page.locator(".calendar caption").inner_text() == "June 2024"
        page.click("text=2024 at a glance")
        assert page.locator(".heat caption").count() == 12
        busiest = page.locator("td.heat-4 a")
        assert busiest.inner_text() == "10"
        assert busiest.get_attribute("aria-label") == "10 March: 3 lines"
        assert page.locator("td.heat-2 a, td.heat-1 a").count() == 1  # 2 June
        busiest.click()
        assert page.url.endswith(DAY)
        page.fill("#jump-day", "2023-12-24")
        page.click(".jump button")
        assert page.url.endswith("/libera/python/2023-12-24/")


def test_the_range_view_pages_both_ways_with_day_separators(
    tmp_path: Path, public_channel: Channel
) -> None:
    for n in range(30):
        say(public_channel, f"hour {n}", at=NOON + dt.timedelta(hours=n))
    connection.close()
    with gunicorn(tmp_path, RANGE_PAGE_SIZE="10") as server, chromium() as browser:
        page = browser.new_page()
        page.goto(server.url + DAY)
        page.click("text=Week to this day")
        assert page.url.endswith("/libera/python/2024-03-04..2024-03-10/")
        page.goto(server.url + DAY)
        page.click("text=March 2024 on one page")
        assert page.url.endswith("/libera/python/2024-03-01..2024-03-31/")
        assert page.locator("#log li.line").count() == 10
        assert page.locator("a[rel=prev]", has_text="Earlier").count() == 0
        page.click("a[rel=next]")  # 22:00 on the 10th to 07:00 on the 11th
        seps = page.locator("#log .day-sep h2").all_inner_texts()
        assert seps == ["Sunday, 2024-03-10", "Monday, 2024-03-11"]
        page.click("a[rel=next]")
        assert page.locator("a[rel=next]").count() == 0
        page.click("a[rel=prev]")
        assert page.locator("#log li.line .msg").first.inner_text() == "hour 10"
        page.click("a[rel=prev]")
        assert page.locator("#log li.line .msg").first.inner_text() == "hour 0"
        assert page.locator("a[rel=prev]", has_text="Earlier").count() == 0


def test_on_a_phone_the_calendar_is_at_the_top_and_early_in_tab_order(
    server: Gunicorn, public_channel: Channel
) -> None:
    _lines(public_channel, 300)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 360, "height": 740})
        page.goto(server.url + DAY)
        calendar_top = page.evaluate("document.getElementById('calendar').offsetTop")
        log_top = page.evaluate("document.getElementById('log').offsetTop")
        assert calendar_top < log_top < 740 * 2
        # Tab stops before the calendar's first day: the header and the day's tools only.
        focusable = "a[href], button, input, select, summary, textarea"
        stops = page.evaluate(
            f"""() => [...document.querySelectorAll('{focusable}')]
                .indexOf(document.querySelector('#calendar td a'))"""
        )
        assert 0 < stops < 40
