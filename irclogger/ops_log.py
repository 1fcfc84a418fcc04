"""Structured operational log lines: one per request, one per stream open and close.

Each line is one JSON object on stdout (LOGGING in settings: the ``json``
formatter on the ``irclogger.request`` and ``irclogger.stream`` loggers), so a
log shipper reads fields, not prose.

The middleware reports through ``request_finished()``, the streams code
through ``stream_opened()`` and ``stream_closed()``.
"""

import logging
from typing import Any

import pythonjsonlogger.json

request_log = logging.getLogger("irclogger.request")
stream_log = logging.getLogger("irclogger.stream")


class JsonFormatter(pythonjsonlogger.json.JsonFormatter):
    """``{"time", "level", "logger", "event", ...fields}`` on one line.

    python-json-logger writes the record and the call's ``extra`` fields; the
    record's attributes get the short names a log shipper reads.
    """

    def __init__(self) -> None:
        super().__init__(
            "{levelname}{name}{message}",
            style="{",
            rename_fields=_NAMES,
            timestamp="time",
        )

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        log_data["level"] = str(log_data["level"]).lower()  # "info", like the other values
        return log_data


_NAMES = {"levelname": "level", "name": "logger", "message": "event", "exc_info": "error"}


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
    logger.info(event, extra=fields)
