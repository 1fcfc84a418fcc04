"""Unsafe settings stop the service when gunicorn loads the app, naming the variable."""

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.nginx import get
from tests.servers import GUNICORN, ROOT, free_port, gunicorn

pytestmark = pytest.mark.e2e

# Nothing listens here: loading the app opens no connection, so none is needed.
NO_DATABASE = "postgresql://irclogger@127.0.0.1:1/irclogger"
PUBLIC = "logs.example.org"
GOOD_KEY = "a-real-secret-of-enough-length-1234567890-abcdefghijkl"


def _start(**settings: str) -> subprocess.CompletedProcess[str]:
    """Run gunicorn with conf/gunicorn.py until it exits (it must, on its own)."""
    env = {key: value for key, value in os.environ.items() if key not in ("SECRET_KEY", "DEBUG")}
    env |= {
        "DATABASE_URL": NO_DATABASE,
        "GUNICORN_BIND": f"127.0.0.1:{free_port()}",
        "GUNICORN_WORKERS": "1",
        **settings,
    }
    return subprocess.run(
        [GUNICORN, "-c", "conf/gunicorn.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"DEBUG": "0", "ALLOWED_HOSTS": PUBLIC}, "SECRET_KEY"),
        ({"DEBUG": "0", "ALLOWED_HOSTS": PUBLIC, "SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"DEBUG": "1", "ALLOWED_HOSTS": PUBLIC}, "DEBUG"),
        ({"DEBUG": "0", "ALLOWED_HOSTS": "", "SECRET_KEY": GOOD_KEY}, "ALLOWED_HOSTS"),
    ],
)
def test_gunicorn_refuses_to_start_with_unsafe_settings(
    settings: dict[str, str], named: str
) -> None:
    result = _start(**settings)
    assert result.returncode != 0
    assert "Refusing to start with unsafe settings" in result.stdout + result.stderr
    assert named in result.stdout + result.stderr


@pytest.mark.django_db(transaction=True)
def test_gunicorn_starts_with_safe_production_settings(tmp_path: Path) -> None:
    with gunicorn(
        tmp_path, DEBUG="0", ALLOWED_HOSTS=f"{PUBLIC},127.0.0.1", SECRET_KEY=GOOD_KEY
    ) as server:
        response = get(server.port, "/healthz")
    assert response.status == 200
    assert "unsafe settings" not in server.log()


def test_the_code_passes_djangos_system_checks() -> None:
    # The boot runs only the checks of settings (irclogger.checks): the
    # checks of models, the admin, URLs and templates are the code's, and
    # are run here, once, instead of in every worker's boot.
    from django.core.checks import run_checks

    assert [str(message) for message in run_checks() if message.is_serious()] == []


def test_the_boot_refuses_unsafe_settings_but_leaves_the_code_checks_to_the_tests(
    settings: Any,
) -> None:
    # The tests' own settings are a developer's, safe only with DEBUG on.
    settings.DEBUG = True
    from django.core.checks import Error, Tags, register, registry
    from django.core.exceptions import ImproperlyConfigured

    from irclogger.checks import refuse_unsafe_settings

    def failing(tag: str) -> Callable[..., list[Error]]:
        def check(app_configs: object, **kwargs: object) -> list[Error]:
            return [Error(f"a failing {tag} check", id=f"tests.E{tag}")]

        return check

    code_check = register(failing("models"), Tags.models)
    try:
        refuse_unsafe_settings()
        settings_check = register(failing("security"), Tags.security, deploy=True)
        try:
            with pytest.raises(ImproperlyConfigured, match="a failing security check"):
                refuse_unsafe_settings()
        finally:
            registry.registry.deployment_checks.discard(settings_check)
    finally:
        registry.registry.registered_checks.discard(code_check)
