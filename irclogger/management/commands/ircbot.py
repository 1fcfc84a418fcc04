"""``manage.py ircbot``: run the IRC logging bot on its own.

The bot is gevent code (a greenlet per network, one for the writer), as it
is inside the gunicorn gevent worker. Here nothing has patched the standard
library yet, so the command does it first thing in ``handle``: before it no
socket is opened and no database connection exists (Django's startup and
system checks open none). psycogreen then makes psycopg2 wait cooperatively,
so a slow query never stops a network's greenlet from answering PINGs.
"""

import logging
import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run the IRC logging bot (networks and channels come from the database)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--elect",
            action="store_true",
            help="run only while holding the bot's advisory lock (one bot among many)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from gevent import monkey

        monkey.patch_all()

        import gevent
        import gevent.event
        from psycogreen.gevent import patch_psycopg

        patch_psycopg()

        from irclogger.bot.election import run_elected
        from irclogger.bot.supervisor import run_bot

        stop = gevent.event.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            gevent.signal_handler(signum, stop.set)
        log.info("IRC bot starting%s", " (elected)" if options["elect"] else "")
        if options["elect"]:
            run_elected(stop)
        else:
            run_bot(stop)
        log.info("IRC bot stopped")
