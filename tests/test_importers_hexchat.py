"""HexChat / XChat logs, the year from the headers, from the shapes of IRC_FORMATS.md."""

from pathlib import Path

from irclogger.models import Channel
from tests.importing import import_bytes, parse, stored

LOG = """\
**** BEGIN LOGGING AT Mon Dec 31 21:11:55 2011

Dec 31 21:11:56 *\tNow talking on #chan
Dec 31 21:12:00 *\talice (~alice@host.example) has joined
Dec 31 21:12:01 <@alice>\thello \x02world\x02
Dec 31 21:12:02 <bob>\thi
Dec 31 21:12:03 *\talice waves
Dec 31 21:12:04 -alice/#chan-\ta notice
Dec 31 21:12:05 *\talice has changed the topic to: new topic
Dec 31 21:12:06 *\talice gives channel operator status to bob
Dec 31 21:12:07 *\talice sets mode +m #chan
Dec 31 21:12:08 *\talice has kicked bob from #chan (behave)
Dec 31 21:12:09 *\tcarol (~c@h) has left (bye)
Dec 31 21:12:10 *\tdave has quit (Quit: leaving)
Jan 01 00:00:01 *\talice is now known as alice_
**** ENDING LOGGING AT Sun Jan  1 00:05:00 2012
"""


def test_it_reads_every_documented_line_shape() -> None:
    assert parse("hexchat", LOG) == [
        ("2011-12-31T21:11:56Z", "system", "", "", "Now talking on #chan"),
        ("2011-12-31T21:12:00Z", "join", "alice", "", "~alice@host.example"),
        ("2011-12-31T21:12:01Z", "message", "alice", "", "hello \x02world\x02"),
        ("2011-12-31T21:12:02Z", "message", "bob", "", "hi"),
        ("2011-12-31T21:12:03Z", "action", "alice", "", "waves"),
        ("2011-12-31T21:12:04Z", "notice", "alice", "", "a notice"),
        ("2011-12-31T21:12:05Z", "topic", "alice", "", "new topic"),
        ("2011-12-31T21:12:06Z", "mode", "alice", "", "+o bob"),
        ("2011-12-31T21:12:07Z", "mode", "alice", "", "+m #chan"),
        ("2011-12-31T21:12:08Z", "kick", "alice", "bob", "behave"),
        ("2011-12-31T21:12:09Z", "part", "carol", "", "bye"),
        ("2011-12-31T21:12:10Z", "quit", "dave", "", "Quit: leaving"),
        ("2012-01-01T00:00:01Z", "nick", "alice", "alice_", ""),
    ]


def test_it_reads_old_xchat_event_prefixes() -> None:
    log = (
        "**** BEGIN LOGGING AT Fri Mar  5 10:00:00 2004\n"
        "Mar 05 10:00:01 -->\talice (~a@h) has joined #chan\n"
        "Mar 05 10:00:02 <--\talice has quit (bye)\n"
        "Mar 05 10:00:03 ---\tbob is now known as bob_"
    )
    assert [entry[1:3] for entry in parse("hexchat", log)] == [
        ("join", "alice"),
        ("quit", "alice"),
        ("nick", "bob"),
    ]


def test_it_takes_each_session_year_from_its_header() -> None:
    log = (
        "**** BEGIN LOGGING AT Mon Dec 31 21:11:55 2011\nDec 31 21:12:00 <a>\tone\n"
        "**** BEGIN LOGGING AT Tue Jun  4 08:00:00 2013\nJun 04 08:00:01 <a>\ttwo"
    )
    assert [entry[0] for entry in parse("hexchat", log)] == [
        "2011-12-31T21:12:00Z",
        "2013-06-04T08:00:01Z",
    ]


def test_it_imports_with_a_malformed_line_reported_by_file_and_number(
    tmp_path: Path, public_channel: Channel
) -> None:
    data = (
        b"**** BEGIN LOGGING AT Mon Dec 31 21:11:55 2011\n"
        b"Dec 31 21:12:00 <a>\tone\nDec 31 21:12:01 <a> no tab\nDec 31 21:12:02 <a>\ttwo\n"
    )
    summary, reports = import_bytes(tmp_path, "libera-#chan.log", data, public_channel)
    assert (summary.imported, summary.unparsable) == (2, 1)
    assert reports[0].startswith(f"{tmp_path / 'libera-#chan.log'}:3: ")


def test_it_stores_cp1252_lines_next_to_utf8_ones(tmp_path: Path, public_channel: Channel) -> None:
    data = (
        b"**** BEGIN LOGGING AT Mon Dec 31 21:11:55 2011\n"
        b"Dec 31 21:12:00 <a>\tZ\xfcrich \x85\nDec 31 21:12:01 <a>\tZ\xc3\xbcrich\n"
    )
    import_bytes(tmp_path, "libera-#chan.log", data, public_channel)
    assert [line[4] for line in stored(public_channel)] == ["Zürich …", "Zürich"]
