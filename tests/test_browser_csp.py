"""Every page under its Content-Security-Policy in a real browser: nothing is blocked.

A violation would mean an inline script, handler or style attribute the
policy forbids, and a page that works only where the policy is missing.
"""

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page

from irclogger.models import Channel
from tests.browser import chromium
from tests.conftest import NOON, say
from tests.servers import Gunicorn, gunicorn

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Every kind of page a reader or an operator opens.
PAGES = [
    "/",
    "/libera/python/",
    "/libera/python/2024-03-10/",
    "/libera/python/2024-03-08..2024-03-10/",
    "/libera/python/2024/",
    "/libera/python/stats/",
    "/libera/python/embed/",
    "/libera/python/search/?q=red",
    "/search/?q=bold",
    "/zone/",
    "/accounts/login/",
    "/admin/login/",
]
SIGNED_IN_PAGES = ["/admin/", "/admin/irclogger/channel/", "/accounts/password_change/"]

# Recorded from the page's first script on, before any of the page's own.
LISTEN = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@pytest.fixture
def server(tmp_path: Path, public_channel: Channel) -> Iterator[Gunicorn]:
    # Colours by number and by hex (classes, not style attributes), a link, a join.
    say(public_channel, "\x0304red\x03 \x04123456hex\x04 \x02bold\x02 https://example.org/x")
    say(public_channel, "", kind="join", nick="bob", at=NOON + dt.timedelta(minutes=1))
    say(public_channel, "earlier", at=NOON - dt.timedelta(days=2))
    User.objects.create_superuser("root", password="pw-root-csp-1")
    with gunicorn(tmp_path) as server:
        yield server


def _violations(page: Page, url: str) -> list[str]:
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    response = page.goto(url, wait_until="load")
    assert response is not None and response.status == 200, url
    assert "script-src 'self'" in response.headers["content-security-policy"], url
    page.wait_for_timeout(300)  # scripts deferred to after load run too
    seen: list[str] = page.evaluate("window.__violations")
    return seen + [text for text in console if "Content Security Policy" in text]


def test_no_page_breaks_its_content_security_policy(server: Gunicorn) -> None:
    found: dict[str, list[str]] = {}
    with chromium() as browser:
        context = browser.new_context()
        context.add_init_script(LISTEN)
        page = context.new_page()
        for path in PAGES:
            found[path] = _violations(page, server.url + path)
        page.goto(server.url + "/admin/login/")
        page.fill("#id_username", "root")
        page.fill("#id_password", "pw-root-csp-1")
        page.click("input[type=submit]")
        page.wait_for_url(server.url + "/admin/")
        for path in SIGNED_IN_PAGES:
            found[path] = _violations(page, server.url + path)
        context.close()
    assert {path: seen for path, seen in found.items() if seen} == {}
