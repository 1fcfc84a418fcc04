"""Per-process counters and gauges that /metrics exposes.

Each gunicorn worker keeps its own numbers here; the streams hub, the
stream view, the bot and the publisher update them. Names follow
Prometheus conventions. Updating is a dict operation: cheap enough for the
fan-out loop.
"""

from collections import defaultdict

# metric name -> help text; the names every part of the app may use.
METRICS: dict[str, str] = {
    "irclogger_streams_open": "Open SSE streams in this worker",
    "irclogger_streams_opened_total": "SSE streams opened by this worker",
    "irclogger_lines_delivered_total": "Line events written to stream clients",
    "irclogger_queue_overflows_total": "Stream clients dropped because they fell behind",
    "irclogger_hub_reconnects_total": "Times the hub re-opened its LISTEN connection",
    "irclogger_hub_connected": "1 while the hub's LISTEN connection is up",
    "irclogger_hub_lag_seconds": "Commit-to-fan-out delay of the last line the hub saw",
    "irclogger_lines_written_total": "Live lines written by this process (bot)",
    "irclogger_bot_connected": "1 while the bot is connected to the network",
}

_values: defaultdict[tuple[str, tuple[tuple[str, str], ...]], float] = defaultdict(float)


def _key(name: str, labels: dict[str, str]) -> tuple[str, tuple[tuple[str, str], ...]]:
    if name not in METRICS:
        raise KeyError(f"unknown metric {name!r}; add it to irclogger.stats.METRICS")
    return name, tuple(sorted(labels.items()))


def inc(name: str, amount: float = 1, **labels: str) -> None:
    _values[_key(name, labels)] += amount


def set_value(name: str, value: float, **labels: str) -> None:
    _values[_key(name, labels)] = value


def get(name: str, **labels: str) -> float:
    return _values.get(_key(name, labels), 0.0)


def snapshot() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """A copy of every value, for the exposition and for tests."""
    return dict(_values)


def reset() -> None:
    """Forget every value (tests)."""
    _values.clear()
