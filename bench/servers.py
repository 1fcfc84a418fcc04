"""Start and stop the services under test, each pinned to the server core.

Every service listens on 127.0.0.1 on a free port, runs under ``taskset``
on ``SERVER_CPU`` (the load generator has the other core) with the open-file
limit raised to the hard limit, and is stopped by the context manager that
started it, by process id.
"""

import compileall
import os
import re
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
# The kernel settings a deployment installs for reconnect storms.
SYSCTL_CONF = ROOT / "conf" / "sysctl.d" / "90-irclogger.conf"
# The socket systemd holds across restarts of the deployed service.
SOCKET_UNIT = ROOT / "conf" / "systemd" / "irclogger.socket"
PEERS = ROOT / "bench" / "peers"
BIN = Path(sys.executable).parent
SERVER_CPU = 1
LOADGEN_CPU = 0
NCHAN_MODULE = Path("/usr/lib/nginx/modules/ngx_nchan_module.so")
# A service that does not listen by then is broken, not slow.
START_TIMEOUT = 60.0
# Quick shutdown first; a process still there after this is killed.
STOP_TIMEOUT = 10.0
# What answers once irclogger serves (a held socket accepts before that).
READY_PATH = "/healthz"


class Unavailable(Exception):
    """A peer cannot run on this machine; the results say why."""


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    stream_path: str
    log_path: Path
    stop_signal: int = signal.SIGTERM
    children: list[int] = field(default_factory=list)
    # What a publisher needs to reach the service (the Node peer's Redis).
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def processes(self) -> list[psutil.Process]:
        """The master and its children (workers), as they are now."""
        try:
            master = psutil.Process(self.process.pid)
            return [master, *master.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def stream_processes(self) -> list[psutil.Process]:
        """The processes that hold the streams: the workers, or the one process."""
        found = self.processes()
        return found[1:] if len(found) > 1 else found


def run_queue_wait(pids: list[int]) -> float:
    """Seconds the main threads of ``pids`` spent runnable but waiting for a core.

    The kernel's schedstat (second field, ns): on a shared machine, the time
    the service wanted the CPU and something else had it. Main threads only:
    they do the fan-out (gevent, Node's loop, nginx's worker); helper threads
    (V8's GC, libuv's pool) would count their waits on top.
    """
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(command: list[str], cpu: int = SERVER_CPU) -> list[str]:
    """``command`` on one core, allowed as many open files as the system lets it."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    prefix = ["prlimit", f"--nofile={hard}:{hard}"] if shutil.which("prlimit") else []
    if shutil.which("taskset") and (os.cpu_count() or 1) > cpu:
        prefix = ["taskset", "-c", str(cpu), *prefix]
    return [*prefix, *command]


def wait_for_port(
    port: int, process: subprocess.Popen[bytes], log_path: Path, ready_path: str | None = None
) -> None:
    """Until ``port`` accepts, or until ``ready_path`` answers where a held socket accepts early."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"exited with {process.returncode} before listening:\n{tail}")
        try:
            if ready_path is None:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            else:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{ready_path}", timeout=0.5):
                    return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {START_TIMEOUT} s")


@contextmanager
def held_socket(port: int) -> Iterator[socket.socket]:
    """A listening socket that outlives the services handed it, as systemd's socket unit.

    Connections made while no service runs wait in its queue instead of
    being refused; its backlog is the unit's.
    """
    found = re.search(r"^Backlog=(\d+)$", SOCKET_UNIT.read_text(), re.MULTILINE)
    if found is None:
        raise ValueError(f"{SOCKET_UNIT} sets no Backlog=")
    listener = socket.create_server(("127.0.0.1", port), backlog=int(found.group(1)))
    try:
        yield listener
    finally:
        listener.close()


@contextmanager
def running(
    name: str,
    command: list[str],
    port: int,
    stream_path: str,
    env: dict[str, str] | None = None,
    cwd: Path = ROOT,
    stop_signal: int = signal.SIGTERM,
) -> Iterator[Service]:
    service = start(name, command, port, stream_path, env, cwd, stop_signal)
    try:
        yield service
    finally:
        stop(service)


def start(
    name: str,
    command: list[str],
    port: int,
    stream_path: str,
    env: dict[str, str] | None = None,
    cwd: Path = ROOT,
    stop_signal: int = signal.SIGTERM,
    append_log: bool = False,
    listener: socket.socket | None = None,
    ready_path: str | None = None,
) -> Service:
    """Start ``command`` and wait until it listens; the caller stops it (``stop``).

    ``listener``: a held socket (``held_socket``) the command inherits; it
    accepts before the command serves, so ``ready_path`` says when it does.
    """
    OUT.mkdir(parents=True, exist_ok=True)
    log_path = OUT / f"{name}.log"
    with open(log_path, "ab" if append_log else "wb") as log:
        process = subprocess.Popen(  # noqa: S603  (our own command line)
            pinned(command),
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
            pass_fds=() if listener is None else (listener.fileno(),),
        )
    service = Service(name, process, port, stream_path, log_path, stop_signal)
    try:
        wait_for_port(port, process, log_path, ready_path)
    except BaseException:
        stop(service)
        raise
    service.children = [child.pid for child in service.processes()[1:]]
    return service


def stop(service: Service) -> None:
    pids = [service.process.pid, *service.children]
    pids += [child.pid for child in service.processes()[1:] if child.pid not in pids]
    if service.process.poll() is None:
        service.process.send_signal(service.stop_signal)
        with suppress(subprocess.TimeoutExpired):
            service.process.wait(STOP_TIMEOUT)
    for pid in pids:
        with suppress(psutil.NoSuchProcess):
            psutil.Process(pid).kill()
    service.process.wait()


def django_env(database_url: str, app_name: str, **extra: str) -> dict[str, str]:
    """The environment of an irclogger (or naive Django) service under test."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + "k" * 50,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # libpq names every connection of the service, so pg_stat_activity
        # can count them.
        "PGAPPNAME": app_name,
        "LOG_LEVEL": "WARNING",
        **extra,
    }


@contextmanager
def irclogger(database_url: str, app_name: str, workers: int = 1) -> Iterator[Service]:
    """irclogger as deployed: gunicorn with conf/gunicorn.py (gevent workers)."""
    service = start_irclogger(database_url, app_name, free_port(), workers)
    try:
        yield service
    finally:
        stop(service)


def start_irclogger(
    database_url: str,
    app_name: str,
    port: int,
    workers: int = 1,
    append_log: bool = False,
    extra_env: dict[str, str] | None = None,
    config: str = "conf/gunicorn.py",
    listener: socket.socket | None = None,
) -> Service:
    """gunicorn with conf/gunicorn.py on ``port``; ``stop`` (quick) or ``stop_gracefully`` it.

    With ``listener`` it serves that held socket, bound to ``port``.
    """
    bind = f"127.0.0.1:{port}" if listener is None else f"fd://{listener.fileno()}"
    env = django_env(
        database_url,
        app_name,
        GUNICORN_BIND=bind,
        GUNICORN_WORKERS=str(workers),
        # As deployed: no gunicorn access log (the app logs its own requests),
        # whose line per request a storm of 10,000 reconnects would pay for.
        GUNICORN_LOGLEVEL="warning",
        **(extra_env or {}),
    )
    command = [str(BIN / "gunicorn"), "-c", config]
    # SIGINT is gunicorn's quick shutdown: open streams are not waited for.
    return start(
        app_name,
        command,
        port,
        "stream/",
        env,
        stop_signal=signal.SIGINT,
        append_log=append_log,
        listener=listener,
        ready_path=None if listener is None else READY_PATH,
    )


def stop_gracefully(service: Service, timeout: float) -> None:
    """What `systemctl stop` does to gunicorn: SIGTERM, then wait for the workers to drain."""
    if service.process.poll() is None:
        service.process.send_signal(signal.SIGTERM)
        wait_for_exit(service.process, timeout)
    stop(service)


def wait_for_exit(process: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait until ``process`` exits (or ``timeout``), told at once as systemd is.

    ``Popen.wait`` with a timeout looks every 50 ms: a restart measured
    through it counted up to 50 ms that systemd's start does not wait.
    """
    with suppress(ProcessLookupError):  # already gone, and reaped
        exited = os.pidfd_open(process.pid)
        try:
            select.select([exited], [], [], timeout)
        finally:
            os.close(exited)
    with suppress(subprocess.TimeoutExpired):
        process.wait(0)


@contextmanager
def naive(database_url: str, app_name: str) -> Iterator[Service]:
    """django-sse as published, under gunicorn's sync workers (2 × cores)."""
    port = free_port()
    env = django_env(database_url, app_name, DJANGO_SETTINGS_MODULE="bench.peers.naive.settings")
    command = [
        str(BIN / "gunicorn"),
        "bench.peers.naive.wsgi:application",
        "--worker-class=sync",
        "--workers=4",
        f"--bind=127.0.0.1:{port}",
        "--timeout=30",
        "--log-level=warning",
        "--no-control-socket",
    ]
    with running(app_name, command, port, "stream/", env, stop_signal=signal.SIGINT) as service:
        yield service


def node_ready() -> None:
    if not shutil.which("node") or not shutil.which("npm"):
        raise Unavailable("Node.js (node, npm) is not installed")
    folder = PEERS / "node"
    lock = folder / "package-lock.json"
    stamp = folder / "node_modules" / ".package-lock.json"
    if not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],  # noqa: S607
            cwd=folder,
            check=True,
            timeout=300,
        )


@contextmanager
def node(redis_url: str, channel: str) -> Iterator[Service]:
    """The two-process alternative: Node.js SSE fan-out fed by Redis pub/sub."""
    node_ready()
    port = free_port()
    command = [shutil.which("node") or "node", "server.js", str(port), redis_url, channel]
    with running("node", command, port, "stream", cwd=PEERS / "node") as service:
        yield service


@contextmanager
def nchan() -> Iterator[Service]:
    """nginx with the nchan module: the native-code ceiling."""
    if not shutil.which("nginx"):
        raise Unavailable("nginx is not installed (apt-get install nginx libnginx-mod-nchan)")
    if not NCHAN_MODULE.exists():
        raise Unavailable(f"{NCHAN_MODULE} is missing (apt-get install libnginx-mod-nchan)")
    port = free_port()
    prefix = OUT / "nchan"
    prefix.mkdir(parents=True, exist_ok=True)
    template = (PEERS / "nchan" / "nginx.conf.template").read_text()
    config = prefix / "nginx.conf"
    config.write_text(template.format(module=NCHAN_MODULE, prefix=prefix, port=port))
    command = [shutil.which("nginx") or "nginx", "-p", str(prefix), "-c", str(config)]
    command += ["-g", "daemon off;"]
    with running("nchan", command, port, "stream", stop_signal=signal.SIGQUIT) as service:
        yield service


REDIS_DEFAULT = ("127.0.0.1", 6379)


@contextmanager
def redis() -> Iterator[tuple[str, int]]:
    """The Redis on this machine, or one of our own on a free port."""
    try:
        with socket.create_connection(REDIS_DEFAULT, timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            if sock.recv(16).startswith(b"+PONG"):
                yield REDIS_DEFAULT
                return
    except OSError:
        pass
    server = shutil.which("redis-server")
    if not server:
        raise Unavailable("no Redis at 127.0.0.1:6379 and redis-server is not installed")
    port = free_port()
    command = [server, "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
    command += ["--appendonly", "no"]
    with running("redis", command, port, "") as _service:
        yield ("127.0.0.1", port)


def apply_listen_queue() -> None:
    """Raise the kernel's listen queue as conf/sysctl.d/ deploys it, where allowed.

    A lower value already set is raised (as root); a higher one is kept. A
    machine where they cannot be raised is measured, and reported
    (``listen_queue``), as it is.
    """
    for path, wanted in _sysctl_settings().items():
        with suppress(OSError, ValueError):
            if int(path.read_text()) < int(wanted):
                path.write_text(wanted)


def compile_app() -> None:
    """Compile the app's modules to bytecode, as the deploy does (README, Deploy).

    The deployed service cannot write its checkout; a machine that sets
    PYTHONDONTWRITEBYTECODE never keeps the bytecode either. Without it every
    worker compiles the app at each boot, and a restart's readers wait for that.
    """
    compileall.compile_dir(ROOT / "irclogger", quiet=1)
    compileall.compile_dir(ROOT / "streams", quiet=1)


def listen_queue() -> dict[str, str]:
    """The values in force of the settings conf/sysctl.d/ names, for the report."""
    in_force = {}
    for path in _sysctl_settings():
        with suppress(OSError):
            in_force[".".join(path.relative_to("/proc/sys").parts)] = path.read_text().strip()
    return in_force


def _sysctl_settings() -> dict[Path, str]:
    """conf/sysctl.d/'s settings: /proc/sys path and the value it asks for."""
    settings = {}
    for line in SYSCTL_CONF.read_text().splitlines():
        key, _, wanted = line.partition("=")
        if wanted and not line.startswith("#"):
            settings[Path("/proc/sys", *key.strip().split("."))] = wanted.strip()
    return settings
