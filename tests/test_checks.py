import pytest
from django.conf import settings as django_settings
from django.core.checks import run_checks
from django.test import override_settings


def _ids() -> set[str]:
    return {
        message.id
        for message in run_checks(include_deployment_checks=True)
        if message.id and message.id.startswith("irclogger.")
    }


@override_settings(DEBUG=True, ALLOWED_HOSTS=["logs.example.org"])
def test_it_refuses_debug_with_a_public_host() -> None:
    assert "irclogger.E001" in _ids()


@override_settings(DEBUG=True, ALLOWED_HOSTS=["127.0.0.1", "localhost"])
def test_it_allows_debug_on_localhost() -> None:
    assert "irclogger.E001" not in _ids()


@override_settings(DEBUG=False, SECRET_KEY="insecure-dev-key-change-me")
def test_it_refuses_the_default_secret_key_in_production() -> None:
    assert "irclogger.E002" in _ids()


@override_settings(DEBUG=False, SECRET_KEY="a-real-secret-of-enough-length-1234567890-abcdef")
def test_it_accepts_a_real_secret_key() -> None:
    assert "irclogger.E002" not in _ids()


def test_it_refuses_conn_max_age_with_the_gevent_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "irclogger.E003" not in _ids()
    monkeypatch.setitem(django_settings.DATABASES["default"], "CONN_MAX_AGE", 60)
    assert "irclogger.E003" in _ids()
