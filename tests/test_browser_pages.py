"""The pages in a real browser, served by real gunicorn: no JavaScript needed,
dark and light themes, a narrow screen."""

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
    say(public_channel, "\x0304red\x03 and \x02bold\x02 https://example.org/x", nick="alice")
    say(public_channel, "earlier", at=NOON - dt.timedelta(days=2))
    with gunicorn(tmp_path) as server:
        yield server


def _background(page) -> str:
    return str(page.evaluate("getComputedStyle(document.body).backgroundColor"))


def test_it_reads_a_day_without_javascript(server: Gunicorn) -> None:
    with chromium() as browser:
        page = browser.new_page(java_script_enabled=False)
        page.goto(f"{server.url}/libera/python/2024-03-10/")
        assert page.locator("#log li.line").count() == 1
        page.click("a[rel=prev]")
        assert page.url.endswith("/libera/python/2024-03-08/")
        assert "earlier" in page.locator("#log").inner_text()


def test_it_follows_the_dark_preference(server: Gunicorn) -> None:
    with chromium() as browser:
        light = browser.new_page(color_scheme="light")
        light.goto(f"{server.url}/libera/python/2024-03-10/")
        dark = browser.new_page(color_scheme="dark")
        dark.goto(f"{server.url}/libera/python/2024-03-10/")
        assert _background(light) == "rgb(255, 255, 255)"
        assert _background(dark) != _background(light)


def test_it_fits_a_phone_screen(server: Gunicorn) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 360, "height": 740})
        page.goto(f"{server.url}/libera/python/2024-03-10/")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
