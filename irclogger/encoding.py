"""IRC text is bytes: decode each line on its own, and never lose one.

UTF-8 where the bytes are UTF-8; each run of bytes that is not (what mIRC
and most Windows clients sent before UTF-8) is read as cp1252, that run
only, so the valid characters around it stay what they are. Such a line
cannot be told apart from one that really said those cp1252 characters:
``decode_line`` hands back its bytes as well, and the line stores them
(``Line.raw``) so they stay recoverable. The bot and the importers both read
lines this way.
"""

import codecs


def _c1_for_undefined(error: UnicodeError) -> tuple[str, int]:
    # cp1252 leaves five bytes (0x81, 0x8D, 0x8F, 0x90, 0x9D) undefined; like
    # the WHATWG windows-1252 decoder, read them as the C1 code points of the
    # same value, so no line is ever lost to its encoding.
    assert isinstance(error, UnicodeDecodeError)
    return error.object[error.start : error.end].decode("latin-1"), error.end


def _cp1252_for_invalid(error: UnicodeError) -> tuple[str, int]:
    # The UTF-8 decoder calls this once per invalid run: only those bytes.
    assert isinstance(error, UnicodeDecodeError)
    invalid = error.object[error.start : error.end]
    return invalid.decode("cp1252", errors="irclogger-c1"), error.end


codecs.register_error("irclogger-c1", _c1_for_undefined)
codecs.register_error("irclogger-cp1252", _cp1252_for_invalid)


def decode(raw: bytes) -> str:
    """UTF-8, each invalid run of bytes read as cp1252."""
    return raw.decode("utf-8", errors="irclogger-cp1252")


def decode_line(raw: bytes) -> tuple[str, bytes | None]:
    """The text of a line, and its bytes when they were not all valid UTF-8 (else None)."""
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="irclogger-cp1252"), raw
