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
