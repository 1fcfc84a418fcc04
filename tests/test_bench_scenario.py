"""The benchmark's scenario: its reading of a py-spy profile, and its page probe."""

import time

from bench.scenario import PageProbe, summarize_profile
from tests.servers import QuietHandler, http_server

REQUEST = (
    "_handle_and_close_when_done (gevent/baseserver.py:34);"
    "WSGIHandler.__call__ (django/core/handlers/wsgi.py:124);"
    "day (irclogger/views/day.py:20)"
)
FANOUT = (
    "_handle_and_close_when_done (gevent/baseserver.py:34);"
    "write_chunk (gunicorn/util.py:300);"
    "SocketMixin.send (gevent/_socketcommon.py:700)"
)
HUB = "run (gevent/hub.py:600);Hub.follow (streams/hub.py:200)"


def test_it_separates_request_handling_from_the_fan_out():
    profile = summarize_profile(f"{REQUEST} 40\n{FANOUT} 50\n{HUB} 10\nnot a stack line\n")
    assert profile["samples"] == 100
    assert profile["requests"] == 0.4
    assert profile["fanout"] == 0.6
    assert profile["self"] == [
        ("SocketMixin.send (gevent/_socketcommon.py)", 0.5),
        ("Hub.follow (streams/hub.py)", 0.1),
    ]
    assert profile["modules"][0] == ("gevent/_socketcommon.py", 0.5)
    assert ("write_chunk (gunicorn/util.py)", 0.5) in profile["inclusive"]


def test_the_page_probe_spreads_its_requests_over_the_window():
    """A probe of page latency while lines are published, not a burst at the start:
    fired back to back, its pages took the worker from the first lines' fan-out."""
    arrivals: list[float] = []

    class Page(QuietHandler):
        def do_GET(self) -> None:
            arrivals.append(time.monotonic())
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    with http_server(Page) as url:
        result = PageProbe(url, "/day/", budget=30.0, requests=5, window=1.0).join()
    assert result["ok"] == 5
    assert len(arrivals) == 5
    # Each request starts no earlier than its share of the window (less the
    # first request's own way to the server); back to back, all five came
    # within a few milliseconds.
    for index, arrival in enumerate(arrivals):
        assert arrival - arrivals[0] >= index * 0.2 - 0.05
