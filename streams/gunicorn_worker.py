"""The gunicorn worker class: gevent's, with a stop that ends when its streams do.

gunicorn's gevent worker looks once a second whether it should stop, and
once a second whether its last connection is done. A stopping worker ends
its streams within a fraction of a second (streams.hub), then sat out the
rest of those seconds before it exited; a restart waits for it, and so do
all its readers (docs/DESIGN.md, "Restart"). This one looks every tenth of
a second, and puts pages ahead of streams: stream requests come in by
turns (``Admission``), a page starts as soon as it is accepted in a storm
(``_AdmittingServer``), and its queries wait for PostgreSQL without giving
the loop away, briefly (``Admission.wait_for_database``). Everything else
is gunicorn's: one gevent server per listener, ``worker_connections`` per
server, one accept per wake when several workers share a listener, the
graceful timeout.

The master loads this class by name: it imports no Django (conf/gunicorn.py).
"""

import select
import socket
import time
from collections import deque
from collections.abc import Collection, Iterator
from contextlib import contextmanager, nullcontext, suppress
from importlib import metadata
from typing import Any, Protocol

import gevent
import psycopg2.extensions
from gevent.baseserver import _handle_and_close_when_done
from gevent.hub import Waiter, get_hub, getcurrent
from gevent.monkey import get_original
from gevent.pool import Pool
from gevent.server import StreamServer
from gunicorn.sock import ssl_context
from gunicorn.workers.ggevent import GeventWorker
from psycogreen.gevent import gevent_wait_callback

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
# How long a page's query may hold the loop while PostgreSQL answers, before
# it waits for the loop's next look at its socket as any greenlet does
# (``Admission.wait_for_database``): a short turn's length.
PROMPT_QUERY_SECONDS = TURN_WITH_PAGES_SECONDS
# Connections a lone worker accepts each time its listener is readable: a
# reconnect storm's whole queue, so a page in it starts at once. A turn of
# TURN_SECONDS runs about as many reconnects as gevent's default of 100.
ACCEPTS_PER_WAKE = 1000
# A request line is read this far ahead of gunicorn's parser to tell a
# stream from a page (``StreamsWorker.admit``); longer ones wait for the parser.
PEEK_BYTES = 1024
# How long a stopped worker goes on accepting while its streams end
# (``StreamsWorker._serve_while_streams_end``): 10,000 end in a fraction of a
# second; one blocked mid-write is cut within two (streams.hub's stopping
# write timeout, at its next tick).
STREAMS_END_WAIT_SECONDS = 2.0
STREAMS_END_POLL_SECONDS = 0.02
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
        self.pages: set[Any] = set()  # greenlets of requests other than streams
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
        greenlet = getcurrent()
        self.pages.add(greenlet)
        try:
            yield
        finally:
            self.pages.discard(greenlet)

    def storming(self) -> bool:
        """Stream requests wait for turns, or accepted connections to start."""
        return bool(self.turns) or self.unstarted > 0

    def install_database_wait(self) -> None:
        """psycopg2 waits for PostgreSQL through ``wait_for_database`` in this worker."""
        psycopg2.extensions.set_wait_callback(self.wait_for_database)

    def wait_for_database(self, conn: Any, timeout: float | None = None) -> None:
        """psycopg2's wait: a page's query waits for PostgreSQL without yielding, briefly.

        Any other wait gives the loop to other greenlets, as psycogreen's
        does, and the query goes on once the loop next looks at its socket.
        With thousands of streams that look is tens of milliseconds away: a
        storm's admission turn and accepts, a line's fan-out, a replay. A
        day page waits for PostgreSQL several times, and each wait cost it a
        turn of the loop (docs/DESIGN.md, "Pages in a storm"). A page's query
        answered within ``PROMPT_QUERY_SECONDS`` holds the loop that long at
        most; a slower one then waits as any other.
        """
        if not (getcurrent() in self.pages and _answered_within(conn, PROMPT_QUERY_SECONDS)):
            gevent_wait_callback(conn, timeout)

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


class StreamsHub(Protocol):
    """What a worker's stop asks of its streams (streams.hub.Hub)."""

    @property
    def ended(self) -> Collection[Any]:
        """The greenlets of streams the hub ended itself once the worker stopped
        (``Hub.finish``): the stop does not wait for them, the exit leaves them
        to the kernel (streams.worker.exit_worker)."""

    def stop_streams(self) -> None: ...

    def streams_ending(self) -> bool: ...

    def release_ended_sockets(self) -> None: ...


class StreamsWorker(GeventWorker):  # type: ignore[misc]  # gunicorn is untyped
    # Whether the stop found every other request done (not the graceful timeout).
    drained = False
    # The hub of the worker's streams, once started (set by streams.worker).
    stream_hub: StreamsHub | None = None

    def patch(self) -> None:
        # gevent's patching looks for plugins 25 times, and each look read
        # every installed package's metadata: 0.1-0.15 s of every worker's
        # boot, which a restart's readers and pages wait for. The plugins
        # found are the same, read once.
        with _entry_points_read_once():
            super().patch()

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
        self.admission.install_database_wait()
        handoff = Handoff.from_environment()
        servers = [self.serve(listener) for listener in self.sockets]
        while self.alive:
            self.notify()
            gevent.sleep(STOP_POLL_SECONDS)
        if handoff is not None and handoff.expected():
            self._serve_until_replaced(handoff)
        elif self.stream_hub is not None:
            self._serve_while_streams_end(self.stream_hub)
        for server in servers:
            server.close()  # no new connections; open ones finish
        deadline = time.monotonic() + self.cfg.graceful_timeout
        ended = self.stream_hub.ended if self.stream_hub is not None else frozenset()
        while any(_busy(server, ended) for server in servers):
            if time.monotonic() > deadline:
                self.log.warning("Worker graceful timeout (pid:%s)", self.pid)
                for server in servers:
                    server.stop(timeout=1)
                return
            self.notify()
            gevent.sleep(STOP_POLL_SECONDS)
        self.drained = True

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

    def _serve_while_streams_end(self, hub: StreamsHub) -> None:
        """A stopped worker accepts until its streams have ended, not just until told to stop.

        Ending thousands of streams takes it a fraction of a second
        (streams.hub, ``Hub.finish``). Closed as soon as the stop came, its
        listener left every page asked for meanwhile in the queue for the
        next service's boot, a second or more later in a restart
        (docs/DESIGN.md, "Restart"). A stream asked for meanwhile ends at its
        first wait, with the hub's retry, and is not waited for here.
        """
        hub.stop_streams()
        deadline = time.monotonic() + STREAMS_END_WAIT_SECONDS
        while hub.streams_ending() and time.monotonic() < deadline:
            self.notify()
            gevent.sleep(STREAMS_END_POLL_SECONDS)
        hub.release_ended_sockets()

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

        server = _AdmittingServer(
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


class _AdmittingServer(StreamServer):  # type: ignore[misc]  # gevent's server is untyped here
    """gevent's server; a connection that has sent a page's request line starts at once.

    An accepted connection's greenlet starts as a callback of the loop, after
    those accepted before it, a few hundred per turn of the loop: a page
    accepted behind a storm's thousands of reconnects waited hundreds of
    milliseconds for their starts (each a peek and a place in the turns)
    before its request was even read (docs/DESIGN.md, "Pages in a storm").
    A page's request line is usually there by the time it is accepted; one
    peek at accept tells, and its greenlet runs then, from the accept itself.
    """

    pool: "_AcceptedPool"

    def do_handle(self, client: Any, address: Any) -> None:
        if not (self.pool.admission.storming() and _sent_a_page(client)):
            super().do_handle(client, address)
            return
        # What gevent's do_handle spawns, started now instead of queued.
        try:
            self.pool.start_now(
                _handle_and_close_when_done, self.handle, self.do_close, (client, address)
            )
        except BaseException:
            self.do_close(client, address)
            raise


class _AcceptedPool(Pool):  # type: ignore[misc]  # gevent's Pool is untyped here
    """The server's pool, counting the connections whose greenlets have yet to run."""

    def __init__(self, admission: Admission, size: int) -> None:
        super().__init__(size)
        self.admission = admission

    def spawn(self, *args: Any, **kwargs: Any) -> Any:
        self.admission.accepted()
        return super().spawn(*args, **kwargs)

    def start_now(self, function: Any, *args: Any) -> None:
        """Run ``function`` in a greenlet of the pool at once, from the loop, until it blocks."""
        self.admission.accepted()
        greenlet = self.greenlet_class(function, *args)
        self.add(greenlet)
        greenlet.switch()


def _sent_a_page(client: Any) -> bool:
    """Whether the connection's request line is there already, and asks for no stream."""
    try:
        # The operating system's socket: gevent's would wait on the loop for
        # bytes, and this runs in the loop itself.
        head = client._sock.recv(PEEK_BYTES, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except OSError:
        return False
    return is_stream_request(head) is False


def _answered_within(conn: Any, seconds: float) -> bool:
    """Drive psycopg2's connection on, blocking the whole worker for ``seconds`` at most.

    True once the connection is done with its query (or connect); False if
    it still waits, for the caller to wait cooperatively.
    """
    deadline = time.perf_counter() + seconds
    poller = _unpatched_poll()
    registered = 0
    while True:
        state = conn.poll()
        if state == psycopg2.extensions.POLL_OK:
            return True
        left = deadline - time.perf_counter()
        if left <= 0 or state not in _POLL_EVENTS:
            return False
        if _POLL_EVENTS[state] != registered:
            registered = _POLL_EVENTS[state]
            poller.register(conn.fileno(), registered)
        poller.poll(left * 1000)


# The select module's poll as the operating system gives it: gevent's would
# wait on the loop, which is what ``_answered_within`` must not do.
_unpatched_poll = get_original("select", "poll")
_POLL_EVENTS = {
    psycopg2.extensions.POLL_READ: select.POLLIN,
    psycopg2.extensions.POLL_WRITE: select.POLLOUT,
}


@contextmanager
def _entry_points_read_once() -> Iterator[None]:
    """Within: ``importlib.metadata.entry_points`` answers from one read of every package."""
    read_each_time = metadata.entry_points
    every = read_each_time()
    # One signature stands for the function's overloads (with and without a selection).
    metadata.entry_points = lambda **selection: every.select(**selection)  # type: ignore[assignment]
    try:
        yield
    finally:
        metadata.entry_points = read_each_time


def _busy(server: StreamServer, ended: Collection[Any]) -> bool:
    """Whether a request of this server is under way, other than the streams in ``ended``."""
    return any(greenlet not in ended for greenlet in server.pool)
