"""The naive single-process app: irclogger's models and pages, Django's plain settings.

The plain PostgreSQL backend (one connection per thread, no pool) and
django-sse's view as published: what a team gets by following the seeds.
Benchmark peer only.
"""

from irclogger.settings import *  # noqa: F403  (the same app, a different wiring)
from irclogger.settings import DATABASES

ROOT_URLCONF = "bench.peers.naive.urls"
DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
DATABASES["default"]["OPTIONS"] = {}
