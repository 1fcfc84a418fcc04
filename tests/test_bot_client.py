"""irclogger.bot.client: one network's connection, a step at a time.

The bot's real connection code runs over a socketpair; the test plays the
server, writing raw protocol lines and reading what the bot answers.
"""

import base64
import logging
import time
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from irclogger import bot as bot_package
from irclogger.bot.client import (
    IDLE_BEFORE_PING,
    NICK_REGAIN_SECONDS,
    PING_TIMEOUT,
    STABLE_SECONDS,
    NetworkBot,
    NetworkConfig,
    alternate_nick,
    classify_message,
    next_attempt,
    reconnect_delay,
)
from irclogger.bot.records import ChannelConfig, PendingLine
from irclogger.metrics import BOT_CONNECTED
from tests.ircserver import Wire

CONFIG = NetworkConfig(
    id=1,
    slug="test",
    host="irc.test",
    port=6697,
    use_tls=False,
    server_password="",
    nick="irclogger",
    sasl_username="",
    sasl_password="",
    channels=(ChannelConfig(1, "#c"), ChannelConfig(2, "#d")),
)


class Harness:
    def __init__(self, config: NetworkConfig) -> None:
        self.wire = Wire()
        self.lines: list[PendingLine] = []
        self.bot = NetworkBot(config, self.lines.extend, open_socket=self.wire.open_socket)
        self.bot.connect()
        self.registration = self.wire.bot_said()

    def server(self, raw: bytes) -> bytes:
        """The server sends ``raw``; return what the bot answered."""
        self.wire.server_says(self.bot.connection, raw)
        return self.wire.bot_said()

    def welcome(self) -> None:
        self.server(b":irc.test 001 irclogger :Welcome\r\n")


@pytest.fixture
def harness() -> Iterator[Harness]:
    harness = Harness(CONFIG)
    yield harness
    harness.wire.close()


def test_it_registers_with_its_nick(harness: Harness) -> None:
    assert harness.registration == b"NICK irclogger\r\nUSER irclogger 0 * :irclogger\r\n"


def test_it_asks_for_server_time_and_logs_in_with_sasl_plain() -> None:
    harness = Harness(
        NetworkConfig(**{**CONFIG.__dict__, "sasl_username": "logbot", "sasl_password": "s3cret"})
    )
    said = harness.server(b":irc.test CAP * LS :multi-prefix sasl server-time\r\n")
    assert said == b"CAP REQ :sasl server-time\r\n"
    said = harness.server(b":irc.test CAP * ACK :sasl server-time\r\n")
    assert said == b"AUTHENTICATE PLAIN\r\n"
    said = harness.server(b"AUTHENTICATE +\r\n")
    assert said == b"AUTHENTICATE " + base64.b64encode(b"logbot\0logbot\0s3cret") + b"\r\n"
    said = harness.server(b":irc.test 903 irclogger :SASL authentication successful\r\n")
    assert said == b"CAP END\r\n"
    harness.wire.close()


def test_it_goes_on_without_sasl_when_login_fails(caplog: pytest.LogCaptureFixture) -> None:
    harness = Harness(
        NetworkConfig(**{**CONFIG.__dict__, "sasl_username": "logbot", "sasl_password": "wrong"})
    )
    harness.server(b":irc.test CAP * LS :sasl\r\n")
    harness.server(b":irc.test CAP * ACK :sasl\r\n")
    harness.server(b"AUTHENTICATE +\r\n")
    with caplog.at_level(logging.ERROR):
        said = harness.server(b":irc.test 904 irclogger :SASL authentication failed\r\n")
    assert said == b"CAP END\r\n"
    assert "SASL login failed" in caplog.text
    harness.wire.close()


def test_it_ends_negotiation_when_nothing_it_wants_is_offered(harness: Harness) -> None:
    assert harness.server(b":irc.test CAP * LS :multi-prefix\r\n") == b"CAP END\r\n"


def test_it_tries_another_nick_while_registering(harness: Harness) -> None:
    in_use = b":irc.test 433 * irclogger :Nickname already in use\r\n"
    assert harness.server(in_use) == b"NICK irclogger_\r\n"
    assert harness.server(in_use) == b"NICK irclogger__\r\n"
    assert harness.server(in_use) == b"NICK irclogger3\r\n"


def test_it_takes_its_nick_back_later(harness: Harness) -> None:
    harness.server(b":irc.test 433 * irclogger :Nickname already in use\r\n")
    harness.server(b":irc.test 001 irclogger_ :Welcome\r\n")
    assert harness.bot.connection.get_nickname() == "irclogger_"
    harness.bot.tick(time.monotonic())
    assert harness.wire.bot_said().startswith(b"JOIN")
    harness.bot.tick(time.monotonic() + NICK_REGAIN_SECONDS + 1)
    assert harness.wire.bot_said().endswith(b"NICK irclogger\r\n")


def test_it_answers_ping(harness: Harness) -> None:
    assert harness.server(b"PING :irc.test\r\n") == b"PONG irc.test\r\n"


def test_it_reports_its_connection(harness: Harness) -> None:
    harness.welcome()
    assert bot_package.status()["test"] is True
    assert BOT_CONNECTED.labels(network="test")._value.get() == 1
    harness.bot.lost("test over")
    assert bot_package.status()["test"] is False
    assert BOT_CONNECTED.labels(network="test")._value.get() == 0


def test_it_joins_its_channels_and_retries_a_refused_one_later(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.welcome()
    now = time.monotonic()
    harness.bot.tick(now)
    assert harness.wire.bot_said() == b"JOIN #c\r\nJOIN #d\r\n"
    harness.server(b":irclogger!~i@h JOIN #d\r\n")
    with caplog.at_level(logging.WARNING):
        harness.server(b":irc.test 474 irclogger #c :Cannot join channel (+b)\r\n")
    assert "cannot join #c (banned)" in caplog.text
    harness.bot.tick(time.monotonic() + 1)
    assert harness.wire.bot_said() == b""
    harness.bot.tick(time.monotonic() + 2 * 60 + 1)
    said = harness.wire.bot_said()  # after two quiet minutes, a PING comes first
    assert said.endswith(b"\r\nJOIN #c\r\n")
    assert b"#d" not in said


def test_it_parts_a_channel_removed_from_the_config(harness: Harness) -> None:
    harness.welcome()
    harness.server(b":irclogger!~i@h JOIN #c\r\n:irclogger!~i@h JOIN #d\r\n")
    harness.bot.reconfigure(NetworkConfig(**{**CONFIG.__dict__, "channels": CONFIG.channels[:1]}))
    harness.bot.tick(time.monotonic())
    assert harness.wire.bot_said() == b"PART #d :logging stopped\r\n"


def test_it_pings_a_quiet_server_and_drops_a_dead_connection(harness: Harness) -> None:
    harness.welcome()
    harness.server(b":irclogger!~i@h JOIN #c\r\n:irclogger!~i@h JOIN #d\r\n")
    quiet_since = harness.bot.last_received
    harness.bot.tick(quiet_since + IDLE_BEFORE_PING + 1)
    assert harness.wire.bot_said() == b"PING irclogger\r\n"
    harness.bot.tick(quiet_since + IDLE_BEFORE_PING + PING_TIMEOUT + 1)
    assert not harness.bot.connection.is_connected()
    gaps = [line.text for line in harness.lines if line.kind == "system"][-2:]
    assert gaps == ["Logging interrupted: the connection to irc.test was lost (ping timeout)"] * 2


def test_it_classifies_messages_by_their_ctcp_framing() -> None:
    assert classify_message("privmsg", "#c", "hi") == ("pubmsg", "hi")
    assert classify_message("privmsg", "#c", "\x01ACTION waves\x01") == ("action", "waves")
    assert classify_message("privmsg", "#c", "\x01ACTION unterminated") == (
        "action",
        "unterminated",
    )
    assert classify_message("privmsg", "#c", "\x01ACTION\x01") == ("action", "")
    assert classify_message("privmsg", "#c", "\x01VERSION\x01") == ("ctcp", "VERSION")
    assert classify_message("notice", "#c", "\x01VERSION x\x01") == ("ctcpreply", "VERSION x")
    assert classify_message("notice", "#c", "a \x01 b") == ("pubnotice", "a \x01 b")
    assert classify_message("privmsg", "irclogger", "hi") == ("privmsg", "hi")


def test_it_counts_alternate_nicks() -> None:
    assert [alternate_nick("bot", n) for n in range(1, 6)] == [
        "bot_",
        "bot__",
        "bot3",
        "bot4",
        "bot5",
    ]


@given(st.integers(min_value=0, max_value=60), st.integers(min_value=1, max_value=600))
def test_it_backs_off_exponentially_with_jitter(attempt: int, maximum: int) -> None:
    delay = reconnect_delay(attempt, maximum)
    assert 1.0 <= delay <= max(1.0, min(maximum, 2**attempt))


def test_it_starts_the_backoff_over_only_after_a_lasting_connection() -> None:
    assert next_attempt(-1, 0.0, 100.0) == 0  # the first reconnect
    assert next_attempt(3, 0.0, 100.0) == 4  # never welcomed: back off further
    assert next_attempt(3, 90.0, 100.0) == 4  # welcomed, then dropped at once
    assert next_attempt(3, 10.0, 10.0 + STABLE_SECONDS) == 0


def test_the_servers_error_text_is_the_reason_of_the_gap(harness: Harness) -> None:
    harness.welcome()
    harness.server(b":irclogger!~i@h JOIN #c\r\n")
    harness.wire.server_end.sendall(b"ERROR :Server going down\r\n")
    harness.wire.server_end.close()
    while harness.bot.connection.is_connected():
        harness.bot.connection.process_data()  # the ERROR, then the closed socket
    gaps = [line.text for line in harness.lines if line.kind == "system"][-1:]
    assert gaps == ["Logging interrupted: the connection to irc.test was lost (Server going down)"]


def test_a_channel_logged_before_resumes_on_the_first_join(harness: Harness) -> None:
    logged = ChannelConfig(1, "#c", logged_before=True)
    harness.bot.reconfigure(NetworkConfig(**{**CONFIG.__dict__, "channels": (logged,)}))
    harness.welcome()
    harness.server(b":irclogger!~i@h JOIN #c\r\n")
    assert [line.text for line in harness.lines if line.kind == "system"] == ["Logging resumed"]
