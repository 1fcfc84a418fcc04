"""What a gunicorn worker does for the streams once the app is loaded.

conf/gunicorn.py calls ``worker_ready`` from ``post_worker_init``.
"""

import gc
import logging
import os
import sys
from typing import Any

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


def worker_ready(worker: Any) -> None:
    ensure_psycopg_patched()
    tune_gc()
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
