"""Structured operational log lines: one per request, one per stream open and close.

Each line is one JSON object on stdout (LOGGING in settings: the ``json``
formatter on the ``irclogger.request`` and ``irclogger.stream`` loggers), so a
log shipper reads fields, not prose.

The middleware reports through ``request_finished()``, the streams code
through ``stream_opened()`` and ``stream_closed()``.
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
    _emit(
        request_log,
        "request",
        method=method,
        path=path,
        status=status,
        duration=round(duration, 6),
        **fields,
    )


def stream_opened(network: str, channel: str, *, last_event_id: int | None) -> None:
    _emit(stream_log, "stream_open", network=network, channel=channel, last_event_id=last_event_id)


def stream_closed(
    network: str, channel: str, *, duration: float, lines_sent: int, reason: str
) -> None:
    """Call once when a stream ends; ``reason``: ended (by the server), client_gone, error."""
    _emit(
        stream_log,
        "stream_close",
        network=network,
        channel=channel,
        duration=round(duration, 3),
        lines_sent=lines_sent,
        reason=reason,
    )


def _emit(logger: logging.Logger, event: str, **fields: Any) -> None:
    logger.info(event, extra={"fields": fields})
