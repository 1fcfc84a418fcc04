"""The search page in a real browser, served by real gunicorn: no result's
time stamp is cut off at any width from a phone to a wide screen; matches
show while the last word is still being typed."""

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from irclogger.models import Channel
from tests.browser import chromium
from tests.conftest import NOON, say
from tests.servers import Gunicorn, gunicorn

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(tmp_path: Path, public_channel: Channel) -> Iterator[Gunicorn]:
    for n in range(6):
        at = NOON + dt.timedelta(minutes=n)
        say(public_channel, f"context {n} " + "long words " * n * 8, at=at)
        say(public_channel, f"the needle {n} " + "x" * 30 * n, at=at, imported=n % 2 == 0)
    say(public_channel, "we deployed <b>it</b>", nick="alice", at=NOON + dt.timedelta(hours=1))
    with gunicorn(tmp_path) as server:
        yield server


@pytest.mark.parametrize("width", [320, 1280, 1920])
@pytest.mark.parametrize("path", ["/search/?q=needle", "/libera/python/search/?q=needle"])
def test_no_result_time_starts_left_of_the_viewport(
    server: Gunicorn, width: int, path: str
) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(server.url + path)
        lefts = page.eval_on_selector_all(
            ".results .line .ts", "stamps => stamps.map(s => s.getBoundingClientRect().left)"
        )
        assert len(lefts) >= 6 * 2  # the matches and their context lines
        assert min(lefts) >= 0, lefts
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0


def test_it_previews_matches_while_the_last_word_is_typed(server: Gunicorn) -> None:
    with chromium() as browser:
        page = browser.new_page()
        page.goto(server.url + "/libera/python/search/")
        # A whole-word search for "deplo" would find nothing.
        page.fill("form.search-form input[name=q]", "deplo")
        item = page.locator("#search-preview .preview-results li").first
        item.wait_for(timeout=15_000)
        assert "we deployed <b>it</b>" in item.inner_text()
        assert page.locator("#search-preview b").count() == 0  # text, not markup
        assert "1 match so far" in page.locator("#search-preview").inner_text()
