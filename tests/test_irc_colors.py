"""Every mIRC colour and nick colour reads on the page: 4.5:1 (WCAG AA) or more
against the page background and a selected line, in the light and dark schemes.

Reads the committed stylesheets themselves, so a hand edit that breaks the
contrast fails here."""

import re
from pathlib import Path

import pytest

from scripts.irc_colors import contrast, stylesheet

STATIC = Path(__file__).resolve().parent.parent / "irclogger/static/irclogger"
IRC_COLORS = (STATIC / "irc-colors.css").read_text()
SITE = (STATIC / "site.css").read_text()
SCHEME_PREFIX = {
    "light": ":root ",
    "dark": ':root:not([data-theme="light"]) ',
    "dark-chosen": ':root[data-theme="dark"] ',
}


def _page_colours(scheme: str) -> dict[str, str]:
    """--bg and --hl of a scheme, as site.css defines them."""
    if scheme == "light":
        block = SITE[SITE.index(":root {") :]
    elif scheme == "dark":
        block = SITE[SITE.index(':root:not([data-theme="light"]) {') :]
    else:
        block = SITE[SITE.index(':root[data-theme="dark"] {') :]
    block = block[: block.index("}")]
    return dict(re.findall(r"--(bg|hl): (#[0-9a-f]{6})", block))


def _fg(scheme: str, selector: str) -> str:
    prefix = re.escape(SCHEME_PREFIX[scheme])
    pattern = rf"^\s*{prefix}{re.escape(selector)} \{{ color: (#[0-9a-f]{{6}}); \}}"
    colours: list[str] = re.findall(pattern, IRC_COLORS, re.M)
    assert len(colours) == 1, selector
    return colours[0]


@pytest.mark.parametrize("scheme", list(SCHEME_PREFIX))
def test_all_99_irc_colours_keep_4_5_to_1(scheme: str) -> None:
    page = _page_colours(scheme)
    assert set(page) == {"bg", "hl"}
    failures = []
    for n in range(99):
        colour = _fg(scheme, f'.irc-fg{n}:not([class*="irc-bg"])')
        for name, background in page.items():
            ratio = contrast(colour, background)
            if ratio < 4.5:
                failures.append(f"irc-fg{n} {colour} on {name} {background}: {ratio:.2f}")
    assert failures == []


@pytest.mark.parametrize("scheme", list(SCHEME_PREFIX))
def test_nick_colours_keep_4_5_to_1(scheme: str) -> None:
    page = _page_colours(scheme)
    for n in range(16):
        colour = _fg(scheme, f".nick-{n}")
        for background in page.values():
            assert contrast(colour, background) >= 4.5, (n, colour, background)


def test_the_contrast_formula_matches_wcag() -> None:
    assert round(contrast("#000000", "#ffffff"), 2) == 21.0
    assert round(contrast("#777777", "#ffffff"), 2) == 4.48
    assert contrast("#ffffff", "#ffffff") == 1.0


def test_the_stylesheet_is_the_generated_one() -> None:
    assert stylesheet() == IRC_COLORS
