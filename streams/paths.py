"""What marks a stream's path (streams.urls), for code that loads no Django.

The gunicorn worker class (streams.gunicorn_worker) is loaded by the master,
which must not load Django (conf/gunicorn.py), and tells streams from pages
before the app sees a request.
"""

# Every stream's path ends so: ``<network>/<channel>/stream/``.
STREAM_SUFFIX = "/stream/"


def is_stream_path(path: str) -> bool:
    """Whether ``path`` may be a stream's: cheap, before any route is resolved."""
    return path.endswith(STREAM_SUFFIX)


def is_stream_request(head: bytes) -> bool | None:
    """Whether a request's first bytes ask for a stream; None until its first line is whole.

    Read before the request is parsed: ``GET /libera/python/stream/?x HTTP/1.1``.
    """
    line, newline, _rest = head.partition(b"\n")
    if not newline:
        return None
    parts = line.split(b" ")
    if len(parts) != 3:
        return False  # not a request line gunicorn would take: its parser answers it
    path = parts[1].partition(b"?")[0].partition(b"#")[0]
    return is_stream_path(path.decode("latin-1"))
