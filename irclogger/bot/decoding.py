"""IRC text is bytes: decode each protocol line on its own, and never lose one.

UTF-8, each invalid run of bytes read as cp1252, as the importers read
files (irclogger.encoding); the buffer keeps the bytes of the line being
handled when they were not all UTF-8, and the lines it makes store them
(``Line.raw``). NUL cannot be stored in a PostgreSQL text column; it is the
one byte replaced (by U+FFFD). Formatting codes are kept as received.
"""

from collections.abc import Iterator

from jaraco.stream.buffer import LineBuffer

from irclogger.encoding import decode_line

REPLACEMENT = "\ufffd"


def decode_irc(raw: bytes) -> str:
    return decode_irc_line(raw)[0]


def decode_irc_line(raw: bytes) -> tuple[str, bytes | None]:
    """The text of a protocol line, and its bytes when they were not all UTF-8."""
    text, kept = decode_line(raw)
    return text.replace("\x00", REPLACEMENT), kept


class IrcLineBuffer(LineBuffer):  # type: ignore[misc]  # jaraco.stream is untyped
    """The irc library's line buffer, decoding each line with ``decode_irc_line``.

    The library handles each line before it asks for the next, so while a
    line's events are handled, ``raw`` is that line's bytes (None if UTF-8).
    """

    raw: bytes | None = None

    def lines(self) -> Iterator[str]:
        for line in super().lines():
            text, self.raw = decode_irc_line(line)
            yield text
