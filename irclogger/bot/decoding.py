"""IRC text is bytes: decode each protocol line on its own, and never lose one.

UTF-8 first, else cp1252 for that line only, as the importers read files
(irclogger.encoding). NUL cannot be stored in a PostgreSQL text column; it is
the one byte replaced (by U+FFFD). Formatting codes are kept as received.
"""

from collections.abc import Iterator

from jaraco.stream.buffer import LineBuffer

from irclogger.encoding import decode

REPLACEMENT = "\ufffd"


def decode_irc(raw: bytes) -> str:
    return decode(raw).replace("\x00", REPLACEMENT)


class IrcLineBuffer(LineBuffer):  # type: ignore[misc]  # jaraco.stream is untyped
    """The irc library's line buffer, decoding each line with ``decode_irc``."""

    def lines(self) -> Iterator[str]:
        for raw in super().lines():
            yield decode_irc(raw)
