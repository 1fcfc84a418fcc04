"""The reader's settings in headless Chromium, kept in the browser: hide joins
and parts, hide the channel's bots (named in the admin), nick colours off,
compact lines, light or dark besides the system's."""

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connection
from playwright.sync_api import Page

from irclogger.models import Channel
from tests.browser import chromium
from tests.conftest import NOON, say
from tests.servers import Gunicorn, gunicorn

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DAY = "/libera/python/2024-03-10/"


@pytest.fixture(autouse=True)
def _writes_beside_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def server(tmp_path: Path, public_channel: Channel) -> Iterator[Gunicorn]:
    public_channel.bot_nicks = "Limnoria\nGitHubBot\n"
    public_channel.save()
    for n, (kind, nick, text) in enumerate(
        [
            ("join", "carol", "carol@host"),
            ("message", "alice", "hello"),
            ("message", "limnoria", "I am a bot"),
            ("quit", "dave", "bye"),
        ]
    ):
        say(public_channel, text, kind=kind, nick=nick, at=NOON + dt.timedelta(minutes=n))
    connection.close()
    with gunicorn(tmp_path) as server:
        yield server


def _shown(page: Page, selector: str) -> bool:
    return bool(page.locator(selector).first.is_visible())


def test_settings_hide_and_restyle_and_last_across_visits(server: Gunicorn) -> None:
    with chromium() as browser:
        context = browser.new_context(color_scheme="light")
        page = context.new_page()
        page.goto(server.url + DAY)
        assert _shown(page, "#log .k-join") and _shown(page, "#log .line.bot")
        page.click("#reader-settings summary")
        page.check("text=Hide joins and parts")
        page.check("text=Hide bots")
        page.check("text=No nick colours")
        page.check("text=Compact lines")
        page.select_option("[data-setting=theme]", "dark")
        assert not _shown(page, "#log .k-join") and not _shown(page, "#log .k-quit")
        assert not _shown(page, "#log .line.bot")
        assert _shown(page, "#log .k-message:not(.bot)")
        # A later visit, in a new tab: the same settings, before any click.
        later = context.new_page()
        later.goto(server.url + DAY)
        assert not _shown(later, "#log .k-join") and not _shown(later, "#log .line.bot")
        nick = later.locator("#log .k-message .who").first
        assert nick.evaluate("e => getComputedStyle(e).color") == later.locator("#log").evaluate(
            "e => getComputedStyle(e).color"
        )
        background = later.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(21, 23, 26)"  # dark, on a light system
        assert later.evaluate("document.documentElement.classList.contains('compact')")
        later.click("#reader-settings summary")
        assert later.is_checked("text=Hide bots")
        later.uncheck("text=Hide joins and parts")
        assert _shown(later, "#log .k-join")


def test_the_admin_names_a_channels_bots(server: Gunicorn, public_channel: Channel) -> None:
    User.objects.create_superuser("root", password="pw-root-1")
    connection.close()
    with chromium() as browser:
        page = browser.new_page()
        page.goto(f"{server.url}/admin/irclogger/channel/{public_channel.pk}/change/")
        page.fill("#id_username", "root")
        page.fill("#id_password", "pw-root-1")
        page.click("input[type=submit]")
        page.fill("#id_bot_nicks", "Alice")
        page.click("input[name=_save]")
        page.goto(server.url + DAY)
        assert page.locator("#log .line.bot .who").all_inner_texts() == ["<alice>"]
    public_channel.refresh_from_db()
    connection.close()
    assert public_channel.bots == frozenset({"alice"})
