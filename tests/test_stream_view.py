"""The stream view in-process: access, replay, reload, and no database work while idle."""

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import gevent
import pytest
from django.db import connection
from django.http import Http404
from django.test import Client
from django.test.utils import CaptureQueriesContext

from irclogger.models import Channel, Line
from streams import hub as hubs
from tests.conftest import publish

URL = "/libera/python/stream/"
SECRET_URL = "/libera/secret/stream/"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def hub() -> Iterator[hubs.Hub]:
    hub = hubs.start()
    for _ in range(100):
        if hub.is_listening():
            break
        gevent.sleep(0.05)
    yield hub
    hubs.stop()


def _stream(response: Any) -> Iterator[bytes]:
    return iter(response.streaming_content)


def _first(response: Any) -> bytes:
    return next(_stream(response))


def _events(chunk: bytes) -> list[tuple[str, dict[str, object]]]:
    out = []
    for block in chunk.decode().split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if ": " in line and line[0] != ":"
        )
        if "event" in fields:
            out.append((fields["event"], json.loads(fields["data"])))
    return out


def _ids(chunk: bytes) -> list[object]:
    return [data["id"] for event, data in _events(chunk) if event == "line"]


def test_it_answers_with_an_event_stream(client: Client, public_channel: Channel) -> None:
    response = client.get(URL)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-cache"
    assert response["X-Accel-Buffering"] == "no"
    assert "Content-Encoding" not in response
    first = _first(response)
    assert first.startswith(b"retry: ")
    response.close()


def test_it_hides_a_private_channel_from_a_stranger(
    stranger_client: Client, private_channel: Channel
) -> None:
    assert stranger_client.get(SECRET_URL).status_code == 404


def test_it_hides_a_private_channel_from_anonymous(
    anonymous_client: Client, private_channel: Channel
) -> None:
    assert anonymous_client.get(SECRET_URL).status_code == 404


def test_it_streams_a_private_channel_to_a_member(
    member_client: Client, private_channel: Channel
) -> None:
    [line] = publish(private_channel, 1, "hush")
    response = member_client.get(SECRET_URL, {"last_event_id": "0"})
    assert response.status_code == 200
    assert _until_ids(response, 1) == [line.id]
    response.close()


def test_it_is_a_404_for_a_missing_channel(client: Client, network: object) -> None:
    assert client.get("/libera/nope/stream/").status_code == 404


def test_it_replays_after_the_last_event_id_header(client: Client, public_channel: Channel) -> None:
    lines = publish(public_channel, 5)
    response = client.get(URL, {"last_event_id": "0"}, HTTP_LAST_EVENT_ID=str(lines[1].id))
    assert _until_ids(response, 3) == [line.id for line in lines[2:]]
    response.close()


def test_it_replays_after_the_page_parameter(client: Client, public_channel: Channel) -> None:
    lines = publish(public_channel, 5)
    response = client.get(URL, {"last_event_id": str(lines[2].id)})
    assert _until_ids(response, 2) == [line.id for line in lines[3:]]
    response.close()


def test_it_replays_after_the_polyfill_parameter(client: Client, public_channel: Channel) -> None:
    lines = publish(public_channel, 3)
    response = client.get(URL, {"last_event_id": "0", "lastEventId": str(lines[0].id)})
    assert _until_ids(response, 2) == [line.id for line in lines[1:]]
    response.close()


def test_it_never_replays_imported_history(client: Client, public_channel: Channel) -> None:
    Line.objects.create(
        channel=public_channel, timestamp=dt.datetime.now(dt.UTC), text="old", imported=True
    )
    response = client.get(URL, {"last_event_id": "0"})
    assert _ids(_first(response)) == []
    response.close()


def test_it_starts_from_now_without_a_last_id(client: Client, public_channel: Channel) -> None:
    publish(public_channel, 2)
    response = client.get(URL, {"last_event_id": ""})
    assert _ids(_first(response)) == []
    response.close()


def test_it_refuses_a_last_id_that_is_not_one(client: Client, public_channel: Channel) -> None:
    response = client.get(URL, {"last_event_id": "junk"})
    assert response.status_code == 400
    assert b"last_event_id" in response.content


def test_it_tells_a_page_far_behind_to_reload(
    client: Client, public_channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hubs, "REPLAY_LIMIT", 3)
    lines = publish(public_channel, 4)
    response = client.get(URL, {"last_event_id": "0"})
    chunk = _first(response)
    assert [event for event, _ in _events(chunk)] == ["reload"]
    assert f"id: {lines[-1].id}\n".encode() in chunk
    response.close()


def test_it_makes_no_queries_while_open_after_its_replay(
    client: Client, public_channel: Channel
) -> None:
    earlier = publish(public_channel, 2)
    response = client.get(URL, {"last_event_id": "0"})
    stream = _stream(response)
    with CaptureQueriesContext(connection) as replay:
        got = _ids(next(stream))
        while len(got) < len(earlier):
            got += _ids(next(stream))
        assert got == [line.id for line in earlier]
    assert len(replay) == 1  # the replay itself (it warms the new ring)
    assert connection.connection is None  # returned to the pool before waiting

    hub = hubs.get()
    with CaptureQueriesContext(connection) as idle:
        reader = gevent.spawn(next, stream)
        gevent.sleep(0.2)
        hub.wake(hub._waiting(), hubs.PING)
        assert reader.get(timeout=10) == b": keep-alive\n\n"
        reader = gevent.spawn(next, stream)
        gevent.sleep(0)
    assert len(idle) == 0

    [live] = publish(public_channel, 1, "live")
    connection.close()
    with CaptureQueriesContext(connection) as delivering:
        assert _ids(reader.get(timeout=10)) == [live.id]
    assert len(delivering) == 0
    response.close()


def _until(condition: Any, what: str) -> None:
    for _ in range(200):
        if condition():
            return
        gevent.sleep(0.05)
    raise AssertionError(what)


def test_an_anonymous_connect_to_a_known_public_channel_makes_no_query(
    anonymous_client: Client, public_channel: Channel
) -> None:
    first = anonymous_client.get(URL)  # the worker learns the channel and its position
    _first(first)
    with CaptureQueriesContext(connection) as connecting:
        second = anonymous_client.get(URL)
        assert second.status_code == 200
        assert _first(second).startswith(b"retry: ")
    assert list(connecting) == []
    # And it is live from the right place: the next line, nothing older.
    [line] = publish(public_channel, 1, "next")
    assert _ids(next(_stream(second))) == [line.id]
    first.close()
    second.close()


def test_a_reconnect_inside_the_ring_is_served_without_a_query(
    anonymous_client: Client, public_channel: Channel
) -> None:
    follower = anonymous_client.get(URL)
    _first(follower)
    lines = publish(public_channel, 5)
    hub = hubs.get()
    _until(lambda: hub.rings[public_channel.pk].last_id == lines[-1].id, "lines never arrived")
    with CaptureQueriesContext(connection) as reconnecting:
        response = anonymous_client.get(URL, HTTP_LAST_EVENT_ID=str(lines[1].id))
        stream = _stream(response)
        assert _ids(next(stream)) == []  # the retry frame: nothing replayed from PostgreSQL
        assert _ids(next(stream)) == [line.id for line in lines[2:]]  # the ring's frames
    assert list(reconnecting) == []
    follower.close()
    response.close()


def test_a_reader_behind_the_ring_replays_from_postgresql(
    anonymous_client: Client, public_channel: Channel
) -> None:
    before = publish(public_channel, 3)  # committed before any ring existed
    follower = anonymous_client.get(URL)
    _first(follower)
    later = publish(public_channel, 2)
    hub = hubs.get()
    _until(lambda: hub.rings[public_channel.pk].last_id == later[-1].id, "lines never arrived")
    response = anonymous_client.get(URL, HTTP_LAST_EVENT_ID=str(before[0].id))
    stream = _stream(response)
    got = _ids(next(stream))
    while len(got) < 4:
        got += _ids(next(stream))
    assert got == [line.id for line in before[1:] + later]
    follower.close()
    response.close()


def test_a_channel_made_private_is_no_longer_served_from_the_cache(
    anonymous_client: Client, public_channel: Channel
) -> None:
    _first(anonymous_client.get(URL))
    hub = hubs.get()
    assert hub.channels.get(("libera", "python")) == public_channel.pk
    generation = hub.generation
    public_channel.is_public = False
    public_channel.save()
    _until(lambda: hub.generation != generation, "the change was never heard")
    assert anonymous_client.get(URL).status_code == 404


def test_a_head_request_answers_headers_only(client: Client, public_channel: Channel) -> None:
    response = client.head(URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    assert list(_stream(response)) == []


def test_another_channels_id_teaches_the_ring_nothing(
    anonymous_client: Client, public_channel: Channel
) -> None:
    """A resume point must be an id of the channel itself: another channel's
    may lie above a line of this one still being written, which a catch-up
    after a lost LISTEN connection would then skip."""
    other = Channel.objects.create(network=public_channel.network, name="#other", slug="other")
    [foreign] = publish(other, 1)
    hub = hubs.get()
    _until(lambda: hub.position(other.pk) == foreign.id, "the line was never heard")
    response = anonymous_client.get(URL, HTTP_LAST_EVENT_ID=str(foreign.id))
    _first(response)
    assert hub.rings[public_channel.pk].floor is None
    response.close()
    [own] = publish(public_channel, 1)
    response = anonymous_client.get(URL, HTTP_LAST_EVENT_ID=str(own.id))
    _first(response)
    # Its own line does: a replay from it, or the warm-up that loaded the
    # channel's whole (one-line) history.
    assert hub.rings[public_channel.pk].floor in (0, own.id)
    response.close()


def test_a_storm_of_reconnects_to_a_new_ring_runs_one_query(
    anonymous_client: Client, public_channel: Channel
) -> None:
    """After a deploy: readers behind the new worker's first position share one query."""
    lines = publish(public_channel, 6)  # committed before this worker had a ring
    follower = anonymous_client.get(URL)
    _first(follower)  # the ring vouches only from now on
    hub = hubs.get()
    _until(lambda: hub.position(public_channel.pk) == lines[-1].id, "position never learned")
    first = anonymous_client.get(URL, HTTP_LAST_EVENT_ID=str(lines[0].id))
    with CaptureQueriesContext(connection) as warming:
        assert _until_ids(first, len(lines) - 1) == [line.id for line in lines[1:]]
    assert len(warming) == 1  # the channel's recent lines, once
    with CaptureQueriesContext(connection) as storm:
        for behind in range(1, 5):
            response = anonymous_client.get(URL, HTTP_LAST_EVENT_ID=str(lines[behind].id))
            expected = [line.id for line in lines[behind + 1 :]]
            assert _until_ids(response, len(expected)) == expected
            response.close()
    assert list(storm) == []
    [live] = publish(public_channel, 1, "live")
    assert _until_ids(first, 1) == [live.id]  # and the warmed ring goes on live
    first.close()
    follower.close()


def _until_ids(response: Any, count: int) -> list[object]:
    got: list[object] = []
    stream = _stream(response)
    while len(got) < count:
        got += _ids(next(stream))
    return got


def test_a_storm_of_connects_to_a_channel_not_yet_known_looks_it_up_once(
    public_channel: Channel,
) -> None:
    # A new worker after a reload: thousands of readers of one channel
    # arrive before the first lookup has answered; each made its own query.
    hub = hubs.get()
    hub.channels.clear()
    lookups: list[int] = []

    def find() -> int:
        lookups.append(1)
        gevent.sleep(0.01)  # the query's round trip, during which the others arrive
        return public_channel.pk

    readers = [gevent.spawn(hub.public_channel, "libera", "python", find) for _ in range(50)]
    gevent.joinall(readers, timeout=10)
    assert [reader.value for reader in readers] == [public_channel.pk] * 50
    assert len(lookups) == 1


def test_a_failed_lookup_is_each_waiting_readers_own(public_channel: Channel) -> None:
    hub = hubs.get()
    hub.channels.clear()
    calls: list[int] = []

    def find() -> int:
        calls.append(1)
        gevent.sleep(0.01)
        if len(calls) == 1:
            raise Http404("no such channel")
        return public_channel.pk

    first = gevent.spawn(hub.public_channel, "libera", "python", find)
    second = gevent.spawn(hub.public_channel, "libera", "python", find)
    gevent.joinall([first, second], timeout=10)
    assert isinstance(first.exception, Http404)
    assert second.value == public_channel.pk  # its own lookup, after the first failed
