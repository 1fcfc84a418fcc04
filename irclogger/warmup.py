"""What a new worker does once before it listens, so that no reader pays for it.

Django and this app do some work lazily, on the first request that needs
it: the URLconf's views are imported and its reverse lookups built on the
first ``reverse``, each template is compiled on its first render, and the
list of time zones is read from disk on the first zone asked for. A new
worker's first day page cost 80-141 ms against 13 ms for the next one. In
a reload or a restart that first page is a reader's, in the middle of
thousands of reconnects (docs/DESIGN.md, "Pages in a storm").
conf/gunicorn.py calls ``warm_up`` in ``post_worker_init``, before the
streams' ``gc.freeze``, which then keeps all of it out of collections.
"""

from pathlib import Path

from django.template.loader import get_template
from django.urls import get_resolver

from irclogger.params import zone_names

# This app's own templates; the admin's are compiled when an admin asks.
TEMPLATES = Path(__file__).resolve().parent / "templates"


def warm_up() -> None:
    # Imports every view module and builds the reverse lookups of every URL.
    get_resolver().reverse_dict  # noqa: B018  (the property does the work)
    zone_names()
    for path in sorted(TEMPLATES.rglob("*.html")):
        get_template(path.relative_to(TEMPLATES).as_posix())
