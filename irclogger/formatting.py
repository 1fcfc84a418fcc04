"""IRC text to HTML: mIRC formatting as the modern IRC formatting spec describes.

The text is split into runs of characters that share one style; every run is
escaped on its own and wrapped in one flat ``<span>``, so no input can leave a
tag open or nest tags wrongly. Links are found afterwards in the plain text
(formatting removed), so a control byte can never end up inside an href.
Any control byte the spec does not define is dropped from the display.
"""

import functools
import itertools
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from html import escape

BOLD = "\x02"
COLOUR = "\x03"
HEX_COLOUR = "\x04"
RESET = "\x0f"
MONOSPACE = "\x11"
REVERSE = "\x16"
ITALIC = "\x1d"
STRIKETHROUGH = "\x1e"
UNDERLINE = "\x1f"

_TOGGLES = {
    BOLD: "bold",
    ITALIC: "italic",
    UNDERLINE: "underline",
    STRIKETHROUGH: "strike",
    MONOSPACE: "mono",
    REVERSE: "reverse",
}

# One formatting code with its arguments, or one other control byte.
# Two digits are always taken when present; a comma counts only when a digit
# follows it (the spec: "\x0304," keeps the comma as text). PostgreSQL's
# regular expressions read it the same way: the search index strips codes with
# it (models.py), so changing it means a migration of the stored vector.
CODE_PATTERN = (
    r"\x03([0-9]{1,2}(,[0-9]{1,2})?)?"
    r"|\x04([0-9a-fA-F]{6}(,[0-9a-fA-F]{6})?)?"
    r"|[\x01-\x1f\x7f]"
)
# PostgreSQL text never holds NUL, so only the Python side meets it: dropped too.
_CODE = re.compile(CODE_PATTERN + r"|\x00")

# The modern IRC formatting spec's colours 0-98 (https://modern.ircdocs.horse/formatting);
# irc-colors.css (scripts/irc_colors.py) gives each a class, irc-fgN and irc-bgN.
MIRC_COLOURS = (
    "#ffffff",
    "#000000",
    "#00007f",
    "#009300",
    "#ff0000",
    "#7f0000",
    "#9c009c",
    "#fc7f00",
    "#ffff00",
    "#00fc00",
    "#009393",
    "#00ffff",
    "#0000fc",
    "#ff00ff",
    "#7f7f7f",
    "#d2d2d2",
    "#470000",
    "#472100",
    "#474700",
    "#324700",
    "#004700",
    "#00472c",
    "#004747",
    "#002747",
    "#000047",
    "#2e0047",
    "#470047",
    "#47002a",
    "#740000",
    "#743a00",
    "#747400",
    "#517400",
    "#007400",
    "#007449",
    "#007474",
    "#004074",
    "#000074",
    "#4b0074",
    "#740074",
    "#740045",
    "#b50000",
    "#b56300",
    "#b5b500",
    "#7db500",
    "#00b500",
    "#00b571",
    "#00b5b5",
    "#0063b5",
    "#0000b5",
    "#7500b5",
    "#b500b5",
    "#b5006b",
    "#ff0000",
    "#ff8c00",
    "#ffff00",
    "#b2ff00",
    "#00ff00",
    "#00ffa0",
    "#00ffff",
    "#008cff",
    "#0000ff",
    "#a500ff",
    "#ff00ff",
    "#ff0098",
    "#ff5959",
    "#ffb459",
    "#ffff71",
    "#cfff60",
    "#6fff6f",
    "#65ffc9",
    "#6dffff",
    "#59b4ff",
    "#5959ff",
    "#c459ff",
    "#ff66ff",
    "#ff59bc",
    "#ff9c9c",
    "#ffd39c",
    "#ffff9c",
    "#e2ff9c",
    "#9cff9c",
    "#9cffdb",
    "#9cffff",
    "#9cd3ff",
    "#9c9cff",
    "#dc9cff",
    "#ff9cff",
    "#ff94d3",
    "#000000",
    "#131313",
    "#282828",
    "#363636",
    "#4d4d4d",
    "#656565",
    "#818181",
    "#9f9f9f",
    "#bcbcbc",
    "#e2e2e2",
    "#ffffff",
)

# Colour 99 is "the default colour": setting it clears the colour.
_DEFAULT_COLOUR = 99

_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"'`\x00-\x1f\x7f]+", re.IGNORECASE)
# Anything that makes a line more than escaped text: a control byte, a line
# break beyond ASCII's (shown as a code: it would break the line on the page), a link.
_NEEDS_MARKUP = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]|https?://|www\.", re.IGNORECASE)
# Punctuation that ends a sentence more often than a URL.
_URL_TRAILING = ".,;:!?*'\""


@dataclass(frozen=True)
class Style:
    bold: bool = False
    italic: bool = False
    underline: bool = False
    strike: bool = False
    mono: bool = False
    reverse: bool = False
    # An mIRC colour number (0–98); None is the default.
    fg: int | None = None
    bg: int | None = None

    def classes(self) -> list[str]:
        flags = ("bold", "italic", "underline", "strike", "mono")
        chosen = [f"irc-{name}" for name in flags if getattr(self, name)]
        fg, bg = (self.bg, self.fg) if self.reverse else (self.fg, self.bg)
        if self.reverse and fg is None and bg is None:
            chosen.append("irc-reverse")
        if fg is not None:
            chosen.append(f"irc-fg{fg}")
        if bg is not None:
            chosen.append(f"irc-bg{bg}")
        if fg is not None and fg == bg:
            # Same colour on same colour hides the text on purpose: a spoiler.
            chosen.append("irc-spoiler")
        return chosen


PLAIN = Style()


def runs(text: str) -> Iterator[tuple[Style, str]]:
    """Split text into (style, visible text) runs; control bytes removed."""
    style = PLAIN
    position = 0
    for match in _CODE.finditer(text):
        if match.start() > position:
            yield style, text[position : match.start()]
        position = match.end()
        style = _apply(style, match.group(0))
    if position < len(text):
        yield style, text[position:]


@functools.lru_cache(maxsize=4096)
def _apply(style: Style, code: str) -> Style:
    """The style after one formatting code (cached: lines repeat a few codes)."""
    control = code[0]
    if control in _TOGGLES:
        name = _TOGGLES[control]
        return replace(style, **{name: not getattr(style, name)})
    if control == RESET:
        return PLAIN
    if control in (COLOUR, HEX_COLOUR):
        fg, _, bg = code[1:].partition(",")
        convert: Callable[[str], int] = int if control == COLOUR else _nearest_mirc
        return _apply_colour(style, fg or None, bg or None, convert)
    return style  # any other control byte: dropped, style unchanged


@functools.lru_cache(maxsize=1024)
def _nearest_mirc(value: str) -> int:
    """The mIRC colour closest to a hex colour ("rrggbb").

    Shown by class like the numbered colours: a style attribute per colour
    would need 'unsafe-inline' in the pages' Content-Security-Policy.
    """
    wanted = bytes.fromhex(value)

    def distance(index: int) -> int:
        palette = bytes.fromhex(MIRC_COLOURS[index][1:])
        return sum((a - b) ** 2 for a, b in zip(wanted, palette, strict=True))

    return min(range(len(MIRC_COLOURS)), key=distance)


def _apply_colour(
    style: Style, fg: str | None, bg: str | None, convert: Callable[[str], int]
) -> Style:
    if fg is None:
        return replace(style, fg=None, bg=None)
    new_fg = _normalise(convert(fg))
    new_bg = style.bg if bg is None else _normalise(convert(bg))
    return replace(style, fg=new_fg, bg=new_bg)


def _normalise(value: int) -> int | None:
    return None if value == _DEFAULT_COLOUR else value


def strip_irc(text: str) -> str:
    """The visible text: formatting codes removed with their digits."""
    return _CODE.sub("", text)


# What str.splitlines() (and Unicode's mandatory breaks) end a line at, and
# the controls that reorder text around them: in a plain-text log each would
# let a line's text pose as other lines or move the nick and time.
LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_SHOWN_AS_CODES = str.maketrans({c: f"<U+{ord(c):04X}>" for c in LINE_BREAKS + BIDI_CONTROLS})
_UNSAFE_IN_A_LINE = re.compile(f"[{LINE_BREAKS}{BIDI_CONTROLS}]")
# On a page the bidi controls stay (each line's text is isolated, irclogger.lines)
# and control bytes are dropped; these three would still break the line.
_PAGE_BREAKS = "\x85\u2028\u2029"
_BREAKS_AS_CODES = str.maketrans({c: f"<U+{ord(c):04X}>" for c in _PAGE_BREAKS})
_HAS_PAGE_BREAK = re.compile(f"[{_PAGE_BREAKS}]")


def escape_text(text: str) -> str:
    """Unformatted text (a nick, a host) as HTML on one line: escaped, breaks shown as codes."""
    if _HAS_PAGE_BREAK.search(text):
        text = text.translate(_BREAKS_AS_CODES)
    return escape(text)


def plain_line(text: str) -> str:
    """The visible text on one line: formatting removed, breaks and bidi controls shown as codes."""
    text = strip_irc(text)
    # Almost no line holds one: the search is cheaper than the translation.
    return text.translate(_SHOWN_AS_CODES) if _UNSAFE_IN_A_LINE.search(text) else text


def render_irc(text: str) -> str:
    """Safe HTML for one IRC message: styled runs, then links."""
    if not _NEEDS_MARKUP.search(text):
        # Most lines are plain words: a day page renders thousands of them.
        return escape(text)
    text = text.translate(_BREAKS_AS_CODES)
    pieces = list(runs(text))
    plain = "".join(chunk for _, chunk in pieces)
    links = [_link_span(match) for match in _URL.finditer(plain)]
    return "".join(_render(pieces, [span for span in links if span[1] > span[0]], plain))


def _link_span(match: re.Match[str]) -> tuple[int, int]:
    url = match.group(0)
    end = match.end()
    while url and (
        url[-1] in _URL_TRAILING or (url[-1] == ")" and url.count("(") < url.count(")"))
    ):
        url = url[:-1]
        end -= 1
    if not _URL.fullmatch(url):
        # Trimming left no address ("http://." or "www..").
        return match.start(), match.start()
    return match.start(), end


def _render(
    pieces: list[tuple[Style, str]], links: list[tuple[int, int]], plain: str
) -> Iterator[str]:
    """Emit runs, cut at link boundaries so each <a> wraps whole spans."""
    cuts = sorted({edge for span in links for edge in span})
    starts = {start: end for start, end in links}
    ends = {end for _, end in links}
    offset = 0
    for style, chunk in pieces:
        chunk_end = offset + len(chunk)
        inner = [c for c in cuts if offset < c < chunk_end]
        bounds = [offset, *inner, chunk_end]
        for left, right in itertools.pairwise(bounds):
            if left in ends:
                yield "</a>"
            if left in starts:
                yield _anchor(plain[left : starts[left]])
            yield _span(style, plain[left:right])
        offset = chunk_end
    if offset in ends:
        yield "</a>"


def _anchor(url: str) -> str:
    href = url if "://" in url else "http://" + url
    return f'<a href="{escape(href)}" rel="nofollow ugc noopener" target="_blank">'


def _span(style: Style, chunk: str) -> str:
    text = escape(chunk)
    attrs = _attributes(style)
    return f"<span{attrs}>{text}</span>" if attrs else text


@functools.lru_cache(maxsize=4096)
def _attributes(style: Style) -> str:
    """The span's class attribute ("" for plain text)."""
    classes = style.classes() if style != PLAIN else []
    return f' class="{" ".join(classes)}"' if classes else ""


@functools.lru_cache(maxsize=4096)
def nick_colour_class(nick: str) -> str:
    """One of 16 nick colours, stable for a nick whatever its case (CSS: nick-N)."""
    return f"nick-{zlib.crc32(nick.lower().encode()) % 16}"
