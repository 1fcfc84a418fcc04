"""An IRCv3 network for the bot's tests: Debian's InspIRCd 3, and Atheme as its services.

ngircd (tests/ircserver.py) offers neither SASL nor ``server-time``;
InspIRCd offers both, with its ``ircv3_servertime`` module and with its
``sasl`` module relaying logins to real services. Atheme links to it as a
server over InspIRCd's 2.0 protocol (1202), which InspIRCd 3 still speaks
for older servers: Atheme 7.2's ``protocol/inspircd`` knows no newer one.

Both run in the foreground with their configuration, logs and database in
the test's tmp_path, on free loopback ports, and are stopped by the context
manager that started them.
"""

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from tests.ircserver import RawClient
from tests.servers import free_port, stop_process, wait_for_port

INSPIRCD = "/usr/sbin/inspircd"
ATHEME = "/usr/bin/atheme-services"
SERVER_NAME = "irc.test"
SERVICES_NAME = "services.test"
LINK_PASSWORD = "link-secret"

_INSPIRCD_CONFIG = """\
<server name="{server}" description="irclogger test server" network="Test" id="00A">
<admin name="irclogger tests" nick="tests" email="tests@irc.test">
<bind address="127.0.0.1" port="{port}" type="clients">
<bind address="127.0.0.1" port="{link_port}" type="servers">
<files motd="{directory}/motd.txt">
# Every client of a test comes from 127.0.0.1; no DNS or ident lookups.
<connect name="main" allow="*" timeout="60" pingfreq="120" localmax="1000" globalmax="1000"
         limit="1000" maxchans="100" useident="no" resolvehostnames="no" motd="motd">
<dns server="127.0.0.1" timeout="1">
<pid file="{directory}/inspircd.pid">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" flush="1"
     target="{directory}/inspircd.log">
<module name="cap">
<module name="ircv3">
<module name="ircv3_servertime">
<module name="sasl">
<module name="services_account">
<module name="spanningtree">
<link name="{services}" ipaddr="127.0.0.1" port="{link_port}" allowmask="127.0.0.0/8"
      sendpass="{password}" recvpass="{password}" timeout="30">
<uline server="{services}" silent="yes">
<sasl target="{services}">
"""

_ATHEME_CONFIG = """\
loadmodule "modules/protocol/inspircd";
loadmodule "modules/backend/opensex";
loadmodule "modules/crypto/pbkdf2v2";
loadmodule "modules/nickserv/main";
loadmodule "modules/nickserv/register";
loadmodule "modules/saslserv/main";
loadmodule "modules/saslserv/plain";

serverinfo {{
    name = "{services}";
    desc = "irclogger test services";
    numeric = "00B";
    recontime = 1;
    netname = "Test";
    hidehostsuffix = "users.test";
    adminname = "irclogger tests";
    adminemail = "tests@irc.test";
    registeremail = "noreply@irc.test";
    loglevel = {{ error; info; admin; network; }};
    maxlogins = 5;
    maxusers = 5;
    mdlimit = 30;
    emaillimit = 10;
    emailtime = 300;
    auth = none;
    casemapping = rfc1459;
}};

uplink "{server}" {{
    host = "127.0.0.1";
    port = {link_port};
    password = "{password}";
}};

nickserv {{
    nick = "NickServ";
    user = "NickServ";
    host = "{services}";
    real = "Nickname Services";
    maxnicks = 5;
    expire = 30;
}};

saslserv {{
    nick = "SaslServ";
    user = "SaslServ";
    host = "{services}";
    real = "SASL Authentication Agent";
}};

logfile "{directory}/atheme-events.log" {{ all; }};

general {{
    # Registrations are throttled per services instance; a test makes one or two.
    ratelimit_uses = 100;
    ratelimit_period = 60;
}};
"""


@dataclass
class Process:
    """A server started in the foreground, writing its output to ``log_path``."""

    command: list[str]
    log_path: Path
    cwd: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> subprocess.Popen[bytes]:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command, cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        return self.process

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class InspIRCd(Process):
    port: int = 0
    link_port: int = 0

    def log(self) -> str:
        """Its output, then its own log file (links, SASL, module errors)."""
        own = self.cwd / "inspircd.log"
        return super().log() + (own.read_text(errors="replace") if own.exists() else "")


@contextmanager
def inspircd(tmp_path: Path) -> Iterator[InspIRCd]:
    """Start InspIRCd on 127.0.0.1, ready for Atheme to link; stop it at the end."""
    port, link_port = free_port(), free_port()
    directory = tmp_path / f"inspircd-{port}"
    directory.mkdir()
    (directory / "motd.txt").write_text("irclogger tests\n")
    config = directory / "inspircd.conf"
    config.write_text(
        _INSPIRCD_CONFIG.format(
            server=SERVER_NAME,
            services=SERVICES_NAME,
            port=port,
            link_port=link_port,
            directory=directory,
            password=LINK_PASSWORD,
        )
    )
    command = [INSPIRCD, f"--config={config}", "--nofork"]
    if os.getuid() == 0:
        # InspIRCd refuses to start as root without it (CI containers run as root).
        command.append("--runasroot")
    server = InspIRCd(
        command, directory / "inspircd.out", directory, port=port, link_port=link_port
    )
    try:
        try:
            wait_for_port(port, process=server.start())
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"InspIRCd did not start:\n{server.log()[-3000:]}") from exc
        yield server
    finally:
        server.stop()


@contextmanager
def atheme(tmp_path: Path, server: InspIRCd) -> Iterator[Process]:
    """Link Atheme to ``server``; return once the server offers SASL through it."""
    directory = tmp_path / f"atheme-{server.link_port}"
    directory.mkdir()
    config = directory / "atheme.conf"
    config.write_text(
        _ATHEME_CONFIG.format(
            server=SERVER_NAME,
            services=SERVICES_NAME,
            link_port=server.link_port,
            directory=directory,
            password=LINK_PASSWORD,
        )
    )
    command = [
        ATHEME,
        "-n",  # in the foreground
        "-c",
        str(config),
        "-D",  # the data directory: its opensex database, services.db
        str(directory),
        "-l",
        str(directory / "atheme.log"),
        "-p",
        str(directory / "atheme.pid"),
    ]
    services = Process(command, directory / "atheme.out", directory)
    try:
        process = services.start()
        deadline = time.monotonic() + 30
        while "sasl=PLAIN" not in offered_caps(server.port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"Atheme did not link:\n{services.log()[-3000:]}\n{server.log()[-3000:]}"
                )
            time.sleep(0.1)
        yield services
    finally:
        services.stop()


def offered_caps(port: int) -> str:
    """The server's CAP LS reply; InspIRCd offers ``sasl`` only while services are linked."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"CAP LS 302\r\n")
        received = b""
        while b" LS " not in received or not received.endswith(b"\r\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
        with suppress(OSError):
            sock.sendall(b"QUIT\r\n")
    return received.decode(errors="replace")


def request_caps(client: RawClient, *caps: str) -> None:
    """Turn on IRCv3 capabilities for a registered client (InspIRCd allows it any time)."""
    wanted = " ".join(caps)
    client.send(f"CAP REQ :{wanted}".encode())
    client.wait_for(f"ACK :{wanted}".encode())


def register_account(port: int, account: str, password: str) -> None:
    """Register ``account`` with NickServ as a user would: connect as that nick, REGISTER."""
    client = RawClient(port, account)
    try:
        client.send(f"PRIVMSG NickServ :REGISTER {password} {account}@example.org".encode())
        client.wait_for(f"\x02{account}\x02 is now registered".encode())
    finally:
        client.close()
