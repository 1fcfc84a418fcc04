"""`manage.py nginxconf`: the rendered configuration is one nginx accepts."""

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.nginx import check, render, self_signed_certificate

pytestmark = pytest.mark.e2e  # runs the real nginx binary (nginx -t)


def test_it_renders_a_config_nginx_accepts(tmp_path: Path) -> None:
    conf_dir, runtime_dir = render(tmp_path, upstream_port=8000, port=8080)
    result = check(conf_dir, runtime_dir)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_it_renders_tls_and_http2_that_nginx_accepts(tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    conf_dir, runtime_dir = render(
        tmp_path, 8000, 8080, cert=str(cert), key=str(key), tls_listen="127.0.0.1:8443"
    )
    result = check(conf_dir, runtime_dir)
    assert result.returncode == 0, result.stderr
    assert "listen 127.0.0.1:8443 ssl http2;" in (conf_dir / "irclogger.conf").read_text()


def test_it_sizes_worker_connections_for_two_per_stream(tmp_path: Path) -> None:
    conf_dir, _ = render(tmp_path, 8000, 8080, streams_per_worker=5000)
    config = (conf_dir / "nginx.conf").read_text()
    assert "worker_connections 11024;" in config  # 2 × 5,000 + 1,024 for pages
    assert "worker_rlimit_nofile 12048;" in config


def test_it_gives_streams_and_pages_their_own_timeouts(tmp_path: Path) -> None:
    conf_dir, _ = render(tmp_path, 8000, 8080, read_timeout=7, stream_read_timeout=90)
    stream = (conf_dir / "snippets" / "stream-profile.conf").read_text()
    normal = (conf_dir / "snippets" / "normal-profile.conf").read_text()
    assert "proxy_read_timeout 90s;" in stream
    assert "proxy_buffering off;" in stream
    assert "proxy_read_timeout 7s;" in normal
    assert "gzip on;" in normal


def test_it_refuses_a_certificate_without_its_key(tmp_path: Path) -> None:
    with pytest.raises(CommandError):
        call_command("nginxconf", out=str(tmp_path / "out"), cert=str(tmp_path / "cert.pem"))
