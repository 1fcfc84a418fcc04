"""``manage.py ircbot``: run the IRC logging bot on its own.

The bot is gevent code (a greenlet per network, one for the writer), as it
is inside the gunicorn gevent worker. gevent must patch the standard library
before Django is imported, which manage.py has already done by the time this
runs; so an unpatched process re-executes itself (same pid) as
``python -m irclogger.bot``, which patches first and comes back here.
"""

import logging
import os
import signal
import sys
from typing import Any

from django.conf import settings
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

        if not monkey.is_module_patched("socket"):
            argv = [sys.executable, "-m", "irclogger.bot"]
            if options["elect"]:
                argv.append("--elect")
            # The project's directory on the path, wherever manage.py was run from.
            paths = [str(settings.BASE_DIR), os.environ.get("PYTHONPATH", "")]
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))}
            sys.stdout.flush()
            sys.stderr.flush()
            os.execve(sys.executable, argv, env)  # noqa: S606  (ourselves, patched first)

        import gevent
        import gevent.event

        from irclogger.bot.election import run_elected
        from irclogger.bot.supervisor import run_bot

        stop = gevent.event.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            gevent.signal_handler(signum, stop.set)
        log.info(
            "IRC bot starting%s (pid %d)", " (elected)" if options["elect"] else "", os.getpid()
        )
        if options["elect"]:
            run_elected(stop)
        else:
            run_bot(stop)
        log.info("IRC bot stopped")
