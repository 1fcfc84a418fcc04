"""Textual logs: ISO times with their offset, "• nick:" actions, English event texts.

Textual is a macOS program, in neither Debian nor npm: the sample follows
its source (TLOFileLogger's line format and file names, the English
IRC.strings of its event messages; formatting stripped as it writes).
"""

from pathlib import Path

from irclogger.models import Channel
from tests.importing import import_bytes, parse, stored

SAMPLE = "\n".join(
    (
        "[2024-03-10T13:00:00+0100] alice (~alice@host) joined the channel",
        "[2024-03-10T13:00:01+0100] <@alice> hello bob",
        "[2024-03-10T13:00:02+0100] \u2022 alice: waves",
        "[2024-03-10T13:00:03+0100] -alice- a notice",
        "[2024-03-10T13:00:04+0100] alice changed the topic to a new topic",
        "[2024-03-10T13:00:05+0100] alice sets mode +v bob",
        "[2024-03-10T13:00:06+0100] bob is now known as bobby",
        "[2024-03-10T13:00:07+0100] alice kicked bobby from the channel (bye)",
        "[2024-03-10T13:00:08+0100] carol (~c@h) left the channel (off)",
        "[2024-03-10T13:00:09+0100] dave (~d@h) left IRC (Quit: gone)",
        "[2024-03-10T13:00:10+0100] Topic is a new topic",
    )
)


def test_it_reads_every_kind_at_its_utc_time() -> None:
    assert parse("textual", SAMPLE) == [
        ("2024-03-10T12:00:00Z", "join", "alice", "", "~alice@host"),
        ("2024-03-10T12:00:01Z", "message", "alice", "", "hello bob"),
        ("2024-03-10T12:00:02Z", "action", "alice", "", "waves"),
        ("2024-03-10T12:00:03Z", "notice", "alice", "", "a notice"),
        ("2024-03-10T12:00:04Z", "topic", "alice", "", "a new topic"),
        ("2024-03-10T12:00:05Z", "mode", "alice", "", "+v bob"),
        ("2024-03-10T12:00:06Z", "nick", "bob", "bobby", ""),
        ("2024-03-10T12:00:07Z", "kick", "alice", "bobby", "bye"),
        ("2024-03-10T12:00:08Z", "part", "carol", "", "off"),
        ("2024-03-10T12:00:09Z", "quit", "dave", "", "Quit: gone"),
        ("2024-03-10T12:00:10Z", "system", "", "", "Topic is a new topic"),
    ]


def test_a_textual_day_file_is_detected_and_imports_once(
    tmp_path: Path, public_channel: Channel
) -> None:
    data = SAMPLE.encode()
    name = "Libera (1A2B)/Channels/#python/2024-03-10.txt"
    summary, reports = import_bytes(tmp_path, name, data, public_channel)
    assert (summary.imported, summary.unparsable, reports) == (11, 0, [])
    assert stored(public_channel)[1] == (
        "2024-03-10T12:00:01Z",
        "message",
        "alice",
        "",
        "hello bob",
    )
    again, _ = import_bytes(tmp_path, name, data, public_channel)
    assert (again.imported, again.duplicates) == (0, 11)
