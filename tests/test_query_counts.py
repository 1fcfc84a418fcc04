"""How many queries the day, index and search pages make: a fixed number each.

The counts are exact, so a new query is a decision taken on purpose, and each
page is read with little data and with more (more lines, channels, networks,
results): the same count proves there is no query per row.
"""

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from django.test import Client

from irclogger.models import Channel, Network
from tests.conftest import NOON, say

AssertNumQueries = Callable[[int], AbstractContextManager[object]]

# What a logged-in reader adds to any page: the session, then the user.
AUTH_QUERIES = 2


def _fill(channel: Channel, lines: int, text: str = "hello world") -> None:
    for n in range(lines):
        say(channel, f"{text} {n}", at=NOON + dt.timedelta(seconds=n))


def _more_channels(networks: int) -> None:
    """Extra networks of two channels each (one of them private), with lines."""
    for n in range(networks):
        network = Network.objects.create(name=f"Net {n}", slug=f"net{n}")
        for slug, public in (("a", True), ("b", False)):
            channel = Channel.objects.create(
                network=network, name=f"#{slug}", slug=slug, is_public=public, topic="\x02t"
            )
            _fill(channel, 3)


# The index: the networks, then their visible channels with their last activity.
INDEX_QUERIES = 2


@pytest.mark.parametrize("networks", [0, 3])
def test_it_lists_the_index_in_a_fixed_number_of_queries(
    client: Client,
    member_client: Client,
    public_channel: Channel,
    private_channel: Channel,
    django_assert_num_queries: AssertNumQueries,
    networks: int,
) -> None:
    _fill(public_channel, 2)
    _more_channels(networks)
    with django_assert_num_queries(INDEX_QUERIES):
        assert client.get("/").status_code == 200
    with django_assert_num_queries(AUTH_QUERIES + INDEX_QUERIES):
        assert member_client.get("/").status_code == 200


# A day: the channel, its lines, the nearest active days around the day and
# around its month (one query), the month's active days.
DAY_QUERIES = 4
# Today's page also reads the id its stream resumes from.
TODAY_QUERIES = DAY_QUERIES + 1


@pytest.mark.parametrize("lines", [1, 40])
def test_it_renders_a_day_in_a_fixed_number_of_queries(
    client: Client,
    member_client: Client,
    public_channel: Channel,
    private_channel: Channel,
    django_assert_num_queries: AssertNumQueries,
    lines: int,
) -> None:
    _fill(public_channel, lines)
    _fill(private_channel, lines)
    say(public_channel, "last week", at=NOON - dt.timedelta(days=7))
    with django_assert_num_queries(DAY_QUERIES):
        assert client.get("/libera/python/2024-03-10/").status_code == 200
    with django_assert_num_queries(AUTH_QUERIES + DAY_QUERIES):
        assert member_client.get("/libera/secret/2024-03-10/").status_code == 200


@pytest.mark.parametrize("lines", [1, 40])
def test_it_renders_today_in_a_fixed_number_of_queries(
    client: Client,
    public_channel: Channel,
    django_assert_num_queries: AssertNumQueries,
    lines: int,
) -> None:
    now = dt.datetime.now(dt.UTC)
    for n in range(lines):
        say(public_channel, f"now {n}", at=now - dt.timedelta(seconds=n))
    with django_assert_num_queries(TODAY_QUERIES):
        assert client.get("/libera/python/").status_code == 200


# A search: whether the query has terms, the channels the reader may see; in
# a transaction with sequential scans off (its savepoint and release count
# here, inside the test's transaction), how many lines match (capped) and one
# page of them; their snippets, their context lines, their channels.
SEARCH_QUERIES = 10
# Searching one channel finds that channel instead of listing the visible
# ones, and knows the results' channel.
CHANNEL_SEARCH_QUERIES = SEARCH_QUERIES - 1


@pytest.mark.parametrize("networks", [0, 3])
def test_it_searches_in_a_fixed_number_of_queries(
    client: Client,
    member_client: Client,
    public_channel: Channel,
    private_channel: Channel,
    django_assert_num_queries: AssertNumQueries,
    networks: int,
) -> None:
    _fill(public_channel, 5)
    _fill(private_channel, 5)
    _more_channels(networks)
    with django_assert_num_queries(SEARCH_QUERIES):
        response = client.get("/search/?q=hello")
    assert response.status_code == 200
    # The public channel's lines and those of each extra network's public channel.
    assert response.content.decode().count('<li class="result"') == 5 + 3 * networks
    with django_assert_num_queries(AUTH_QUERIES + SEARCH_QUERIES):
        assert member_client.get("/search/?q=hello").status_code == 200
    with django_assert_num_queries(CHANNEL_SEARCH_QUERIES):
        assert client.get("/libera/python/search/?q=hello").status_code == 200
