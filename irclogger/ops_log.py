"""Structured operational log lines: one per request, one per stream open and close.

Each line is one JSON object on stdout (LOGGING in settings: the ``json``
formatter on the ``irclogger.request`` and ``irclogger.stream`` loggers), so a
log shipper reads fields, not prose.

The streams code reports through ``stream_opened()`` and ``stream_closed()``, or
logs to the ``irclogger.stream`` logger itself with ``extra={"fields": {...}}``.
"""

import datetime as dt
import json
import logging
from typing import Any

request_log = logging.getLogger("irclogger.request")
stream_log = logging.getLogger("irclogger.stream")


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "event", ...fields}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def request_finished(method: str, path: str, status: int, duration: float, **fields: Any) -> None:
    request_log.info(
        "request",
        extra={
            "fields": {
                "method": method,
                "path": path,
                "status": status,
                "duration": round(duration, 6),
                **fields,
            }
        },
    )


def stream_opened(network: str, channel: str, *, last_event_id: int | None, **fields: Any) -> None:
    stream_log.info(
        "stream_open",
        extra={
            "fields": {
                "network": network,
                "channel": channel,
                "last_event_id": last_event_id,
                **fields,
            }
        },
    )


def stream_closed(
    network: str, channel: str, *, duration: float, lines_sent: int, reason: str, **fields: Any
) -> None:
    """Call once when a stream ends; ``reason``: client_gone, overflow, max_life, shutdown."""
    stream_log.info(
        "stream_close",
        extra={
            "fields": {
                "network": network,
                "channel": channel,
                "duration": round(duration, 3),
                "lines_sent": lines_sent,
                "reason": reason,
                **fields,
            }
        },
    )
