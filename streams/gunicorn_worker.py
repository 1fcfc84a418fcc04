"""The gunicorn worker class: gevent's, with a stop that ends when its streams do.

gunicorn's gevent worker looks once a second whether it should stop, and
once a second whether its last connection is done. A stopping worker ends
its streams within a fraction of a second (streams.hub), then sat out the
rest of those seconds before it exited; a restart waits for it, and so do
all its readers (docs/DESIGN.md, "Restart"). This one looks every tenth of
a second, and lets stream requests in by turns, behind the pages
(``Admission``). Everything else is gunicorn's: one gevent server per listener,
``worker_connections`` per server, one accept per wake when several
workers share a listener, the graceful timeout.

The master loads this class by name: it imports no Django (conf/gunicorn.py).
"""

import socket
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from typing import Any

import gevent
from gevent.hub import Waiter, get_hub, getcurrent
from gevent.pool import Pool
from gevent.server import StreamServer
from gunicorn.sock import ssl_context
from gunicorn.workers.ggevent import GeventWorker

from streams.handoff import SUCCESSOR_WAIT_SECONDS, Handoff
from streams.paths import is_stream_path, is_stream_request

# How often a worker checks that it should stop, then that its connections
# are done; each check also tells the master the worker is alive.
STOP_POLL_SECONDS = 0.1
# How long stream requests run before the loop looks at its sockets again
# (``Admission``): while a page is under way, gevent's own switch interval,
# so each of its queries waits a few milliseconds at most; else longer, as
# each look costs the reconnects time (with 5 ms turns throughout, a
# 10,000-stream reload took 13 s to come back instead of 8).
TURN_WITH_PAGES_SECONDS = 0.005
TURN_SECONDS = 0.05
# Connections a lone worker accepts each time its listener is readable: a
# reconnect storm's whole queue, so a page in it starts at once. A turn of
# TURN_SECONDS runs about as many reconnects as gevent's default of 100.
ACCEPTS_PER_WAKE = 1000
# A request line is read this far ahead of gunicorn's parser to tell a
# stream from a page (``StreamsWorker.admit``); longer ones wait for the parser.
PEEK_BYTES = 1024
# What a worker replaced by a reload logs when it goes on accepting.
ACCEPTING_UNTIL_REPLACED = "replaced by a reload: serving new requests until a new worker listens"


class Admission:
    """Stream requests take turns here, a few milliseconds of them at a time, behind the pages.

    A reload or a restart sends thousands of readers back at once. Each
    accepted connection's greenlet waits as a callback of gevent's loop, in
    order, and ran its whole reconnect (half a millisecond of CPU) before the
    loop came to anything after it: a page asked for meanwhile waited for
    every reconnect ahead of it, and each of its queries for fifty more
    (gevent looks for ready sockets every fifty callbacks). Here a stream's
    greenlet, once its request line tells it apart (``StreamsWorker.admit``),
    waits its turn; a turn is a timer
    that fires after the loop has looked at its sockets and runs requests for
    a few milliseconds, so pages, their queries and new connections are
    served between turns (docs/DESIGN.md, "Pages in a storm"). Turns are
    short while a page is under way, and while accepted connections have not
    started yet: any of them may be a page.
    """

    def __init__(self) -> None:
        self.loop = get_hub().loop
        self.turns: deque[Waiter[None]] = deque()
        self.turn = self.loop.timer(0.0)
        self.pages = 0  # requests other than streams under way
        self.unstarted = 0  # connections accepted whose greenlets have not run yet
        # The loop iteration in which a stream last went straight in.
        self.straight_in = -1

    def accepted(self) -> None:
        """A connection was accepted: until its greenlet runs, it may be a page."""
        self.unstarted += 1

    def started(self) -> None:
        """An accepted connection's greenlet runs: it tells its request apart itself."""
        self.unstarted -= 1

    @contextmanager
    def page(self) -> Iterator[None]:
        """A request that is no stream is under way: turns are short meanwhile."""
        self.pages += 1
        try:
            yield
        finally:
            self.pages -= 1

    def wait_turn(self) -> None:
        if not self.turns and self.loop.iteration != self.straight_in:
            # Outside a storm: no turn to wait for, which would cost a lone
            # reconnect a loop iteration (a tenth of its CPU).
            self.straight_in = self.loop.iteration
            return
        waiter: Waiter[None] = Waiter()
        self.turns.append(waiter)
        if not self.turn.active:
            self.turn.start(self._admit)
        try:
            waiter.get()
        except BaseException:
            with suppress(ValueError):  # killed while waiting: no turn to take
                self.turns.remove(waiter)
            raise

    def _admit(self) -> None:
        """Run the waiting stream requests, each until it blocks, for one turn's time."""
        short = self.pages or self.unstarted
        ends = time.perf_counter() + (TURN_WITH_PAGES_SECONDS if short else TURN_SECONDS)
        while self.turns and time.perf_counter() < ends:
            self.turns.popleft().switch(None)
        if self.turns and not self.turn.active:
            self.turn.start(self._admit)


class StreamsWorker(GeventWorker):  # type: ignore[misc]  # gunicorn is untyped
    def admit(self, client: Any) -> bool:
        """Let a stream's connection in by turns before its request is even parsed.

        Parsing a request costs a tenth of a reconnect; a storm's queued
        connections, parsed one after another before a page's, made the page
        wait for all of them. The first line, peeked at, tells a stream from
        a page; a stream then waits its turn, and is parsed within it. False:
        the connection is gone, or sent nothing within the keep-alive timeout.

        It returns before the request is handled: a frame kept for a stream's
        whole life costs every stream memory (docs/DESIGN.md, "Memory per stream").
        """
        self.admission.started()
        if self.cfg.is_ssl:
            return True
        head = b""
        # gunicorn's own wait for a request: the keep-alive timeout, if any.
        waiting = self.timeout_ctx() if self.cfg.keepalive else nullcontext()
        with waiting, suppress(OSError):
            head = client.recv(PEEK_BYTES, socket.MSG_PEEK)
        if not head:
            return False
        if is_stream_request(head):
            self.admission.wait_turn()
            self.admitted.add(getcurrent())
        return True

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> Any:
        if is_stream_path(req.path):
            greenlet = getcurrent()
            if greenlet in self.admitted:
                self.admitted.remove(greenlet)  # its turn came before the parse
            else:
                self.admission.wait_turn()
            return super().handle_request(listener_name, req, sock, addr)
        with self.admission.page():
            return super().handle_request(listener_name, req, sock, addr)

    def start_admission(self) -> None:
        """In the worker, once forked: the turns are its loop's."""
        self.admission = Admission()
        # Greenlets whose stream request has had its turn (``admit``).
        self.admitted: set[Any] = set()

    def run(self) -> None:
        self.start_admission()
        handoff = Handoff.from_environment()
        servers = [self.serve(listener) for listener in self.sockets]
        while self.alive:
            self.notify()
            gevent.sleep(STOP_POLL_SECONDS)
        if handoff is not None and handoff.expected():
            self._serve_until_replaced(handoff)
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

    def _serve_until_replaced(self, handoff: Handoff) -> None:
        """A reload's old worker accepts until a new one listens, not just until told to stop.

        gunicorn asks it to stop as soon as the new workers are forked, and
        they load Django for a second or more: closed at once, its listener
        left every page asked for meanwhile waiting for them. Its streams it
        keeps until then anyway (streams.handoff).
        """
        self.log.info("Worker %s %s", self.pid, ACCEPTING_UNTIL_REPLACED)
        deadline = time.monotonic() + SUCCESSOR_WAIT_SECONDS
        while not handoff.ready() and time.monotonic() < deadline:
            self.notify()
            gevent.sleep(STOP_POLL_SECONDS)

    def serve(self, listener: Any) -> StreamServer:
        """Accept connections on one of gunicorn's listeners, and handle each in its greenlet."""
        listener.setblocking(1)
        ssl_args = {"ssl_context": ssl_context(self.cfg)} if self.cfg.is_ssl else {}

        def handle(client: Any, address: Any) -> None:
            if not self.admit(client):
                return
            try:
                self.handle(listener, client, address)
            finally:  # a request that never reached handle_request
                self.admitted.discard(getcurrent())

        server = StreamServer(
            listener,
            handle=handle,
            spawn=_AcceptedPool(self.admission, self.worker_connections),
            **ssl_args,
        )
        if self.cfg.workers > 1:
            # Workers share the listener: one accept per wake spreads the
            # connections over them instead of one worker taking a burst.
            server.max_accept = 1
        else:
            # A lone worker takes a storm's queue in one gulp, so a page in it
            # starts at once; with gevent's 100 a wake it waited for a turn
            # per hundred connections ahead of it (docs/DESIGN.md, "Pages in a storm").
            server.max_accept = ACCEPTS_PER_WAKE
        server.start()
        return server


class _AcceptedPool(Pool):  # type: ignore[misc]  # gevent's Pool is untyped here
    """The server's pool, counting the connections whose greenlets have yet to run."""

    def __init__(self, admission: Admission, size: int) -> None:
        super().__init__(size)
        self.admission = admission

    def spawn(self, *args: Any, **kwargs: Any) -> Any:
        self.admission.accepted()
        return super().spawn(*args, **kwargs)


def _busy(server: StreamServer) -> bool:
    pool = server.pool
    return bool(pool.free_count() != pool.size)
