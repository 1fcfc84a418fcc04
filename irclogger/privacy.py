"""A channel's privacy rules for a line, the same for the bot and the importers.

Excluded nicks (``Channel.excluded_nicks``, one per line, IRC
case-insensitive) have their words stored as ``[redacted]`` and their joins
without the host; a message, action or notice starting with the no-log
prefix (``BOT_NOLOG_PREFIX``) is not stored at all.
"""

from irc.strings import lower as irc_lower

from irclogger.kinds import REDACTED, LineKind

# Kinds whose text a user typed; the no-log prefix applies to these.
SPOKEN = frozenset({LineKind.MESSAGE.value, LineKind.ACTION.value, LineKind.NOTICE.value})


def excluded_nicks(setting: str) -> frozenset[str]:
    """The folded nicks of a channel's ``excluded_nicks`` field."""
    return frozenset(irc_lower(nick.strip()) for nick in setting.splitlines()) - {""}


def stored_text(
    kind: str, nick: str, text: str, *, excluded: frozenset[str], nolog_prefix: str
) -> str | None:
    """The text to store for a line, or None when the line must not be stored."""
    if kind in SPOKEN and nolog_prefix and text.startswith(nolog_prefix):
        return None
    if text and excluded and irc_lower(nick) in excluded:
        return "" if kind == LineKind.JOIN else REDACTED
    return text
