"""gunicorn settings for irclogger: gevent workers that hold thousands of streams.

Every value can be overridden from the environment (GUNICORN_*), so a
deployment changes numbers without editing this file. They are read here, not
in irclogger/settings.py: gunicorn's master reads this file and must not load
Django, whose settings start the embedded PostgreSQL and connect to it when
DATABASE_URL is unset, before post_fork has patched psycopg2 (docs/DESIGN.md,
trap 2). The rest of the environment is read in settings.
"""

import gc
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

# The settings' typed readers, without the settings: they import no more of
# Django than its exceptions.
from irclogger.env import env_int, env_list, env_str
from streams.paths import is_stream_path

wsgi_app = "irclogger.wsgi:application"
bind = env_list("GUNICORN_BIND", ["127.0.0.1:8000"])
# gunicorn's gevent worker, but one that exits as soon as its streams have
# ended, not at its next one-second check (streams/gunicorn_worker.py).
worker_class = "streams.gunicorn_worker.StreamsWorker"
workers = env_int("GUNICORN_WORKERS", 2)
# Each open stream is one connection: sized for thousands per worker, and
# kept under the 20,000 open files a process may have here.
worker_connections = env_int("GUNICORN_WORKER_CONNECTIONS", 12_000)
# Never preload: psycopg2 must be patched in each worker before any
# connection exists (docs/DESIGN.md, trap 2).
preload_app = False
timeout = env_int("GUNICORN_TIMEOUT", 30)
# Streams end themselves within about a second of a graceful shutdown
# (streams.hub's ticker), each with a jittered retry; 30 s leaves pages and
# slow clients time to finish before gunicorn kills what remains.
graceful_timeout = env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = 5
# The listen queue: after a deploy or a popular link thousands of readers
# connect within a second, faster than a busy worker accepts. When the queue
# is full the kernel drops their SYNs and each client retries only after
# 1 s, then 3 s, then 7 s: a storm turns into connects of many seconds.
# gunicorn's default is 2048; the kernel caps the value at
# net.core.somaxconn (4096 on recent Linux): conf/sysctl.d/ raises it.
backlog = env_int("GUNICORN_BACKLOG", 16384)
# Off by default: the app logs one structured line per request itself
# (irclogger.middleware); set GUNICORN_ACCESSLOG to a path or "-" for gunicorn's too.
accesslog = env_str("GUNICORN_ACCESSLOG", "") or None
errorlog = "-"
loglevel = env_str("GUNICORN_LOGLEVEL", "info")
# gunicorn 23+ opens a control socket at one fixed path per user: two
# services (or tests running several) would fight over it. Reload and stop
# go through signals (systemd's ExecReload sends SIGHUP).
control_socket_disable = True


def _service_dir(variable: str, prefix: str) -> str:
    """A directory that the master and every worker of this service share.

    Made in the master and named in the environment before any worker forks,
    so every worker inherits it. A SIGHUP reload re-reads this file: the
    variable is then set, so the directory survives the reload.
    """
    path = os.environ.get(variable)
    if not path:
        path = tempfile.mkdtemp(prefix=prefix)
        os.environ[variable] = path
        os.environ[f"{variable}_OWNED"] = "1"
    Path(path).mkdir(parents=True, exist_ok=True)
    return path


# Where prometheus_client adds up every worker's metrics: every counter
# survives a reload with it.
metrics_dir = _service_dir("PROMETHEUS_MULTIPROC_DIR", "irclogger-metrics-")
# Where a reload is announced to the workers it replaces, and a new worker
# says it listens (streams.worker.Handoff; docs/DESIGN.md, "Reload without a storm").
handoff_dir = _service_dir("IRCLOGGER_HANDOFF_DIR", "irclogger-handoff-")


def on_starting(server: object) -> None:
    # Values a previous run left in a fixed directory would add to this one's.
    for stale in Path(metrics_dir).glob("*.db"):
        stale.unlink()
    # A stopping master exits as soon as its workers have, not at its next
    # tenth of a second: in a restart, pages wait for it (streams.gunicorn_master).
    from streams.gunicorn_master import install

    install(server)
    # Imported before the workers fork (each imports it anyway), not by
    # child_exit when one exits: 20 ms of a restart's gap otherwise.
    import prometheus_client.multiprocess  # noqa: F401


def on_reload(server: object) -> None:
    # Before the new workers spawn: the old ones keep their streams until one
    # of them listens, instead of dropping them into a service with none.
    from streams.handoff import Handoff

    Handoff(handoff_dir).announce_reload()


def on_exit(server: object) -> None:
    for variable, path in (
        ("PROMETHEUS_MULTIPROC_DIR", metrics_dir),
        ("IRCLOGGER_HANDOFF_DIR", handoff_dir),
    ):
        if os.environ.get(f"{variable}_OWNED"):
            shutil.rmtree(path, ignore_errors=True)


def child_exit(server: object, worker: Any) -> None:
    # A dead worker's live gauges (open streams, pool) must stop counting.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def post_worker_init(worker: object) -> None:
    # Before the worker listens: what Django and the app would otherwise do
    # on a reader's first page (irclogger.warmup), in a reload's storm.
    from irclogger.warmup import warm_up

    warm_up()
    # Then: refuse to run with psycopg2 unpatched; freeze GC (what was just
    # built included) and start the streams' hub (one LISTEN connection for
    # the worker's streams).
    from streams.worker import worker_ready

    worker_ready(worker)
    # Keeps each worker's pool gauges fresh for scrapes served by another worker.
    from irclogger.pool_stats import start_sampler

    start_sampler()
    # The IRC bot, if IRCLOGGER_BOT is on: every worker campaigns for the
    # advisory lock in a greenlet, one wins (irclogger.bot.election). Its
    # module is imported only then: it brings the irc library, a tenth of
    # a second of every boot before the worker's first accept.
    from django.conf import settings

    if settings.IRCLOGGER_BOT:
        from irclogger.bot.election import start_in_worker

        start_in_worker(worker)


def worker_exit(server: object, worker: object) -> None:
    # A gevent worker ends as soon as no request is active, whatever its
    # greenlets are doing: the bot says goodbye here (flush, QUIT, the gap
    # marker) before the process is gone, within the graceful timeout.
    _stop_bot()
    # Last: a drained worker exits here, leaving the streams its hub ended
    # to the kernel instead of unwinding each (streams.worker).
    from streams.worker import exit_worker

    exit_worker(worker)


def worker_int(worker: object) -> None:
    # SIGINT/SIGQUIT: gunicorn exits the worker 0.1 s after this returns.
    _stop_bot()


def _stop_bot() -> None:
    # Only a worker that started the bot (post_worker_init) has its module.
    election = sys.modules.get("irclogger.bot.election")
    if election is not None:
        election.stop_in_worker()


def post_fork(server: object, worker: object) -> None:
    # Make psycopg2 cooperative before the worker opens its first
    # connection; otherwise one slow query freezes every greenlet.
    from psycogreen.gevent import patch_psycopg

    patch_psycopg()
    # The boot builds what lives as long as the worker: the collections its
    # imports set off (hundreds) found nothing to free and took a tenth of
    # the load, which a restart's readers and pages wait for. Frozen and
    # on again once the worker is ready (streams.worker.tune_gc).
    gc.disable()


def pre_request(worker: object, req: Any) -> None:
    # A stream is the last response on its connection: once it ends, its
    # reader reconnects on a new one anyway, and a proxy or client waiting
    # for the close would otherwise wait out the keep-alive first. gunicorn
    # drops a Connection header set by the app (hop-by-hop), so it is told
    # here, before it writes the response's head.
    if is_stream_path(req.path):
        req.force_close()
