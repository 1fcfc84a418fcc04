"""Hostile and malformed URLs across every page: a 4xx, never a server error."""

import pytest
from django.test import Client

from irclogger.models import Channel
from tests.conftest import say

HOSTILE_PATHS = [
    "/libera/python/line/99999999999999999999999/",
    "/libera/python/line/0/",
    "/libera/python/9999-12-31/",
    "/libera/python/0001-01-01/",
    "/libera/python/0000-00-00/",
    "/libera/python/2024-02-30/",
    "/libera/python/2024-02-30.txt",
    "/libera/python/2024-13-01.json",
    "/libera/python/9999-12-31.json",
    "/libera/python/0001-01-01..0001-01-05/",
    "/libera/python/9999-12-30..9999-12-31/",
    "/libera/python/2024-01-01..2024-12-31/",
    "/libera/python/2024-03-10/?tz=../../etc/passwd",
    "/libera/python/2024-03-10/?tz=%00",
    "/libera/python/2024-03-10/?hl=99999999999999999999999999",
    "/libera/python/2024-03-10/?hl=-1",
    "/libera/python/2024-03-10..2024-03-11/?after=abc",
    "/libera/python/2024-03-10..2024-03-11/?after=99999999999999999999999",
    "/libera/python/2024-03-10..2024-03-11/?page=-5",
    "/search/?q=%00&nick=%00",
    "/search/?q=x&until=9999-12-31&since=0001-01-01",
    "/search/?q=x&before=-1",
    "/search/?q=x&before=99999999999999999999999",
    "/search/?q=" + "(" * 400,
    "/search/?q=!!!%27%27%22%22%3C%3E%26%26||",
    "/libera/python/search/?q=a:*&nick=" + "n" * 200,
    "/nowhere/nothing/",
    "/libera/nothing/2024-03-10/",
    "/libera/python/stream/x/",
]


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_it_never_answers_a_server_error(
    client: Client, public_channel: Channel, path: str
) -> None:
    say(public_channel, "something to find")
    response = client.get(path)
    assert response.status_code < 500, path
