"""Structured logs on stdout: one JSON line per request and per stream open and close."""

import datetime as dt
import http.client
import io
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from irclogger.models import Channel, Line
from irclogger.ops_log import JsonFormatter, _emit, _json_streams
from irclogger.publish import write_lines
from tests.nginx import get, nginx
from tests.servers import gunicorn
from tests.sseclient import Stream


def _records(log: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.splitlines() if line.startswith("{")]


def test_it_formats_one_json_object_per_line() -> None:
    record = logging.LogRecord("irclogger.request", logging.INFO, "", 0, "request", (), None)
    record.path, record.status = "/a\nb", 200
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert json.loads(line) | {"time": "t"} == {
        "time": "t",
        "level": "info",
        "logger": "irclogger.request",
        "event": "request",
        "path": "/a\nb",
        "status": 200,
    }


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_it_logs_requests_and_streams_from_gunicorn(
    tmp_path: Path, public_channel: Channel
) -> None:
    with gunicorn(tmp_path) as server:
        page = get(server.port, "/libera/python/?x=1")
        stream = Stream(server.port, "/libera/python/stream/", last_event_id=0)
        now = dt.datetime.now(dt.UTC)
        written = write_lines([Line(channel=public_channel, timestamp=now, text=t) for t in "ab"])
        received = [stream.next_event("line").id for _ in written]
    # Leaving the block stopped gunicorn gracefully: the stream ended on the server's side.
    stream.close()
    records = _records(server.log())
    requests = [r for r in records if r["event"] == "request" and r["path"] == "/libera/python/"]
    opens = [r for r in records if r["event"] == "stream_open"]
    closes = [r for r in records if r["event"] == "stream_close"]
    assert page.status == 200
    assert received == [str(line.id) for line in written]
    assert [(r["method"], r["status"], r["logger"]) for r in requests] == [
        ("GET", 200, "irclogger.request")
    ]
    assert requests[0]["duration"] > 0
    assert [(r["network"], r["channel"], r["last_event_id"]) for r in opens] == [
        ("libera", "python", 0)
    ]
    assert [(r["lines_sent"], r["reason"]) for r in closes] == [(2, "ended")]
    assert closes[0]["duration"] > 0


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_it_logs_the_clients_address_not_nginxs(tmp_path: Path, public_channel: Channel) -> None:
    # The reader connects from 127.0.0.2; nginx reaches gunicorn from 127.0.0.1.
    with gunicorn(tmp_path) as server, nginx(tmp_path, server.port) as proxy:
        connection = http.client.HTTPConnection(
            "127.0.0.1", proxy.port, timeout=15, source_address=("127.0.0.2", 0)
        )
        try:
            # A client's own X-Forwarded-For proves nothing: nginx replaces it.
            connection.request("GET", "/libera/python/", headers={"X-Forwarded-For": "10.9.9.9"})
            status = connection.getresponse().status
        finally:
            connection.close()
    requests = [
        r
        for r in _records(server.log())
        if r["event"] == "request" and r["path"] == "/libera/python/"
    ]
    assert status == 200
    assert [r["client"] for r in requests] == ["127.0.0.2"]


def _logger(name: str, formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    logger = logging.getLogger(name)
    logger.handlers, logger.propagate, logger.level = [handler], False, logging.INFO
    return logger, out


def test_the_quick_path_writes_what_the_formatter_would() -> None:
    quick, quick_out = _logger("tests.ops_log.quick", JsonFormatter())
    slow, slow_out = _logger("tests.ops_log.slow", JsonFormatter())
    slow.addFilter(lambda record: True)  # a filter: the logging module's own path
    assert _json_streams(quick) is not None
    assert _json_streams(slow) is None
    fields = {"network": "libera", "channel": "#é\n", "last_event_id": None, "lines_sent": 3}
    _emit(quick, "stream_open", **fields)
    _emit(slow, "stream_open", **fields)
    [quick_line] = quick_out.getvalue().splitlines()
    [slow_line] = slow_out.getvalue().splitlines()
    quick_record, slow_record = json.loads(quick_line), json.loads(slow_line)
    assert quick_record.pop("logger") == "tests.ops_log.quick"
    assert slow_record.pop("logger") == "tests.ops_log.slow"
    assert dt.datetime.fromisoformat(quick_record.pop("time")).utcoffset() == dt.timedelta(0)
    assert dt.datetime.fromisoformat(slow_record.pop("time")).utcoffset() == dt.timedelta(0)
    assert quick_record == slow_record == {"level": "info", "event": "stream_open", **fields}
    assert quick_line.isascii()


def test_a_filtered_level_writes_nothing() -> None:
    logger, out = _logger("tests.ops_log.quiet", JsonFormatter())
    logger.setLevel(logging.WARNING)
    _emit(logger, "stream_open", network="libera")
    assert out.getvalue() == ""


def test_another_formatter_gets_a_record() -> None:
    logger, out = _logger("tests.ops_log.plain", logging.Formatter("%(name)s %(message)s"))
    _emit(logger, "stream_close", reason="ended")
    assert out.getvalue() == "tests.ops_log.plain stream_close\n"
