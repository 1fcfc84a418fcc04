"""The service's Prometheus metrics, defined in one place.

Streams, the hub, the bot and the writers update these; ``/metrics`` exposes
them. Under gunicorn, ``PROMETHEUS_MULTIPROC_DIR`` (set by conf/gunicorn.py)
makes prometheus_client aggregate every worker's values; gauges keep a
``pid`` label so "open streams per worker" stays visible.
"""

from prometheus_client import Counter, Gauge

STREAMS_OPEN = Gauge(
    "irclogger_streams_open",
    "Event streams open in this worker.",
    multiprocess_mode="livesum",
)
STREAMS_OPEN_PER_WORKER = Gauge(
    "irclogger_worker_streams_open",
    "Event streams open, per worker process.",
    multiprocess_mode="liveall",
)
STREAMS_OPENED = Counter("irclogger_streams_opened", "Event streams opened.")
LINES_DELIVERED = Counter(
    "irclogger_lines_delivered", "Line events written to stream clients (replay and live)."
)
QUEUE_OVERFLOWS = Counter(
    "irclogger_stream_overflows", "Stream clients dropped because they fell too far behind."
)
HUB_RECONNECTS = Counter("irclogger_hub_reconnects", "Times a hub re-opened its LISTEN connection.")
HUB_CONNECTED = Gauge(
    "irclogger_hub_connected",
    "1 while the worker's hub holds its LISTEN connection.",
    multiprocess_mode="liveall",
)
HUB_LAG_SECONDS = Gauge(
    "irclogger_hub_lag_seconds",
    "Seconds between a line's commit-time timestamp and the hub rendering it (last batch).",
    multiprocess_mode="livemax",
)
POOL_IN_USE = Gauge(
    "irclogger_db_pool_in_use",
    "Pooled database connections checked out.",
    multiprocess_mode="livesum",
)
POOL_WAITING = Gauge(
    "irclogger_db_pool_waiting",
    "Greenlets waiting for a pooled database connection.",
    multiprocess_mode="livesum",
)
BOT_CONNECTED = Gauge(
    "irclogger_bot_connected",
    "1 while the bot is connected to the network.",
    ["network"],
    multiprocess_mode="livemax",
)
LINES_WRITTEN = Counter("irclogger_lines_written", "Live lines written by the bot.")
