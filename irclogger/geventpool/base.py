"""django-db-geventpool, bounded: never more than MAX_CONNS connections per process.

django-db-geventpool 4.0.8 checks its size before opening a connection but
counts the connection only once it exists. Under psycogreen, connecting
yields to other greenlets, so a burst of requests (a thousand streams
reconnecting after a deploy) all see room and all connect: the pool
overshoots and PostgreSQL runs out of connections (docs/DESIGN.md, trap 1). This
pool counts the connections being opened as well.
"""

from typing import Any

from django_db_geventpool.backends.postgresql_psycopg2 import base
from gevent import queue

# A greenlet waiting for a connection looks again this often, in case a
# connection failed to open or was dropped broken, freeing room without
# anything being returned to the queue.
RECHECK_SECONDS = 1.0


class BoundedPool(base.PostgresConnectionPool):  # type: ignore[misc]  # untyped library
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.opening = 0

    def get(self) -> Any:
        while True:
            with self.lock:
                reserve = not self.pool.qsize() and self.size + self.opening < self.maxsize
                if reserve:
                    self.opening += 1
            if reserve:
                return self._open()
            try:
                conn = self.pool.get(timeout=RECHECK_SECONDS)
            except queue.Empty:
                continue
            try:
                self.check_usable(conn)
            except self.DBERROR:
                self.discard(conn)
                continue
            return conn

    def _open(self) -> Any:
        try:
            conn = self.create_connection()
            self._conns.add(conn)
            return conn
        finally:
            with self.lock:
                self.opening -= 1

    def discard(self, conn: Any) -> None:
        self._conns.discard(conn)
        if not conn.closed:
            conn.close()


class DatabaseWrapper(base.DatabaseWrapper):  # type: ignore[misc]  # untyped library
    pool_class = BoundedPool

    def _close(self) -> None:
        # A connection that broke (server restart) must stop counting
        # against the bound at once, not when it is garbage-collected.
        if self.connection is not None and self.connection.closed:
            self.pool.discard(self.connection)
        super()._close()
