"""The gunicorn worker class: gevent's, with a stop that ends when its streams do.

gunicorn's gevent worker looks once a second whether it should stop, and
once a second whether its last connection is done. A stopping worker ends
its streams within a fraction of a second (streams.hub), then sat out the
rest of those seconds before it exited; a restart waits for it, and so do
all its readers (docs/DESIGN.md, "Restart"). This one looks every tenth of
a second. Everything else is gunicorn's: one gevent server per listener,
``worker_connections`` per server, one accept per wake when several
workers share a listener, the graceful timeout.

The master loads this class by name: it imports no Django (conf/gunicorn.py).
"""

import time
from typing import Any

import gevent
from gevent.pool import Pool
from gevent.server import StreamServer
from gunicorn.sock import ssl_context
from gunicorn.workers.ggevent import GeventWorker

# How often a worker checks that it should stop, then that its connections
# are done; each check also tells the master the worker is alive.
STOP_POLL_SECONDS = 0.1


class StreamsWorker(GeventWorker):  # type: ignore[misc]  # gunicorn is untyped
    def run(self) -> None:
        servers = [self._serve(listener) for listener in self.sockets]
        while self.alive:
            self.notify()
            gevent.sleep(STOP_POLL_SECONDS)
        for server in servers:
            server.close()  # no new connections; open ones finish
        deadline = time.monotonic() + self.cfg.graceful_timeout
        while any(_busy(server) for server in servers):
            if time.monotonic() > deadline:
                self.log.warning("Worker graceful timeout (pid:%s)", self.pid)
                for server in servers:
                    server.stop(timeout=1)
                return
            self.notify()
            gevent.sleep(STOP_POLL_SECONDS)

    def _serve(self, listener: Any) -> StreamServer:
        listener.setblocking(1)
        ssl_args = {"ssl_context": ssl_context(self.cfg)} if self.cfg.is_ssl else {}
        server = StreamServer(
            listener,
            handle=lambda client, address: self.handle(listener, client, address),
            spawn=Pool(self.worker_connections),
            **ssl_args,
        )
        if self.cfg.workers > 1:
            # Workers share the listener: one accept per wake spreads the
            # connections over them instead of one worker taking a burst.
            server.max_accept = 1
        server.start()
        return server


def _busy(server: StreamServer) -> bool:
    pool = server.pool
    return bool(pool.free_count() != pool.size)
