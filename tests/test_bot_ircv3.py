"""The bot on an IRCv3 network: ``server-time`` and SASL PLAIN against real servers.

tests/test_bot_client.py plays the server over a socketpair; here the
server is a real InspIRCd with its ``ircv3_servertime`` and ``sasl``
modules, and the accounts live in a real Atheme linked to it. The bot runs
as ``manage.py ircbot`` against the test database.
"""

import datetime as dt
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from irclogger.models import Channel, Network
from tests.ircserver import BotProcess, RawClient, connect, ircbot, wait_for_line, wait_until
from tests.ircv3server import (
    InspIRCd,
    Process,
    atheme,
    inspircd,
    register_account,
    request_caps,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ACCOUNT = "logbot"
PASSWORD = "correct-horse-battery"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[InspIRCd]:
    with inspircd(tmp_path) as server:
        yield server


@pytest.fixture
def services(tmp_path: Path, server: InspIRCd) -> Iterator[Process]:
    with atheme(tmp_path, server) as services:
        register_account(server.port, ACCOUNT, PASSWORD)
        yield services


def logged_channel(server: InspIRCd, sasl_password: str = "") -> Channel:
    network = Network.objects.create(
        name="Test",
        slug="test",
        host="127.0.0.1",
        port=server.port,
        use_tls=False,
        nick="irclogger",
        sasl_username=ACCOUNT if sasl_password else "",
        sasl_password=sasl_password,
        bot_enabled=True,
    )
    return Channel.objects.create(network=network, name="#logged", slug="logged")


def wait_for_bot_in(channel: Channel, bot: BotProcess, server: InspIRCd) -> None:
    try:
        wait_for_line(channel, kind="join", nick="irclogger")
    except TimeoutError:
        raise AssertionError(f"{bot.log()}\n{server.log()}") from None


def tag_time(received: bytes, needle: bytes) -> dt.datetime:
    """The ``@time=`` tag of the received line that contains ``needle``."""
    line = next(line for line in received.split(b"\r\n") if needle in line)
    match = re.match(rb"@(?:[^ ]*;)?time=([^ ;]+)", line)
    assert match, line
    return dt.datetime.fromisoformat(match[1].decode().replace("Z", "+00:00"))


def account_of(client: RawClient, nick: str) -> str | None:
    """The account WHOIS shows ``nick`` logged in as (330), or None."""
    client.send(f"WHOIS {nick}".encode())
    received = client.wait_for(f" 318 {client.nick} {nick} ".encode())
    match = re.search(rf" 330 {client.nick} {nick} (\S+) ".encode(), received)
    return match[1].decode() if match else None


def test_it_stamps_a_line_with_the_servers_time_tag(
    tmp_path: Path, server: InspIRCd, clients: list[RawClient]
) -> None:
    channel = logged_channel(server)
    alice = connect(server, clients, "alice")
    alice.join("#logged")
    bob = connect(server, clients, "bob")  # sees the same line, tag and all
    request_caps(bob, "server-time")
    bob.join("#logged")
    said = b"PRIVMSG #logged :what time is it?"
    with ircbot(tmp_path) as bot:
        wait_for_bot_in(channel, bot, server)
        # The bot is paused while alice speaks and reads her line only a
        # second after the server stamped it: its own clock would be late.
        bot.process.send_signal(signal.SIGSTOP)
        try:
            alice.send(said)
            stamped = tag_time(bob.wait_for(said), said)
            wait_until(
                lambda: dt.datetime.now(dt.UTC) > stamped + dt.timedelta(seconds=1),
                5,
                "a second after the server's stamp",
            )
        finally:
            bot.process.send_signal(signal.SIGCONT)
        line = wait_for_line(channel, text="what time is it?")

    assert line.timestamp == stamped
    assert stamped.microsecond % 1000 == 0  # the tag's milliseconds, nothing finer


def test_it_logs_in_with_sasl_plain_before_it_registers(
    tmp_path: Path, server: InspIRCd, services: Process, clients: list[RawClient]
) -> None:
    channel = logged_channel(server, sasl_password=PASSWORD)
    with ircbot(tmp_path) as bot:
        wait_for_bot_in(channel, bot, server)
        alice = connect(server, clients, "alice")
        assert account_of(alice, "irclogger") == ACCOUNT
        alice.join("#logged")
        alice.send(b"PRIVMSG #logged :logged in?")
        wait_for_line(channel, text="logged in?")

    log = bot.log()
    assert "test: SASL login succeeded" in log
    # 903 came during registration, before the welcome.
    assert log.index("SASL login succeeded") < log.index("test: connected as irclogger")
    assert "SASL login failed" not in log


def test_it_goes_on_unauthenticated_when_the_sasl_password_is_wrong(
    tmp_path: Path, server: InspIRCd, services: Process, clients: list[RawClient]
) -> None:
    channel = logged_channel(server, sasl_password="not-the-password")
    with ircbot(tmp_path) as bot:
        wait_for_bot_in(channel, bot, server)
        alice = connect(server, clients, "alice")
        assert account_of(alice, "irclogger") is None
        alice.join("#logged")
        alice.send(b"PRIVMSG #logged :logged anyway?")
        wait_for_line(channel, text="logged anyway?")
        assert bot.process.poll() is None

    log = bot.log()
    assert "test: SASL login failed: SASL authentication failed" in log
    assert log.index("SASL login failed") < log.index("test: connected as irclogger")
    assert "SASL login succeeded" not in log
    assert log.count("test: connecting to") == 1  # one connection: no retry loop
