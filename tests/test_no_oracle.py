"""Ids in parameters count only within the channel being viewed.

Any other id, a private channel's above all, must get exactly the answer an
id that exists nowhere gets: otherwise the answer tells a stranger that a
private line exists and when it was written.
"""

import datetime as dt
import re

import pytest
from django.test import Client

from irclogger.models import Channel, Line
from tests.conftest import NOON, say


@pytest.fixture
def lines(public_channel: Channel, private_channel: Channel) -> dict[str, Line]:
    for minute in range(6):
        say(public_channel, f"public {minute}", at=NOON + dt.timedelta(minutes=10 * minute))
    # Written in the middle of the public lines: an anchor here would cut the page.
    secret = say(private_channel, "private", at=NOON + dt.timedelta(minutes=25))
    return {"secret": secret}


def _unknown_id() -> int:
    return (Line.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1000


ROUTES = [
    "/libera/python/2024-03-10..2024-03-11/?after={id}",
    "/libera/python/2024-03-10/?hl={id}",
    "/libera/python/line/{id}/",
    "/libera/python/stream/?last_event_id={id}",
]


@pytest.mark.parametrize("route", ROUTES)
def test_a_private_id_gets_the_answer_of_an_unknown_id(
    client: Client, lines: dict[str, Line], route: str
) -> None:
    secret, unknown_id = lines["secret"].id, _unknown_id()
    private = client.get(route.format(id=secret))
    unknown = client.get(route.format(id=unknown_id))
    assert private.status_code == unknown.status_code
    if private.streaming:
        return  # the same 200; its body is never started here
    assert _without_own_url(private.content) == _without_own_url(unknown.content)


def _without_own_url(content: bytes) -> bytes:
    """The page echoes its own URL in the login link's next=: only that may differ."""
    return re.sub(rb"next=[^\"]*", b"next=", content)


def test_the_range_still_pages_after_an_id_of_its_own_channel(
    client: Client, public_channel: Channel, lines: dict[str, Line]
) -> None:
    anchor = public_channel.lines.get(text="public 2")
    body = client.get(f"/libera/python/2024-03-10..2024-03-11/?after={anchor.id}").content
    assert b"public 2" not in body
    assert b"public 3" in body
