"""Today's page in headless Chromium: new lines appear without a reload, with the
native EventSource, with the polyfill, and after the service restarts."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection
from playwright.sync_api import Page, Route

from irclogger.models import Channel, Line
from tests.browser import chromium, wait_until
from tests.conftest import publish
from tests.servers import Gunicorn, gunicorn

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TODAY = "/libera/python/"
# Generous: the latency itself is measured by the benchmark.
WAIT_MS = 15_000


@pytest.fixture(autouse=True)
def _writes_beside_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    # Playwright's sync API runs an event loop in this thread, and Django
    # refuses ORM calls where a loop runs; these writes do not touch it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def server(tmp_path: Path, public_channel: Channel) -> Iterator[Gunicorn]:
    with gunicorn(tmp_path) as server:
        yield server


def _write(channel: Channel, count: int, text: str = "line") -> list[Line]:
    lines = publish(channel, count, text)
    # Beside Playwright's loop Django keeps a separate connection for this
    # context: give it back, or it outlives the test database.
    connection.close()
    return lines


def _open_live(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#live-state[data-state=live]", timeout=WAIT_MS)


def test_it_shows_a_new_line_without_a_reload(server: Gunicorn, public_channel: Channel) -> None:
    with chromium() as browser:
        page = browser.new_page()
        _open_live(page, server.url + TODAY)
        assert page.locator("#log li.empty").count() == 1
        [line] = _write(public_channel, 1, "<b>fresh</b>")
        page.wait_for_selector(f"#log #L{line.id}", timeout=WAIT_MS)
        assert page.locator(f"#L{line.id} .msg").inner_text() == "<b>fresh</b> 0"
        assert page.locator("#log li.empty").count() == 0
        assert page.evaluate("window.EventSourcePolyfill === undefined")


def test_it_uses_the_polyfill_where_eventsource_is_missing(
    server: Gunicorn, public_channel: Channel
) -> None:
    with chromium() as browser:
        page = browser.new_page()
        page.add_init_script("delete window.EventSource")
        _open_live(page, server.url + TODAY)
        assert page.evaluate("typeof window.EventSourcePolyfill") == "function"
        lines = _write(public_channel, 2, "polyfilled")
        for line in lines:
            page.wait_for_selector(f"#log #L{line.id}", timeout=WAIT_MS)
        assert page.locator("#log li.line").count() == 2


def test_it_catches_up_after_the_service_restarts(tmp_path: Path, public_channel: Channel) -> None:
    [before] = _write(public_channel, 1, "before")
    with chromium() as browser:
        page = browser.new_page()
        with gunicorn(tmp_path) as first:
            _open_live(page, first.url + TODAY)
            port = first.port
        missed = _write(public_channel, 3, "while down")
        with gunicorn(tmp_path, port=port):
            for line in missed:
                page.wait_for_selector(f"#log #L{line.id}", timeout=30_000)
        ids = page.eval_on_selector_all("#log li.line", "els => els.map(e => +e.dataset.id)")
        assert ids == [before.id] + [line.id for line in missed]


def test_it_keeps_the_readers_place_unless_at_the_bottom(
    server: Gunicorn, public_channel: Channel
) -> None:
    _write(public_channel, 200, "filler")
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 800, "height": 400})
        _open_live(page, server.url + TODAY)
        page.evaluate("window.scrollTo(0, 0)")
        [line] = _write(public_channel, 1, "reading above")
        page.wait_for_selector(f"#log #L{line.id}", timeout=WAIT_MS)
        assert page.evaluate("window.scrollY") == 0

        page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
        [line] = _write(public_channel, 1, "at the bottom")
        page.wait_for_selector(f"#log #L{line.id}", timeout=WAIT_MS)
        wait_until(
            page,
            "innerHeight + scrollY >= document.documentElement.scrollHeight - 2",
            timeout=WAIT_MS,
        )


def test_it_reconnects_after_an_error_status_closed_the_stream(
    server: Gunicorn, public_channel: Channel
) -> None:
    # A 503 (nginx during a deploy) closes a native EventSource for good.
    refused: list[str] = []

    def deploying(route: Route) -> None:
        if not refused:
            refused.append(route.request.url)
            route.fulfill(status=503, body="deploying")
        else:
            route.continue_()

    with chromium() as browser:
        page = browser.new_page()
        page.route("**/stream/**", deploying)
        _open_live(page, server.url + TODAY)
        assert refused
        [line] = _write(public_channel, 1, "after the deploy")
        page.wait_for_selector(f"#log #L{line.id}", timeout=WAIT_MS)


def test_it_reloads_a_page_too_far_behind_to_replay(
    server: Gunicorn, public_channel: Channel
) -> None:
    _write(public_channel, 1001, "a busy minute")
    rewritten: list[str] = []

    def from_the_start(route: Route) -> None:
        # As if the page had been rendered 1,001 lines ago.
        if not rewritten:
            rewritten.append(route.request.url.replace("last_event_id=", "last_event_id=0&x="))
            route.continue_(url=rewritten[0])
        else:
            route.continue_()

    with chromium() as browser:
        page = browser.new_page()
        page.route("**/stream/**", from_the_start)
        page.goto(server.url + TODAY)
        wait_until(page, "performance.getEntriesByType('navigation')[0].type === 'reload'")
        page.wait_for_selector("#live-state[data-state=live]", timeout=WAIT_MS)
        assert rewritten
        assert page.locator("#log li.line").count() == 1001
