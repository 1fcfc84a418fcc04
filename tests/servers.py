"""Real processes for end-to-end tests: free loopback ports, start, wait, stop.

Every server a test starts listens on 127.0.0.1 on a port the kernel chose,
and is stopped by the fixture or context manager that started it.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = str(Path(sys.executable).parent / "gunicorn")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class QuietHandler(BaseHTTPRequestHandler):
    """A test's own HTTP handler: no log line per request on stderr."""

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A threaded HTTP server in this process for the block; its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def wait_for_port(
    port: int, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def run_in_child(script: str, service_dir: Path, **env: str) -> Any:
    """Run ``script`` in a fresh interpreter at the root; its last line of output, read as JSON.

    For what cannot be undone in the test's process (gevent's patching, the
    collector's state). conf/gunicorn.py, if the script loads it, makes its
    service directories under ``service_dir``.
    """
    child = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={
            **os.environ,
            "PROMETHEUS_MULTIPROC_DIR": str(service_dir / "metrics"),
            "IRCLOGGER_HANDOFF_DIR": str(service_dir / "handoff"),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # The last line: a script that sets Django up logs on stdout before it.
    return json.loads(child.stdout.splitlines()[-1])


def child_database_url() -> str:
    """The URL of the database pytest-django made, for a child process."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    host = db["HOST"] or ""
    if host.startswith("/"):
        return f"postgresql://{auth}@/{db['NAME']}?host={host}"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgresql://{auth}@{host}{port}/{db['NAME']}"


@dataclass
class Gunicorn:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def reload(self) -> None:
        """What `systemctl reload` does: SIGHUP, new workers, old ones drain."""
        self.process.send_signal(signal.SIGHUP)


@contextmanager
def gunicorn(
    tmp_path: Path,
    workers: int = 1,
    port: int | None = None,
    config: str = "conf/gunicorn.py",
    **extra_env: str,
) -> Iterator[Gunicorn]:
    """Start gunicorn with conf/gunicorn.py on a free loopback port.

    ``port`` starts it again where an earlier one listened (a restart);
    ``config`` may name bench/probe_gunicorn.py (conf/gunicorn.py plus a
    memory probe).
    """
    port = port or free_port()
    log_path = tmp_path / f"gunicorn-{port}.log"
    env = gunicorn_env(f"127.0.0.1:{port}", workers, **extra_env)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [GUNICORN, "-c", config], cwd=ROOT, env=env, stdout=log, stderr=log
        )
    server = Gunicorn(port, process, log_path, env)
    try:
        wait_for_port(port, process=process)
        yield server
    finally:
        stop_process(process)


def gunicorn_env(bind: str, workers: int = 1, **extra_env: str) -> dict[str, str]:
    """The environment of a gunicorn under test: this test's database, ``bind``, DEBUG."""
    # The browser tests let Django's ORM run beside Playwright's event loop in
    # this process only; the server refuses to start with that switch on.
    parent = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    return {
        **parent,
        "DATABASE_URL": child_database_url(),
        "GUNICORN_BIND": bind,
        "GUNICORN_WORKERS": str(workers),
        "DEBUG": "1",
        **extra_env,
    }


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
