import datetime as dt

from django.test import Client

from irclogger.models import Channel, Network
from tests.conftest import NOON, say


def test_it_lists_networks_and_public_channels(client: Client, public_channel: Channel) -> None:
    say(public_channel, "hi")
    Network.objects.create(name="Empty", slug="empty")
    response = client.get("/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Libera.Chat" in body
    assert 'href="/libera/python/"' in body
    assert "Empty" not in body  # a network with nothing to read is not listed


def test_it_shows_topic_and_last_activity(client: Client, public_channel: Channel) -> None:
    public_channel.topic = "\x02Python\x02 <help>"
    public_channel.save()
    say(public_channel, "old", at=NOON - dt.timedelta(days=3))
    say(public_channel, "newest")
    body = client.get("/").content.decode()
    assert "2024-03-10 12:00 UTC" in body
    assert "&lt;help&gt;" in body


def test_it_works_on_an_empty_database(client: Client, db) -> None:
    assert client.get("/").status_code == 200
