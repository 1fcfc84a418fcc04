"""The IRC logging bot: records channels live into ``Line`` rows.

- ``records``: IRC events to lines, channel membership, privacy rules (no I/O)
- ``decoding``: per-line UTF-8 with cp1252 fallback
- ``client``: one network's connection and its loop (a greenlet each)
- ``writer``: the bounded buffer and the database writer greenlet
- ``supervisor``: networks and channels from the database, polled
- ``election``: one bot per database, by PostgreSQL advisory lock

Run it with ``manage.py ircbot``, or inside gunicorn with IRCLOGGER_BOT=1.
"""

from irclogger.bot.status import status

__all__ = ["status"]
