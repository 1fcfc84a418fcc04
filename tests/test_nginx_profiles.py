"""Real nginx in front of real gunicorn: the normal profile, static files, TLS and HTTP/2.

The stream profile has its own file (test_nginx_streams.py).
"""

import gzip
import select
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from pytest_django.fixtures import Settings

from irclogger.models import Channel
from tests.conftest import say
from tests.nginx import Nginx, get, nginx
from tests.servers import Gunicorn, gunicorn

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DAY = "/libera/python/2024-03-10/"
# The normal profile's header timeout in these tests (the default is 10 s).
HEADER_TIMEOUT = 2


@pytest.fixture
def app(tmp_path: Path, public_channel: Channel) -> Iterator[Gunicorn]:
    for number in range(40):
        say(public_channel, f"line {number} of a day long enough to be worth compressing")
    with gunicorn(tmp_path) as server:
        yield server


@pytest.fixture
def proxy(tmp_path: Path, app: Gunicorn) -> Iterator[Nginx]:
    with nginx(tmp_path, app.port, client_timeout=HEADER_TIMEOUT) as server:
        yield server


def _drip(sock: socket.socket, data: bytes, pause: float) -> int | None:
    """Send one byte at a time; the index at which the server hung up, or None."""
    for index in range(len(data)):
        try:
            sock.sendall(data[index : index + 1])
        except OSError:
            return index
        readable, _, _ = select.select([sock], [], [], pause)
        if readable and sock.recv(4096) == b"":
            return index
    return None


def test_it_cuts_a_slow_client_after_the_header_timeout(proxy: Nginx) -> None:
    # At 4 bytes a second this header takes a minute: 30 times the timeout.
    request = b"GET " + DAY.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"z" * 200
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as slow:
        slow.sendall(request[:4])
        assert get(proxy.port, DAY).status == 200  # others are served meanwhile
        cut_at = _drip(slow, request[4:], pause=0.25)
    assert cut_at is not None, "nginx waited for the whole header"
    assert '"status":408' in proxy.access_log()
    assert get(proxy.port, DAY).status == 200


def test_it_compresses_pages(proxy: Nginx) -> None:
    response = get(proxy.port, DAY, {"Accept-Encoding": "gzip"})
    assert response.status == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert b"line 39 of a day" in gzip.decompress(response.body)


def test_it_refuses_a_body_over_the_limit(proxy: Nginx) -> None:
    response = get(proxy.port, "/search/", method="POST", body=b"q=" + b"x" * 2_000_000)
    assert response.status == 413


def test_it_sends_each_security_header_once(proxy: Nginx) -> None:
    headers = get(proxy.port, DAY).headers
    assert headers.get_all("X-Frame-Options") == ["DENY"]
    assert headers.get_all("X-Content-Type-Options") == ["nosniff"]
    assert headers.get_all("Referrer-Policy") == ["same-origin"]


def test_it_serves_static_files_without_gunicorn(
    tmp_path: Path, app: Gunicorn, settings: Settings
) -> None:
    settings.STATIC_ROOT = tmp_path / "static"
    call_command("collectstatic", interactive=False, verbosity=0)
    with nginx(tmp_path, app.port, static_root=str(settings.STATIC_ROOT)) as proxy:
        response = get(proxy.port, "/static/irclogger/site.css")
    assert response.status == 200
    assert response.body == (settings.STATIC_ROOT / "irclogger" / "site.css").read_bytes()
    assert "/static/" not in app.log()


def test_it_believes_nginx_not_the_client_about_its_address(
    tmp_path: Path, public_channel: Channel
) -> None:
    with (
        gunicorn(
            tmp_path, METRICS_ALLOWED_NETWORKS="10.0.0.0/8", METRICS_TOKEN="scrape-token-1234"
        ) as app,
        nginx(tmp_path, app.port) as proxy,
    ):
        # The client claims an allowed address; nginx replaces the header with the real one.
        spoofed = get(proxy.port, "/metrics", {"X-Forwarded-For": "10.1.2.3"})
        with_token = get(proxy.port, "/metrics", {"Authorization": "Bearer scrape-token-1234"})
    assert spoofed.status == 403
    assert with_token.status == 200
    assert b"irclogger_streams_opened_total" in with_token.body


def _curl(*args: str) -> str:
    result = subprocess.run(
        ["curl", "--silent", "--show-error", "--insecure", "--max-time", "10", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout


def test_it_serves_pages_over_tls_and_http2(tmp_path: Path, app: Gunicorn) -> None:
    with nginx(tmp_path, app.port, tls=True) as proxy:
        https = f"https://127.0.0.1:{proxy.tls_port}"
        headers = _curl("--http2", "--output", "/dev/null", "--dump-header", "-", f"{https}{DAY}")
        redirect = get(proxy.port, DAY)
    assert headers.startswith("HTTP/2 200")
    assert "strict-transport-security: max-age=31536000" in headers.lower()
    assert redirect.status == 301
    assert redirect.headers["Location"] == f"{https}{DAY}"


def test_it_sends_one_content_security_policy(
    tmp_path: Path, app: Gunicorn, proxy: Nginx, settings: Settings
) -> None:
    page = get(proxy.port, DAY).headers.get_all("Content-Security-Policy")
    direct = get(app.port, DAY).headers.get_all("Content-Security-Policy")
    settings.STATIC_ROOT = tmp_path / "static"
    call_command("collectstatic", interactive=False, verbosity=0)
    with nginx(tmp_path, app.port, static_root=str(settings.STATIC_ROOT)) as static_proxy:
        static = get(static_proxy.port, "/static/irclogger/site.css").headers
    assert page == direct  # the app's policy, once
    assert page is not None and "script-src 'self'" in page[0]
    assert "frame-ancestors 'none'" in page[0]
    # The same policy for nginx's own files (django-csp orders the directives its way).
    own = static.get_all("Content-Security-Policy")
    assert own is not None and len(own) == 1
    assert set(own[0].split("; ")) == set(page[0].split("; "))
