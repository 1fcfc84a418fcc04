# Placeholder until the formatter branch lands.
import html
import zlib


def render_irc(text: str) -> str:
    return html.escape("".join(c for c in text if c >= " "))


def strip_irc(text: str) -> str:
    return "".join(c for c in text if c >= " ")


def nick_colour_class(nick: str) -> str:
    return f"nick-{zlib.crc32(nick.lower().encode()) % 16}"
