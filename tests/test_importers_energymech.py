"""EnergyMech logs, both timestamp shapes, from the shapes of IRC_FORMATS.md."""

from pathlib import Path

from irclogger.models import Channel
from tests.importing import import_bytes, parse, stored

BODIES = [
    "*** Joins: alice (~alice@host.example)",
    "<alice> hello \x02world\x02",
    "* alice waves",
    "-alice- a notice",
    "*** alice changes topic to 'new topic'",
    "*** alice sets mode: +o bob",
    "*** bob was kicked by alice (behave)",
    "*** Parts: carol (~c@h) (bye)",
    "*** Quits: dave (~d@h) (Quit: leaving)",
    "*** alice is now known as alice_",
]
EXPECTED = [
    ("join", "alice", "", "~alice@host.example"),
    ("message", "alice", "", "hello \x02world\x02"),
    ("action", "alice", "", "waves"),
    ("notice", "alice", "", "a notice"),
    ("topic", "alice", "", "new topic"),
    ("mode", "alice", "", "+o bob"),
    ("kick", "alice", "bob", "behave"),
    ("part", "carol", "", "bye"),
    ("quit", "dave", "", "Quit: leaving"),
    ("nick", "alice", "alice_", ""),
]


def test_it_reads_the_classic_shape_with_the_date_from_the_file_name() -> None:
    log = "\n".join(f"[12:00:0{index}] {body}" for index, body in enumerate(BODIES))
    result = parse("energymech", log, name="irc.libera.chat_#chan_20160920.log")
    assert [entry[1:] for entry in result] == EXPECTED
    assert result[0][0] == "2016-09-20T12:00:00Z"


def test_it_reads_the_current_shape_with_double_quoted_topics() -> None:
    bodies = [body.replace("'new topic'", '"new topic"') for body in BODIES]
    log = "\n".join(f"[Sep 5 2016 12:00:0{index}] {body}" for index, body in enumerate(bodies))
    result = parse("energymech", log, name="anything.log")
    assert [entry[1:] for entry in result] == EXPECTED
    assert result[9][0] == "2016-09-05T12:00:09Z"


def test_it_detects_the_current_shape(tmp_path: Path, public_channel: Channel) -> None:
    data = b"[Sep 5 2016 12:00:00] <a> hi\n[Sep 5 2016 12:00:01] * a waves\n"
    summary, _ = import_bytes(tmp_path, "chan.log", data, public_channel)
    assert summary.imported == 2


def test_it_imports_with_a_malformed_line_reported_by_file_and_number(
    tmp_path: Path, public_channel: Channel
) -> None:
    data = b"[Sep 5 2016 12:00:00] <a> one\n[Sep 55 2016 12:00:01] <a> bad day\n"
    summary, reports = import_bytes(tmp_path, "chan.log", data, public_channel, fmt="energymech")
    assert (summary.imported, summary.unparsable) == (1, 1)
    assert reports[0].startswith(f"{tmp_path / 'chan.log'}:2: ")


def test_it_stores_cp1252_lines_next_to_utf8_ones(tmp_path: Path, public_channel: Channel) -> None:
    data = b"[Sep 5 2016 12:00:00] <a> \xbfqu\xe9?\n[Sep 5 2016 12:00:01] <a> \xc2\xbfqu\xc3\xa9?\n"
    import_bytes(tmp_path, "chan.log", data, public_channel)
    assert [line[4] for line in stored(public_channel)] == ["¿qué?", "¿qué?"]
