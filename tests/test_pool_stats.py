"""The pool gauges, read from a real django-db-geventpool pool on the test database."""

from collections.abc import Iterator

import gevent
import pytest
from django.db import connection
from django_db_geventpool.backends.postgresql_psycopg2.base import PostgresConnectionPool
from prometheus_client import REGISTRY

from irclogger.pool_stats import pool_counts, sample_pool


@pytest.fixture
def pool(db: None) -> Iterator[PostgresConnectionPool]:
    params = connection.get_connection_params()
    params.update(MAX_CONNS=1, REUSE_CONNS=1)
    pool = PostgresConnectionPool(**params)
    yield pool
    pool.close()


def test_it_counts_connections_in_use_and_greenlets_waiting(pool: PostgresConnectionPool) -> None:
    assert pool_counts(pool) == (0, 0)
    held = pool.get()
    assert pool_counts(pool) == (1, 0)
    waiters = [gevent.spawn(pool.get) for _ in range(2)]
    gevent.sleep(0)  # both block: the only connection is out
    assert pool_counts(pool) == (1, 2)
    pool.put(held)
    first = waiters[0].get(timeout=10)
    assert pool_counts(pool) == (1, 1)
    pool.put(first)
    pool.put(waiters[1].get(timeout=10))
    assert pool_counts(pool) == (0, 0)


def test_it_sets_the_gauges_from_the_default_pool(db: None) -> None:
    with connection.cursor() as cursor:  # the test's connection is checked out
        cursor.execute("SELECT 1")
    assert sample_pool() == (1, 0)
    assert REGISTRY.get_sample_value("irclogger_db_pool_in_use") == 1
    assert REGISTRY.get_sample_value("irclogger_db_pool_waiting") == 0
