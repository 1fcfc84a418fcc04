"""IRC text is bytes: decode each line on its own, and never lose one.

UTF-8 first; a line that is not valid UTF-8 is read as cp1252 (what mIRC
and most Windows clients sent before UTF-8), for that line only. The bot
and the importers both read lines this way.
"""

import codecs


def _c1_for_undefined(error: UnicodeError) -> tuple[str, int]:
    # cp1252 leaves five bytes (0x81, 0x8D, 0x8F, 0x90, 0x9D) undefined; like
    # the WHATWG windows-1252 decoder, read them as the C1 code points of the
    # same value, so no line is ever lost to its encoding.
    assert isinstance(error, UnicodeDecodeError)
    return error.object[error.start : error.end].decode("latin-1"), error.end


codecs.register_error("irclogger-c1", _c1_for_undefined)


def decode(raw: bytes) -> str:
    """UTF-8, or cp1252 for this line only when it is not valid UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="irclogger-c1")
