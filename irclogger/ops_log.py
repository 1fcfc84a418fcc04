"""Structured operational log lines: one per request, one per stream open and close.

Each line is one JSON object on stdout (LOGGING in settings: the ``json``
formatter on the ``irclogger.request`` and ``irclogger.stream`` loggers), so a
log shipper reads fields, not prose.

The middleware reports through ``request_finished()``, the streams code
through ``stream_opened()`` and ``stream_closed()``.
"""

import contextlib
import datetime
import json
import logging
from typing import Any, TextIO

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


# One encoder for every line: json.dumps(default=...) would build one a call.
_ENCODER = json.JSONEncoder(default=str)

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
    """One line, built with one JSON encode where LOGGING sends it the usual way.

    A stream's open and close are logged per stream, thousands at once after
    a deploy: the LogRecord, its caller lookup and python-json-logger's field
    merging cost about 16 us a line, this about 6. And a LogRecord asks
    threading.current_thread(), which under gevent gives each stream's
    greenlet a _DummyThread for its whole life (4.4 KiB; docs/DESIGN.md,
    "Memory per stream"). The line is the one JsonFormatter would write. Any
    other set-up (a filter, another handler or formatter, propagation) takes
    the logging module's own path.
    """
    if not logger.isEnabledFor(logging.INFO):
        return
    streams = _json_streams(logger)
    if streams is None:
        logger.info(event, extra=fields)
        return
    line = _ENCODER.encode(
        {"level": "info", "logger": logger.name, "event": event, **fields, "time": _now()}
    )
    for handler, stream in streams:
        with handler.lock or contextlib.nullcontext():
            stream.write(line + "\n")
            stream.flush()


def _json_streams(logger: logging.Logger) -> list[tuple[logging.Handler, TextIO]] | None:
    """The streams of the logger's JSON handlers, or None unless that is all there is to it."""
    if logger.propagate or logger.filters or not logger.handlers:
        return None
    streams: list[tuple[logging.Handler, TextIO]] = []
    for handler in logger.handlers:
        if (
            type(handler) is not logging.StreamHandler
            or type(handler.formatter) is not JsonFormatter
            or handler.filters
            or handler.level > logging.INFO
        ):
            return None
        streams.append((handler, handler.stream))
    return streams


def _now() -> str:
    # What python-json-logger writes for timestamp=...: ISO 8601 in UTC.
    return datetime.datetime.now(datetime.UTC).isoformat()
