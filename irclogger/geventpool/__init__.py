"""The pooled database engine (base.py): giving a connection back, and connections outside it."""

import logging
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections
from gevent.monkey import is_module_patched

log = logging.getLogger(__name__)

# The pool's own options, which libpq would refuse.
POOL_OPTIONS = ("MAX_CONNS", "REUSE_CONNS", "cursor_factory")


def direct_connection_params(application_name: str) -> dict[str, Any]:
    """psycopg2.connect() parameters for a connection of its own, outside the pool.

    For the connections that must not be the pool's: the hub's LISTEN
    connection, the bot election's lock, an import's writer threads.
    ``application_name`` tells them apart in pg_stat_activity.
    """
    params = connections["default"].get_connection_params()
    for key in POOL_OPTIONS:
        params.pop(key, None)
    params["application_name"] = application_name
    return params


def release_connection() -> None:
    """Give this greenlet's connection back to the pool before it waits.

    django-db-geventpool's close() returns it. Whatever waits long (an open
    stream, the bot's writer and supervisor between rounds) must hold none,
    or a few of them empty the pool and every page hangs (docs/DESIGN.md,
    trap 1). Inside a caller's transaction (a test's) the connection is the
    caller's: closing it there would break that transaction.
    """
    if not any(c.alias == DEFAULT_DB_ALIAS for c in connections.all(initialized_only=True)):
        # None here yet: touching ``connection`` would make this greenlet a
        # DatabaseWrapper of its own (~3 KiB that an open stream would keep).
        return
    if connection.in_atomic_block:
        return
    try:
        connection.close()
    except DatabaseError:
        log.debug("closing a broken connection failed", exc_info=True)
    if is_module_patched("threading"):
        _forget_wrapper()


def close_pools() -> None:
    """Close every pool's idle connections: a process about to exit says goodbye to PostgreSQL."""
    for alias in connections:
        close = getattr(connections[alias], "closeall", None)  # the pooled engine's only
        if close is not None:
            close()


def _forget_wrapper() -> None:
    """Free this greenlet's closed DatabaseWrapper now, not at a full collection.

    Under gevent's patched threading each greenlet gets a wrapper of its
    own, and its helpers (operations, features, introspection, client...)
    point back at it: a cycle that only a full collection frees, which the
    worker's tuned thresholds make rare and long (docs/DESIGN.md, "Memory
    per stream"). Emptying it breaks every cycle at once; reference counts
    then free it, and a later query here makes a fresh one. Unpatched, the
    wrapper is the whole thread's (a test's query capture holds it) and
    stays.
    """
    wrapper = connections[DEFAULT_DB_ALIAS]
    del connections[DEFAULT_DB_ALIAS]
    wrapper.__dict__.clear()
