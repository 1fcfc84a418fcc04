import pytest
from django.core.exceptions import ImproperlyConfigured

from irclogger.env import env_bool, env_int, env_list, env_str, parse_database_url


def test_it_reads_booleans(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAG", "yes")
    assert env_bool("FLAG", False) is True
    monkeypatch.setenv("FLAG", "0")
    assert env_bool("FLAG", True) is False
    monkeypatch.delenv("FLAG")
    assert env_bool("FLAG", True) is True


def test_it_fails_loudly_on_a_bad_boolean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="FLAG"):
        env_bool("FLAG", False)


def test_it_fails_loudly_on_a_bad_integer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIZE", "ten")
    with pytest.raises(ImproperlyConfigured, match="SIZE"):
        env_int("SIZE", 1)
    monkeypatch.setenv("SIZE", "0")
    with pytest.raises(ImproperlyConfigured, match="minimum"):
        env_int("SIZE", 1, minimum=1)


def test_it_reads_a_secret_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("SECRET_KEY_FILE", str(secret))
    assert env_str("SECRET_KEY", "default") == "s3cret"
    monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured):
        env_str("SECRET_KEY", "default")


def test_it_reads_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTS", "a.example, b.example,,")
    assert env_list("HOSTS", []) == ["a.example", "b.example"]


def test_it_parses_database_urls() -> None:
    assert parse_database_url("postgresql://u:p%40ss@db.example:5433/logs") == {
        "NAME": "logs",
        "USER": "u",
        "PASSWORD": "p@ss",
        "HOST": "db.example",
        "PORT": "5433",
        "OPTIONS": {},
    }
    socket = parse_database_url("postgresql://postgres@/irclogger?host=/run/pg")
    assert socket["HOST"] == "/run/pg"
    assert socket["OPTIONS"] == {}


def test_it_passes_libpq_options_on() -> None:
    config = parse_database_url("postgresql://u@db.example/logs?sslmode=require")
    assert config["OPTIONS"] == {"sslmode": "require"}


@pytest.mark.parametrize("url", ["mysql://u@h/db", "postgresql://u@h/", "sqlite:///x.db"])
def test_it_refuses_other_databases(url: str) -> None:
    with pytest.raises(ImproperlyConfigured):
        parse_database_url(url)
