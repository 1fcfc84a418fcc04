"""mIRC logs: sessions give the date, events and actions share "* ".

mIRC is a Windows program, in neither Debian nor npm: the sample follows
mIRC's documented log layout (Session Start/Time/Close headers, its default
[HH:nn] timestamp, the event texts of its English messages, with and
without "Show addresses").
"""

from pathlib import Path

from irclogger.models import Channel
from tests.importing import import_bytes, parse, stored

SAMPLE = (
    "Session Start: Sun Mar 10 09:00:00 2024\r\n"
    "Session Ident: #python\r\n"
    "[09:00] * Now talking in #python\r\n"
    "[11:00] <@alice> hello \x02bob\x02\r\n"
    "[11:01] * alice waves at bob\r\n"
    "[11:02] * bob (~bob@host.example) has joined #python\r\n"
    "[11:03] -alice- a notice\r\n"
    "[11:04] * alice changes topic to 'it's new'\r\n"
    "[11:05] * alice sets mode: +v bob\r\n"
    "[11:06] * bob is now known as bobby\r\n"
    "[11:07] * bobby was kicked by alice (bye now)\r\n"
    "[11:08] * carol has left #python (off)\r\n"
    "[11:09] * dave (~d@h) Quit (Quit: gone)\r\n"
    "[11:10] * erin has quit IRC (Ping timeout)\r\n"
    "Session Time: Mon Mar 11 00:00:00 2024\r\n"
    "[00:01:30] <alice> a new day\r\n"
    "Session Close: Mon Mar 11 00:05:00 2024\r\n"
)


def test_it_reads_every_kind_and_the_date_of_each_session_day() -> None:
    assert parse("mirc", SAMPLE.replace("\r\n", "\n").rstrip("\n")) == [
        ("2024-03-10T09:00:00Z", "system", "", "", "Now talking in #python"),
        ("2024-03-10T11:00:00Z", "message", "alice", "", "hello \x02bob\x02"),
        ("2024-03-10T11:01:00Z", "action", "alice", "", "waves at bob"),
        ("2024-03-10T11:02:00Z", "join", "bob", "", "~bob@host.example"),
        ("2024-03-10T11:03:00Z", "notice", "alice", "", "a notice"),
        ("2024-03-10T11:04:00Z", "topic", "alice", "", "it's new"),
        ("2024-03-10T11:05:00Z", "mode", "alice", "", "+v bob"),
        ("2024-03-10T11:06:00Z", "nick", "bob", "bobby", ""),
        ("2024-03-10T11:07:00Z", "kick", "alice", "bobby", "bye now"),
        ("2024-03-10T11:08:00Z", "part", "carol", "", "off"),
        ("2024-03-10T11:09:00Z", "quit", "dave", "", "Quit: gone"),
        ("2024-03-10T11:10:00Z", "quit", "erin", "", "Ping timeout"),
        ("2024-03-11T00:01:30Z", "message", "alice", "", "a new day"),
    ]


def test_a_mirc_log_is_detected_by_its_content_and_imports_once(
    tmp_path: Path, public_channel: Channel
) -> None:
    data = SAMPLE.encode("cp1252")
    summary, reports = import_bytes(tmp_path, "#python.20240310.log", data, public_channel)
    assert (summary.imported, summary.unparsable, reports) == (13, 0, [])
    assert stored(public_channel)[-1] == (
        "2024-03-11T00:01:30Z",
        "message",
        "alice",
        "",
        "a new day",
    )
    again, _ = import_bytes(tmp_path, "#python.20240310.log", data, public_channel)
    assert (again.imported, again.duplicates) == (0, 13)
