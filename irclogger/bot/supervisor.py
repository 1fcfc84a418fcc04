"""The bot as a whole: one greenlet per network, one writer, the database as config.

Every few seconds the supervisor reads the enabled networks and channels;
a network added, removed or changed in the admin is started, stopped or
reconnected, and a channel list change reaches the network's bot, which
joins and parts at its next tick. No restart is needed for any of it.
"""

import logging
from dataclasses import replace

import gevent
import gevent.event
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Prefetch

from irclogger.bot.client import NetworkBot, NetworkConfig
from irclogger.bot.health import forget, set_connected
from irclogger.bot.records import ChannelConfig
from irclogger.bot.writer import LineWriter
from irclogger.geventpool import release_connection
from irclogger.models import Channel, Network

log = logging.getLogger(__name__)

# How long a stopping network bot gets to send QUIT and end its greenlet.
STOP_TIMEOUT = 10.0


def load_networks() -> dict[int, NetworkConfig]:
    """The networks the bot should be on, with their channels, from the database."""
    channels = Channel.objects.filter(bot_enabled=True).order_by("name")
    networks = Network.objects.logged_by_bot().prefetch_related(
        Prefetch("channels", queryset=channels)
    )
    return {
        network.id: NetworkConfig(
            id=network.id,
            slug=network.slug,
            host=network.host,
            port=network.port,
            use_tls=network.use_tls,
            server_password=network.server_password,
            nick=network.nick,
            sasl_username=network.sasl_username,
            sasl_password=network.sasl_password,
            channels=tuple(
                ChannelConfig.from_model(channel.id, channel.name, channel.excluded_nicks)
                for channel in network.channels.all()
            ),
        )
        for network in networks
    }


def logged_before(channel_ids: list[int]) -> set[int]:
    """Those of the channels that have a live line: a bot logged them before.

    The configuration must not wait for the lines' table (an import or a
    migration may lock it): a lock not granted at once answers "none yet",
    and the next poll asks again.
    """
    if not channel_ids:
        return set()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '200ms'")
        cursor.execute(
            "SELECT wanted.channel FROM unnest(%s::bigint[]) AS wanted(channel)"
            " WHERE EXISTS (SELECT 1 FROM irclogger_line AS line"
            " WHERE line.channel_id = wanted.channel AND NOT line.imported)",
            [channel_ids],
        )
        return {row[0] for row in cursor.fetchall()}


class Supervisor:
    def __init__(self) -> None:
        self.writer = LineWriter()
        self.bots: dict[int, tuple[NetworkBot, gevent.Greenlet]] = {}
        # Channels known to have been logged (by this process or an earlier one).
        self.logged: set[int] = set()

    def poll_once(self) -> None:
        """Read the configuration and apply it: one step of the loop."""
        try:
            configs = load_networks()
            self._learn_logged(configs)
        finally:
            release_connection()  # the supervisor sleeps between polls
        self.apply(self._with_logged(configs))

    def _learn_logged(self, configs: dict[int, NetworkConfig]) -> None:
        unknown = [
            channel.id
            for config in configs.values()
            for channel in config.channels
            if channel.id not in self.logged
        ]
        try:
            self.logged |= logged_before(unknown)
        except DatabaseError as exc:
            log.info("Which channels were logged before is not known yet: %s", exc)

    def _with_logged(self, configs: dict[int, NetworkConfig]) -> dict[int, NetworkConfig]:
        return {
            network_id: replace(
                config,
                channels=tuple(
                    replace(channel, logged_before=channel.id in self.logged)
                    for channel in config.channels
                ),
            )
            for network_id, config in configs.items()
        }

    def apply(self, configs: dict[int, NetworkConfig]) -> None:
        for network_id in list(self.bots):
            bot, _ = self.bots[network_id]
            config = configs.get(network_id)
            if config is None or config.connection_key() != bot.config.connection_key():
                self.stop_network(network_id)
            else:
                bot.reconfigure(config)
        for network_id, config in configs.items():
            if network_id not in self.bots:
                self.start_network(config)

    def start_network(self, config: NetworkConfig) -> None:
        log.info("Starting the bot on %s", config.slug)
        bot = NetworkBot(config, self.writer.put)
        set_connected(config.slug, False)
        self.bots[config.id] = (bot, gevent.spawn(bot.run))

    def stop_network(self, network_id: int) -> None:
        bot, greenlet = self.bots.pop(network_id)
        log.info("Stopping the bot on %s", bot.config.slug)
        bot.stop()
        greenlet.join(timeout=STOP_TIMEOUT)
        greenlet.kill()
        forget(bot.config.slug)

    def run(self, stop: gevent.event.Event) -> None:
        """Poll and apply until ``stop`` is set; then quit every network and flush."""
        writer = gevent.spawn(self.writer.run)
        try:
            while not stop.is_set():
                try:
                    self.poll_once()
                except DatabaseError as exc:
                    # The database restarting: the networks go on as they were.
                    log.warning(
                        "Reading the bot's networks failed (%s); keeping the last ones", exc
                    )
                stop.wait(settings.BOT_POLL_SECONDS)
        finally:
            for network_id in list(self.bots):
                self.stop_network(network_id)
            self.writer.stop()
            writer.join(timeout=STOP_TIMEOUT)
            writer.kill()


def run_bot(stop: gevent.event.Event) -> None:
    Supervisor().run(stop)
