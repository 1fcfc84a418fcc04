"""WeeChat logs, both timestamp variants, from the line shapes of IRC_FORMATS.md."""

from pathlib import Path
from zoneinfo import ZoneInfo

from irclogger.models import Channel
from tests.importing import import_bytes, parse, stored

OLD = "\n".join(
    "2016-09-20 00:01:0" + line if index < 10 else "2016-09-21 00:01:" + line
    for index, line in enumerate(
        [
            "0\t-->\talice (~alice@host.example) has joined #chan",
            "1\t@alice\thello \x02world\x02",
            "2\tbob\thi",
            "3\t *\talice waves",
            "4\t--\tNotice(alice) -> #chan: a notice",
            '5\t--\talice has changed topic for #chan from "old" to "new topic"',
            "6\t--\tMode #chan [+o bob] by alice",
            "7\t<--\talice has kicked bob (behave)",
            "8\t<--\tcarol (~c@h) has left #chan (bye)",
            "9\t<--\tdave (~d@h) has quit (Quit: leaving)",
            "10\t--\talice is now known as alice_",
            "11\t--\tChannel #chan: 5 nicks",
        ]
    )
)


def test_it_reads_every_documented_line_shape() -> None:
    assert parse("weechat", OLD) == [
        ("2016-09-20T00:01:00Z", "join", "alice", "", "~alice@host.example"),
        ("2016-09-20T00:01:01Z", "message", "alice", "", "hello \x02world\x02"),
        ("2016-09-20T00:01:02Z", "message", "bob", "", "hi"),
        ("2016-09-20T00:01:03Z", "action", "alice", "", "waves"),
        ("2016-09-20T00:01:04Z", "notice", "alice", "", "a notice"),
        ("2016-09-20T00:01:05Z", "topic", "alice", "", "new topic"),
        ("2016-09-20T00:01:06Z", "mode", "alice", "", "+o bob"),
        ("2016-09-20T00:01:07Z", "kick", "alice", "bob", "behave"),
        ("2016-09-20T00:01:08Z", "part", "carol", "", "bye"),
        ("2016-09-20T00:01:09Z", "quit", "dave", "", "Quit: leaving"),
        ("2016-09-21T00:01:10Z", "nick", "alice", "alice_", ""),
        ("2016-09-21T00:01:11Z", "system", "", "", "Channel #chan: 5 nicks"),
    ]


def test_it_reads_local_times_before_48_and_utc_times_from_48() -> None:
    log = (
        "2024-07-01 12:00:00\tbob\tlocal, before 4.8\n"
        "2024-07-01 12:00:00.123456Z\tbob\tUTC, 4.8 and later"
    )
    assert parse("weechat", log, tz=ZoneInfo("Europe/Berlin")) == [
        ("2024-07-01T10:00:00Z", "message", "bob", "", "local, before 4.8"),
        ("2024-07-01T12:00:00.123456Z", "message", "bob", "", "UTC, 4.8 and later"),
    ]


def test_it_reads_a_topic_set_for_the_first_time() -> None:
    log = '2024-07-01 12:00:00\t--\talice has changed topic for #chan to "first"'
    assert parse("weechat", log)[0][1:] == ("topic", "alice", "", "first")


def test_it_imports_with_a_malformed_line_reported_by_file_and_number(
    tmp_path: Path, public_channel: Channel
) -> None:
    data = b"2024-07-01 12:00:00\tbob\tone\nno tabs here\n2024-07-01 12:00:01\tbob\ttwo\n"
    summary, reports = import_bytes(tmp_path, "irc.libera.#chan.weechatlog", data, public_channel)
    assert (summary.imported, summary.unparsable) == (2, 1)
    assert reports[0].startswith(f"{tmp_path / 'irc.libera.#chan.weechatlog'}:2: ")


def test_it_stores_cp1252_lines_next_to_utf8_ones(tmp_path: Path, public_channel: Channel) -> None:
    data = (
        b"2024-07-01 12:00:00\tbob\tna\xefve \x93quotes\x94\n"
        b"2024-07-01 12:00:01\tbob\tna\xc3\xafve\n"
    )
    import_bytes(tmp_path, "irc.libera.#chan.weechatlog", data, public_channel)
    assert [line[4] for line in stored(public_channel)] == ["naïve “quotes”", "naïve"]
