"""``python -m irclogger.bot [--elect]``: ``manage.py ircbot`` with gevent patched first.

The bot is gevent code, as it is inside the gunicorn gevent worker, and
gevent's monkey patching must come before anything else is imported:
Django keeps its database connections in a ``threading.local`` made at
import time, and one made before patching is shared by every greenlet.
``manage.py ircbot`` has already imported Django when it starts, so it
re-executes itself through here.
"""

from gevent import monkey

monkey.patch_all()

import os  # noqa: E402  (after patching, on purpose)
import sys  # noqa: E402

from psycogreen.gevent import patch_psycopg  # noqa: E402


def main() -> None:
    # psycopg2 waits cooperatively: a slow query never stops the network
    # greenlets from reading and answering PINGs.
    patch_psycopg()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "irclogger.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["manage.py", "ircbot", *sys.argv[1:]])


if __name__ == "__main__":
    main()
