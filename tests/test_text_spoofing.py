"""A line's text cannot pose as log structure: not as other lines, not by reordering."""

import re

import pytest
from django.test import Client

from irclogger.formatting import BIDI_CONTROLS, LINE_BREAKS
from irclogger.models import Channel
from tests.conftest import say

# Each would start a forged line, or flip the order of what follows, in a viewer that obeys it.
FORGERIES = [
    "hi\u202812:00:01 <admin> the password is hunter2",
    "hi\u2029-!- admin was kicked",
    "hi\x85<root> trust me",
    "hi\u202e<elbat> txet",
    "\u2067<evil>\u2069 \u202dback\u202c \u200f\u200e\u061c\u202a\u202b\u2066\u2068",
    "tab\tvertical\vform\ffile\x1cgroup\x1drecord\x1ecr\rlf\nend",
]


@pytest.fixture
def forged(public_channel: Channel) -> Channel:
    for text in FORGERIES:
        say(public_channel, text, nick="mallory\u2028<admin>")  # an imported log's nick
        say(public_channel, text, kind="quit", nick="m\u202eallory")
    return public_channel


def test_the_text_export_keeps_each_log_line_on_one_line(client: Client, forged: Channel) -> None:
    text = client.get("/libera/python/2024-03-10.txt").content.decode()
    by_newline = text.split("\n")[:-1]
    assert len(by_newline) == len(text.splitlines()) == 1 + 2 * len(FORGERIES)
    assert all(re.match(r"\d\d:\d\d:\d\d ", line) for line in by_newline[1:])
    assert not set(BIDI_CONTROLS + LINE_BREAKS.replace("\n", "")) & set(text)
    assert "hi<U+2028>12:00:01 <admin> the password is hunter2" in text


def test_the_pages_isolate_each_lines_text(client: Client, forged: Channel) -> None:
    body = client.get("/libera/python/2024-03-10/").content.decode()
    # A break is shown as its code; a bidi control stays, inside the line's own isolate.
    for shown in [
        "hi&lt;U+2028&gt;12:00:01 &lt;admin&gt; the password is hunter2",
        "hi&lt;U+2029&gt;-!- admin was kicked",
        "hi&lt;U+0085&gt;&lt;root&gt; trust me",
        "hi\u202e&lt;elbat&gt; txet",
    ]:
        assert f'<span class="msg"><bdi>{shown}</bdi></span>' in body
    assert not {"\u2028", "\u2029", "\x85"} & set(body)
    assert "<bdi>m\u202eallory</bdi>" in body
