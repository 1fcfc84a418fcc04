"""irclogger.bot.supervisor: the database says which networks and channels to log."""

import dataclasses

from irclogger import bot as bot_package
from irclogger.bot.records import ChannelConfig
from irclogger.bot.supervisor import Supervisor, load_networks, logged_before
from irclogger.models import Channel, Network
from tests.conftest import say


def test_it_reads_the_enabled_networks_and_channels(network: Network) -> None:
    Network.objects.filter(pk=network.pk).update(host="irc.libera.chat", bot_enabled=True)
    python = Channel.objects.create(
        network=network, name="#python", slug="python", excluded_nicks="Mallory\r\nEve\n"
    )
    Channel.objects.create(network=network, name="#off", slug="off", bot_enabled=False)
    Network.objects.create(name="Off", slug="off", host="irc.off", bot_enabled=False)
    Network.objects.create(name="Nowhere", slug="nowhere", host="", bot_enabled=True)

    configs = load_networks()

    assert list(configs) == [network.id]
    config = configs[network.id]
    assert (config.slug, config.host, config.port, config.use_tls) == (
        "libera",
        "irc.libera.chat",
        6697,
        True,
    )
    assert config.channels == (ChannelConfig(python.id, "#python", frozenset({"mallory", "eve"})),)


def test_it_starts_reconfigures_restarts_and_stops_network_bots(network: Network) -> None:
    Network.objects.filter(pk=network.pk).update(host="irc.libera.chat", bot_enabled=True)
    Channel.objects.create(network=network, name="#python", slug="python")
    supervisor = Supervisor()
    configs = load_networks()
    config = configs[network.id]

    supervisor.apply(configs)
    first, _ = supervisor.bots[network.id]
    assert bot_package.status()["libera"] is False

    fewer = dataclasses.replace(config, channels=())
    supervisor.apply({network.id: fewer})
    assert supervisor.bots[network.id][0] is first
    assert first.recorder.to_join() == []

    moved = dataclasses.replace(config, host="irc.elsewhere.example")
    supervisor.apply({network.id: moved})
    second, _ = supervisor.bots[network.id]
    assert second is not first
    assert first.stopping.is_set()
    assert second.config.host == "irc.elsewhere.example"

    supervisor.apply({})
    assert supervisor.bots == {}
    assert second.stopping.is_set()
    assert "libera" not in bot_package.status()


def test_it_knows_which_channels_a_bot_logged_before(db: None) -> None:
    network = Network.objects.create(name="N", slug="n")
    logged, imported, fresh = (
        Channel.objects.create(network=network, name=f"#{name}", slug=name)
        for name in ("logged", "imported", "fresh")
    )
    say(logged, "a live line")
    say(imported, "history", imported=True)
    assert logged_before([logged.pk, imported.pk, fresh.pk]) == {logged.pk}
