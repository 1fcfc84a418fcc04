"""ZNC log module files, the date from the file name, from the shapes of IRC_FORMATS.md."""

from pathlib import Path

from irclogger.models import Channel
from tests.importing import import_bytes, parse, stored

LOG = """\
[00:01:00] *** Joins: alice (~alice@host.example)
[00:01:01] <alice> hello \x02world\x02
[00:01:02] * alice waves
[00:01:03] -alice- a notice
[00:01:04] *** alice changes topic to 'new topic'
[00:01:05] *** alice sets mode: +o bob
[00:01:06] *** bob was kicked by alice (behave)
[00:01:07] *** Parts: carol (~c@h) (bye)
[00:01:08] *** Quits: dave (~d@h) (Quit: leaving (really))
[00:01:09] *** alice is now known as alice_"""


def test_it_reads_every_documented_line_shape() -> None:
    assert parse("znc", LOG, name="libera/#chan/2016-09-20.log") == [
        ("2016-09-20T00:01:00Z", "join", "alice", "", "~alice@host.example"),
        ("2016-09-20T00:01:01Z", "message", "alice", "", "hello \x02world\x02"),
        ("2016-09-20T00:01:02Z", "action", "alice", "", "waves"),
        ("2016-09-20T00:01:03Z", "notice", "alice", "", "a notice"),
        ("2016-09-20T00:01:04Z", "topic", "alice", "", "new topic"),
        ("2016-09-20T00:01:05Z", "mode", "alice", "", "+o bob"),
        ("2016-09-20T00:01:06Z", "kick", "alice", "bob", "behave"),
        ("2016-09-20T00:01:07Z", "part", "carol", "", "bye"),
        ("2016-09-20T00:01:08Z", "quit", "dave", "", "Quit: leaving (really)"),
        ("2016-09-20T00:01:09Z", "nick", "alice", "alice_", ""),
    ]


def test_it_takes_the_day_from_both_file_name_shapes() -> None:
    line = "[23:59:59] <a> hi"
    assert parse("znc", line, name="2016-09-20.log")[0][0] == "2016-09-20T23:59:59Z"
    assert parse("znc", line, name="me_libera_#chan_20170102.log")[0][0] == "2017-01-02T23:59:59Z"


def test_it_refuses_a_file_without_a_date_in_its_name(
    tmp_path: Path, public_channel: Channel
) -> None:
    summary, _ = import_bytes(
        tmp_path, "chan.log", b"[00:00:01] <a> hi\n", public_channel, fmt="znc"
    )
    assert summary.imported == 0
    assert "its lines carry no date, and its path has none" in summary.refused[0][1]


def test_it_imports_with_a_malformed_line_reported_by_file_and_number(
    tmp_path: Path, public_channel: Channel
) -> None:
    data = b"[00:00:01] <a> one\n[00:00:02] <a> two\n[0:0] broken\n"
    summary, reports = import_bytes(tmp_path, "2016-09-20.log", data, public_channel)
    assert (summary.imported, summary.unparsable) == (2, 1)
    assert reports[0].startswith(f"{tmp_path / '2016-09-20.log'}:3: ")


def test_it_stores_cp1252_lines_next_to_utf8_ones(tmp_path: Path, public_channel: Channel) -> None:
    data = b"[00:00:01] <a> \xabguillemets\xbb\n[00:00:02] <a> \xc2\xabutf-8\xc2\xbb\n"
    import_bytes(tmp_path, "2016-09-20.log", data, public_channel)
    assert [line[4] for line in stored(public_channel)] == ["«guillemets»", "«utf-8»"]
