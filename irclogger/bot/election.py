"""Exactly one bot at a time: elected by a PostgreSQL advisory lock.

Every candidate (each gunicorn worker with IRCLOGGER_BOT=1, or each
``manage.py ircbot --elect``) opens one dedicated connection, outside the
pool, and tries ``pg_try_advisory_lock``. The winner runs the bot for as long
as it holds that connection; PostgreSQL releases the lock the moment the
connection ends, so when the winning process dies or is recycled another
candidate's next try wins. Advisory locks are per database, so every
deployment sharing one database shares one bot.
"""

import logging
import os
from typing import Any

import gevent
import gevent.event
import psycopg2
from django.conf import settings

from irclogger.bot.supervisor import STOP_TIMEOUT, run_bot
from irclogger.geventpool import direct_connection_params

log = logging.getLogger(__name__)

# An arbitrary constant naming "the irclogger bot" among advisory locks
# ("ircbot" in ASCII).
LOCK_KEY = 0x697263626F74
# How often a candidate tries the lock: the takeover delay after the leader
# dies is at most this (plus connecting).
RETRY_SECONDS = 3.0
# How often the leader checks that its lock connection is still alive; if
# it is not, another candidate may already lead, so the bot stops.
CHECK_SECONDS = 5.0
# How often a gunicorn worker's bot looks whether the worker is stopping.
WORKER_WATCH_SECONDS = 1.0


def lock_connection() -> Any:
    """A new connection of its own (not the pool's) to the app's database."""
    return psycopg2.connect(
        **direct_connection_params("irclogger-bot-election"),
        connect_timeout=10,
        # Notice a dead database host within about a minute.
        keepalives=1,
        keepalives_idle=30,
        keepalives_interval=10,
        keepalives_count=3,
    )


def try_lead(conn: Any) -> bool:
    with conn.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
        return bool(cursor.fetchone()[0])


def still_leading(conn: Any) -> bool:
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except psycopg2.Error:
        return False
    return True


class Candidate:
    """One process's campaign: its lock connection, kept open between tries.

    Keeping it open costs one idle connection per candidate, and spares the
    database a new connection every few seconds from each of them.
    """

    def __init__(self) -> None:
        self.conn: Any = None

    def campaign_once(self) -> bool:
        """One try; True if this candidate now leads (and holds the lock)."""
        try:
            if self.conn is None or self.conn.closed:
                self.conn = lock_connection()
                self.conn.autocommit = True
            return try_lead(self.conn)
        except psycopg2.Error as exc:
            log.warning("Bot election: cannot reach the database: %s", exc)
            self.resign()
            return False

    def resign(self) -> None:
        """Release the lock (if held) and close the connection.

        Closing alone releases it too, but only once the server has noticed;
        unlocking first lets the next candidate win at its very next try.
        """
        if self.conn is None:
            return
        try:
            with self.conn.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock_all()")
        except psycopg2.Error:
            log.debug("unlocking on a broken connection failed", exc_info=True)
        self.conn.close()
        self.conn = None


def run_elected(stop: gevent.event.Event) -> None:
    """Campaign until elected, run the bot while leading, repeat; until ``stop``."""
    candidate = Candidate()
    lost_before = False
    try:
        while not stop.is_set():
            if not candidate.campaign_once():
                if not lost_before:
                    log.info(
                        "Bot election: another process runs the IRC bot; pid %d tries again"
                        " every %.0f s",
                        os.getpid(),
                        RETRY_SECONDS,
                    )
                    lost_before = True
                stop.wait(RETRY_SECONDS)
                continue
            lost_before = False
            lead(candidate.conn, stop)
            candidate.resign()
            # A bot that ended on its own (a crash) is not restarted in a tight loop.
            stop.wait(RETRY_SECONDS)
    finally:
        candidate.resign()


def lead(conn: Any, stop: gevent.event.Event) -> None:
    """Run the bot while this process holds the lock and is not stopped."""
    log.info("Bot election: pid %d runs the IRC bot", os.getpid())
    bot_stop = gevent.event.Event()
    bot = gevent.spawn(run_bot, bot_stop)
    try:
        while not stop.is_set() and not bot.dead and still_leading(conn):
            stop.wait(CHECK_SECONDS)
    finally:
        if not stop.is_set() and not bot.dead:
            log.error("Bot election: lost the lock connection; stopping the bot")
        bot_stop.set()
        bot.join()


# The worker's campaign (its stop event and greenlet), for stop_in_worker.
_in_worker: tuple[gevent.event.Event, gevent.Greenlet] | None = None
# How long a stopping worker waits for its bot's goodbye: the networks'
# QUIT and the writer's flush take at most STOP_TIMEOUT each, and gunicorn's
# graceful timeout (30 s by default) is the hard limit.
GOODBYE_SECONDS = 2 * STOP_TIMEOUT + 2


def start_in_worker(worker: Any) -> gevent.Greenlet | None:
    """From gunicorn's post_worker_init: campaign in the background if the bot is on."""
    global _in_worker
    if not settings.IRCLOGGER_BOT:
        return None
    stop = gevent.event.Event()
    gevent.spawn(_stop_when_worker_stops, worker, stop)
    campaign = gevent.spawn(run_elected, stop)
    _in_worker = (stop, campaign)
    return campaign


def stop_in_worker(timeout: float = GOODBYE_SECONDS) -> None:
    """From gunicorn's worker_exit: stop the bot and wait for its goodbye."""
    if _in_worker is None:
        return
    stop, campaign = _in_worker
    stop.set()
    campaign.join(timeout)


def _stop_when_worker_stops(worker: Any, stop: gevent.event.Event) -> None:
    # gunicorn clears worker.alive as a worker begins a graceful exit
    # (reload, max_requests, SIGTERM); stopping the bot then sends QUIT and
    # frees the lock at once, instead of when the worker has finished
    # draining its requests up to graceful_timeout later.
    while getattr(worker, "alive", True) and not stop.is_set():
        gevent.sleep(WORKER_WATCH_SECONDS)
    stop.set()
