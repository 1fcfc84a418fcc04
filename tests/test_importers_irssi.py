"""irssi logs, from the line shapes of IRC_FORMATS.md."""

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from irclogger.models import Channel, Line
from tests.clients import irssi, synced
from tests.importing import import_bytes, parse, stored
from tests.ircserver import RawClient, ngircd

LOG = """\
--- Log opened Tue Sep 20 00:01:49 2016
00:01 -!- alice [~alice@host.example] has joined #chan
00:02 <@alice> hello \x02world\x02
00:02 < bob> hi
00:02 <+carol> hey
00:03  * alice waves
00:04 -alice:#chan- a notice
00:05 -!- alice changed the topic of #chan to: new topic
00:06 -!- mode/#chan [+o bob] by alice
00:07 -!- bob was kicked from #chan by alice [behave]
00:08 -!- carol [~c@h] has left #chan [bye]
00:09 -!- dave [~d@h] has quit [Quit: leaving]
00:10 -!- alice is now known as alice_
00:11 -!- Irssi: Join to #chan was synced in 1 secs
--- Day changed Wed Sep 21 2016
00:00:05 <alice_> the next day, with seconds
--- Log closed Wed Sep 21 00:10:00 2016"""


def test_it_reads_every_documented_line_shape() -> None:
    assert parse("irssi", LOG) == [
        ("2016-09-20T00:01:00Z", "join", "alice", "", "~alice@host.example"),
        ("2016-09-20T00:02:00Z", "message", "alice", "", "hello \x02world\x02"),
        ("2016-09-20T00:02:00Z", "message", "bob", "", "hi"),
        ("2016-09-20T00:02:00Z", "message", "carol", "", "hey"),
        ("2016-09-20T00:03:00Z", "action", "alice", "", "waves"),
        ("2016-09-20T00:04:00Z", "notice", "alice", "", "a notice"),
        ("2016-09-20T00:05:00Z", "topic", "alice", "", "new topic"),
        ("2016-09-20T00:06:00Z", "mode", "alice", "", "+o bob"),
        ("2016-09-20T00:07:00Z", "kick", "alice", "bob", "behave"),
        ("2016-09-20T00:08:00Z", "part", "carol", "", "bye"),
        ("2016-09-20T00:09:00Z", "quit", "dave", "", "Quit: leaving"),
        ("2016-09-20T00:10:00Z", "nick", "alice", "alice_", ""),
        ("2016-09-20T00:11:00Z", "system", "", "", "Irssi: Join to #chan was synced in 1 secs"),
        ("2016-09-21T00:00:05Z", "message", "alice_", "", "the next day, with seconds"),
    ]


def test_it_takes_the_date_from_log_opened_and_day_changed() -> None:
    log = (
        "--- Log opened Sat Dec 31 23:58:00 2016\n23:59 <a> old year\n"
        "--- Day changed Sun Jan 01 2017\n00:00 <a> new year\n"
        "--- Log opened Mon Mar 06 09:00:00 2017\n09:01 <a> later"
    )
    assert [entry[0] for entry in parse("irssi", log)] == [
        "2016-12-31T23:59:00Z",
        "2017-01-01T00:00:00Z",
        "2017-03-06T09:01:00Z",
    ]


def test_it_converts_local_times_with_the_time_zone() -> None:
    log = "--- Log opened Sun Mar 31 00:00:00 2024\n01:59 <a> winter\n03:00 <a> summer"
    assert [entry[0] for entry in parse("irssi", log, tz=ZoneInfo("Europe/Berlin"))] == [
        "2024-03-31T00:59:00Z",
        "2024-03-31T01:00:00Z",
    ]


def test_it_reports_malformed_lines_and_lines_before_a_date() -> None:
    log = "00:01 <a> no date yet\n--- Log opened Tue Sep 20 00:01:49 2016\nnot a line\n00:02 <a> ok"
    result = parse("irssi", log)
    assert [entry[0] for entry in result] == ["unparsable", "unparsable", "2016-09-20T00:02:00Z"]


def test_it_imports_with_a_malformed_line_reported_by_file_and_number(
    tmp_path: Path, public_channel: Channel
) -> None:
    data = b"--- Log opened Tue Sep 20 00:01:49 2016\n00:01 <a> one\n\x01garbage\n00:02 <a> two\n"
    summary, reports = import_bytes(tmp_path, "chan.log", data, public_channel)
    assert (summary.imported, summary.unparsable) == (2, 1)
    assert len(reports) == 1
    assert reports[0].startswith(f"{tmp_path / 'chan.log'}:3: ")


def test_it_stores_cp1252_lines_next_to_utf8_ones(tmp_path: Path, public_channel: Channel) -> None:
    data = (
        b"--- Log opened Tue Sep 20 00:01:49 2016\n"
        b"00:01 <a> caf\xe9 co\xfbte 5 \x80\n"
        b"00:02 <b> caf\xc3\xa9 in UTF-8 \x0304red\x03\n"
    )
    summary, _ = import_bytes(tmp_path, "chan.log", data, public_channel)
    assert summary.imported == 2
    texts = [line[4] for line in stored(public_channel)]
    assert texts == ["café coûte 5 €", "café in UTF-8 \x0304red\x03"]
    assert Line.objects.filter(imported=True).count() == 2


@pytest.mark.e2e
def test_it_imports_a_log_the_real_irssi_wrote_with_autolog_colors(
    tmp_path: Path, public_channel: Channel
) -> None:
    with ngircd(tmp_path) as server:
        alice = RawClient(server.port, "alice")
        alice.join("#chan")
        with irssi(tmp_path, server, "#chan", alice, colors=True) as log:
            bob = RawClient(server.port, "bob")
            bob.join("#chan")
            for line in COLOURED_SESSION:
                alice.send(line)
            bob.wait_for(b"NICK :alicia")
            bob.close()
            alice.wait_for(b":bob!~bob@127.0.0.1 QUIT")
            synced(alice, "irssi")
        raw = log.read_bytes()

    assert b"\x04g" in raw and b"\x04e" in raw  # irssi's theme codes are there
    summary, reports = import_bytes(tmp_path, "coloured.log", raw, public_channel)
    assert (summary.unparsable, reports) == (0, [])
    assert summary.imported == len(raw.splitlines()) - 2  # all but Log opened/closed
    rows = [row[1:] for row in stored(public_channel)]
    assert ("message", "alice", "", "plain, \x02bold\x02 and \x0304red\x03 text") in rows
    assert ("action", "alice", "", "waves \x1dslowly\x1d") in rows
    assert ("notice", "alice", "", "a notice") in rows
    assert ("topic", "alice", "", "a \x1fnew\x1f topic") in rows
    assert ("mode", "alice", "", "+v bob") in rows
    assert ("join", "bob", "", "~bob@127.0.0.1") in rows
    assert ("nick", "alice", "alicia", "") in rows
    assert [row for row in rows if row[0] == "quit"] == [("quit", "bob", "", '"bye"')]
    assert not any("\x04" in text for *_, text in rows)


COLOURED_SESSION = (
    b"PRIVMSG #chan :plain, \x02bold\x02 and \x0304red\x03 text",
    b"PRIVMSG #chan :\x01ACTION waves \x1dslowly\x1d\x01",
    b"NOTICE #chan :a notice",
    b"TOPIC #chan :a \x1fnew\x1f topic",
    b"MODE #chan +v bob",
    b"NICK alicia",
)
