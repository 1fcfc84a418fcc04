"""From IRC events to log lines: the bot's bookkeeping, with no I/O.

The ``Recorder`` of a network knows which configured channels the bot is in
and who is in each (from NAMES, JOIN, PART, KICK, QUIT, NICK), so a QUIT or a
NICK, which name no channel, is written once to every channel the user was
in. Each method takes one parsed ``irc.client.Event`` and returns the lines to
write; the network's connection code hands them to the writer.
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from irc.strings import lower as irc_lower

from irclogger.kinds import LineKind
from irclogger.privacy import excluded_nicks, stored_text


@dataclass(frozen=True)
class PendingLine:
    """A line to write: the fields of ``Line`` the bot fills in."""

    channel_id: int
    timestamp: dt.datetime
    kind: str
    nick: str = ""
    target: str = ""
    text: str = ""
    # The IRC line's bytes when they were not all valid UTF-8 (Line.raw).
    raw: bytes | None = None


@dataclass(frozen=True)
class ChannelConfig:
    id: int
    name: str
    # Folded (IRC case-insensitive) nicks whose lines are stored redacted.
    excluded: frozenset[str] = frozenset()
    # Whether a bot logged it before (a live line is stored): its first
    # join in this process then resumes logging rather than starting it.
    logged_before: bool = False

    @classmethod
    def from_model(
        cls, pk: int, name: str, excluded: str, *, logged_before: bool = False
    ) -> "ChannelConfig":
        return cls(pk, name, excluded_nicks(excluded), logged_before)


@dataclass
class ChannelState:
    config: ChannelConfig
    joined: bool = False
    members: set[str] = field(default_factory=set)
    configured: bool = True
    ever_joined: bool = False
    # RPL_TOPIC (332) waits for RPL_TOPICWHOTIME (333), which names the setter.
    pending_topic: str | None = None


def event_time(event: Any, now: dt.datetime) -> dt.datetime:
    """The IRCv3 ``server-time`` tag's time when the server sent one, else ``now``."""
    for tag in event.tags or ():
        if tag.get("key") == "time" and tag.get("value"):
            try:
                stamp = dt.datetime.fromisoformat(tag["value"].replace("Z", "+00:00"))
            except ValueError:
                return now
            return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)
    return now


def event_nick(event: Any) -> str:
    source = event.source
    return str(source.nick) if source is not None else ""


class Recorder:
    """Channel membership of one network, and the lines each event makes."""

    def __init__(self, nolog_prefix: str) -> None:
        self.nolog_prefix = nolog_prefix
        self.channels: dict[str, ChannelState] = {}

    # -- configuration ---------------------------------------------------

    def configure(self, configs: list[ChannelConfig]) -> None:
        """Take the channels the database says to log.

        A channel no longer configured keeps its state until the bot has
        parted it, but nothing more is recorded for it: it may be gone from
        the database.
        """
        wanted = {irc_lower(config.name): config for config in configs}
        for key, state in list(self.channels.items()):
            state.configured = key in wanted
            if not state.configured and not state.joined:
                del self.channels[key]
        for key, config in wanted.items():
            state = self.channels.setdefault(key, ChannelState(config))
            state.config = config
            state.configured = True

    def to_join(self) -> list[ChannelState]:
        return [s for s in self.channels.values() if s.configured and not s.joined]

    def to_part(self) -> list[ChannelState]:
        return [s for s in self.channels.values() if s.joined and not s.configured]

    def joined(self) -> list[ChannelState]:
        return [s for s in self.channels.values() if s.joined and s.configured]

    def state(self, channel: str) -> ChannelState | None:
        return self.channels.get(irc_lower(channel))

    # -- lines -----------------------------------------------------------

    def line(
        self,
        state: ChannelState,
        at: dt.datetime,
        kind: str,
        nick: str = "",
        target: str = "",
        text: str = "",
    ) -> list[PendingLine]:
        """One line for a channel, after the privacy rules; [] if it must not be stored."""
        if not state.configured:
            return []
        stored = stored_text(
            kind, nick, text, excluded=state.config.excluded, nolog_prefix=self.nolog_prefix
        )
        if stored is None:
            return []
        return [PendingLine(state.config.id, at, kind, nick, target, stored)]

    def record(self, event: Any, own_nick: str, now: dt.datetime) -> list[PendingLine]:
        """The lines one event makes, updating membership on the way."""
        handler = getattr(self, f"_on_{event.type}", None)
        if handler is None:
            return []
        lines: list[PendingLine] = handler(event, irc_lower(own_nick), event_time(event, now))
        return lines

    def _spoken(self, event: Any, kind: str, at: dt.datetime) -> list[PendingLine]:
        state = self.state(event.target or "")
        if state is None or not state.joined:
            return []
        text = event.arguments[0] if event.arguments else ""
        return self.line(state, at, kind, event_nick(event), text=text)

    def _on_pubmsg(self, event: Any, me: str, at: dt.datetime) -> list[PendingLine]:
        return self._spoken(event, LineKind.MESSAGE, at)

    def _on_action(self, event: Any, me: str, at: dt.datetime) -> list[PendingLine]:
        return self._spoken(event, LineKind.ACTION, at)

    def _on_pubnotice(self, event: Any, me: str, at: dt.datetime) -> list[PendingLine]:
        return self._spoken(event, LineKind.NOTICE, at)

    def _on_join(self, event: Any, me: str, at: dt.datetime) -> list[PendingLine]:
        state = self.state(event.target or "")
        if state is None:
            return []
        nick = event_nick(event)
        lines: list[PendingLine] = []
        if irc_lower(nick) == me:
            state.joined = True
            state.members = set()
            resumed = state.ever_joined or state.config.logged_before
            said = "Logging resumed" if resumed else "Logging started"
            state.ever_joined = True
            lines += self.line(state, at, LineKind.SYSTEM, text=said)
        if not state.joined:
            return []
        state.members.add(irc_lower(nick))
        return lines + self.line(state, at, LineKind.JOIN, nick, text=event.source.userhost or "")

    def _on_part(self, event: Any, me: str, at: dt.datetime) -> list[PendingLine]:
        state = self.state(event.target or "")
        if state is None or not state.joined:
            return []
        nick = event_nick(event)
        reason = event.arguments[0] if event.arguments else ""
        lines = self.line(state, at, LineKind.PART, nick, text=reason)
        self._leave(state, irc_lower(nick), me)
        return lines

    def _on_kick(self, event: Any, me: str, at: dt.datetime) -> list[PendingLine]:
        state = self.state(event.target or "")
        if state is None or not state.joined or not event.arguments:
            return []
        kicked = event.arguments[0]
        reason = event.arguments[1] if len(event.arguments) > 1 else ""
        lines = self.line(state, at, LineKind.KICK, event_nick(event), kicked, reason)
        self._leave(state, irc_lower(kicked), me)
        return lines

    def _leave(self, state: ChannelState, folded: str, me: str) -> None:
        state.members.discard(folded)
        if folded == me:
            state.joined = False
            state.members = set()

    def _on_quit(self, event: Any, me: str, at: dt.datetime) -> list[PendingLine]:
        nick = event_nick(event)
        folded = irc_lower(nick)
        reason = event.arguments[0] if event.arguments else ""
        lines: list[PendingLine] = []
        for state in self.joined():
            if folded in state.members:
                lines += self.line(state, at, LineKind.QUIT, nick, text=reason)
                state.members.discard(folded)
        return lines

    def _on_nick(self, event: Any, me: str, at: dt.datetime) -> list[PendingLine]:
        old, new = event_nick(event), event.target or ""
        old_folded, new_folded = irc_lower(old), irc_lower(new)
        lines: list[PendingLine] = []
        for state in self.joined():
            if old_folded in state.members:
                lines += self.line(state, at, LineKind.NICK, old, new)
                state.members.discard(old_folded)
                state.members.add(new_folded)
        return lines

    def _on_topic(self, event: Any, me: str, at: dt.datetime) -> list[PendingLine]:
        # A TOPIC is said in a channel like a message: same shape, its own kind.
        return self._spoken(event, LineKind.TOPIC, at)

    def _on_mode(self, event: Any, me: str, at: dt.datetime) -> list[PendingLine]:
        state = self.state(event.target or "")
        if state is None or not state.joined:
            return []
        return self.line(
            state, at, LineKind.MODE, event_nick(event), text=" ".join(event.arguments)
        )

    def _on_currenttopic(self, event: Any, me: str, at: dt.datetime) -> list[PendingLine]:
        # 332: arguments are [channel, topic]; the setter comes with 333.
        if len(event.arguments) < 2:
            return []
        state = self.state(event.arguments[0])
        if state is not None and state.joined:
            state.pending_topic = event.arguments[1]
        return []

    def _on_topicinfo(self, event: Any, me: str, at: dt.datetime) -> list[PendingLine]:
        # 333: [channel, setter (a nick or a full mask), set-at]
        if len(event.arguments) < 2:
            return []
        return self._flush_topic(event.arguments[0], event.arguments[1].split("!")[0], at)

    def _on_endofnames(self, event: Any, me: str, at: dt.datetime) -> list[PendingLine]:
        # A topic without 333 is still written once NAMES is over.
        return self._flush_topic(event.arguments[0] if event.arguments else "", "", at)

    def _flush_topic(self, channel: str, nick: str, at: dt.datetime) -> list[PendingLine]:
        state = self.state(channel)
        if state is None or state.pending_topic is None:
            return []
        topic, state.pending_topic = state.pending_topic, None
        return self.line(state, at, LineKind.TOPIC, nick, text=topic)

    def _on_namreply(self, event: Any, me: str, at: dt.datetime) -> list[PendingLine]:
        # 353: [symbol, channel, "nick @op +voice …"]; prefixes may be stacked.
        if len(event.arguments) < 3:
            return []
        state = self.state(event.arguments[1])
        if state is not None and state.joined:
            for name in event.arguments[2].split():
                state.members.add(irc_lower(name.lstrip("~&@%+")))
        return []

    # -- the connection itself -------------------------------------------

    def lost_connection(self, reason: str, network: str, at: dt.datetime) -> list[PendingLine]:
        """The gap marker: one system line per channel the bot was logging."""
        text = f"Logging interrupted: the connection to {network} was lost"
        if reason:
            text += f" ({reason})"
        lines: list[PendingLine] = []
        for state in self.channels.values():
            if not state.joined:
                continue
            lines += self.line(state, at, LineKind.SYSTEM, text=text)
            state.joined = False
            state.members = set()
            state.pending_topic = None
        return lines
