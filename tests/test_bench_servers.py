"""The benchmark's service handling (bench/servers.py)."""

import subprocess
import threading
import time

from bench.servers import wait_for_exit


def test_a_stopped_service_is_seen_gone_as_soon_as_it_exits() -> None:
    # A restart's stop is timed to the old service's exit: looked for every
    # 50 ms (Popen.wait's timeout), it counted time systemd does not wait.
    process = subprocess.Popen(["sleep", "30"])
    threading.Timer(0.2, process.kill).start()
    started = time.monotonic()
    wait_for_exit(process, 30)
    assert time.monotonic() - started < 10  # far from the 30 s it may wait
    assert process.returncode == -9


def test_a_service_that_does_not_exit_is_waited_for_until_the_timeout() -> None:
    process = subprocess.Popen(["sleep", "30"])
    try:
        started = time.monotonic()
        wait_for_exit(process, 0.2)
        assert time.monotonic() - started >= 0.2
        assert process.returncode is None
    finally:
        process.kill()
        process.wait()


def test_a_service_already_reaped_is_not_waited_for() -> None:
    process = subprocess.Popen(["true"])
    process.wait()
    wait_for_exit(process, 30)
    assert process.returncode == 0
