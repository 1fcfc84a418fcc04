"""Logins are throttled per account and per address; password reset needs mail."""

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings

from irclogger.urls import account_urls

PASSWORD = "the-right-password-1"
LOGIN = "/accounts/login/"


@pytest.fixture
def alice(db: None) -> User:
    return User.objects.create_user("alice", password=PASSWORD)


def _login(username: str, password: str, address: str) -> int:
    """One login attempt from ``address``, in a fresh browser; the answer's status."""
    response = Client().post(
        LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address
    )
    return response.status_code


def test_the_right_password_logs_in(alice: User) -> None:
    assert _login("alice", PASSWORD, "198.51.100.1") == 302


def test_the_sixth_attempt_on_one_account_is_refused_even_with_the_right_password(
    alice: User,
) -> None:
    # Each wrong guess from another address: the account itself is what is locked.
    wrong = [_login("alice", f"guess-{n}", f"198.51.100.{n}") for n in range(5)]
    # The form again ("wrong password"); the fifth failure locks the account.
    assert wrong == [200, 200, 200, 200, 429]
    assert _login("alice", PASSWORD, "198.51.100.99") == 429


def test_the_sixth_attempt_from_one_address_is_refused_whatever_the_account(
    alice: User,
) -> None:
    wrong = [_login(f"user{n}", "guess", "203.0.113.9") for n in range(5)]
    assert wrong == [200, 200, 200, 200, 429]
    assert _login("alice", PASSWORD, "203.0.113.9") == 429
    assert _login("alice", PASSWORD, "203.0.113.10") == 302  # another address, the account is fine


def test_the_address_is_the_clients_behind_nginx(alice: User) -> None:
    def through_nginx(client_address: str, password: str) -> int:
        response = Client().post(
            LOGIN,
            {"username": f"user-{password}", "password": password},
            REMOTE_ADDR="127.0.0.1",
            HTTP_X_FORWARDED_FOR=client_address,
        )
        return response.status_code

    assert [through_nginx("203.0.113.20", f"g{n}") for n in range(5)] == [200, 200, 200, 200, 429]
    assert through_nginx("203.0.113.20", "g5") == 429
    # Another reader behind the same nginx is not locked out with the first.
    assert _login("alice", PASSWORD, "127.0.0.1") == 302


def test_the_admin_login_is_throttled_too(alice: User) -> None:
    alice.is_staff = True
    alice.save()
    for n in range(5):
        Client().post("/admin/login/", {"username": "alice", "password": f"x{n}"})
    response = Client().post("/admin/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429


def test_there_is_no_password_reset_without_mail(client: Client, db: None) -> None:
    assert client.get("/accounts/password_reset/").status_code == 404
    assert client.get("/accounts/reset/done/").status_code == 404
    assert client.get(LOGIN).status_code == 200


@override_settings(EMAIL_HOST="smtp.example.org")
def test_the_password_reset_pages_come_with_mail() -> None:
    names = {getattr(pattern, "name", None) for pattern in account_urls()}
    assert {"password_reset", "password_reset_confirm", "login"} <= names
