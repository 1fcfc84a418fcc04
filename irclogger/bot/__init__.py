"""The IRC logging bot: records channels live into ``Line`` rows.

- ``records``: IRC events to lines, channel membership, privacy rules (no I/O)
- ``decoding``: per-line UTF-8 with cp1252 fallback
- ``client``: one network's connection and its loop (a greenlet each)
- ``writer``: the bounded buffer and the database writer greenlet
- ``supervisor``: networks and channels from the database, polled
- ``election``: one bot per database, by PostgreSQL advisory lock
- ``health``: which networks are connected
- ``__main__``: ``manage.py ircbot`` with gevent's patching done first

Run it with ``manage.py ircbot``, or inside gunicorn with IRCLOGGER_BOT=1.
This module imports nothing at load time: ``python -m irclogger.bot`` must
reach gevent's monkey patching before anything else is imported.
"""


def status() -> dict[str, bool]:
    """Network slug -> connected, for the networks this process's bot runs.

    Empty in a process that does not run the bot (another gunicorn worker
    won the election, or the bot is not enabled).
    """
    from irclogger.bot.health import status as connected

    return connected()
