"""The gunicorn master's stop: over once its last worker has exited, not a tenth of a second later.

Stopping, gunicorn's master looks for exited workers every 0.1 s, and after
it has reaped the last one it sleeps another 0.1 s before it exits; a
reload's master waits for its old workers the same way. In a restart
those 0.1-0.2 s are part of the gap in which no process accepts: the old
worker has closed its listener and the next service cannot start before
the master is gone, so every page asked for meanwhile waits for them
(docs/DESIGN.md, "Restart"). The master's sleeps here end once a child
has exited, and reap it as gunicorn's loop does on SIGCHLD. Once halted, the
master exits without the interpreter's teardown (30-50 ms more of the
gap), as the worker does (streams.worker.exit_worker).

The master loads this module (conf/gunicorn.py): it imports no Django.
"""

import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import gunicorn.arbiter

# How often a sleeping master looks for an exited child: a system call,
# not the master's loop, so a few milliseconds cost nothing.
CHILD_POLL_SECONDS = 0.005


class PromptClock:
    """The time module as gunicorn's arbiter sees it: the same, but for ``sleep``."""

    def __init__(self, arbiter: Any) -> None:
        # Taken now: a gunicorn without it fails at start, not at a stop.
        self.reap = arbiter.handle_chld

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, or less: until a child has exited, which the arbiter then reaps.

        Reaped here, as its loop reaps on SIGCHLD (``handle_chld``), so a
        stopping master's next look finds its last worker gone instead of
        sleeping once more.
        """
        deadline = time.monotonic() + seconds
        while not _a_child_has_exited():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(CHILD_POLL_SECONDS, left))
        self.reap()

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def _a_child_has_exited() -> bool:
    try:
        # WNOWAIT: look only; the arbiter's reaper collects the status.
        exited = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # no children left
        return False
    return exited is not None


def exit_once_halted(halt: Callable[..., None]) -> Callable[..., None]:
    """gunicorn's ``Arbiter.halt``, then the process's exit with the status it asked for.

    What the teardown would still do that matters is done here: the logs
    and the output flushed. The rest (freeing every module and object) the
    kernel does at once.
    """

    def halt_and_exit(reason: str | None = None, exit_status: int = 0) -> None:
        try:
            halt(reason, exit_status)
            status: Any = 0
        except SystemExit as exiting:
            status = exiting.code
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_code(status))

    return halt_and_exit


def _exit_code(status: object) -> int:
    """The exit code ``sys.exit(status)`` gives: None is success, text a failure."""
    if status is None:
        return 0
    return status if isinstance(status, int) else 1


def install(arbiter: Any) -> None:
    """Make this master's stop end when its workers have (conf/gunicorn.py, ``on_starting``)."""
    gunicorn.arbiter.time = PromptClock(arbiter)
    arbiter.halt = exit_once_halted(arbiter.halt)
