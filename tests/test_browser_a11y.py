"""Accessibility in headless Chromium: axe-core (vendored under tests/vendor/)
finds no serious or critical violation on the index, today, a day, a range,
search and login pages, in the light and the dark scheme; no page load asks
for anything the server does not have (the favicon among them)."""

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
from django.contrib.auth.models import User
from django.db import connection
from playwright.sync_api import Page

from irclogger.models import Channel
from tests.browser import chromium
from tests.conftest import NOON, say
from tests.servers import Gunicorn, gunicorn

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parent / "vendor/axe-core-4.14.1/axe.min.js"
PAGES = {
    "index": "/",
    "today": "/libera/python/",
    "day": "/libera/python/2024-03-10/",
    "range": "/libera/python/2024-03-09..2024-03-10/",
    "search": "/libera/python/search/?q=colours",
    "login": "/accounts/login/",
    # Beyond the six: the year's heat map and the zone chooser.
    "year": "/libera/python/2024/",
    "zone": "/zone/?next=/",
}


@pytest.fixture(autouse=True)
def _writes_beside_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _a_busy_day(channel: Channel) -> None:
    """Every kind of line, every mIRC colour as text on the page, links, runs."""
    channel.topic = "\x02Welcome\x02 to \x0304#python\x03 https://docs.python.org/"
    channel.save()
    colours = " ".join(f"\x03{n:02d}c{n}\x03" for n in range(99))
    at = NOON
    for kind, nick, text in [
        ("join", "carol", "carol@example.org"),
        ("join", "dave", "dave@example.org"),
        ("quit", "erin", "bye"),
        ("message", "alice", f"all the colours: {colours}"),
        ("message", "bob", "see https://example.org/x and \x1dthis\x1d"),
        ("action", "alice", "waves"),
        ("notice", "ChanServ", "hello"),
        ("topic", "alice", "new topic"),
        ("nick", "bob", ""),
        ("kick", "alice", "spam"),
        ("mode", "ChanServ", "+o alice"),
    ]:
        at += dt.timedelta(minutes=1)
        say(channel, text, nick=nick, kind=kind, at=at, target="bobby")
    say(channel, "the day before", at=NOON - dt.timedelta(days=1))
    say(channel, "said just now", at=dt.datetime.now(dt.UTC))


@pytest.fixture
def server(tmp_path: Path, public_channel: Channel) -> Iterator[Gunicorn]:
    _a_busy_day(public_channel)
    User.objects.create_user("staff", password="pw-staff-1", is_staff=True)
    connection.close()
    with gunicorn(tmp_path) as server:
        yield server


def _serious(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("axe.run(document)")
    assert len(results["passes"]) > 10  # it did look
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + json.dumps([node["target"] for node in v["nodes"][:3]])
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_serious_on_any_page(
    server: Gunicorn, scheme: Literal["light", "dark"]
) -> None:
    found = {}
    missing: list[str] = []
    with chromium() as browser:
        # The vendored script is added to the page; a strict CSP would refuse it.
        context = browser.new_context(color_scheme=scheme, bypass_csp=True)
        page = context.new_page()
        page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
        for name, path in PAGES.items():
            page.goto(server.url + path)
            if name == "day":
                page.click("#log li.line a.ts >> nth=3")  # a selected line, too
            found[name] = _serious(page)
    assert found == {name: [] for name in PAGES}
    assert missing == []
    assert '"status": 404' not in server.log()


def test_the_reader_dark_setting_passes_too(server: Gunicorn) -> None:
    with chromium() as browser:
        page = browser.new_context(color_scheme="light", bypass_csp=True).new_page()
        page.goto(server.url + PAGES["day"])
        page.evaluate("window.ircloggerSettings.save('theme', 'dark')")
        page.reload()
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(21, 23, 26)"
        assert _serious(page) == []


def test_staff_see_a_link_to_the_admin_and_no_favicon_is_missing(server: Gunicorn) -> None:
    with chromium() as browser:
        page = browser.new_page()
        page.goto(server.url + "/accounts/login/")
        page.fill("#id_username", "staff")
        page.fill("#id_password", "pw-staff-1")
        page.click("form.login button")
        page.click("header >> text=Admin")
        assert page.url.endswith("/admin/")
        assert page.request.get(server.url + "/favicon.ico").ok
    assert '"status": 404' not in server.log()
