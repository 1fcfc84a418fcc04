"""Write irclogger/static/irclogger/irc-colors.css: the 99 mIRC colours, each
adjusted per colour scheme to keep 4.5:1 (WCAG AA) against the page.

Usage: python -m scripts.irc_colors

A colour too light for the light page is mixed toward black, one too dark
for the dark page toward white, just enough: the hue stays, so red is still
red. A span with a background of its own keeps the sender's colours; only
text on the page's own background is adjusted.
"""

from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "irclogger/static/irclogger/irc-colors.css"

# The modern IRC formatting spec's colours 0-98 (https://modern.ircdocs.horse/formatting).
MIRC = [
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
]
# The page backgrounds a colour may sit on in each scheme (irclogger/static/irclogger/site.css):
# the page, and a selected line.
BACKGROUNDS = {"light": ("#ffffff", "#fff3b0"), "dark": ("#15171a", "#3d3514")}
# WCAG AA for normal text, with a little room for rounding to whole bytes.
TARGET = 4.6
# Per-nick colours (irclogger.formatting.nick_colour_class), chosen by hand per
# scheme, adjusted like the mIRC ones where a selected line needs it.
NICKS = {
    "light": [
        "#b3261e",
        "#a0522d",
        "#8a6d00",
        "#4d7c0f",
        "#1b7f3b",
        "#0f766e",
        "#0e7490",
        "#1d4ed8",
        "#4338ca",
        "#6d28d9",
        "#9333ea",
        "#a21caf",
        "#be185d",
        "#c2410c",
        "#57534e",
        "#15803d",
    ],
    "dark": [
        "#ff8a80",
        "#e0a070",
        "#e6c34a",
        "#a3d65c",
        "#6fdc8c",
        "#5fd4c4",
        "#67c8e6",
        "#8ab4f8",
        "#a5a8ff",
        "#c4a1ff",
        "#d8a4ff",
        "#f0a0f0",
        "#ff8fb8",
        "#ffab70",
        "#c8c2bc",
        "#7fe0a0",
    ],
}

RGB = tuple[int, int, int]


def parse(colour: str) -> RGB:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def hex_of(rgb: RGB) -> str:
    r, g, b = rgb
    return f"#{r:02x}{g:02x}{b:02x}"


def luminance(colour: str) -> float:
    """WCAG 2 relative luminance."""

    def channel(byte: int) -> float:
        c = byte / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in parse(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio, 1 to 21."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _mix(colour: str, toward: str, share: float) -> str:
    a, b = parse(colour), parse(toward)
    r, g, bl = (round(x + (y - x) * share) for x, y in zip(a, b, strict=True))
    return hex_of((r, g, bl))


def readable(colour: str, scheme: str) -> str:
    """The colour, mixed toward black (light) or white (dark) until it reads on every background."""
    backgrounds = BACKGROUNDS[scheme]
    toward = "#000000" if scheme == "light" else "#ffffff"

    def ok(c: str) -> bool:
        return all(contrast(c, bg) >= TARGET for bg in backgrounds)

    if ok(colour):
        return colour
    low, high = 0.0, 1.0  # the least mix that reads: bisect
    for _ in range(30):
        middle = (low + high) / 2
        if ok(_mix(colour, toward, middle)):
            high = middle
        else:
            low = middle
    return _mix(colour, toward, high)


def _fg_rules(scheme: str, prefix: str, indent: str) -> list[str]:
    rules = []
    for n, colour in enumerate(MIRC):
        shown = readable(colour, scheme)
        rules.append(f'{indent}{prefix}.irc-fg{n}:not([class*="irc-bg"]) {{ color: {shown}; }}')
    for n, colour in enumerate(NICKS[scheme]):
        rules.append(f"{indent}{prefix}.nick-{n} {{ color: {readable(colour, scheme)}; }}")
    return rules


def stylesheet() -> str:
    out = [
        "/* Generated by scripts/irc_colors.py: edit that, then run python -m scripts.irc_colors.",
        "   mIRC colours 0-98 and IRC text styles. irc-fgN is the text colour, adjusted per",
        "   scheme to keep 4.5:1 against the page; with a background of its own (irc-bgN) a",
        "   span keeps the sender's colours. */",
        ".irc-bold { font-weight: 700; }",
        ".irc-italic { font-style: italic; }",
        ".irc-underline { text-decoration: underline; }",
        ".irc-strike { text-decoration: line-through; }",
        ".irc-underline.irc-strike { text-decoration: underline line-through; }",
        ".irc-mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }",
        ".irc-reverse { color: var(--bg); background-color: var(--fg); }",
        "/* Same colour on same colour is a spoiler: shown on hover or selection. */",
        ".irc-spoiler:hover, .irc-spoiler:focus "
        "{ color: var(--fg) !important; background-color: var(--bg) !important; }",
    ]
    for n, colour in enumerate(MIRC):
        out.append(
            f".irc-fg{n} {{ color: {colour}; }} .irc-bg{n} {{ background-color: {colour}; }}"
        )
    out.append("/* The light scheme (the default, or chosen in the reader's settings). */")
    out += _fg_rules("light", ":root ", "")
    out.append("/* The dark scheme: the system's, unless the reader chose light; or chosen. */")
    out.append("@media (prefers-color-scheme: dark) {")
    out += _fg_rules("dark", ':root:not([data-theme="light"]) ', "  ")
    out.append("}")
    out += _fg_rules("dark", ':root[data-theme="dark"] ', "")
    return "\n".join(out) + "\n"


def main() -> None:
    OUT.write_text(stylesheet())


if __name__ == "__main__":
    main()
