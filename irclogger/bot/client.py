"""One network's connection: connect, negotiate, join, read, reconnect.

Runs in its own greenlet. The irc library parses the protocol (prefix,
command, arguments, IRCv3 tags, ISUPPORT) and tracks the bot's own nick;
this module decides what to send and hands each event to the ``Recorder``.
Sockets are the standard library's, made cooperative by gevent's monkey
patching (the gunicorn gevent worker does it; ``manage.py ircbot`` does it
first thing), so a network blocks only its own greenlet.

Everything the loop does is a step method (``connect``, ``handle``,
``tick``, ``lost``) that a test can call once.
"""

import base64
import datetime as dt
import logging
import random
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import gevent.event
import irc.client
from django.conf import settings
from irc.strings import lower as irc_lower

from irclogger.bot.decoding import IrcLineBuffer
from irclogger.bot.health import set_connected
from irclogger.bot.records import ChannelConfig, PendingLine, Recorder

log = logging.getLogger(__name__)

# How long a TCP (and TLS) connect may take before it counts as failed.
CONNECT_TIMEOUT = 30.0
# A send that cannot complete in this long means the server stopped reading.
SEND_TIMEOUT = 60.0
# How often the loop wakes up without traffic to run ``tick``: joins and
# parts of channels changed in the admin happen within this plus the poll.
TICK_SECONDS = 1.0
# With no traffic for this long, the bot PINGs the server; servers PING
# idle clients every few minutes, so a quiet minute is already unusual.
IDLE_BEFORE_PING = 90.0
# ... and with no answer for this long after that, the connection is dead
# (a NAT or a netsplit ate it) and the bot reconnects.
PING_TIMEOUT = 60.0
# Registration (NICK/USER, CAP, SASL) that takes longer has stalled.
REGISTRATION_TIMEOUT = 60.0
# JOINs sent per tick: servers let a client burst about five lines, then
# throttle it or drop it for flooding.
JOINS_PER_TICK = 4
# A JOIN with no answer at all is sent again after this long.
JOIN_ANSWER_TIMEOUT = 30.0
# First reconnect delay: a server restart is usually over in a second or two.
RECONNECT_MIN_SECONDS = 1.0
# A connection that lasted this long was a success: the backoff starts over.
# A shorter one (a server that welcomes, then drops the bot) keeps backing off.
STABLE_SECONDS = 60.0
# While on an alternate nick, try to take back the configured one this often.
NICK_REGAIN_SECONDS = 120.0

# Numerics that refuse a JOIN, with why, for the log.
JOIN_REFUSALS = {
    "bannedfromchan": "banned",
    "channelisfull": "channel is full",
    "inviteonlychan": "invite only",
    "badchannelkey": "needs a key",
    # 477 is ERR_NEEDREGGEDNICK on today's servers; the library names it
    # after its RFC 1459 meaning.
    "nochanmodes": "needs a registered nick",
    "toomanychannels": "too many channels",
}


@dataclass(frozen=True)
class NetworkConfig:
    id: int
    slug: str
    host: str
    port: int
    use_tls: bool
    server_password: str
    nick: str
    sasl_username: str
    sasl_password: str
    channels: tuple[ChannelConfig, ...] = ()

    def connection_key(self) -> tuple[Any, ...]:
        """What needs a reconnect when changed (channels do not)."""
        return (
            self.host,
            self.port,
            self.use_tls,
            self.server_password,
            self.nick,
            self.sasl_username,
            self.sasl_password,
        )


class BotConnection(irc.client.ServerConnection):  # type: ignore[misc]
    """The library's connection with per-line encoding fallback and faithful text."""

    buffer_class = IrcLineBuffer

    def _handle_message(self, arguments: list[str], command: str, source: Any, tags: Any) -> None:
        # The library splits a message at every \x01 and undoes the obsolete
        # CTCP "low-level quoting" of \x10, so a message with those bytes
        # would not be stored as received. Modern CTCP is only a whole
        # message wrapped in \x01: ACTION becomes an "action", any other
        # CTCP is not a line of the log, and everything else is kept intact.
        target = arguments[0] if arguments else ""
        text = arguments[1] if len(arguments) > 1 else ""
        kind, text = classify_message(command, target, text)
        self._handle_event(irc.client.Event(kind, source, target, [text], tags))


class BotReactor(irc.client.Reactor):  # type: ignore[misc]
    connection_class = BotConnection


def classify_message(command: str, target: str, text: str) -> tuple[str, str]:
    """The library's event type for a PRIVMSG/NOTICE, and the text to store."""
    public = bool(irc.client.is_channel(target))
    if text.startswith("\x01"):
        inner = text[1:].removesuffix("\x01")
        if command == "privmsg" and (inner == "ACTION" or inner.startswith("ACTION ")):
            return "action", inner[7:]
        return ("ctcp" if command == "privmsg" else "ctcpreply"), inner
    if command == "privmsg":
        return ("pubmsg" if public else "privmsg"), text
    return ("pubnotice" if public else "privnotice"), text


def alternate_nick(wanted: str, attempt: int) -> str:
    """The nick to try after ``attempt`` refusals: nick_, nick__, then nick3, nick4…"""
    if attempt <= 2:
        return wanted + "_" * attempt
    return f"{wanted}{attempt}"


def reconnect_delay(attempt: int, maximum: float) -> float:
    """Exponential backoff with full jitter, so many bots do not return in step."""
    ceiling = min(maximum, RECONNECT_MIN_SECONDS * 2**attempt)
    return random.uniform(RECONNECT_MIN_SECONDS, max(RECONNECT_MIN_SECONDS, ceiling))


def next_attempt(attempt: int, welcomed_at: float, now: float) -> int:
    """The backoff's exponent for the next reconnect: 0 again after a lasting connection."""
    if welcomed_at and now - welcomed_at >= STABLE_SECONDS:
        return 0
    return attempt + 1


def sasl_plain(username: str, password: str) -> str:
    return base64.b64encode(f"{username}\0{username}\0{password}".encode()).decode()


class NetworkBot:
    """The bot on one network; ``run`` is its greenlet's body."""

    def __init__(
        self,
        config: NetworkConfig,
        put: Callable[[list[PendingLine]], None],
        open_socket: Callable[[tuple[str, int]], Any] | None = None,
    ) -> None:
        self.config = config
        self.put = put
        # How to reach the server; a test may hand over one end of a socketpair.
        self.open_socket = open_socket or self._open_socket
        self.recorder = Recorder(settings.BOT_NOLOG_PREFIX)
        self.recorder.configure(list(config.channels))
        self.reactor = BotReactor()
        self.reactor.add_global_handler("all_events", self._on_event, 10)
        # One connection object for the bot's life; connect() reconnects it.
        self.connection: BotConnection = self.reactor.server()
        self.stopping = gevent.event.Event()
        self.registered = False
        # When this connection was welcomed (0: not yet); outlives lost().
        self.welcomed_at = 0.0
        self.nick_attempt = 0
        self.caps_wanted: set[str] = set()
        self.last_received = 0.0
        self.ping_sent = False
        self.connected_at = 0.0
        self.next_nick_regain = 0.0
        # The text of the server's ERROR, the reason it is about to close.
        self.server_error = ""
        # Channel key -> monotonic time before which no JOIN is sent.
        self.join_not_before: dict[str, float] = {}

    # -- configuration from the database ---------------------------------

    def reconfigure(self, config: NetworkConfig) -> None:
        """New channel list; joins and parts follow at the next ``tick``."""
        self.config = config
        self.recorder.configure(list(config.channels))

    # -- the loop --------------------------------------------------------

    def run(self) -> None:
        attempt = -1
        while not self.stopping.is_set():
            try:
                self.connect()
            except (irc.client.ServerConnectionError, OSError) as exc:
                log.warning("%s: cannot connect: %s", self.config.slug, exc)
            else:
                try:
                    self.serve()
                except Exception:
                    # A bug must cost a reconnect, not the network's greenlet.
                    log.exception("%s: the connection loop failed", self.config.slug)
                    self.connection.disconnect("internal error")
            self.lost("")
            if self.stopping.is_set():
                break
            attempt = next_attempt(attempt, self.welcomed_at, time.monotonic())
            delay = reconnect_delay(attempt, settings.BOT_RECONNECT_MAX_SECONDS)
            log.info("%s: reconnecting in %.1f s", self.config.slug, delay)
            self.stopping.wait(delay)

    def serve(self) -> None:
        """Read and react until the connection ends or the bot is stopped."""
        while self.connection.is_connected():
            if self.stopping.is_set():
                self.connection.disconnect("irclogger stopping")
                break
            self.reactor.process_once(timeout=TICK_SECONDS)
            self._drain_tls()
            self.tick(time.monotonic())

    def _drain_tls(self) -> None:
        # TLS may hold decrypted bytes that select() cannot see.
        conn = self.connection
        while conn.is_connected():
            sock = conn.socket
            if not isinstance(sock, ssl.SSLSocket) or not sock.pending():
                return
            conn.process_data()

    def stop(self) -> None:
        self.stopping.set()

    # -- steps -----------------------------------------------------------

    def connect(self) -> None:
        """Open the socket, start CAP negotiation, send NICK/USER (and PASS)."""
        config = self.config
        self.registered = False
        self.welcomed_at = 0.0
        self.nick_attempt = 0
        self.ping_sent = False
        self.connected_at = self.last_received = time.monotonic()
        self.server_error = ""
        self.caps_wanted = {"server-time"}
        if config.sasl_username and config.sasl_password:
            self.caps_wanted.add("sasl")
        log.info("%s: connecting to %s:%d", config.slug, config.host, config.port)
        self.connection.connect(
            config.host,
            config.port,
            config.nick,
            password=config.server_password or None,
            username=config.nick,
            ircname="irclogger",
            connect_factory=self.open_socket,
        )

    def _open_socket(self, address: tuple[str, int]) -> socket.socket:
        sock = socket.create_connection(address, timeout=CONNECT_TIMEOUT)
        if self.config.use_tls:
            context = ssl.create_default_context()
            sock = context.wrap_socket(sock, server_hostname=self.config.host)
        sock.settimeout(SEND_TIMEOUT)
        # CAP LS before NICK/USER: the server then holds registration until
        # CAP END, so server-time and SASL are settled before the welcome.
        sock.sendall(b"CAP LS\r\n")
        return sock

    def handle(self, event: Any) -> None:
        """React to one event: protocol duties first, then the log."""
        conn = self.connection
        self.last_received = time.monotonic()
        self.ping_sent = False
        reaction = getattr(self, f"_on_{event.type}", None)
        if reaction is not None:
            reaction(conn, event)
        if event.type in JOIN_REFUSALS:
            self._join_refused(event)
        lines = self.recorder.record(event, conn.get_nickname(), _now())
        raw = getattr(conn.buffer, "raw", None)  # the bytes of the line being handled
        if raw is not None:
            lines = [replace(line, raw=raw) for line in lines]
        self.put(lines)

    def _on_event(self, connection: Any, event: Any) -> None:
        if event.type == "all_raw_messages":
            return
        if event.type == "disconnect":
            # A server that says why it closes (ERROR :Server going down)
            # knows better than the socket ("Connection reset by peer").
            said = event.arguments[0] if event.arguments else ""
            self.lost(self.server_error or said)
            return
        try:
            self.handle(event)
        except Exception:
            # One event the code cannot handle must not end the connection.
            log.exception("%s: handling %s failed", self.config.slug, event.type)

    def tick(self, now: float) -> None:
        """Periodic duties: registration and ping timeouts, joins and parts, nick."""
        conn = self.connection
        if not conn.is_connected():
            return
        if not self.registered:
            if now - self.connected_at > REGISTRATION_TIMEOUT:
                conn.disconnect("registration timed out")
            return
        idle = now - self.last_received
        if idle > IDLE_BEFORE_PING + PING_TIMEOUT:
            conn.disconnect("ping timeout")
            return
        if idle > IDLE_BEFORE_PING and not self.ping_sent:
            conn.ping("irclogger")
            self.ping_sent = True
        self.sync_channels(conn, now)
        on_alternate = irc_lower(conn.get_nickname()) != irc_lower(self.config.nick)
        if on_alternate and now >= self.next_nick_regain:
            self.next_nick_regain = now + NICK_REGAIN_SECONDS
            conn.nick(self.config.nick)

    def sync_channels(self, conn: Any, now: float) -> None:
        """JOIN configured channels the bot is not in; PART removed ones."""
        due = [
            state
            for state in self.recorder.to_join()
            if now >= self.join_not_before.get(irc_lower(state.config.name), 0.0)
        ]
        for state in due[:JOINS_PER_TICK]:
            self.join_not_before[irc_lower(state.config.name)] = now + JOIN_ANSWER_TIMEOUT
            conn.join(state.config.name)
        for state in self.recorder.to_part():
            key = irc_lower(state.config.name)
            if now >= self.join_not_before.get(key, 0.0):
                self.join_not_before[key] = now + JOIN_ANSWER_TIMEOUT
                # Not conn.part(): irc 20.5 sends a reason without its ":".
                conn.send_items("PART", state.config.name, ":logging stopped")

    def lost(self, reason: str) -> None:
        """The connection is gone: gap lines, status, state reset. Idempotent."""
        self.put(self.recorder.lost_connection(reason, self.config.host, _now()))
        if self.registered:
            log.warning("%s: connection lost %s", self.config.slug, reason)
        self.registered = False
        self.join_not_before.clear()
        set_connected(self.config.slug, False)

    # -- reactions to server events --------------------------------------

    def _on_cap(self, conn: Any, event: Any) -> None:
        sub = event.arguments[0] if event.arguments else ""
        offered = set(event.arguments[-1].split()) if len(event.arguments) > 1 else set()
        if sub == "LS":
            wanted = sorted(self.caps_wanted & {cap.split("=")[0] for cap in offered})
            if "sasl" in self.caps_wanted and "sasl" not in wanted:
                log.error(
                    "%s: the server offers no SASL; continuing unauthenticated", self.config.slug
                )
            if wanted:
                conn.cap("REQ", *wanted)
            else:
                conn.cap("END")
        elif sub == "ACK":
            if "sasl" in offered:
                conn.send_items("AUTHENTICATE", "PLAIN")
            else:
                conn.cap("END")
        elif sub == "NAK":
            log.warning("%s: capabilities refused: %s", self.config.slug, " ".join(offered))
            conn.cap("END")

    def _on_authenticate(self, conn: Any, event: Any) -> None:
        if event.target == "+":
            conn.send_items(
                "AUTHENTICATE", sasl_plain(self.config.sasl_username, self.config.sasl_password)
            )

    def _on_saslsuccess(self, conn: Any, event: Any) -> None:
        log.info("%s: SASL login succeeded", self.config.slug)
        conn.cap("END")

    def _on_saslfail(self, conn: Any, event: Any) -> None:
        log.error("%s: SASL login failed: %s", self.config.slug, " ".join(event.arguments))
        conn.cap("END")

    _on_sasltoolong = _on_saslfail
    _on_saslaborted = _on_saslfail

    def _on_nicknameinuse(self, conn: Any, event: Any) -> None:
        if self.registered:
            return  # a failed attempt to regain the configured nick
        self.nick_attempt += 1
        nick = alternate_nick(self.config.nick, self.nick_attempt)
        log.warning("%s: nick %s unavailable, trying %s", self.config.slug, self.config.nick, nick)
        conn.nick(nick)

    _on_erroneusnickname = _on_nicknameinuse
    _on_unavailresource = _on_nicknameinuse
    _on_nickcollision = _on_nicknameinuse

    def _on_welcome(self, conn: Any, event: Any) -> None:
        self.registered = True
        self.welcomed_at = time.monotonic()
        self.next_nick_regain = time.monotonic() + NICK_REGAIN_SECONDS
        log.info("%s: connected as %s", self.config.slug, conn.get_nickname())
        set_connected(self.config.slug, True)

    def _on_join(self, conn: Any, event: Any) -> None:
        if irc_lower(event.source.nick) == irc_lower(conn.get_nickname()):
            self.join_not_before.pop(irc_lower(event.target), None)

    def _on_part(self, conn: Any, event: Any) -> None:
        self._on_join(conn, event)

    def _on_kick(self, conn: Any, event: Any) -> None:
        if event.arguments and irc_lower(event.arguments[0]) == irc_lower(conn.get_nickname()):
            log.warning(
                "%s: kicked from %s: %s", self.config.slug, event.target, event.arguments[1:]
            )
            self.join_not_before[irc_lower(event.target)] = time.monotonic() + _join_retry()

    def _on_error(self, conn: Any, event: Any) -> None:
        log.warning("%s: server error: %s", self.config.slug, event.target)
        self.server_error = event.target or ""

    def _join_refused(self, event: Any) -> None:
        channel = event.arguments[0] if event.arguments else ""
        why = JOIN_REFUSALS[event.type]
        retry = _join_retry()
        log.warning(
            "%s: cannot join %s (%s); retrying in %.0f s", self.config.slug, channel, why, retry
        )
        self.join_not_before[irc_lower(channel)] = time.monotonic() + retry


def _join_retry() -> float:
    # Jittered so a bot refused from many channels does not retry them in one burst.
    return float(settings.BOT_JOIN_RETRY_SECONDS) * random.uniform(1.0, 1.5)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
