"""The advisory-lock election: with two candidates, exactly one bot is on IRC.

Both candidates are real processes: two ``manage.py ircbot --elect``, and
gunicorn with two workers and IRCLOGGER_BOT=1. A watcher on the real ngircd
counts the bots in the channel; killing the leader hands the bot over.
"""

import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from irclogger.bot.election import Candidate, start_in_worker
from irclogger.models import Channel, Line, Network
from tests.ircserver import IrcServer, RawClient, ircbot, ngircd, wait_until
from tests.servers import gunicorn

pytestmark = pytest.mark.django_db(transaction=True)

LEADS = re.compile(r"Bot election: pid (\d+) runs the IRC bot")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[IrcServer]:
    with ngircd(tmp_path) as server:
        yield server


@pytest.fixture
def logged(server: IrcServer) -> Channel:
    network = Network.objects.create(
        name="Test",
        slug="test",
        host="127.0.0.1",
        port=server.port,
        use_tls=False,
        bot_enabled=True,
    )
    return Channel.objects.create(network=network, name="#logged", slug="logged")


@pytest.fixture
def watcher(server: IrcServer) -> Iterator[RawClient]:
    client = RawClient(server.port, "watcher")
    client.join("#logged")
    yield client
    client.close()


def test_it_elects_one_candidate_until_it_resigns() -> None:
    first, second = Candidate(), Candidate()
    try:
        assert first.campaign_once() is True
        assert second.campaign_once() is False
        assert first.campaign_once() is True  # still the leader (the lock is re-entrant)
        first.resign()
        assert second.campaign_once() is True
        assert first.campaign_once() is False
    finally:
        first.resign()
        second.resign()


def test_it_does_not_campaign_in_a_worker_without_the_bot(settings: Any) -> None:
    settings.IRCLOGGER_BOT = False
    assert start_in_worker(object()) is None


def bots_in_channel(watcher: RawClient) -> list[str]:
    """The bot nicks (irclogger, irclogger_, …) NAMES lists in #logged right now."""
    watcher.received = b""
    watcher.send(b"NAMES #logged")
    reply = watcher.wait_for(b" 366 watcher #logged ")
    names = re.search(rb" 353 watcher [=*@] #logged :([^\r\n]*)", reply)
    assert names is not None, reply
    nicks = [name.lstrip(b"@+").decode() for name in names.group(1).split()]
    return [nick for nick in nicks if nick.startswith("irclogger")]


def bot_joins(channel: Channel) -> int:
    return Line.objects.filter(channel=channel, kind="join", nick="irclogger").count()


@pytest.mark.e2e
def test_it_runs_one_bot_among_two_commands_and_hands_over_when_it_dies(
    tmp_path: Path, logged: Channel, watcher: RawClient
) -> None:
    with ircbot(tmp_path, "--elect") as first, ircbot(tmp_path, "--elect") as second:
        candidates = {first.process.pid: first, second.process.pid: second}
        wait_until(lambda: bot_joins(logged) == 1, 30, "a bot in #logged")
        # Both have campaigned: one leads, the other lost and keeps trying.
        wait_until(
            lambda: all("Bot election:" in bot.log() for bot in candidates.values()),
            30,
            "both candidates campaigned",
        )
        leaders = [pid for pid, bot in candidates.items() if LEADS.search(bot.log())]
        assert len(leaders) == 1, [bot.log() for bot in candidates.values()]
        assert bots_in_channel(watcher) == ["irclogger"]

        os.kill(leaders[0], signal.SIGKILL)
        candidates[leaders[0]].process.wait()
        (heir,) = (bot for pid, bot in candidates.items() if pid != leaders[0])
        wait_until(lambda: LEADS.search(heir.log()), 30, "the other candidate leads")
        wait_until(lambda: bot_joins(logged) == 2, 30, "the bot back in #logged")
        assert bots_in_channel(watcher) == ["irclogger"]


@pytest.mark.e2e
def test_it_runs_the_bot_in_one_gunicorn_worker(
    tmp_path: Path, logged: Channel, watcher: RawClient
) -> None:
    with gunicorn(tmp_path, workers=2, IRCLOGGER_BOT="1", BOT_POLL_SECONDS="1") as service:

        def leader_pids() -> list[int]:
            return [int(pid) for pid in LEADS.findall(service.log())]

        wait_until(lambda: bot_joins(logged) == 1, 60, "a bot in #logged")
        wait_until(
            lambda: "another process runs the IRC bot" in service.log(), 30, "a losing worker"
        )
        assert len(leader_pids()) == 1, service.log()
        assert bots_in_channel(watcher) == ["irclogger"]

        # The leading worker dies; gunicorn replaces it, and a worker takes over.
        os.kill(leader_pids()[0], signal.SIGKILL)
        wait_until(lambda: len(leader_pids()) == 2, 30, "another worker leads")
        wait_until(lambda: bot_joins(logged) == 2, 30, "the bot back in #logged")
        assert bots_in_channel(watcher) == ["irclogger"]
        assert leader_pids()[1] != leader_pids()[0]

        # A reload replaces every worker, and one of the new ones leads.
        service.reload()
        wait_until(lambda: len(leader_pids()) == 3, 30, "a new worker leads after the reload")
        wait_until(lambda: bot_joins(logged) == 3, 30, "the bot back after the reload")
        assert bots_in_channel(watcher) == ["irclogger"]


def system_lines(channel: Channel) -> list[str]:
    return list(
        Line.objects.filter(channel=channel, kind="system")
        .order_by("id")
        .values_list("text", flat=True)
    )


@pytest.mark.e2e
def test_the_bot_in_gunicorn_says_goodbye_on_sigterm_and_sighup_and_resumes(
    tmp_path: Path, logged: Channel, watcher: RawClient
) -> None:
    # ngircd relays a QUIT's reason in quotes.
    bot_quit = b' QUIT :"irclogger stopping"'
    with gunicorn(tmp_path, workers=1, IRCLOGGER_BOT="1", BOT_POLL_SECONDS="1") as service:
        wait_until(lambda: bot_joins(logged) == 1, 60, "a bot in #logged")
        # A reload (SIGHUP) replaces the worker: its bot leaves with a QUIT and a gap marker.
        watcher.received = b""
        service.reload()
        assert b":irclogger!" in _line_with(watcher, bot_quit)
        wait_until(lambda: bot_joins(logged) == 2, 60, "the new worker's bot in #logged")
        watcher.received = b""
        port = service.port
    # SIGTERM (leaving the block): gunicorn stops, the bot leaves the same way first.
    assert b":irclogger!" in _line_with(watcher, bot_quit)
    with gunicorn(tmp_path, port=port, IRCLOGGER_BOT="1", BOT_POLL_SECONDS="1") as service:
        wait_until(lambda: bot_joins(logged) == 3, 60, "the bot back in #logged")
    gap = "Logging interrupted: the connection to 127.0.0.1 was lost (irclogger stopping)"
    assert system_lines(logged) == [
        "Logging started",
        gap,
        "Logging resumed",
        gap,
        "Logging resumed",
        gap,
    ], service.log()


def _line_with(client: RawClient, needle: bytes) -> bytes:
    received = client.wait_for(needle, timeout=30)
    return next(line for line in received.split(b"\r\n") if needle in line)
