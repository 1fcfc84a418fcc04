"""Deploy-time mistakes, caught by ``manage.py check --deploy`` and at start-up.

``refuse_unsafe_settings()`` runs the checks of settings (security and
database) when gunicorn loads the app (irclogger.wsgi): a service with unsafe
settings stops there, with the message naming the variable, instead of
serving. The checks of the code (models, the admin, URLs, templates) give
the same answer on every boot of a commit: the tests run them
(tests/test_startup_checks.py), and every worker's boot, which a restart's
readers wait for, is spared them (docs/DESIGN.md, "Decisions", settings).
"""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register, run_checks
from django.core.exceptions import ImproperlyConfigured

# What a boot checks: the settings, which differ from one deploy to the next.
BOOT_TAGS = (Tags.security, Tags.database)

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1", "testserver"}


@register(Tags.security, deploy=True)
def check_debug_with_public_host(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[Error]:
    public = [host for host in settings.ALLOWED_HOSTS if host not in _LOCAL_HOSTS]
    if settings.DEBUG and public:
        return [
            Error(
                f"DEBUG is on while ALLOWED_HOSTS names public hosts: {', '.join(public)}.",
                hint="Set DEBUG=0 in the service's environment.",
                id="irclogger.E001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_secret_key(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[Error]:
    if settings.SECRET_KEY == settings.DEFAULT_SECRET_KEY and not settings.DEBUG:
        return [
            Error(
                "SECRET_KEY is the development default.",
                hint="Set SECRET_KEY or SECRET_KEY_FILE.",
                id="irclogger.E002",
            )
        ]
    return []


@register(Tags.database)
def check_conn_max_age(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[Error]:
    errors = []
    for alias, db in settings.DATABASES.items():
        if "geventpool" in str(db["ENGINE"]) and db.get("CONN_MAX_AGE", 0) != 0:
            errors.append(
                Error(
                    f"DATABASES[{alias!r}]['CONN_MAX_AGE'] is {db['CONN_MAX_AGE']}, not 0.",
                    hint="django-db-geventpool keeps the connections; Django must not.",
                    id="irclogger.E003",
                )
            )
    return errors


@register(Tags.security, deploy=True)
def check_fixed_now(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[Error]:
    if settings.FIXED_NOW is not None and not settings.DEBUG:
        return [
            Error(
                "FIXED_NOW stops the clock: every page would show the same day forever.",
                hint="Unset FIXED_NOW; it is for tests and screenshots.",
                id="irclogger.E004",
            )
        ]
    return []


# Django's deploy warnings that make a public service unsafe; the others
# (HSTS, SSL redirect) are nginx's job here (conf/nginx/).
FATAL_WARNINGS_WITHOUT_DEBUG = {
    "security.W009",  # SECRET_KEY short or guessable
    "security.W020",  # ALLOWED_HOSTS empty
}


def unsafe_settings() -> list[CheckMessage]:
    """Every deploy check's error, and the warnings that matter once DEBUG is off."""
    return [
        message
        for message in run_checks(include_deployment_checks=True, tags=BOOT_TAGS)
        if message.is_serious()
        or (not settings.DEBUG and message.id in FATAL_WARNINGS_WITHOUT_DEBUG)
    ]


def refuse_unsafe_settings() -> None:
    """Stop the service before it serves a request with unsafe settings."""
    unsafe = unsafe_settings()
    if unsafe:
        listed = "\n".join(str(message) for message in unsafe)
        raise ImproperlyConfigured(f"Refusing to start with unsafe settings:\n{listed}")
