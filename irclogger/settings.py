"""irclogger settings: everything a deployment changes comes from the environment.

Every default works on a fresh checkout (DEBUG on, local hosts only, the
embedded PostgreSQL); the system checks in ``irclogger.checks`` refuse the
defaults that must not reach production.
"""

import datetime as dt
from pathlib import Path

import django_stubs_ext
from csp.constants import NONE, SELF

from irclogger.env import (
    env_bool,
    env_int,
    env_list,
    env_networks,
    env_str,
    parse_database_url,
    parse_fixed_now,
)

# Generic Django classes (QuerySet["Line"], ModelAdmin[Line]) at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

# The checks compare against this value to catch a deployment that kept it.
DEFAULT_SECRET_KEY = "insecure-dev-key-change-me"  # noqa: S105  (the value checks refuse)
SECRET_KEY = env_str("SECRET_KEY", DEFAULT_SECRET_KEY)
DEBUG = env_bool("DEBUG", True)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# nginx terminates TLS and says so in X-Forwarded-Proto (conf/nginx/).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = env_bool("USE_X_FORWARDED_HOST", False)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# X-Forwarded-For is believed only from these addresses: nginx on this host.
TRUSTED_PROXY_NETWORKS = env_networks("TRUSTED_PROXY_NETWORKS", ["127.0.0.0/8", "::1/128"])
# /metrics answers these client networks, or a request bearing METRICS_TOKEN.
METRICS_ALLOWED_NETWORKS = env_networks("METRICS_ALLOWED_NETWORKS", ["127.0.0.0/8", "::1/128"])
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Every page's Content-Security-Policy (django-csp): scripts and styles from
# this site's files only, no inline script, handler or style attribute
# anywhere (IRC colours are classes, irclogger.formatting). A view changes it
# for one response with ``response._csp_replace = {directive: [sources]}``,
# as the embed widget does for frame-ancestors. nginx passes the app's
# policy on and sends the same one for the static files (conf/nginx/).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "axes",
    "csp",
    "irclogger",
    "streams",
]

# No GZipMiddleware: it would buffer the event stream (docs/DESIGN.md, trap 3);
# nginx compresses pages instead.
MIDDLEWARE = [
    # First, so its duration covers every other middleware.
    "irclogger.middleware.request_log",
    # Next, so a page whose database went away is a 503 in the log too.
    "irclogger.middleware.DatabaseUnavailable",
    # Anonymous streams leave here, before session, CSRF and messages.
    "streams.middleware.anonymous_streams",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it answers a locked-out login attempt.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "irclogger.urls"
WSGI_APPLICATION = "irclogger.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database_url() -> str:
    url = env_str("DATABASE_URL", "")
    if url:
        return url
    from irclogger import devdb

    return devdb.database_url()


_DATABASE_URL = parse_database_url(_database_url())
DATABASES = {
    "default": {
        # The gevent-aware pool: a greenlet waits for a free connection
        # instead of opening one per request (docs/DESIGN.md, trap 1); bounded
        # even while connections are being opened (irclogger.geventpool).
        "ENGINE": "irclogger.geventpool",
        **_DATABASE_URL,
        # Must be 0 with the pool: the pool, not Django, keeps connections.
        "CONN_MAX_AGE": 0,
        "ATOMIC_REQUESTS": False,
        "OPTIONS": {
            **_DATABASE_URL["OPTIONS"],
            "MAX_CONNS": env_int("DB_POOL_SIZE", 8, minimum=1),
            "REUSE_CONNS": env_int("DB_POOL_REUSE", 8, minimum=0),
        },
        "TEST": {"NAME": env_str("TEST_DB_NAME", "test_irclogger")},
    }
}
# What pg_stat_activity calls this service's connections. libpq reads
# PGAPPNAME itself for the pool's; the connections outside the pool (the hub's
# LISTEN) are named after it.
DATABASE_APPLICATION_NAME = env_str("PGAPPNAME", "irclogger")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# Login throttling (django-axes), on the site's and the admin's login alike:
# the LOGIN_FAILURE_LIMIT-th wrong password for one account, or from one
# client address, locks it: every attempt is refused (429), the right
# password too, for LOGIN_LOCKOUT_MINUTES. nginx also rate-limits the login POSTs (conf/nginx/).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
# Either one locks: many accounts tried from one address, or one account from many.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
# The client's address by the trusted-proxy rule /metrics uses, not nginx's.
AXES_CLIENT_IP_CALLABLE = "irclogger.net.client_address"

# Outgoing mail, for password resets only: without EMAIL_HOST the reset
# pages do not exist (irclogger.urls), rather than failing for each request.
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "irclogger@localhost")

# Lines per page of a range view and per search page.
RANGE_PAGE_SIZE = env_int("RANGE_PAGE_SIZE", 2000, minimum=10)
SEARCH_PAGE_SIZE = env_int("SEARCH_PAGE_SIZE", 50, minimum=5)

# The live streams (streams.hub, streams.ring). Frames kept per channel: how far a client
# may fall behind before it is dropped (it reconnects and replays from
# PostgreSQL); the same as the replay limit, so a dropped client can always
# resume without a reload.
STREAM_RING_SIZE = env_int("STREAM_RING_SIZE", 1000, minimum=10)
# Seconds between keep-alive comments; tests of proxies' read timeouts
# shorten it (the reason for 15 is in streams.hub).
STREAM_KEEPALIVE_SECONDS = env_int("STREAM_KEEPALIVE_SECONDS", 15, minimum=1)
# Seconds a stream lives before it ends itself (jittered ±10 %; the reason is
# in streams.hub); the soak and tests shorten it to see many lifetimes.
STREAM_MAX_LIFETIME_SECONDS = env_int("STREAM_MAX_LIFETIME_SECONDS", 600, minimum=1)
# Seconds a write to one stream may take before the stream is cut (the
# client resumes with Last-Event-ID), and the send buffer of a stream's
# socket; the reasons are in streams.hub.
STREAM_WRITE_TIMEOUT_SECONDS = env_int("STREAM_WRITE_TIMEOUT_SECONDS", 30, minimum=1)
STREAM_SEND_BUFFER_BYTES = env_int("STREAM_SEND_BUFFER_BYTES", 65_536, minimum=4096)
# Streams a reloading worker ends per second once its successor listens (the
# reason for the pace, and for this number, is in docs/DESIGN.md, "Reload without a storm").
STREAM_HANDOFF_PER_SECOND = env_int("STREAM_HANDOFF_PER_SECOND", 3000, minimum=1)
# Where each gunicorn worker writes its metrics for /metrics to add up.
# conf/gunicorn.py sets it in the master (a fresh temporary directory when
# unset) before any worker loads these settings; prometheus_client reads it too.
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR", "")
# A stopped clock for tests and screenshots: what "today" is (ISO 8601,
# e.g. 2024-03-10T12:00:00+00:00). The checks refuse it with DEBUG off.
FIXED_NOW = parse_fixed_now(env_str("FIXED_NOW", ""))

# The IRC logging bot (irclogger.bot). With IRCLOGGER_BOT on, the gunicorn
# service runs it in one worker at a time, elected by an advisory lock;
# `manage.py ircbot` runs it on its own.
IRCLOGGER_BOT = env_bool("IRCLOGGER_BOT", False)
# Lines starting with this are not stored: said off the record.
BOT_NOLOG_PREFIX = env_str("BOT_NOLOG_PREFIX", "[nolog]")
# After a refused JOIN (banned, full, invite only), wait this long to retry.
BOT_JOIN_RETRY_SECONDS = env_int("BOT_JOIN_RETRY_SECONDS", 60, minimum=1)
# The longest wait between reconnect attempts (the backoff's ceiling).
BOT_RECONNECT_MAX_SECONDS = env_int("BOT_RECONNECT_MAX_SECONDS", 300, minimum=1)
# Lines held while the database is slow, at most (a few hundred bytes each).
BOT_BUFFER_LINES = env_int("BOT_BUFFER_LINES", 100_000, minimum=100)
# How often the bot re-reads its networks and channels: admin changes take
# effect within this long, for one small query.
BOT_POLL_SECONDS = env_int("BOT_POLL_SECONDS", 5, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        # One JSON object per line: requests and stream open/close (irclogger.ops_log).
        "json": {"()": "irclogger.ops_log.JsonFormatter"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "stream": "ext://sys.stdout",
        },
        "stdout_json": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stdout",
        },
    },
    "loggers": {
        "irclogger.request": {"handlers": ["stdout_json"], "propagate": False},
        "irclogger.stream": {"handlers": ["stdout_json"], "propagate": False},
    },
    "root": {"handlers": ["stdout"], "level": env_str("LOG_LEVEL", "INFO")},
}
