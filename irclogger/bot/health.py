"""Which networks this process's bot is connected to, for /healthz and /metrics."""

from irclogger.metrics import BOT_CONNECTED

_connected: dict[str, bool] = {}


def set_connected(slug: str, connected: bool) -> None:
    _connected[slug] = connected
    BOT_CONNECTED.labels(network=slug).set(1 if connected else 0)


def forget(slug: str) -> None:
    """A network the bot no longer runs (disabled or deleted)."""
    _connected.pop(slug, None)
    BOT_CONNECTED.labels(network=slug).set(0)


def status() -> dict[str, bool]:
    """Network slug -> connected, for the networks this process's bot runs.

    Empty in a process that does not run the bot (another gunicorn worker
    won the election, or the bot is not enabled).
    """
    return dict(_connected)
