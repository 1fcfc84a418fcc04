"""irclogger.bot.decoding: every line decodes, each on its own."""

from hypothesis import given
from hypothesis import strategies as st

from irclogger.bot.decoding import IrcLineBuffer, decode_irc, decode_irc_line


def test_it_decodes_utf8() -> None:
    assert decode_irc("naïve ☃ 🐍".encode()) == "naïve ☃ 🐍"


def test_it_falls_back_to_cp1252_for_that_line_only() -> None:
    buffer = IrcLineBuffer()
    buffer.feed(b"caf\xe9 \x93quoted\x94 \x80\r\ncaf\xc3\xa9\r\n")
    assert list(buffer) == ["café “quoted” €", "café"]


def test_only_the_invalid_bytes_fall_back_and_the_line_keeps_its_bytes() -> None:
    mixed = "café 😀 ".encode() + b"\xe9t\xe9 \x93q\x94"
    assert decode_irc_line(mixed) == ("café 😀 été “q”", mixed)
    assert decode_irc_line("café 😀".encode()) == ("café 😀", None)


def test_the_buffer_tells_the_bytes_of_the_line_being_handled() -> None:
    buffer = IrcLineBuffer()
    buffer.feed(b"caf\xe9\r\ncaf\xc3\xa9\r\n")
    seen = [(text, buffer.raw) for text in buffer]
    assert seen == [("café", b"caf\xe9"), ("café", None)]


def test_it_keeps_the_bytes_cp1252_leaves_undefined() -> None:
    assert decode_irc(b"\x81\x8d\x8f\x90\x9d \xe9") == "\x81\x8d\x8f\x90\x9d é"


def test_it_keeps_formatting_codes_as_received() -> None:
    raw = (
        b"\x02b\x02 \x0304,01c\x03 \x1di\x1d \x1fu\x1f \x1es\x1e"
        b" \x11m\x11 \x16r\x16 \x04ff0000x\x0f"
    )
    assert decode_irc(raw) == raw.decode("ascii")


def test_it_replaces_nul_which_postgresql_cannot_store() -> None:
    assert decode_irc(b"a\x00b") == "a\ufffdb"


def test_it_waits_for_the_end_of_a_line() -> None:
    buffer = IrcLineBuffer()
    buffer.feed(b"first\r\nsec")
    assert list(buffer) == ["first"]
    buffer.feed(b"ond \xe9\n")
    assert list(buffer) == ["second é"]


@given(st.binary(max_size=600))
def test_it_decodes_any_bytes_without_losing_one(raw: bytes) -> None:
    line = raw.replace(b"\r", b"").replace(b"\n", b"").replace(b"\x00", b"")
    text, kept = decode_irc_line(line)
    try:
        expected = line.decode("utf-8")
    except UnicodeDecodeError:
        # The bytes themselves are kept; the text has a character for each
        # valid UTF-8 sequence and one for each other byte.
        assert kept == line
        assert len(line.decode("utf-8", errors="replace")) <= len(text) <= len(line)
    else:
        assert (text, kept) == (expected, None)
