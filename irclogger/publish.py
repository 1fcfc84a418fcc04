"""Writing live lines, and announcing them to the streams: the one place.

The announcement is ``pg_notify`` inside the writing transaction, so
PostgreSQL delivers it only on commit and no listener ever sees a line that
could still roll back. The payload carries ids, never text: notifications
must stay under 8,000 bytes, and identical ones in a transaction may be
folded (DESIGN.md, trap 9).
"""

from collections.abc import Iterable, Sequence

from django.db import connection, transaction

from irclogger.models import Line

NOTIFY_CHANNEL = "irclogger"


def write_lines(lines: Sequence[Line]) -> list[Line]:
    """Insert live lines and announce them, in one transaction."""
    with transaction.atomic():
        created = Line.objects.bulk_create(lines)
        announce(created)
    return created


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
