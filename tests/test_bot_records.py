"""irclogger.bot.records: IRC events to lines, one step at a time.

The events are real: raw protocol bytes go through the bot's connection
class (the irc library's parser, the bot's decoding and message framing)
over a socketpair, exactly as they do when read from a server.
"""

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from irclogger.bot.client import BotReactor
from irclogger.bot.records import ChannelConfig, PendingLine, Recorder, event_time
from tests.ircserver import Wire

NOW = dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.UTC)
C, D = 1, 2

Parse = Callable[[bytes], list[Any]]


@pytest.fixture
def parse() -> Iterator[Parse]:
    """Raw server bytes -> the events the bot's connection makes of them."""
    wire = Wire()
    reactor = BotReactor()
    events: list[Any] = []
    reactor.add_global_handler(
        "all_events", lambda c, e: events.append(e) if e.type != "all_raw_messages" else None
    )
    connection = reactor.server()
    connection.connect("irc.test", 6667, "irclogger", connect_factory=wire.open_socket)

    def parse(raw: bytes) -> list[Any]:
        events.clear()
        wire.server_says(connection, raw)
        return list(events)

    yield parse
    wire.close()


@pytest.fixture
def recorder() -> Recorder:
    recorder = Recorder("[nolog]")
    recorder.configure(
        [ChannelConfig(C, "#c"), ChannelConfig.from_model(D, "#D", "Mallory\n\n  eve  \n")]
    )
    return recorder


def feed(recorder: Recorder, parse: Parse, raw: bytes) -> list[PendingLine]:
    lines: list[PendingLine] = []
    for event in parse(raw):
        lines += recorder.record(event, "irclogger", NOW)
    return lines


def joined(recorder: Recorder, parse: Parse) -> None:
    """The bot in #c (with alice and bob) and #d (with alice and Mallory)."""
    feed(
        recorder,
        parse,
        b":irclogger!~irclogger@bot.host JOIN :#c\r\n"
        b":irc.test 353 irclogger = #c :irclogger @alice +bob\r\n"
        b":irc.test 366 irclogger #c :End of NAMES list\r\n"
        b":irclogger!~irclogger@bot.host JOIN #d\r\n"
        b":irc.test 353 irclogger @ #d :irclogger @+alice Mallory\r\n"
        b":irc.test 366 irclogger #d :End of NAMES list\r\n",
    )


def short(lines: list[PendingLine]) -> list[tuple[int, str, str, str, str]]:
    return [(line.channel_id, line.kind, line.nick, line.target, line.text) for line in lines]


def test_it_takes_the_time_from_the_server_time_tag(recorder: Recorder, parse: Parse) -> None:
    joined(recorder, parse)
    (line,) = feed(
        recorder, parse, b"@time=2024-03-09T23:59:58.250Z :alice!a@h PRIVMSG #c :late\r\n"
    )
    assert line.timestamp == dt.datetime(2024, 3, 9, 23, 59, 58, 250000, tzinfo=dt.UTC)


def test_it_uses_its_own_clock_without_a_time_tag(recorder: Recorder, parse: Parse) -> None:
    joined(recorder, parse)
    (event,) = parse(b"@msgid=x1 :alice!a@h PRIVMSG #c :now\r\n")
    assert event_time(event, NOW) == NOW
    (bad,) = parse(b"@time=yesterday :alice!a@h PRIVMSG #c :now\r\n")
    assert event_time(bad, NOW) == NOW


def test_it_writes_its_arrival_and_the_joins(recorder: Recorder, parse: Parse) -> None:
    lines = feed(
        recorder,
        parse,
        b":irclogger!~irclogger@bot.host JOIN :#c\r\n:alice!~a@example.org JOIN #c\r\n",
    )
    assert short(lines) == [
        (C, "system", "", "", "Logging started"),
        (C, "join", "irclogger", "", "~irclogger@bot.host"),
        (C, "join", "alice", "", "~a@example.org"),
    ]


def test_it_records_what_is_said(recorder: Recorder, parse: Parse) -> None:
    joined(recorder, parse)
    lines = feed(
        recorder,
        parse,
        b":alice!a@h PRIVMSG #c :hello \x0304red\x0f\r\n"
        b":alice!a@h PRIVMSG #C :\x01ACTION waves\x01\r\n"
        b":alice!a@h PRIVMSG #c :\x01VERSION\x01\r\n"
        b":alice!a@h PRIVMSG #c :a \x01 inside and \x10n kept\r\n"
        b":alice!a@h NOTICE #c :heads up\r\n"
        b":alice!a@h PRIVMSG irclogger :private, not logged\r\n"
        b":alice!a@h PRIVMSG #elsewhere :not a logged channel\r\n",
    )
    assert short(lines) == [
        (C, "message", "alice", "", "hello \x0304red\x0f"),
        (C, "action", "alice", "", "waves"),
        (C, "message", "alice", "", "a \x01 inside and \x10n kept"),
        (C, "notice", "alice", "", "heads up"),
    ]


def test_it_writes_a_quit_to_every_channel_the_user_was_in(
    recorder: Recorder, parse: Parse
) -> None:
    joined(recorder, parse)
    lines = feed(recorder, parse, b":alice!a@h QUIT :Quit: bye\r\n:bob!b@h QUIT :\r\n")
    assert short(lines) == [
        (C, "quit", "alice", "", "Quit: bye"),
        (D, "quit", "alice", "", "Quit: bye"),
        (C, "quit", "bob", "", ""),
    ]
    assert feed(recorder, parse, b":alice!a@h QUIT :again?\r\n") == []


def test_it_follows_a_nick_change_across_channels(recorder: Recorder, parse: Parse) -> None:
    joined(recorder, parse)
    lines = feed(recorder, parse, b":alice!a@h NICK :Alicia\r\n:Alicia!a@h QUIT :gone\r\n")
    assert short(lines) == [
        (C, "nick", "alice", "Alicia", ""),
        (D, "nick", "alice", "Alicia", ""),
        (C, "quit", "Alicia", "", "gone"),
        (D, "quit", "Alicia", "", "gone"),
    ]


def test_it_forgets_who_parted_or_was_kicked(recorder: Recorder, parse: Parse) -> None:
    joined(recorder, parse)
    lines = feed(
        recorder,
        parse,
        b":bob!b@h PART #c :later\r\n"
        b":alice!a@h KICK #d Mallory :behave\r\n"
        b":alice!a@h MODE #c +o-v alice bob\r\n"
        b":irc.test MODE #c +n\r\n"
        b":bob!b@h QUIT :not here\r\n:Mallory!m@h QUIT :nor here\r\n",
    )
    assert short(lines) == [
        (C, "part", "bob", "", "later"),
        (D, "kick", "alice", "Mallory", "behave"),
        (C, "mode", "alice", "", "+o-v alice bob"),
        (C, "mode", "irc.test", "", "+n"),
    ]


def test_it_stops_logging_a_channel_it_is_kicked_from(recorder: Recorder, parse: Parse) -> None:
    joined(recorder, parse)
    feed(recorder, parse, b":alice!a@h KICK #c irclogger :no bots\r\n")
    assert feed(recorder, parse, b":alice!a@h PRIVMSG #c :alone now\r\n") == []
    assert [state.config.name for state in recorder.to_join()] == ["#c"]


def test_it_records_the_topic_on_join_with_its_setter(recorder: Recorder, parse: Parse) -> None:
    lines = feed(
        recorder,
        parse,
        b":irclogger!~i@h JOIN #c\r\n"
        b":irc.test 332 irclogger #c :Welcome \x02here\x02\r\n"
        b":irc.test 333 irclogger #c alice!a@h 1710072000\r\n"
        b":irc.test 366 irclogger #c :End of NAMES list\r\n"
        b":irclogger!~i@h JOIN #d\r\n"
        b":irc.test 332 irclogger #d :no setter known\r\n"
        b":irc.test 366 irclogger #d :End of NAMES list\r\n"
        b":alice!a@h TOPIC #c :changed\r\n",
    )
    topics = [(line.channel_id, line.nick, line.text) for line in lines if line.kind == "topic"]
    assert topics == [
        (C, "alice", "Welcome \x02here\x02"),
        (D, "", "no setter known"),
        (C, "alice", "changed"),
    ]


def test_it_redacts_excluded_nicks(recorder: Recorder, parse: Parse) -> None:
    joined(recorder, parse)
    lines = feed(
        recorder,
        parse,
        b":mallory!m@h PRIVMSG #d :my secret\r\n"
        b":EVE!e@h JOIN #d\r\n"
        b":eve!e@h PART #d :where I went\r\n"
        b":Mallory!m@h NICK :mal\r\n"
        b":Mallory!m@h PRIVMSG #c :in #c she is not excluded\r\n",
    )
    assert short(lines) == [
        (D, "message", "mallory", "", "[redacted]"),
        (D, "join", "EVE", "", ""),
        (D, "part", "eve", "", "[redacted]"),
        (D, "nick", "Mallory", "mal", ""),
        (C, "message", "Mallory", "", "in #c she is not excluded"),
    ]


def test_it_does_not_store_lines_said_off_the_record(recorder: Recorder, parse: Parse) -> None:
    joined(recorder, parse)
    lines = feed(
        recorder,
        parse,
        b":alice!a@h PRIVMSG #c :[nolog] between us\r\n"
        b":alice!a@h PRIVMSG #c :\x01ACTION [nolog] whispers\x01\r\n"
        b":alice!a@h NOTICE #c :[nolog] quiet\r\n"
        b":alice!a@h PRIVMSG #c :not [nolog] at the start\r\n",
    )
    assert [line.text for line in lines] == ["not [nolog] at the start"]


def test_it_marks_the_gap_when_the_connection_is_lost(recorder: Recorder, parse: Parse) -> None:
    feed(recorder, parse, b":irclogger!~i@h JOIN #c\r\n")
    lines = recorder.lost_connection("Connection reset by peer", "irc.test", NOW)
    assert short(lines) == [
        (
            C,
            "system",
            "",
            "",
            "Logging interrupted: the connection to irc.test was lost (Connection reset by peer)",
        )
    ]
    assert recorder.lost_connection("again", "irc.test", NOW) == []
    again = feed(recorder, parse, b":irclogger!~i@h JOIN #c\r\n")
    assert again[0].text == "Logging resumed"


def test_it_stops_recording_a_channel_removed_from_the_config(
    recorder: Recorder, parse: Parse
) -> None:
    joined(recorder, parse)
    recorder.configure([ChannelConfig(C, "#c")])
    assert [state.config.name for state in recorder.to_part()] == ["#D"]
    assert feed(recorder, parse, b":alice!a@h PRIVMSG #d :unlogged now\r\n") == []
    feed(recorder, parse, b":irclogger!~i@h PART #d :logging stopped\r\n")
    recorder.configure([ChannelConfig(C, "#c")])
    assert recorder.state("#d") is None
