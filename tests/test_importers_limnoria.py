"""Limnoria / Supybot ChannelLogger logs, from the shapes of IRC_FORMATS.md."""

from pathlib import Path

from irclogger.models import Channel
from tests.importing import import_bytes, parse, stored

LOG = """\
2016-09-20T00:01:00  *** alice <alice!~alice@host.example> has joined #chan
2016-09-20T00:01:01  <alice> hello \x02world\x02
2016-09-20T00:01:02  * alice waves
2016-09-20T00:01:03  -alice- a notice
2016-09-20T00:01:04  *** alice changes topic to "new topic"
2016-09-20T00:01:05  *** alice sets mode: +o bob
2016-09-20T00:01:06  *** bob was kicked by alice (behave)
2016-09-20T00:01:07  *** carol <carol!~c@h> has left #chan (bye)
2016-09-20T00:01:08  *** dave <dave!~d@h> has quit IRC (Quit: leaving)
2016-09-21T00:01:09  *** alice is now known as alice_"""


def test_it_reads_every_documented_line_shape() -> None:
    assert parse("limnoria", LOG) == [
        ("2016-09-20T00:01:00Z", "join", "alice", "", "~alice@host.example"),
        ("2016-09-20T00:01:01Z", "message", "alice", "", "hello \x02world\x02"),
        ("2016-09-20T00:01:02Z", "action", "alice", "", "waves"),
        ("2016-09-20T00:01:03Z", "notice", "alice", "", "a notice"),
        ("2016-09-20T00:01:04Z", "topic", "alice", "", "new topic"),
        ("2016-09-20T00:01:05Z", "mode", "alice", "", "+o bob"),
        ("2016-09-20T00:01:06Z", "kick", "alice", "bob", "behave"),
        ("2016-09-20T00:01:07Z", "part", "carol", "", "bye"),
        ("2016-09-20T00:01:08Z", "quit", "dave", "", "Quit: leaving"),
        ("2016-09-21T00:01:09Z", "nick", "alice", "alice_", ""),
    ]


def test_it_reads_older_joins_and_supybot_timestamps() -> None:
    log = (
        "02-Feb-2004 14:18:55  *** alice has joined #chan\n"
        "02-Feb-2004 14:18:56  *** alice has quit IRC (bye)"
    )
    assert parse("limnoria", log) == [
        ("2004-02-02T14:18:55Z", "join", "alice", "", ""),
        ("2004-02-02T14:18:56Z", "quit", "alice", "", "bye"),
    ]


def test_it_imports_with_a_malformed_line_reported_by_file_and_number(
    tmp_path: Path, public_channel: Channel
) -> None:
    data = b"2016-09-20T00:01:01  <a> one\n2016-09-20T00:01:02 <a> one space only\n"
    summary, reports = import_bytes(tmp_path, "#chan.log", data, public_channel)
    assert (summary.imported, summary.unparsable) == (1, 1)
    assert reports[0].startswith(f"{tmp_path / '#chan.log'}:2: ")


def test_it_stores_cp1252_lines_next_to_utf8_ones(tmp_path: Path, public_channel: Channel) -> None:
    data = b"2016-09-20T00:01:01  <a> \xe6sthetic \x99\n2016-09-20T00:01:02  <a> \xc3\xa6\n"
    import_bytes(tmp_path, "#chan.log", data, public_channel)
    assert [line[4] for line in stored(public_channel)] == ["æsthetic ™", "æ"]
