"""The database pool's gauges: connections in use and greenlets waiting for one.

django-db-geventpool keeps no counters of its own, so they are read from the pool
object: ``/metrics`` samples them when scraped, and each gunicorn worker samples
them every few seconds (started in conf/gunicorn.py) so that a scrape served by
one worker still shows the others' current values.
"""

import re
from typing import Any

import gevent
from django.db import connections

from irclogger.metrics import POOL_IN_USE, POOL_WAITING

# Scrapes come every 15–60 s; 5 s keeps the gauges fresher than any scrape.
SAMPLE_INTERVAL_SECONDS = 5.0

# gevent's compiled Queue does not expose its waiting getters, only in its repr.
_GETTERS = re.compile(r"getters\[(\d+)\]")


def sample_pool(alias: str = "default") -> tuple[int, int]:
    """Set the gauges from the pool and return (in use, waiting)."""
    pool = getattr(connections[alias], "pool", None)
    if pool is None:  # not django-db-geventpool: nothing to count
        return 0, 0
    in_use, waiting = pool_counts(pool)
    POOL_IN_USE.set(in_use)
    POOL_WAITING.set(waiting)
    return in_use, waiting


def pool_counts(pool: Any) -> tuple[int, int]:
    """Connections checked out of a django-db-geventpool pool, and greenlets waiting."""
    idle = pool.pool.qsize()
    in_use = max(pool.size - idle, 0)
    found = _GETTERS.search(pool.pool._format())
    waiting = int(found.group(1)) if found else 0
    return in_use, waiting


def _sample_forever() -> None:
    while True:
        sample_pool()
        gevent.sleep(SAMPLE_INTERVAL_SECONDS)


def start_sampler() -> gevent.Greenlet:
    return gevent.spawn(_sample_forever)
