"""The bounded pool: a burst of greenlets never opens more than MAX_CONNS connections."""

from collections.abc import Iterator

import gevent
import psycopg2.extensions
import pytest
from django.db import connection
from psycogreen.gevent import patch_psycopg

from irclogger.geventpool.base import BoundedPool


@pytest.fixture
def green_psycopg() -> Iterator[None]:
    # Connecting must yield to other greenlets, as it does in a worker.
    patch_psycopg()
    yield
    psycopg2.extensions.set_wait_callback(None)


@pytest.fixture
def pool(db: None, green_psycopg: None) -> Iterator[BoundedPool]:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params["MAX_CONNS"] = 3
    pool = BoundedPool(**params)
    yield pool
    pool.close()


def test_it_never_opens_more_than_its_size(pool: BoundedPool) -> None:
    peak = 0

    def borrow() -> None:
        nonlocal peak
        conn = pool.get()
        peak = max(peak, pool.size + pool.opening)
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(0.01)")
        pool.put(conn)

    gevent.joinall([gevent.spawn(borrow) for _ in range(50)], timeout=60, raise_error=True)
    assert peak <= 3
    assert pool.size <= 3


def test_it_replaces_a_connection_that_broke(pool: BoundedPool) -> None:
    conn = pool.get()
    conn.close()
    pool.discard(conn)
    fresh = pool.get()
    with fresh.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    pool.put(fresh)


def test_it_is_the_configured_engine() -> None:
    assert isinstance(getattr(connection, "pool", None), BoundedPool)
