"""The benchmark's reading of a py-spy profile: requests apart from the fan-out."""

from bench.scenario import summarize_profile

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
