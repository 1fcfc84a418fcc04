"""Writing live lines, and announcing them to the streams: the one place.

The announcement is ``pg_notify`` inside the writing transaction, so
PostgreSQL delivers it only on commit and no listener ever sees a line that
could still roll back. The payload carries ids, never text: notifications
must stay under 8,000 bytes, and identical ones in a transaction may be
folded (docs/DESIGN.md, trap 9).
"""

import hashlib
from collections.abc import Iterable, Sequence

from django.db import connection, transaction

from irclogger.models import Line

NOTIFY_CHANNEL = "irclogger"
# Changes the streams must hear besides new lines, one per notification:
#   channel <channel id> public|private|gone
#   member <channel id> <user id> in|out
#   user <user id> gone|unstaffed
#   session <session tag>
#   redact <channel id> <line id>...
# Every worker's hub listens (streams.hub): access changes empty its cache
# of public channels and end the streams they affect; a redaction reaches
# the open streams of its channel.
CHANGE_CHANNEL = "irclogger_change"
# Line ids per redaction notification: far below the 8,000-byte payload limit.
REDACT_IDS_PER_NOTIFICATION = 500

# The first key of the per-channel write lock (pg_advisory_xact_lock(int, int));
# two-key advisory locks never collide with the bot election's one-key lock.
WRITE_LOCK_CLASS = 0x1C1064


def write_lines(lines: Sequence[Line]) -> list[Line]:
    """Insert live lines and announce them, in one transaction.

    Writers to one channel take turns until commit, so a channel's ids become
    visible in increasing order: a stream that resumes after id N can then
    never miss a line with a smaller id committed later.
    """
    with transaction.atomic():
        _lock_channels(sorted({line.channel_id for line in lines}))
        created = Line.objects.bulk_create(lines)
        announce(created)
    return created


def _lock_channels(channel_ids: list[int]) -> None:
    # Sorted, so two writers that touch the same channels cannot deadlock.
    with connection.cursor() as cursor:
        for channel_id in channel_ids:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [WRITE_LOCK_CLASS, channel_id])


def announce(lines: Iterable[Line]) -> None:
    """Queue one notification per line; call inside the writing transaction."""
    payloads = [f"{line.channel_id}:{line.id}" for line in lines if not line.imported]
    if not payloads:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_notify(%s, payload) FROM unnest(%s::text[]) AS payload",
            [NOTIFY_CHANNEL, payloads],
        )


def announce_change(*fields: object) -> None:
    """Queue one change notification (see CHANGE_CHANNEL); delivered on commit."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_notify(%s, %s)", [CHANGE_CHANNEL, " ".join(str(f) for f in fields)]
        )


def announce_redactions(lines: Iterable[tuple[int, int]]) -> None:
    """Announce redacted lines, given as (channel id, line id) pairs."""
    by_channel: dict[int, list[int]] = {}
    for channel_id, line_id in lines:
        by_channel.setdefault(channel_id, []).append(line_id)
    for channel_id, ids in by_channel.items():
        for start in range(0, len(ids), REDACT_IDS_PER_NOTIFICATION):
            announce_change("redact", channel_id, *ids[start : start + REDACT_IDS_PER_NOTIFICATION])


def session_tag(session_key: str) -> str:
    """What a session-end notification names: never the key itself, which would log anyone in."""
    return hashlib.sha256(session_key.encode()).hexdigest()[:32]
