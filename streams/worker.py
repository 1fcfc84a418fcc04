"""What a gunicorn worker does for the streams once the app is loaded.

conf/gunicorn.py calls ``worker_ready`` from ``post_worker_init``.
"""

import ctypes
import gc
import logging
import os
import sys
from typing import Any

import gevent
import psycopg2.extensions
from django.core.exceptions import ImproperlyConfigured
from gevent import monkey

from irclogger.geventpool import close_pools
from streams import hub
from streams.handoff import Handoff

# gen0 collections every 700 allocations (the default) walk thousands of
# streams' young objects over and over; 50,000 keeps memory in check and
# most collections cheap (docs/DESIGN.md, "The fan-out"). Turning GC off is not safe.
GC_THRESHOLDS = (50_000, 20, 20)
# A worker serves once its hub listens, so that its first page (/healthz
# included) and its first streams find the live path there; a database that
# has not answered by then leaves the hub retrying, and /healthz saying so.
HUB_LISTEN_WAIT_SECONDS = 5.0
# How often a worker gives back the memory its allocator keeps (``give_back_memory``):
# each time walks the allocator's free lists, 5-30 ms of the loop for a heap
# of 100-600 MB, so not at every tick.
MEMORY_GIVE_BACK_SECONDS = 60.0


def worker_ready(worker: Any) -> None:
    ensure_psycopg_patched()
    tune_gc()
    start_giving_back_memory()
    # Streams end themselves (with a jittered retry) as soon as gunicorn
    # starts a graceful shutdown, well inside graceful_timeout; after a
    # reload, once a new worker listens (streams.handoff).
    started = hub.start(should_stop=lambda: not worker.alive, handoff=Handoff.from_environment())
    # What the worker's stop waits for, and what it does not (streams.gunicorn_worker).
    worker.stream_hub = started
    hub.wait_until_listening(HUB_LISTEN_WAIT_SECONDS)


def exit_worker(worker: Any) -> None:
    """Exit a drained worker now, leaving the streams the hub ended to the kernel.

    Called last (gunicorn's ``worker_exit``). The hub ended the streams of a
    stopping worker on the wire and left their greenlets waiting
    (``Hub.finish``): the interpreter's teardown would unwind each of them
    through gunicorn and Django. What must end cleanly ends here: the LISTEN
    connection, the pooled connections, the logs. A worker that did not
    drain (the graceful timeout, a failed boot) exits as gunicorn has it.
    """
    streams = getattr(worker, "stream_hub", None)
    if not getattr(worker, "drained", False) or streams is None or not streams.ended:
        return
    hub.stop()
    close_pools()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def give_back_memory() -> bool:
    """Give the system back the free memory glibc's allocator keeps; False without glibc.

    What a storm's thousands of reconnects allocated and freed stays in the
    allocator's heap wherever a live block sits above it: the worker's RSS
    ratchets up after each peak, though it holds no more objects (docs/DESIGN.md,
    "Memory per stream"). ``malloc_trim(0)`` returns every free page of the
    heap, not only its top.
    """
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # another C library (musl)
        return False
    trim(0)
    return True


def start_giving_back_memory(every_seconds: float = MEMORY_GIVE_BACK_SECONDS) -> None:
    """Give back the allocator's free memory every ``every_seconds``, in a greenlet."""

    def give_back_forever() -> None:
        while give_back_memory():
            gevent.sleep(every_seconds)

    gevent.spawn_later(every_seconds, give_back_forever)


def ensure_psycopg_patched() -> None:
    """Refuse to serve from a gevent worker where psycopg2 would block it whole."""
    if monkey.is_module_patched("socket") and psycopg2.extensions.get_wait_callback() is None:
        raise ImproperlyConfigured(
            "psycopg2 is not patched for gevent: one slow query would freeze every "
            "stream and page of this worker. Call psycogreen.gevent.patch_psycopg() "
            "in gunicorn's post_fork (conf/gunicorn.py)."
        )


def tune_gc() -> None:
    # Everything loaded so far (Django, the app) lives as long as the worker:
    # keep it out of every future collection. The boot ran without any
    # (conf/gunicorn.py, post_fork): from here on, the worker collects. No
    # full collection first: it took 30-55 ms of a boot that a restart's
    # pages wait for, to free what making classes and the logging config
    # left (about 2,000 objects, 0.4 MB), which stays frozen instead. The
    # worker's full collections are paced all the same: its first one
    # counts what it then holds, and the next waits until a quarter as much
    # again has piled up.
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    gc.enable()
