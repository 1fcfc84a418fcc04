"""The importers' shared pieces: per-line decoding and local time to UTC, DST included."""

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from irclogger.encoding import decode
from irclogger.importers.base import Clock, Unparsable, file_date
from irclogger.params import UTC

BERLIN = ZoneInfo("Europe/Berlin")


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_it_decodes_utf8_and_falls_back_to_cp1252_for_that_line_only() -> None:
    assert decode("café".encode()) == "café"
    assert decode(b"caf\xe9 \x80") == "café €"
    assert decode(b"\x0304red\x03 \x02bold\x02") == "\x0304red\x03 \x02bold\x02"


def test_it_keeps_the_bytes_cp1252_leaves_undefined() -> None:
    assert decode(b"\x81\x8d\x8f\x90\x9d \xe9") == "\x81\x8d\x8f\x90\x9d é"


def test_it_converts_summer_and_winter_times() -> None:
    clock = Clock(BERLIN)
    assert clock.utc(2024, 1, 15, 12, 0, 0) == utc(2024, 1, 15, 11, 0, 0)
    assert clock.utc(2024, 7, 15, 12, 0, 0) == utc(2024, 7, 15, 10, 0, 0)


def test_it_reads_a_time_the_clocks_skipped_with_the_offset_before_the_change() -> None:
    # 2024-03-31 02:30 never happened in Berlin (02:00 CET became 03:00 CEST).
    clock = Clock(BERLIN)
    assert clock.utc(2024, 3, 31, 1, 59, 0) == utc(2024, 3, 31, 0, 59, 0)
    assert clock.utc(2024, 3, 31, 2, 30, 0) == utc(2024, 3, 31, 1, 30, 0)
    assert clock.utc(2024, 3, 31, 3, 0, 0) == utc(2024, 3, 31, 1, 0, 0)


def test_it_reads_a_repeated_hour_in_the_order_of_the_log() -> None:
    # 2024-10-27 02:00–02:59 happened twice in Berlin: CEST, then CET.
    clock = Clock(BERLIN)
    assert clock.utc(2024, 10, 27, 2, 30, 0) == utc(2024, 10, 27, 0, 30, 0)
    assert clock.utc(2024, 10, 27, 2, 50, 0) == utc(2024, 10, 27, 0, 50, 0)
    # The clock went back: the same wall times again, now an hour later in UTC.
    assert clock.utc(2024, 10, 27, 2, 10, 0) == utc(2024, 10, 27, 1, 10, 0)
    assert clock.utc(2024, 10, 27, 2, 30, 0) == utc(2024, 10, 27, 1, 30, 0)
    assert clock.utc(2024, 10, 27, 3, 0, 0) == utc(2024, 10, 27, 2, 0, 0)


def test_it_reads_the_first_occurrence_of_a_repeated_time_when_nothing_came_before() -> None:
    assert Clock(BERLIN).utc(2024, 10, 27, 2, 30, 0) == utc(2024, 10, 27, 0, 30, 0)


def test_it_refuses_an_impossible_date() -> None:
    with pytest.raises(Unparsable):
        Clock(UTC).utc(2024, 2, 30, 12, 0, 0)


def test_it_finds_the_date_in_log_file_names() -> None:
    assert file_date(Path("net/#chan/2024-03-10.log")) == dt.date(2024, 3, 10)
    assert file_date(Path("me_net_#chan_20240310.log.gz")) == dt.date(2024, 3, 10)
    assert file_date(Path("server_#channel_20241301.log")) is None
    assert file_date(Path("chan.log")) is None
