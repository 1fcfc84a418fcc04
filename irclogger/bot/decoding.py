"""IRC text is bytes: decode each protocol line on its own, and never lose one.

UTF-8 first; a line that is not valid UTF-8 is read as cp1252 (what mIRC
and most Windows clients sent before UTF-8), for that line only. The five
byte values cp1252 leaves undefined become the C1 control characters of the
same number, as browsers' windows-1252 decoder does, so no byte can make a
line undecodable. NUL cannot be stored in a PostgreSQL text column; it is
the one byte replaced (by U+FFFD). Formatting codes are kept as received.
"""

from collections.abc import Iterator

from jaraco.stream.buffer import LineBuffer

REPLACEMENT = "\ufffd"


def decode_irc(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = _decode_cp1252(raw)
    return text.replace("\x00", REPLACEMENT)


def _decode_cp1252(raw: bytes) -> str:
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        # 0x81, 0x8D, 0x8F, 0x90, 0x9D: undefined in cp1252, kept as U+0081…
        return "".join(_cp1252_char(byte) for byte in raw)


def _cp1252_char(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return chr(byte)


class IrcLineBuffer(LineBuffer):  # type: ignore[misc]  # jaraco.stream is untyped
    """The irc library's line buffer, decoding each line with ``decode_irc``."""

    def lines(self) -> Iterator[str]:
        for raw in super().lines():
            yield decode_irc(raw)
