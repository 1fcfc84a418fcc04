"""/healthz and /metrics: who may read the metrics, what health means."""

import ipaddress
import json
import time
from pathlib import Path

import gevent
import pytest
from django.test import Client, override_settings

import irclogger.bot.health as bot_health
from irclogger.metrics import STREAMS_OPENED
from irclogger.models import Network
from streams import hub as hubs
from tests.nginx import get
from tests.servers import gunicorn
from tests.throwaway_postgres import migrate, throwaway_postgres

REMOTE = "203.0.113.7"
NGINX = "127.0.0.1"


def test_it_is_healthy_when_the_database_answers(anonymous_client: Client, db: None) -> None:
    response = anonymous_client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"
    assert "no-cache" in response["Cache-Control"]


def test_it_serves_metrics_on_loopback(anonymous_client: Client, db: None) -> None:
    STREAMS_OPENED.inc()
    response = anonymous_client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert "irclogger_streams_opened_total" in text
    assert "irclogger_db_pool_in_use" in text


def test_it_refuses_metrics_to_a_remote_client(anonymous_client: Client, db: None) -> None:
    assert anonymous_client.get("/metrics", REMOTE_ADDR=REMOTE).status_code == 403


def test_it_refuses_metrics_to_a_remote_client_behind_nginx(
    anonymous_client: Client, db: None
) -> None:
    response = anonymous_client.get("/metrics", REMOTE_ADDR=NGINX, HTTP_X_FORWARDED_FOR=REMOTE)
    assert response.status_code == 403


def test_it_believes_only_the_entry_nginx_wrote(anonymous_client: Client, db: None) -> None:
    spoofed = f"127.0.0.1, {REMOTE}"
    response = anonymous_client.get("/metrics", REMOTE_ADDR=NGINX, HTTP_X_FORWARDED_FOR=spoofed)
    assert response.status_code == 403


def test_it_ignores_forwarded_for_from_a_client_that_is_not_the_proxy(
    anonymous_client: Client, db: None
) -> None:
    response = anonymous_client.get("/metrics", REMOTE_ADDR=REMOTE, HTTP_X_FORWARDED_FOR=NGINX)
    assert response.status_code == 403


@override_settings(METRICS_ALLOWED_NETWORKS=[ipaddress.ip_network("203.0.113.0/24")])
def test_it_serves_metrics_to_an_allowed_network_behind_nginx(
    anonymous_client: Client, db: None
) -> None:
    response = anonymous_client.get("/metrics", REMOTE_ADDR=NGINX, HTTP_X_FORWARDED_FOR=REMOTE)
    assert response.status_code == 200


@override_settings(METRICS_TOKEN="s3cret-scrape-token")
def test_it_serves_metrics_to_the_bearer_of_the_token(anonymous_client: Client, db: None) -> None:
    good = anonymous_client.get(
        "/metrics", REMOTE_ADDR=REMOTE, HTTP_AUTHORIZATION="Bearer s3cret-scrape-token"
    )
    bad = anonymous_client.get("/metrics", REMOTE_ADDR=REMOTE, HTTP_AUTHORIZATION="Bearer guess")
    assert good.status_code == 200
    assert bad.status_code == 403


@override_settings(METRICS_TOKEN="")
def test_it_accepts_no_empty_token(anonymous_client: Client, db: None) -> None:
    response = anonymous_client.get("/metrics", REMOTE_ADDR=REMOTE, HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 403


def _health(port: int) -> tuple[int, dict[str, object]]:
    response = get(port, "/healthz")
    return response.status, json.loads(response.body)


def _wait_for_health(port: int, status: int) -> tuple[int, dict[str, object]]:
    """Ask until /healthz answers ``status``; 60 tries, 15 s at most."""
    deadline = time.monotonic() + 15
    answer = _health(port)
    for _ in range(60):
        if answer[0] == status or time.monotonic() > deadline:
            break
        time.sleep(0.25)
        answer = _health(port)
    return answer


@pytest.mark.e2e
def test_it_is_unhealthy_while_postgresql_is_down(tmp_path: Path) -> None:
    with throwaway_postgres(tmp_path) as postgres:
        migrate(postgres)
        with gunicorn(tmp_path, DATABASE_URL=postgres.url) as server:
            healthy = _wait_for_health(server.port, 200)
            postgres.stop()
            down = _wait_for_health(server.port, 503)
            postgres.start()
            back = _wait_for_health(server.port, 200)
    assert healthy[0] == 200
    assert healthy[1]["checks"] == {"database": "ok", "hub": "ok"}
    assert down[0] == 503
    assert down[1]["checks"]["database"] != "ok"  # type: ignore[index]
    assert back[0] == 200


@override_settings(IRCLOGGER_BOT=True)
def test_it_is_unhealthy_while_the_bot_is_not_connected(
    anonymous_client: Client, network: Network
) -> None:
    network.bot_enabled = True
    network.host = "irc.libera.chat"
    network.save()
    bot_health.set_connected(network.slug, False)
    down = anonymous_client.get("/healthz")
    bot_health.set_connected(network.slug, True)
    up = anonymous_client.get("/healthz")
    bot_health.forget(network.slug)
    assert down.status_code == 503
    assert down.json()["checks"]["bot"] == {"libera": "disconnected"}
    assert up.status_code == 200
    assert up.json()["checks"]["bot"] == {"libera": "connected"}


@override_settings(IRCLOGGER_BOT=True)
def test_it_ignores_a_network_the_bot_has_no_server_for(
    anonymous_client: Client, network: Network
) -> None:
    network.bot_enabled = True
    network.save()
    response = anonymous_client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"]["bot"] == {}


def test_it_is_unhealthy_while_the_hub_is_not_listening(anonymous_client: Client, db: None) -> None:
    hub = hubs.start()
    try:
        for _ in range(50):  # the listener greenlet connects within a few loop turns
            if hub.is_listening():
                break
            gevent.sleep(0.1)
        listening = anonymous_client.get("/healthz")
        hub.close()  # the listener is gone and its connection closed
        deaf = anonymous_client.get("/healthz")
    finally:
        hubs.stop()
    assert listening.status_code == 200
    assert listening.json()["checks"]["hub"] == "ok"
    assert deaf.status_code == 503
    assert deaf.json()["checks"]["hub"] == "not listening"


@pytest.fixture
def secret_network(db: None) -> Network:
    """A network the bot logs whose channels are all private: its slug is not public."""
    return Network.objects.create(
        name="Hidden", slug="hidden-net", bot_enabled=True, host="irc.hidden.example"
    )


@override_settings(IRCLOGGER_BOT=True)
def test_it_tells_the_public_the_status_alone(
    anonymous_client: Client, secret_network: Network
) -> None:
    bot_health.set_connected(secret_network.slug, True)
    try:
        direct = anonymous_client.get("/healthz", REMOTE_ADDR=REMOTE)
        proxied = anonymous_client.get("/healthz", REMOTE_ADDR=NGINX, HTTP_X_FORWARDED_FOR=REMOTE)
    finally:
        bot_health.forget(secret_network.slug)
    for response in (direct, proxied):
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        assert b"hidden" not in response.content


@override_settings(IRCLOGGER_BOT=True, METRICS_TOKEN="s3cret-scrape-token")
def test_it_tells_whoever_may_read_metrics_the_checks(
    anonymous_client: Client, secret_network: Network
) -> None:
    bot_health.set_connected(secret_network.slug, False)
    try:
        operator = anonymous_client.get(
            "/healthz", REMOTE_ADDR=REMOTE, HTTP_AUTHORIZATION="Bearer s3cret-scrape-token"
        )
        public = anonymous_client.get("/healthz", REMOTE_ADDR=REMOTE)
    finally:
        bot_health.forget(secret_network.slug)
    assert operator.status_code == public.status_code == 503
    assert operator.json()["checks"]["bot"] == {"hidden-net": "disconnected"}
    assert public.json() == {"status": "unhealthy"}
