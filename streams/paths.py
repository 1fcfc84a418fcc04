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
