import datetime as dt

import pytest

from irclogger.params import day_bounds, parse_id, parse_zone


@pytest.mark.parametrize("raw", ["", " ", "¹", "²³", "-1", "1.0", "0x10", "1" * 20, "9" * 8000])
def test_parse_id_refuses_what_is_not_an_ascii_bigint(raw):
    assert parse_id(raw) is None


def test_parse_id_reads_ascii_digits():
    assert parse_id(" 42 ") == 42
    assert parse_id(str(2**63 - 1)) == 2**63 - 1
    assert parse_id(str(2**63)) is None
    assert parse_id(None) is None


@pytest.mark.parametrize("name", ["Etc", "Europe", "", "Nowhere/Else", "x" * 300, "../etc/passwd"])
def test_parse_zone_refuses_what_is_not_an_iana_key(name):
    with pytest.raises(ValueError, match="Unknown time zone"):
        parse_zone(name)


def test_parse_zone_and_day_bounds_follow_dst():
    berlin = parse_zone("Europe/Berlin")
    start, end = day_bounds(dt.date(2026, 3, 29), dt.date(2026, 3, 29), berlin)
    assert end.astimezone(dt.UTC) - start.astimezone(dt.UTC) == dt.timedelta(hours=23)
    assert parse_zone("UTC") is dt.UTC
