"""The statistics page and the live widget in a real browser: nothing wider than
a phone's screen but the charts' own scroll boxes, no inline style needed."""

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from irclogger.models import Channel
from tests.browser import chromium
from tests.conftest import say
from tests.servers import Gunicorn, gunicorn

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(tmp_path: Path, public_channel: Channel) -> Iterator[Gunicorn]:
    now = dt.datetime.now(dt.UTC)
    for n in range(40):
        say(public_channel, f"line {n}", nick=f"nick{n % 7}", at=now - dt.timedelta(hours=n * 17))
    with gunicorn(tmp_path) as server:
        yield server


@pytest.mark.parametrize("width", [320, 1280])
@pytest.mark.parametrize("path", ["/libera/python/stats/", "/libera/python/embed/"])
def test_it_fits_the_screen(server: Gunicorn, width: int, path: str) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": width, "height": 800})
        page.goto(server.url + path)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        if path.endswith("stats/"):
            assert page.locator("svg.day-chart rect.bar").count() == 365
            fill = page.eval_on_selector("svg.day-chart rect.bar", "r => getComputedStyle(r).fill")
            assert fill not in ("", "none", "rgb(0, 0, 0)")  # the stylesheet colours the bars
