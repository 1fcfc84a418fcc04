"""The mIRC formatter, table-driven from the modern IRC formatting spec's edge cases."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irclogger.formatting import nick_colour_class, render_irc, strip_irc

REL = 'rel="nofollow ugc noopener" target="_blank"'


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("plain text", "plain text"),
        ("\x02bold\x02 not", '<span class="irc-bold">bold</span> not'),
        ("\x1ditalic", '<span class="irc-italic">italic</span>'),
        ("\x1funder", '<span class="irc-underline">under</span>'),
        ("\x1estrike", '<span class="irc-strike">strike</span>'),
        ("\x11mono", '<span class="irc-mono">mono</span>'),
        ("\x02\x1dboth", '<span class="irc-bold irc-italic">both</span>'),
        ("\x02a\x0fb", '<span class="irc-bold">a</span>b'),
        # Colours: one or two digits, fg then optional bg.
        ("\x034red", '<span class="irc-fg4">red</span>'),
        ("\x0304red", '<span class="irc-fg4">red</span>'),
        ("\x0304,01x", '<span class="irc-fg4 irc-bg1">x</span>'),
        ("\x034,1x", '<span class="irc-fg4 irc-bg1">x</span>'),
        # Two digits are always read: fg 4 then the text "5"; fg 55 then "5".
        ("\x03045", '<span class="irc-fg4">5</span>'),
        ("\x03555", '<span class="irc-fg55">5</span>'),
        # A comma with no digit after it is text.
        ("\x0304,", '<span class="irc-fg4">,</span>'),
        ("\x0304,x", '<span class="irc-fg4">,x</span>'),
        # A bare \x03 resets colours; ",05" after it is text.
        ("\x03,05", ",05"),
        ("\x0304a\x03b", '<span class="irc-fg4">a</span>b'),
        # With only fg given, bg is unchanged.
        (
            "\x0304,02a\x0305b",
            '<span class="irc-fg4 irc-bg2">a</span><span class="irc-fg5 irc-bg2">b</span>',
        ),
        # 99 is the default colour.
        ("\x0399,04x", '<span class="irc-bg4">x</span>'),
        ("\x0398x", '<span class="irc-fg98">x</span>'),
        # Hex colours: the nearest mIRC colour's class (no style attribute, for the CSP).
        ("\x04FF0000red", '<span class="irc-fg4">red</span>'),
        ("\x04ff0000,00ff00x", '<span class="irc-fg4 irc-bg56">x</span>'),
        ("\x04fe0102a\x04b", '<span class="irc-fg4">a</span>b'),
        ("\x04123456x", '<span class="irc-fg23">x</span>'),
        ("\x04fff", "fff"),
        # Reverse swaps fg and bg; with no colours it uses the theme's inverse.
        ("\x16rev", '<span class="irc-reverse">rev</span>'),
        ("\x0304,01\x16x", '<span class="irc-fg1 irc-bg4">x</span>'),
        # Same fg and bg: a spoiler.
        ("\x0301,01hidden", '<span class="irc-fg1 irc-bg1 irc-spoiler">hidden</span>'),
        # Every other control byte is dropped.
        ("\x01ACTION waves\x01", "ACTION waves"),
        ("bell\x07 \x1b[31mansi", "bell [31mansi"),
        ("nul\x00del\x7f", "nuldel"),
        # Escaping happens before styling.
        ('<b>"x" & y</b>', "&lt;b&gt;&quot;x&quot; &amp; y&lt;/b&gt;"),
        ("\x02<i>", '<span class="irc-bold">&lt;i&gt;</span>'),
        # Links, after styling, with a control-free href.
        (
            "see https://example.com/a",
            f'see <a href="https://example.com/a" {REL}>https://example.com/a</a>',
        ),
        ("(http://x.org/a_(b)).", f'(<a href="http://x.org/a_(b)" {REL}>http://x.org/a_(b)</a>).'),
        ("www.example.org,", f'<a href="http://www.example.org" {REL}>www.example.org</a>,'),
        (
            "\x02http://x\x02.org/y",
            f'<a href="http://x.org/y" {REL}><span class="irc-bold">http://x</span>.org/y</a>',
        ),
        (
            'http://a.b/?q=1&x="2"',
            f'<a href="http://a.b/?q=1&amp;x=" {REL}>http://a.b/?q=1&amp;x=</a>&quot;2&quot;',
        ),
        ("javascript:alert(1)", "javascript:alert(1)"),
        ("http://", "http://"),
        # Nothing is left of these once the sentence's dots are trimmed.
        ("see www.. now", "see www.. now"),
        ("go http://. x", "go http://. x"),
    ],
)
def test_it_renders_the_spec_edge_cases(text: str, html: str) -> None:
    assert render_irc(text) == html


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("\x0304,01red\x03 text", "red text"),
        ("\x0304red", "red"),
        ("\x03045", "5"),
        ("\x0304,", ","),
        ("\x04ff0000,00ff00x", "x"),
        ("\x02b\x1di\x1fu\x1es\x11m\x16r\x0fx", "biusmrx"),
        ("\x01ACTION hi\x01", "ACTION hi"),
    ],
)
def test_it_strips_codes_with_their_digits(text: str, plain: str) -> None:
    assert strip_irc(text) == plain


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Formatting bytes, digits, markup characters and URL pieces, glued together
# in any order, plus any Unicode at all.
_PIECES = st.one_of(
    st.sampled_from(
        list("\x02\x03\x04\x0f\x11\x16\x1d\x1e\x1f\x01\x07\x00\x7f,0123456789abcdefABCDEF")
    ),
    st.sampled_from(["<", ">", '"', "'", "&", " ", "http://", "www.", "/", ".", "(", ")"]),
    st.characters(),
)
_ANY_IRC_TEXT = st.lists(_PIECES, max_size=80).map("".join)


@settings(max_examples=500, deadline=None)
@given(_ANY_IRC_TEXT)
def test_it_never_raises_and_never_leaks_markup_or_control_bytes(text: str) -> None:
    html = render_irc(text)
    assert not _CONTROL.search(html)
    # Remove the markup the formatter itself writes; what is left came from
    # the input and must hold no raw <, > or ".
    own = re.sub(r'<span( class="[a-z0-9 -]+")?>|</span>', "", html)
    own = re.sub(
        r'<a href="[^"<>\x00-\x1f]*" rel="nofollow ugc noopener" target="_blank">|</a>', "", own
    )
    assert "<" not in own
    assert ">" not in own
    assert '"' not in own


@given(_ANY_IRC_TEXT)
def test_it_strips_to_text_without_control_bytes(text: str) -> None:
    assert not _CONTROL.search(strip_irc(text))


def test_it_gives_a_nick_the_same_colour_whatever_its_case() -> None:
    assert nick_colour_class("Alice") == nick_colour_class("alice")
    assert re.fullmatch(r"nick-([0-9]|1[0-5])", nick_colour_class("bob"))
