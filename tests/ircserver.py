"""A real IRC server for the bot's tests: Debian's ngircd on a free loopback port.

The server runs in the foreground (``-n``) with a config written into the
test's tmp_path, so nothing outside the test directory is touched. It can be
stopped and started again on the same port, which is how the reconnect test
takes the network away from the bot.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from irclogger.models import Channel, Line
from tests.servers import ROOT, child_database_url, free_port, stop_process, wait_for_port

NGIRCD = "/usr/sbin/ngircd"

_CONFIG = """\
[Global]
Name = irc.test
Info = irclogger test server
Listen = 127.0.0.1
Ports = {port}
MotdPhrase = irclogger tests
PidFile = {tmp}/ngircd.pid
HelpFile = {tmp}/help.txt
# Started as root (CI containers), ngircd would switch to nobody and could
# not write its pid file in the test's directory.
ServerUID = {uid}
ServerGID = {gid}
{password_line}

[Limits]
# Every client of a test comes from 127.0.0.1.
MaxConnectionsIP = 0
MaxJoins = 0
MaxNickLength = 30
PingTimeout = 120
PongTimeout = 20

[Options]
DNS = no
Ident = no
PAM = no
{ssl_section}"""

_SSL = """
[SSL]
CertFile = {cert}
KeyFile = {key}
Ports = {tls_port}
"""


@dataclass
class IrcServer:
    port: int
    config: Path
    log_path: Path
    tls_port: int | None = None
    cert: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115  (the child keeps it open)
        self.process = subprocess.Popen(
            [NGIRCD, "-n", "-f", str(self.config)], stdout=log, stderr=log
        )
        log.close()
        wait_for_port(self.port, process=self.process)
        if self.tls_port:
            wait_for_port(self.tls_port, process=self.process)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def kill(self) -> None:
        """Take the server away abruptly, as a crash or a netsplit would."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def ngircd(tmp_path: Path, *, tls: bool = False, password: str = "") -> Iterator[IrcServer]:
    """Start ngircd on 127.0.0.1 (and a TLS port when asked); stop it at the end."""
    port = free_port()
    directory = tmp_path / f"ngircd-{port}"
    directory.mkdir()
    (directory / "help.txt").write_text("")
    ssl_section = ""
    tls_port = None
    cert = None
    if tls:
        tls_port = free_port()
        cert, key = directory / "cert.pem", directory / "key.pem"
        _self_signed(cert, key)
        ssl_section = _SSL.format(cert=cert, key=key, tls_port=tls_port)
    config = directory / "ngircd.conf"
    config.write_text(
        _CONFIG.format(
            port=port,
            tmp=directory,
            uid=os.getuid(),
            gid=os.getgid(),
            password_line=f"Password = {password}" if password else "",
            ssl_section=ssl_section,
        )
    )
    server = IrcServer(port, config, directory / "ngircd.log", tls_port, cert)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _self_signed(cert: Path, key: Path) -> None:
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )


class RawClient:
    """A second, real IRC client speaking raw protocol lines (bytes), as a user would.

    Raw bytes on purpose: the tests send non-UTF-8 text and exact-length
    lines that a higher-level client would re-encode or refuse.
    """

    def __init__(self, port: int, nick: str, timeout: float = 20.0, password: str = "") -> None:
        self.nick = nick
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.received = b""
        if password:
            self.send(f"PASS {password}".encode())
        self.send(f"NICK {nick}".encode())
        self.send(f"USER {nick} 0 * :{nick}".encode())
        self.wait_for(b" 001 ")

    def send(self, line: bytes) -> None:
        self.sock.sendall(line + b"\r\n")

    def wait_for(self, needle: bytes, timeout: float = 20.0) -> bytes:
        """Read until ``needle`` has arrived; answer PINGs meanwhile."""
        deadline = time.monotonic() + timeout
        while needle not in self.received:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{needle!r} not received; got {self.received[-2000:]!r}")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"server closed; got {self.received[-2000:]!r}")
            self.received += chunk
            for line in chunk.split(b"\r\n"):
                if line.startswith(b"PING "):
                    self.send(b"PONG " + line[5:])
        return self.received

    def join(self, channel: str) -> None:
        self.send(f"JOIN {channel}".encode())
        self.wait_for(f" 366 {self.nick} {channel} ".encode())

    def close(self) -> None:
        with suppress(OSError):
            self.send(b"QUIT :bye")
        self.sock.close()


@dataclass
class BotProcess:
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def ircbot(tmp_path: Path, *args: str, **extra_env: str) -> Iterator[BotProcess]:
    """Run ``manage.py ircbot`` against the test database; stop it at the end."""
    log_path = tmp_path / f"ircbot-{time.monotonic_ns()}.log"
    env = {
        **os.environ,
        "DATABASE_URL": child_database_url(),
        # Fast enough for a test to see admin changes and reconnects.
        "BOT_POLL_SECONDS": "1",
        "BOT_JOIN_RETRY_SECONDS": "2",
        "BOT_RECONNECT_MAX_SECONDS": "4",
        **extra_env,
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "ircbot", *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
        )
    try:
        yield BotProcess(process, log_path)
    finally:
        stop_process(process)


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something true; bounded in time."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout} s: {what or predicate}")
        time.sleep(0.1)


class Wire:
    """The bot's real connection code over a socketpair, for tests of one step.

    The test plays the server: ``server_says`` writes raw bytes the
    connection reads and parses with the irc library, ``bot_said`` returns
    what the bot wrote back.
    """

    def __init__(self) -> None:
        self.bot_end, self.server_end = socket.socketpair()
        self.server_end.settimeout(5)

    def open_socket(self, address: tuple[str, int]) -> socket.socket:
        return self.bot_end

    def server_says(self, connection: Any, raw: bytes) -> None:
        self.server_end.sendall(raw)
        connection.process_data()

    def bot_said(self) -> bytes:
        self.bot_end.setblocking(True)
        self.server_end.setblocking(False)
        try:
            return self.server_end.recv(65536)
        except BlockingIOError:
            return b""
        finally:
            self.server_end.settimeout(5)

    def close(self) -> None:
        self.bot_end.close()
        self.server_end.close()


class Listening(Protocol):
    port: int


def connect(server: Listening, clients: list[RawClient], nick: str) -> RawClient:
    client = RawClient(server.port, nick)
    clients.append(client)
    return client


def wait_for_line(channel: Channel, timeout: float = 30.0, **fields: str) -> Line:
    """The newest line of ``channel`` with ``fields``, once the bot has stored one."""

    def found() -> Line | None:
        return Line.objects.filter(channel=channel, **fields).order_by("id").last()

    line: Line = wait_until(found, timeout, f"a line {fields} in {channel.name}")
    return line
