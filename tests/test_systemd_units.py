"""conf/systemd/: units systemd accepts, with the directives the deployment relies on."""

import configparser
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.servers import GUNICORN, ROOT, free_port, gunicorn_env, stop_process

UNIT = ROOT / "conf" / "systemd" / "irclogger.service"
SOCKET_UNIT = ROOT / "conf" / "systemd" / "irclogger.socket"
# sd_listen_fds(3): the first socket systemd hands a service.
SD_LISTEN_FDS_START = 3
# Where the unit expects the checkout; the test points it at this one.
DEPLOYED_ROOT = "/srv/irclogger"


def _section(unit: Path, name: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(unit.read_text())
    return parser[name]


def _service() -> configparser.SectionProxy:
    return _section(UNIT, "Service")


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_it_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    unit = tmp_path / "irclogger.service"
    unit.write_text(UNIT.read_text().replace(DEPLOYED_ROOT, str(ROOT)))
    (tmp_path / SOCKET_UNIT.name).write_text(SOCKET_UNIT.read_text())
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit), str(tmp_path / SOCKET_UNIT.name)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # verify exits 0 even for a directive it ignores; it says so on stderr.
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_it_runs_gunicorn_with_the_project_config() -> None:
    service = _service()
    assert service["ExecStart"] == f"{DEPLOYED_ROOT}/.venv/bin/gunicorn -c conf/gunicorn.py"
    assert service["WorkingDirectory"] == DEPLOYED_ROOT
    assert service["EnvironmentFile"] == "/etc/irclogger/env"
    assert service["Type"] == "notify"


def test_it_reloads_with_sighup_and_restarts_on_failure() -> None:
    service = _service()
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["Restart"] == "on-failure"


def test_it_waits_longer_than_gunicorns_graceful_timeout() -> None:
    # Read, not executed: conf/gunicorn.py sets process-wide environment on load.
    config = (ROOT / "conf" / "gunicorn.py").read_text()
    found = re.search(r'"GUNICORN_GRACEFUL_TIMEOUT", (\d+)', config)
    assert found is not None
    assert int(_service()["TimeoutStopSec"]) > int(found.group(1))


def test_it_is_hardened() -> None:
    service = _service()
    assert service["User"] != "root"
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["CapabilityBoundingSet"] == ""
    assert int(service["LimitNOFILE"]) >= 12_000  # gunicorn's worker_connections


def test_systemd_holds_the_socket_gunicorn_listens_on_by_default() -> None:
    config = (ROOT / "conf" / "gunicorn.py").read_text()
    bind = re.search(r'"GUNICORN_BIND", \["([^"]+)"\]', config)
    backlog = re.search(r'"GUNICORN_BACKLOG", (\d+)', config)
    assert bind is not None and backlog is not None
    held = _section(SOCKET_UNIT, "Socket")
    assert held["ListenStream"] == bind.group(1)
    assert held["Backlog"] == backlog.group(1)
    unit = _section(UNIT, "Unit")
    assert "irclogger.socket" in unit["Requires"].split()
    assert "irclogger.socket" in unit["After"].split()


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_restart_with_the_socket_held_refuses_nobody(tmp_path: Path) -> None:
    """gunicorn as systemd starts it with irclogger.socket: a request made
    while no gunicorn runs waits in the held socket and the next one answers it."""
    with socket.create_server(("127.0.0.1", 0)) as held:
        port = held.getsockname()[1]
        with _activated_gunicorn(tmp_path, held) as first:
            assert _status(port) == 200
        assert first.returncode == 0  # stopped gracefully, the socket left to systemd
        waiting = socket.create_connection(("127.0.0.1", port), timeout=30)  # not refused
        with waiting:
            waiting.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            with _activated_gunicorn(tmp_path, held):
                assert waiting.recv(4096).startswith(b"HTTP/1.1 200 ")
    # The same connection with nothing holding the port is refused.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


@contextmanager
def _activated_gunicorn(tmp_path: Path, held: socket.socket) -> Iterator[subprocess.Popen[bytes]]:
    """gunicorn with conf/gunicorn.py, handed ``held`` as systemd hands irclogger.socket.

    The socket is the service's descriptor 3, LISTEN_FDS counts it and
    LISTEN_PID names the process (sd_listen_fds(3)); GUNICORN_BIND names
    another port, which must stay unbound.
    """
    unused = free_port()
    env = gunicorn_env(f"127.0.0.1:{unused}", LISTEN_FDS="1")
    log_path = tmp_path / f"gunicorn-{unused}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            ["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$0" -c conf/gunicorn.py', GUNICORN],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
            pass_fds=(SD_LISTEN_FDS_START,),
            preexec_fn=lambda: os.dup2(held.fileno(), SD_LISTEN_FDS_START),
        )
    try:
        _wait_for_log(log_path, process, "Booting worker")
        yield process
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    finally:
        stop_process(process)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", unused), timeout=5).close()


def _wait_for_log(path: Path, process: subprocess.Popen[bytes], text: str) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}: {path.read_text()}")
        if text in path.read_text(errors="replace"):
            return
        time.sleep(0.05)
    raise TimeoutError(f"gunicorn never said {text!r}")


def _status(port: int) -> int:
    # A page, not /healthz: that answers 503 until the new worker's hub listens,
    # which may come after the worker takes the waiting request.
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as response:
        return int(response.status)
