"""Every surface of a private channel, for a member, a stranger and an anonymous visitor.

A private channel must look exactly like one that does not exist to anyone
who may not read it: 404 on its pages, absent from lists, counts and search.
"""

import datetime as dt

import pytest
from django.test import Client

from irclogger.models import Channel, Line
from tests.conftest import say

SURFACES = [
    "/libera/secret/",
    "/libera/secret/2024-03-10/",
    "/libera/secret/2024-03-10.txt",
    "/libera/secret/2024-03-10.json",
    "/libera/secret/2024-03-01..2024-03-10/",
    "/libera/secret/search/?q=password",
]


@pytest.fixture
def secret_line(private_channel: Channel, public_channel: Channel) -> Line:
    say(public_channel, "nothing to hide about the password policy")
    say(private_channel, "today's password is still hunter2", at=dt.datetime.now(dt.UTC))
    return say(private_channel, "the password is hunter2")


@pytest.mark.parametrize("path", SURFACES)
def test_it_serves_every_surface_to_a_member(
    member_client: Client, secret_line: Line, path: str
) -> None:
    response = member_client.get(path)
    assert response.status_code == 200
    assert "hunter2" in response.content.decode()


@pytest.mark.parametrize("path", SURFACES)
def test_it_hides_every_surface_from_a_stranger(
    stranger_client: Client, secret_line: Line, path: str
) -> None:
    assert stranger_client.get(path).status_code == 404


@pytest.mark.parametrize("path", SURFACES)
def test_it_hides_every_surface_from_an_anonymous_visitor(
    anonymous_client: Client, secret_line: Line, path: str
) -> None:
    assert anonymous_client.get(path).status_code == 404


def test_it_answers_404_like_a_channel_that_does_not_exist(
    anonymous_client: Client, secret_line: Line
) -> None:
    hidden = anonymous_client.get("/libera/secret/2024-03-10/")
    missing = anonymous_client.get("/libera/no-such-channel/2024-03-10/")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.content == missing.content


def test_it_hides_the_permalink(
    member_client: Client, stranger_client: Client, anonymous_client: Client, secret_line: Line
) -> None:
    url = f"/libera/secret/line/{secret_line.id}/"
    assert member_client.get(url).status_code == 302
    assert stranger_client.get(url).status_code == 404
    assert anonymous_client.get(url).status_code == 404
    # Nor can the line be reached through a public channel's permalink.
    assert anonymous_client.get(f"/libera/python/line/{secret_line.id}/").status_code == 404


def test_it_leaves_private_lines_out_of_global_search_and_counts(
    member_client: Client, stranger_client: Client, anonymous_client: Client, secret_line: Line
) -> None:
    for client, expected in [(member_client, 3), (stranger_client, 1), (anonymous_client, 1)]:
        page = client.get("/search/", {"q": "password"}).context["page"]
        assert page.count == expected
        assert len(page.lines) == expected
        body = client.get("/search/", {"q": "password"}).content.decode()
        assert ("hunter2" in body) == (client is member_client)


def test_it_lists_the_channel_on_the_index_only_for_members(
    member_client: Client, stranger_client: Client, anonymous_client: Client, secret_line: Line
) -> None:
    assert "#secret" in member_client.get("/").content.decode()
    assert "#secret" not in stranger_client.get("/").content.decode()
    assert "#secret" not in anonymous_client.get("/").content.decode()


def test_it_shows_everything_to_staff(staff, secret_line: Line) -> None:
    client = Client()
    client.force_login(staff)
    assert client.get("/libera/secret/2024-03-10/").status_code == 200
