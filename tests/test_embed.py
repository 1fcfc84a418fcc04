"""The live widget: its page, its headers, and its live tail through real gunicorn,
a real SSE client and headless Chromium framing it from another origin."""

import datetime as dt
import html
import http.client
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client

from irclogger.models import Channel
from tests.browser import chromium
from tests.conftest import NOON, publish, say
from tests.nginx import get, nginx
from tests.servers import Gunicorn, QuietHandler, gunicorn, http_server
from tests.sseclient import connected

EMBED = "/libera/python/embed/"
WAIT_MS = 15_000


def test_it_shows_the_last_lines_without_the_sites_chrome(
    client: Client, public_channel: Channel
) -> None:
    for n in range(60):
        say(public_channel, f"line {n}", at=NOON + dt.timedelta(seconds=n))
    body = client.get(EMBED).content.decode()
    assert body.count('class="line ') == 50
    assert "line 59" in body and "line 9<" not in body
    assert "quick-search" not in body and "Log in" not in body
    assert client.get(EMBED, {"lines": "5"}).content.decode().count('class="line ') == 5
    assert client.get(EMBED, {"lines": "²"}).status_code == 200


def test_it_carries_the_channels_frame_ancestors(client: Client, public_channel: Channel) -> None:
    response = client.get(EMBED)
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    public_channel.embed_origins = "https://example.org\nhttps://docs.example.net:8443"
    public_channel.full_clean()
    public_channel.save()
    response = client.get(EMBED)
    policy = response["Content-Security-Policy"]
    assert "frame-ancestors https://example.org https://docs.example.net:8443" in policy
    assert "script-src 'self'" in policy
    # X-Frame-Options cannot name origins: it must not contradict the policy.
    assert "X-Frame-Options" not in response.headers
    # Every other page still refuses to be framed.
    assert client.get("/libera/python/")["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("origins", ["example.org", "javascript:alert(1)", "https://a b", "*"])
def test_an_origin_must_be_an_origin(public_channel: Channel, origins: str) -> None:
    public_channel.embed_origins = origins
    with pytest.raises(ValidationError):
        public_channel.full_clean()


def test_a_private_channel_has_no_widget_even_for_its_members(
    member_client: Client, anonymous_client: Client, private_channel: Channel
) -> None:
    say(private_channel, "hush")
    assert member_client.get("/libera/secret/embed/").status_code == 404
    assert anonymous_client.get("/libera/secret/embed/").status_code == 404
    assert anonymous_client.get("/libera/nothing/embed/").status_code == 404


def test_the_channel_page_offers_a_snippet_to_copy(client: Client, public_channel: Channel) -> None:
    body = client.get("/libera/python/2024-03-10/").content.decode()
    assert '&lt;iframe src="http://testserver/libera/python/embed/"' in body


@pytest.fixture
def server(tmp_path: Path, public_channel: Channel) -> Iterator[Gunicorn]:
    public_channel.embed_origins = "http://127.0.0.1:1"  # replaced per test
    public_channel.save()
    with gunicorn(tmp_path) as server:
        yield server


def _get_page(port: int, path: str) -> tuple[dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read().decode()
    headers = {k.lower(): v for k, v in response.getheaders()}
    conn.close()
    assert response.status == 200, body[:500]
    return headers, body


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_embed_page_streams_live_lines(server: Gunicorn, public_channel: Channel) -> None:
    """What live.js does on the widget: the page names its stream and where to
    resume; a line committed after the page was made arrives on that stream."""
    before = publish(public_channel, 1, "before")
    headers, body = _get_page(server.port, EMBED)
    assert "frame-ancestors http://127.0.0.1:1" in headers["content-security-policy"]
    assert "x-frame-options" not in headers
    stream_found = re.search(r'data-stream-url="([^"]+)"', body)
    last_found = re.search(r'data-last-id="(\d+)"', body)
    assert stream_found and last_found, body
    stream_url = html.unescape(stream_found.group(1))
    last_id = int(last_found.group(1))
    assert last_id == before[0].id
    assert "streams/live.js" in body
    stream = connected(server.port, f"{stream_url}?last_event_id={last_id}")
    try:
        [line] = publish(public_channel, 1, "after")
        event = stream.next_event("line")
        assert int(event.id or 0) == line.id
        assert event.json()["text"] == "after 0"
    finally:
        stream.close()


class _HostPage(QuietHandler):
    """Another site: a page that frames the widget."""

    frame_src = ""

    def do_GET(self) -> None:
        page = f'<!doctype html><title>host</title><iframe src="{self.frame_src}"></iframe>'
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(page.encode())


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_chromium_shows_live_lines_in_a_frame_on_an_allowed_site_only(
    server: Gunicorn, public_channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    _HostPage.frame_src = f"{server.url}{EMBED}"
    with http_server(_HostPage) as allowed_origin, chromium() as browser:
        Channel.objects.filter(pk=public_channel.pk).update(
            embed_origins="https://elsewhere.example"
        )
        connection.close()
        refused = browser.new_page()
        messages: list[str] = []
        refused.on("console", lambda message: messages.append(message.text))
        refused.goto(allowed_origin)
        for _ in range(100):
            if any("frame-ancestors" in text for text in messages):
                break
            refused.wait_for_timeout(100)
        blocked = '"frame-ancestors https://elsewhere.example". The request has been blocked'
        assert any(blocked in text for text in messages), messages
        assert refused.frames[-1].locator("#log").count() == 0

        Channel.objects.filter(pk=public_channel.pk).update(embed_origins=allowed_origin)
        connection.close()
        page = browser.new_page()
        page.goto(allowed_origin)
        frame = page.frame_locator("iframe")
        frame.locator("#live-state[data-state=live]").wait_for(timeout=WAIT_MS)
        [line] = publish(public_channel, 1, "framed")
        connection.close()
        frame.locator(f"#log #L{line.id}").wait_for(timeout=WAIT_MS)
        assert frame.locator(f"#L{line.id} .msg").inner_text() == "framed 0"


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_behind_nginx_the_widget_is_framed_by_its_origins_and_nothing_says_deny(
    tmp_path: Path, server: Gunicorn, public_channel: Channel
) -> None:
    Channel.objects.filter(pk=public_channel.pk).update(embed_origins="https://example.org")
    with nginx(tmp_path, server.port) as proxy:
        widget = get(proxy.port, EMBED).headers
        day = get(proxy.port, "/libera/python/").headers
    assert widget.get_all("X-Frame-Options") is None
    (policy,) = widget.get_all("Content-Security-Policy") or []
    assert "frame-ancestors https://example.org" in policy
    assert day.get_all("X-Frame-Options") == ["DENY"]
