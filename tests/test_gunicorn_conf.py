"""conf/gunicorn.py: gevent workers sized for streams, settings from the environment,
and a worker that refuses to start with psycopg2 unpatched."""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from gunicorn.workers.ggevent import GeventWorker

from streams.hub import TICK_SECONDS
from streams.sse import RETRY_AFTER_END_MS
from tests.nginx import get
from tests.servers import (
    ROOT,
    child_database_url,
    free_port,
    gunicorn,
    run_in_child,
    stop_process,
)

_READ_CONF = """
import json, runpy
conf = runpy.run_path("conf/gunicorn.py")
names = ["worker_class", "workers", "worker_connections", "preload_app",
         "graceful_timeout", "timeout", "bind", "backlog"]
print(json.dumps({name: conf[name] for name in names}))
"""


def _conf(**env: str) -> dict[str, object]:
    # In a child process: the file sets environment variables of its own.
    result = subprocess.run(
        [sys.executable, "-c", _READ_CONF],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(result.stdout))


def test_it_runs_gevent_workers_sized_for_thousands_of_streams() -> None:
    conf = _conf()
    worker_class = conf["worker_class"]
    assert isinstance(worker_class, str)
    module, _, name = worker_class.rpartition(".")
    assert issubclass(getattr(importlib.import_module(module), name), GeventWorker)
    assert not conf["preload_app"]  # psycopg2 is patched in each worker, before connecting
    connections = conf["worker_connections"]
    assert isinstance(connections, int)
    assert 10_000 <= connections < 20_000  # the open-file limit per process here


def test_it_leaves_streams_time_to_end_themselves_on_shutdown() -> None:
    graceful = _conf()["graceful_timeout"]
    assert isinstance(graceful, int)
    assert graceful > TICK_SECONDS + RETRY_AFTER_END_MS[1] / 1000


def test_it_reads_its_numbers_from_the_environment() -> None:
    conf = _conf(
        GUNICORN_WORKERS="3",
        GUNICORN_WORKER_CONNECTIONS="5000",
        GUNICORN_GRACEFUL_TIMEOUT="12",
        GUNICORN_BIND="127.0.0.1:9001,127.0.0.1:9002",
    )
    assert conf["workers"] == 3
    assert conf["worker_connections"] == 5000
    assert conf["graceful_timeout"] == 12
    assert conf["bind"] == ["127.0.0.1:9001", "127.0.0.1:9002"]


def test_it_refuses_a_number_that_is_not_one() -> None:
    with pytest.raises(subprocess.CalledProcessError) as failure:
        _conf(GUNICORN_WORKERS="many")
    assert "GUNICORN_WORKERS='many' is not an integer" in failure.value.stderr


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_it_fails_loudly_when_psycopg2_is_not_patched(tmp_path: Path) -> None:
    # The real configuration, with the post_fork patch taken away.
    unpatched = tmp_path / "unpatched.py"
    unpatched.write_text(
        "import runpy\n"
        f"globals().update(runpy.run_path({str(ROOT / 'conf/gunicorn.py')!r}))\n"
        "def post_fork(server, worker):\n"
        "    pass\n"
    )
    log_path = tmp_path / "gunicorn.log"
    env = {
        **os.environ,
        "DATABASE_URL": child_database_url(),
        "GUNICORN_BIND": f"127.0.0.1:{free_port()}",
        "GUNICORN_WORKERS": "1",
    }
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [gunicorn, "-c", str(unpatched)], cwd=ROOT, env=env, stdout=log, stderr=log
        )
    try:
        process.wait(timeout=60)
    finally:
        stop_process(process)
    assert process.returncode != 0
    assert "psycopg2 is not patched for gevent" in log_path.read_text()


def test_it_queues_a_connect_storm() -> None:
    # Thousands of readers reconnect at once after a deploy: far above
    # gunicorn's default listen backlog of 2048.
    backlog = _conf()["backlog"]
    assert isinstance(backlog, int)
    assert backlog >= 4096


def test_the_kernel_settings_it_ships_let_the_backlog_take_effect() -> None:
    # The kernel caps the backlog at net.core.somaxconn: conf/sysctl.d/ must
    # raise it (and the SYN queue) at least that far.
    backlog = _conf()["backlog"]
    assert isinstance(backlog, int)
    settings = {}
    for line in (ROOT / "conf" / "sysctl.d" / "90-irclogger.conf").read_text().splitlines():
        key, _, value = line.partition("=")
        if value and not line.startswith("#"):
            settings[key.strip()] = int(value)
    assert settings["net.core.somaxconn"] >= backlog
    assert settings["net.ipv4.tcp_max_syn_backlog"] >= backlog


def test_a_worker_warms_up_before_its_streams_start_and_gc_freezes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import runpy

    import irclogger.bot.election
    import irclogger.pool_stats
    import irclogger.warmup
    import streams.worker

    calls: list[str] = []
    monkeypatch.setattr(irclogger.warmup, "warm_up", lambda: calls.append("warm_up"))
    monkeypatch.setattr(streams.worker, "worker_ready", lambda worker: calls.append("ready"))
    monkeypatch.setattr(irclogger.pool_stats, "start_sampler", lambda: None)
    monkeypatch.setattr(irclogger.bot.election, "start_in_worker", lambda worker: None)
    # The file makes these directories and names them in the environment.
    for variable in ("PROMETHEUS_MULTIPROC_DIR", "IRCLOGGER_HANDOFF_DIR"):
        monkeypatch.setenv(variable, str(tmp_path / variable))
    conf = runpy.run_path(str(ROOT / "conf" / "gunicorn.py"))
    conf["post_worker_init"](object())
    assert calls == ["warm_up", "ready"]


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_worker_without_the_bot_does_not_load_the_irc_library(tmp_path: Path) -> None:
    # Everything a worker imports before it listens delays its first accept:
    # in a restart, every page and reader waits for it. The bot's module
    # brought the irc library in (0.13 s of a 0.98 s boot) with the bot off.
    with gunicorn(tmp_path, IRCLOGGER_BOT="0", PYTHONPROFILEIMPORTTIME="1") as server:
        assert get(server.port, "/healthz").status == 200
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in server.log_path.read_text().splitlines()
        if line.startswith("import time:")
    }
    assert "django.core.wsgi" in imported  # the worker's imports are in the log
    assert "irc.client" not in imported and "irclogger.bot.election" not in imported


# Run in a child: gevent's patching cannot be undone in the test's process.
COUNT_ENTRY_POINT_READS = """
import json
from importlib import metadata

reads = []
every_package = metadata.entry_points


def counting(**selection):
    reads.append(selection)
    return every_package(**selection)


metadata.entry_points = counting
import gevent.monkey
from streams.gunicorn_worker import StreamsWorker

worker = object.__new__(StreamsWorker)
worker.sockets = []
worker.patch()
print(json.dumps({
    "reads": len(reads),
    "socket patched": gevent.monkey.is_module_patched("socket"),
    "restored": metadata.entry_points is counting,
}))
"""


def test_a_worker_reads_the_packages_entry_points_once_while_gevent_patches(
    tmp_path: Path,
) -> None:
    # gevent's patch_all looks for plugins 25 times, and each look read every
    # installed package's metadata: 0.1-0.15 s of every worker's boot, which
    # a restart's readers and pages wait for.
    figures = run_in_child(COUNT_ENTRY_POINT_READS, tmp_path)
    assert figures == {"reads": 1, "socket patched": True, "restored": True}


# Run in a child: the collector's state and gc.freeze are the process's.
BOOT_WITHOUT_COLLECTIONS = """
import gc, json, runpy

conf = runpy.run_path("conf/gunicorn.py")
conf["post_fork"](None, None)
collections = []
gc.callbacks.append(lambda phase, info: collections.append(phase))
import django

django.setup()  # a boot's imports: thousands of objects, no garbage
booting = {"enabled": gc.isenabled(), "collections": len(collections)}
from streams.worker import GC_THRESHOLDS, tune_gc

full = []
gc.callbacks.append(lambda phase, info: full.append(info["generation"] == 2))
tune_gc()
ready = {
    "enabled": gc.isenabled(),
    "thresholds": gc.get_threshold() == GC_THRESHOLDS,
    "full collections": full.count(True) // 2,  # a start and a stop each
}
# Then, serving, with the worker's thresholds scaled down a thousandfold so
# the test runs in a blink: streams hold objects for long, requests leave
# cyclic garbage.
gc.set_threshold(GC_THRESHOLDS[0] // 1000, *GC_THRESHOLDS[1:])
generations = []
gc.callbacks.append(lambda phase, info: phase == "stop" and generations.append(info["generation"]))
streams = [[index] for index in range(50_000)]
for _ in range(400_000):
    request = []
    request.append(request)
print(json.dumps({
    "booting": booting,
    "ready": ready,
    "serving": {generation: generations.count(generation) for generation in (1, 2)},
}))
"""


def test_a_worker_boots_without_collections_and_paces_its_full_collections_once_ready(
    tmp_path: Path,
) -> None:
    # A boot allocates what lives as long as the worker: the collections
    # its imports set off found nothing to free and took a tenth of the
    # load, which a restart's readers and pages wait for. So did a full
    # collection before the freeze (30-55 ms).
    figures = run_in_child(
        BOOT_WITHOUT_COLLECTIONS,
        tmp_path,
        DATABASE_URL=child_database_url(),
        DJANGO_SETTINGS_MODULE="irclogger.settings",
    )
    serving = figures.pop("serving")
    assert figures == {
        "booting": {"enabled": False, "collections": 0},
        "ready": {"enabled": True, "thresholds": True, "full collections": 0},
    }
    # Paced all the same: a full collection counts what the worker holds
    # (the streams), and the next waits until a quarter as much again has
    # piled up. Unpaced, every 20th second-generation collection would be a
    # full one, each walking every stream's objects.
    assert serving["1"] >= 100
    assert serving["2"] <= 2
