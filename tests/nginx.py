"""Real Debian nginx for end-to-end tests, rendered by `manage.py nginxconf`.

nginx runs in the foreground (``daemon off``) with its pid, logs and temp files
under the test's tmp_path, on a free loopback port, in front of a gunicorn from
tests/servers.py; the context manager that starts it stops it.
"""

import http.client
import io
import os
import pwd
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.management import call_command

from tests.servers import free_port, stop_process, wait_for_port

NGINX = "/usr/sbin/nginx"


@dataclass
class Nginx:
    port: int
    process: subprocess.Popen[bytes]
    conf_dir: Path
    runtime_dir: Path
    tls_port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def access_log(self) -> str:
        path = self.runtime_dir / "access.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def error_log(self) -> str:
        return (self.runtime_dir / "error.log").read_text(errors="replace")


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


def render(tmp_path: Path, upstream_port: int, port: int, **options: Any) -> tuple[Path, Path]:
    """Render conf/nginx/ for a test; return (config dir, runtime dir)."""
    conf_dir = tmp_path / "nginx-conf"
    runtime_dir = tmp_path / "nginx-run"
    runtime_dir.mkdir(parents=True, exist_ok=True)
    defaults: dict[str, Any] = {
        # Workers run as whoever runs the tests (root in CI), so they can read tmp_path.
        "user": pwd.getpwuid(os.geteuid()).pw_name,
        "worker_processes": "1",
        # Sized for a test, not a host: the test process's open-file limit applies.
        "streams_per_worker": 256,
    }
    call_command(
        "nginxconf",
        out=str(conf_dir),
        runtime_dir=str(runtime_dir),
        listen=f"127.0.0.1:{port}",
        upstream=f"127.0.0.1:{upstream_port}",
        stdout=io.StringIO(),
        **(defaults | options),
    )
    return conf_dir, runtime_dir


def check(conf_dir: Path, runtime_dir: Path) -> subprocess.CompletedProcess[str]:
    """``nginx -t`` on a rendered config."""
    return subprocess.run(
        [NGINX, *_paths(conf_dir, runtime_dir), "-t"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@contextmanager
def nginx(tmp_path: Path, upstream_port: int, tls: bool = False, **options: Any) -> Iterator[Nginx]:
    """Start nginx on a free loopback port in front of 127.0.0.1:upstream_port."""
    port = free_port()
    tls_port = free_port() if tls else None
    if tls:
        cert, key = self_signed_certificate(tmp_path)
        options.update(cert=str(cert), key=str(key), tls_listen=f"127.0.0.1:{tls_port}")
    conf_dir, runtime_dir = render(tmp_path, upstream_port, port, **options)
    with open(runtime_dir / "stdout.log", "wb") as log:
        process = subprocess.Popen(
            [NGINX, *_paths(conf_dir, runtime_dir), "-g", "daemon off;"],
            stdout=log,
            stderr=log,
        )
    server = Nginx(port, process, conf_dir, runtime_dir, tls_port)
    try:
        wait_for_port(port, process=process)
        yield server
    finally:
        # SIGTERM: nginx's fast shutdown.
        stop_process(process)


def _paths(conf_dir: Path, runtime_dir: Path) -> list[str]:
    return [
        "-p",
        str(runtime_dir),
        "-c",
        str(conf_dir / "nginx.conf"),
        "-e",
        str(runtime_dir / "error.log"),
    ]


def self_signed_certificate(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


def get(
    port: int, path: str, headers: dict[str, str] | None = None, method: str = "GET",
    body: bytes | None = None, timeout: float = 15,
) -> Response:  # fmt: skip
    """One request on a fresh connection to 127.0.0.1:port."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Response(response.status, response.headers, response.read())
    finally:
        connection.close()
