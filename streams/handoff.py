"""A reload hands the streams over instead of dropping them.

On SIGHUP gunicorn spawns new workers and at once asks the old ones to stop.
Dropped then, every stream would reconnect into a service whose new workers
are still loading Django: the connections pile up, and the last readers
wait many seconds. So the master marks the reload (``announce_reload``,
from conf/gunicorn.py's ``on_reload``), each worker says when its hub
listens (``announce_listening``), and an old worker keeps its streams until
a worker newer than the reload listens; then it ends them at a paced rate
(streams.hub, ``Hub.end_streams``; docs/DESIGN.md, "Reload without a storm").

Two files in a directory the master and its workers share (the master
makes it; IRCLOGGER_HANDOFF_DIR names it): their modification times are
the whole protocol. Standard library only: gunicorn's master imports this
and must not load Django.
"""

import os
import time
from pathlib import Path

RELOAD = "reload"
LISTENING = "listening"
# How long a replaced worker waits for a new one to listen before it stops
# anyway: its streams end (streams.hub) and its listener closes (streams.gunicorn_worker).
SUCCESSOR_WAIT_SECONDS = 10.0


class Handoff:
    def __init__(self, folder: str | Path, started: float | None = None) -> None:
        self.folder = Path(folder)
        # When this worker started: a reload announced before it is not about it.
        self.started = time.time() if started is None else started

    @classmethod
    def from_environment(cls) -> "Handoff | None":
        """The service's handoff, or None outside gunicorn (runserver, tests)."""
        folder = os.environ.get("IRCLOGGER_HANDOFF_DIR")
        return cls(folder) if folder else None

    def announce_reload(self) -> None:
        self._touch(RELOAD)

    def announce_listening(self) -> None:
        self._touch(LISTENING)

    def expected(self) -> bool:
        """Whether a reload since this worker started is replacing it."""
        reloaded = self._modified(RELOAD)
        return reloaded is not None and reloaded >= self.started

    def ready(self) -> bool:
        """Whether a worker started by that reload listens already."""
        reloaded, listening = self._modified(RELOAD), self._modified(LISTENING)
        return reloaded is not None and listening is not None and listening > reloaded

    def _touch(self, name: str) -> None:
        (self.folder / name).touch()  # an existing file's time is set to now

    def _modified(self, name: str) -> float | None:
        try:
            return (self.folder / name).stat().st_mtime
        except FileNotFoundError:
            return None
