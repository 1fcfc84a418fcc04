"""Format detection and reading plain or gzipped files."""

import gzip
from pathlib import Path

import pytest

from irclogger.importers.detect import detect, head

SAMPLES = {
    "irssi": ("chan.log", b"--- Log opened Tue Sep 20 00:01:49 2016\n00:01 <a> hi\n"),
    "weechat": ("irc.libera.#c.weechatlog", b"2016-09-20 00:01:00\ta\thi\n"),
    "weechat-utc": ("irc.libera.#c.weechatlog", b"2016-09-20 00:01:00.000001Z\ta\thi\n"),
    "znc": ("2016-09-20.log", b"[00:01:00] <a> hi\n[00:01:01] *** Joins: b (b@h)\n"),
    "energymech": ("chan.log", b"[Sep 20 2016 00:01:00] <a> hi\n"),
    "hexchat": (
        "c.log",
        b"**** BEGIN LOGGING AT Tue Sep 20 00:01:49 2016\nSep 20 00:02:00 <a>\thi\n",
    ),
    "limnoria": ("#c.log", b"2016-09-20T00:01:00  <a> hi\n"),
    "supybot": ("#c.log", b"20-Sep-2016 00:01:00  <a> hi\n"),
}
FORMAT_OF = {"weechat-utc": "weechat", "supybot": "limnoria"}


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_it_detects_each_format(tmp_path: Path, sample: str) -> None:
    name, data = SAMPLES[sample]
    path = tmp_path / name
    path.write_bytes(data)
    found = detect(path, head(path))
    assert found is not None
    assert found.name == FORMAT_OF.get(sample, sample)


def test_it_reads_gzipped_files_by_their_content(tmp_path: Path) -> None:
    path = tmp_path / "2016-09-20.log"
    path.write_bytes(gzip.compress(b"[00:01:00] <a> caf\xe9\n"))
    assert head(path) == ["[00:01:00] <a> café"]
    found = detect(path, head(path))
    assert found is not None and found.name == "znc"


def test_it_detects_no_format_in_other_text(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"Shopping list\n- milk\n- 12:00 lunch\n")
    assert detect(path, head(path)) is None


def test_it_strips_crlf_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "#c.log"
    path.write_bytes(b"2016-09-20T00:01:00  <a> hi\r\n")
    assert head(path) == ["2016-09-20T00:01:00  <a> hi"]
