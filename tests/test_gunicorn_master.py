"""The gunicorn master's waits while it stops or reloads (streams.gunicorn_master)."""

from pathlib import Path

from tests.servers import run_in_child

# Run in a child: the test's own process may have children of its own that
# exit at any time (servers other tests started), and the clock is
# installed into gunicorn's module for good.
SLEEPS = """
import json, runpy, subprocess, sys, time

import gunicorn.arbiter


class Arbiter:
    handled = 0

    def handle_chld(self):
        self.handled += 1

    def halt(self):
        pass


arbiter = Arbiter()
conf = runpy.run_path("conf/gunicorn.py")
conf["on_starting"](arbiter)
clock = gunicorn.arbiter.time

running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
started = time.monotonic()
clock.sleep(0.3)
with_none_exited = time.monotonic() - started, arbiter.handled
running.kill()
started = time.monotonic()
clock.sleep(30)
once_one_exited = time.monotonic() - started, arbiter.handled
running.wait(5)
print(json.dumps({
    "with none exited": with_none_exited,
    "once one exited": once_one_exited,
    "rest is time's": clock.time is time.time and clock.monotonic is time.monotonic,
}))
"""


def test_a_stopping_masters_sleep_ends_as_soon_as_a_worker_has_exited(tmp_path: Path) -> None:
    # Stopping, gunicorn's master looked for exited workers every 0.1 s and
    # slept another 0.1 s after reaping the last: 0.1-0.2 s of a restart in
    # which no process accepts, and every page asked for waits.
    figures = run_in_child(SLEEPS, tmp_path)
    slept, reaps = figures["with none exited"]
    assert slept >= 0.3 and reaps == 0
    # A bound far from both: 30 s asked for, a few milliseconds taken.
    slept, reaps = figures["once one exited"]
    assert slept < 10 and reaps == 1  # reaped by the arbiter, as on SIGCHLD
    assert figures["rest is time's"]


# The stopping master, in a grandchild: its exit status and output are what
# the child reports.
HALT = """
import json, subprocess, sys

MASTER = '''
import logging, logging.handlers, runpy, sys


class Arbiter:
    def handle_chld(self):
        pass

    def halt(self, reason=None, exit_status=0):
        logging.getLogger("gunicorn.error").info("Shutting down: %s", reason)
        sys.exit(exit_status)


class Teardown:
    def __del__(self):
        print("torn down", flush=True)


# Held until logging shuts down, as buffered output is until it is flushed.
held = logging.handlers.MemoryHandler(100, target=logging.StreamHandler(sys.stdout))
logging.getLogger().addHandler(held)
logging.getLogger().setLevel(logging.INFO)
module_global = Teardown()
arbiter = Arbiter()
runpy.run_path("conf/gunicorn.py")["on_starting"](arbiter)
print("printed, not flushed")
arbiter.halt("stopping", 3)
'''
master = subprocess.run([sys.executable, "-c", MASTER], capture_output=True, text=True)
print(json.dumps({"status": master.returncode, "output": master.stdout.splitlines()}))
"""


def test_a_halting_master_exits_with_its_status_and_output_but_no_teardown(
    tmp_path: Path,
) -> None:
    # The interpreter's teardown of a stopped master took 30-50 ms of a
    # restart's gap: it frees what the process is about to give back anyway.
    figures = run_in_child(HALT, tmp_path)
    assert figures["status"] == 3
    assert figures["output"] == ["printed, not flushed", "Shutting down: stopping"]
