"""The pooled database engine (base.py), and connections kept out of the pool."""

from typing import Any

from django.db import connections

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
