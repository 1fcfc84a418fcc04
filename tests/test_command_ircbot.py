"""``manage.py ircbot`` end to end: a real ngircd, real clients speaking, the real bot.

Every test starts ngircd on a free loopback port and the bot as a separate
process against the test database, then reads what the bot stored.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from irclogger.bot.election import lock_connection
from irclogger.models import Channel, Line, Network
from tests.ircserver import (
    BotProcess,
    IrcServer,
    RawClient,
    connect,
    ircbot,
    ngircd,
    wait_for_line,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[IrcServer]:
    with ngircd(tmp_path) as server:
        yield server


@pytest.fixture
def network(server: IrcServer) -> Network:
    return Network.objects.create(
        name="Test",
        slug="test",
        host="127.0.0.1",
        port=server.port,
        use_tls=False,
        nick="irclogger",
        bot_enabled=True,
    )


@pytest.fixture
def logged(network: Network) -> Channel:
    return Channel.objects.create(
        network=network, name="#logged", slug="logged", excluded_nicks="Mallory\n"
    )


def lines(channel: Channel) -> list[Line]:
    return list(Line.objects.filter(channel=channel).order_by("id"))


def wait_for_bot_in(channel: Channel, bot: BotProcess, nick: str = "irclogger") -> None:
    try:
        wait_for_line(channel, kind="join", nick=nick)
    except TimeoutError:
        raise AssertionError(bot.log()) from None


def test_it_records_every_event_kind(
    tmp_path: Path, server: IrcServer, logged: Channel, clients: list[RawClient]
) -> None:
    second = Channel.objects.create(network=logged.network, name="#second", slug="second")
    alice = connect(server, clients, "alice")
    alice.join("#logged")  # first in: alice is the channel operator
    alice.join("#second")
    alice.join("#other")  # not logged: nothing of it is stored
    with ircbot(tmp_path) as bot:
        wait_for_bot_in(logged, bot)
        wait_for_bot_in(second, bot)
        bob = connect(server, clients, "bob")
        bob.join("#logged")
        bob.join("#second")
        alice.send(b"PRIVMSG #logged :hello there")
        alice.send(b"PRIVMSG #logged :\x01ACTION waves\x01")
        alice.send(b"NOTICE #logged :a notice")
        alice.send(b"TOPIC #logged :the new topic")
        alice.send(b"MODE #logged +v bob")
        alice.send(b"KICK #logged bob :behave")
        wait_for_line(logged, kind="kick")
        bob.join("#logged")
        bob.send(b"NICK bobby")
        wait_for_line(logged, kind="nick")
        bob.nick = "bobby"
        bob.send(b"PART #logged :see you")
        wait_for_line(logged, kind="part")
        alice.send(b"QUIT :gone home")
        wait_for_line(logged, kind="quit")
        wait_for_line(second, kind="quit")

    got = [
        (line.kind, line.nick, line.target, line.text)
        for line in lines(logged)
        if line.nick != "irclogger" and line.kind != "system"
    ]
    assert got == [
        ("join", "bob", "", "~bob@127.0.0.1"),
        ("message", "alice", "", "hello there"),
        ("action", "alice", "", "waves"),
        ("notice", "alice", "", "a notice"),
        ("topic", "alice", "", "the new topic"),
        ("mode", "alice", "", "+v bob"),
        ("kick", "alice", "bob", "behave"),
        ("join", "bob", "", "~bob@127.0.0.1"),
        ("nick", "bob", "bobby", ""),
        ("part", "bobby", "", "see you"),
        # ngircd itself quotes a QUIT reason; the bot stores what it received.
        ("quit", "alice", "", '"gone home"'),
    ]
    logged.refresh_from_db()
    assert logged.topic == "the new topic"
    # QUIT and NICK name no channel: one line in each channel the user was in.
    assert [
        (line.kind, line.nick, line.target, line.text)
        for line in lines(second)
        if line.nick != "irclogger" and line.kind != "system"
    ] == [
        ("join", "bob", "", "~bob@127.0.0.1"),
        ("nick", "bob", "bobby", ""),
        ("quit", "alice", "", '"gone home"'),
    ]
    assert not Line.objects.exclude(channel__in=[logged, second]).exists()


def test_it_writes_the_bots_own_arrival_as_a_gap_marker(
    tmp_path: Path, server: IrcServer, logged: Channel
) -> None:
    with ircbot(tmp_path) as bot:
        wait_for_bot_in(logged, bot)
    first = lines(logged)[:2]
    assert [(line.kind, line.nick, line.text) for line in first] == [
        ("system", "", "Logging started"),
        ("join", "irclogger", "~irclogger@127.0.0.1"),
    ]


def test_it_stores_text_faithfully(
    tmp_path: Path, server: IrcServer, logged: Channel, clients: list[RawClient]
) -> None:
    prefix = b"PRIVMSG #logged :"
    relayed_prefix = b":alice!~alice@127.0.0.1 "
    # The longest line a server may send: 510 bytes before CR LF, as relayed.
    longest = "x" * (510 - len(relayed_prefix) - len(prefix) - 3) + "é!"
    with ircbot(tmp_path) as bot:
        wait_for_bot_in(logged, bot)
        alice = connect(server, clients, "alice")
        alice.join("#logged")
        alice.send(prefix + "naïve ☃ UTF-8".encode())
        alice.send(prefix + b"caf\xe9 in cp1252 \x93quoted\x94")
        alice.send(prefix + "mixed: café 😀 ".encode() + b"and \xe9t\xe9")
        alice.send(prefix + b"\x02bold\x02 \x0304,01red\x0f \x1ditalic\x1d \x16rev")
        alice.send(prefix + b"a \x01 in the middle and a \x10 too")
        alice.send(prefix + longest.encode())
        alice.send(prefix + b"done")
        wait_for_line(logged, text="done")

    said = [line.text for line in lines(logged) if line.kind == "message"]
    assert said == [
        "naïve ☃ UTF-8",
        "café in cp1252 “quoted”",
        "mixed: café 😀 and été",
        "\x02bold\x02 \x0304,01red\x0f \x1ditalic\x1d \x16rev",
        "a \x01 in the middle and a \x10 too",
        longest,
        "done",
    ]
    assert len(relayed_prefix + prefix + longest.encode()) == 510
    # The lines that were not UTF-8 keep their bytes, as the server relayed them.
    kept = {line.text: bytes(line.raw) for line in lines(logged) if line.raw is not None}
    assert kept == {
        "café in cp1252 “quoted”": relayed_prefix + prefix + b"caf\xe9 in cp1252 \x93quoted\x94",
        "mixed: café 😀 and été": relayed_prefix
        + prefix
        + "mixed: café 😀 ".encode()
        + b"and \xe9t\xe9",
    }


def test_it_applies_the_privacy_rules(
    tmp_path: Path, server: IrcServer, logged: Channel, clients: list[RawClient]
) -> None:
    with ircbot(tmp_path) as bot:
        wait_for_bot_in(logged, bot)
        alice = connect(server, clients, "alice")
        mallory = connect(server, clients, "Mallory")
        alice.join("#logged")
        mallory.join("#logged")
        alice.send(b"PRIVMSG #logged :[nolog] off the record")
        mallory.send(b"PRIVMSG #logged :my secret")
        alice.send(b"PRIVMSG #logged :on the record")
        wait_for_line(logged, text="on the record")
        wait_for_line(logged, nick="Mallory", kind="message")

    said = {(line.nick, line.text) for line in lines(logged) if line.kind == "message"}
    assert said == {("Mallory", "[redacted]"), ("alice", "on the record")}


def test_it_reconnects_after_the_server_dies(
    tmp_path: Path, server: IrcServer, logged: Channel, clients: list[RawClient]
) -> None:
    with ircbot(tmp_path) as bot:
        wait_for_bot_in(logged, bot)
        server.kill()
        wait_for_line(logged, kind="system", text__startswith="Logging interrupted")
        server.start()
        wait_for_line(logged, kind="system", text="Logging resumed")
        alice = connect(server, clients, "alice")
        alice.join("#logged")
        alice.send(b"PRIVMSG #logged :still logging?")
        wait_for_line(logged, text="still logging?")

    got = [(line.kind, line.nick, line.text.split(":")[0]) for line in lines(logged)]
    assert got == [
        ("system", "", "Logging started"),
        ("join", "irclogger", "~irclogger@127.0.0.1"),
        ("system", "", "Logging interrupted"),
        ("system", "", "Logging resumed"),
        ("join", "irclogger", "~irclogger@127.0.0.1"),
        ("join", "alice", "~alice@127.0.0.1"),
        ("message", "alice", "still logging?"),
        # The bot stopping at the end of the test is a gap too.
        ("system", "", "Logging interrupted"),
    ]


def test_it_takes_another_nick_when_its_own_is_taken(
    tmp_path: Path, server: IrcServer, logged: Channel, clients: list[RawClient]
) -> None:
    connect(server, clients, "irclogger")
    with ircbot(tmp_path) as bot:
        wait_for_bot_in(logged, bot, nick="irclogger_")


def test_it_joins_a_channel_added_in_the_database_with_its_topic(
    tmp_path: Path, server: IrcServer, logged: Channel, clients: list[RawClient]
) -> None:
    alice = connect(server, clients, "alice")
    alice.join("#later")
    alice.send(b"TOPIC #later :set before the bot came")
    with ircbot(tmp_path) as bot:
        wait_for_bot_in(logged, bot)
        later = Channel.objects.create(network=logged.network, name="#later", slug="later")
        wait_for_bot_in(later, bot)
        topic = wait_for_line(later, kind="topic")
        alice.send(b"PRIVMSG #later :welcome")
        wait_for_line(later, text="welcome")
        Channel.objects.filter(pk=later.pk).update(bot_enabled=False)
        alice.wait_for(b"PART #later")

    assert (topic.nick, topic.text) == ("alice", "set before the bot came")
    later.refresh_from_db()
    assert later.topic == "set before the bot came"


def test_it_waits_and_retries_when_the_channel_is_full(
    tmp_path: Path, server: IrcServer, logged: Channel, clients: list[RawClient]
) -> None:
    alice = connect(server, clients, "alice")
    alice.join("#full")
    alice.send(b"MODE #full +l 1")
    alice.wait_for(b"MODE #full +l 1")
    full = Channel.objects.create(network=logged.network, name="#full", slug="full")
    with ircbot(tmp_path) as bot:
        wait_until(lambda: "cannot join #full (channel is full)" in bot.log(), 30, "refusal")
        alice.send(b"MODE #full -l")
        wait_for_bot_in(full, bot)
        assert bot.process.poll() is None  # joined by its own retry, not a restart


def test_it_connects_over_tls_with_a_server_password(
    tmp_path: Path, clients: list[RawClient]
) -> None:
    with ngircd(tmp_path, tls=True, password="letmein") as server:
        assert server.tls_port is not None and server.cert is not None
        network = Network.objects.create(
            name="TLS",
            slug="tls",
            host="127.0.0.1",
            port=server.tls_port,
            use_tls=True,
            server_password="letmein",
            bot_enabled=True,
        )
        channel = Channel.objects.create(network=network, name="#secure", slug="secure")
        # The test's self-signed certificate is the one trusted authority.
        with ircbot(tmp_path, SSL_CERT_FILE=str(server.cert)) as bot:
            wait_for_bot_in(channel, bot)
            alice = RawClient(server.port, "alice", password="letmein")
            clients.append(alice)
            alice.join("#secure")
            alice.send(b"PRIVMSG #secure :over TLS")
            wait_for_line(channel, text="over TLS")


def test_it_keeps_up_with_irc_while_the_database_is_stuck(
    tmp_path: Path, server: IrcServer, logged: Channel, clients: list[RawClient]
) -> None:
    alice = connect(server, clients, "alice")
    alice.join("#logged")
    alice.join("#more")
    with ircbot(tmp_path) as bot:
        wait_for_bot_in(logged, bot)
        locker = lock_connection()
        try:
            with locker.cursor() as cursor:
                # No line can be written until this transaction ends.
                cursor.execute("LOCK TABLE irclogger_line IN ACCESS EXCLUSIVE MODE")
            for n in range(5):
                alice.send(f"PRIVMSG #logged :while stuck {n}".encode())
            Channel.objects.create(network=logged.network, name="#more", slug="more")
            # The bot still reads, polls and speaks IRC: it joins the new channel.
            alice.wait_for(b":irclogger!~irclogger@127.0.0.1 JOIN :#more")
            assert "The database is slow" not in bot.log()  # 5 lines are far from the limit
        finally:
            locker.rollback()
            locker.close()
        wait_for_line(logged, text="while stuck 4")

    said = [line.text for line in lines(logged) if line.kind == "message"]
    assert said == [f"while stuck {n}" for n in range(5)]


def test_the_servers_goodbye_is_the_reason_of_the_gap(
    tmp_path: Path, server: IrcServer, logged: Channel
) -> None:
    with ircbot(tmp_path) as bot:
        wait_for_bot_in(logged, bot)
        server.stop()  # SIGTERM: ngircd says ERROR to every client before it closes
        gap = wait_for_line(logged, kind="system", text__startswith="Logging interrupted")
    # ngircd's ERROR :Server going down, not what the socket said after it.
    assert (
        gap.text == "Logging interrupted: the connection to 127.0.0.1 was lost (Server going down)"
    )
