"""For the operators: /healthz for load balancers and systemd, /metrics for Prometheus."""

import hmac
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from irclogger import health
from irclogger.models import Network
from irclogger.net import client_ip, in_networks
from irclogger.pool_stats import sample_pool

# A healthy database answers SELECT 1 in milliseconds; one that takes 2 s is
# not healthy, and the check must not hang the caller's probe.
HEALTH_STATEMENT_TIMEOUT_MS = 2000
# The gauge the bot sets per network (irclogger.bot.health), added up over workers.
BOT_CONNECTED_SAMPLE = "irclogger_bot_connected"


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when this worker can serve, 503 otherwise; the checks only to operators.

    The checks name every network the bot logs, private ones included: only a
    client that may read /metrics sees them, anyone else the status alone.

    The database answers; this worker's hub holds its LISTEN connection (where
    the worker runs a hub); the bot is connected to every network it should log
    (where IRCLOGGER_BOT is on; whichever worker won the bot election).
    """
    checks: dict[str, Any] = {"database": _database_check()}
    # The parts this process runs: the hub, in every gunicorn worker.
    checks.update(health.results())
    if settings.IRCLOGGER_BOT:
        checks["bot"] = _bot_check()
    healthy = all(_passed(result) for result in checks.values())
    answer: dict[str, Any] = {"status": "ok" if healthy else "unhealthy"}
    if _may_read_metrics(request):
        answer["checks"] = checks
    return JsonResponse(answer, status=200 if healthy else 503)


def _database_check() -> str:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = %s", [HEALTH_STATEMENT_TIMEOUT_MS])
            cursor.execute("SELECT 1")
            row = cursor.fetchone()
    except DatabaseError as exc:
        return f"error: {type(exc).__name__}"
    return "ok" if row == (1,) else "error: unexpected answer"


def _bot_check() -> dict[str, str] | str:
    """Every network the bot should log: connected, as any worker's bot reports it."""
    try:
        slugs = list(Network.objects.logged_by_bot().values_list("slug", flat=True))
    except DatabaseError as exc:
        return f"error: {type(exc).__name__}"
    registry = _registry()
    return {
        slug: "connected"
        if registry.get_sample_value(BOT_CONNECTED_SAMPLE, {"network": slug})
        else "disconnected"
        for slug in slugs
    }


def _passed(result: Any) -> bool:
    if isinstance(result, dict):
        return all(value == "connected" for value in result.values())
    return bool(result == "ok")


@require_GET
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, for allowed networks or the bearer of METRICS_TOKEN."""
    if not _may_read_metrics(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    sample_pool()
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)


def _may_read_metrics(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    offered = request.META.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ")
    if token and hmac.compare_digest(offered.encode(), token.encode()):
        return True
    address = client_ip(request)
    return address is not None and in_networks(address, settings.METRICS_ALLOWED_NETWORKS)


def _registry() -> CollectorRegistry:
    # Under gunicorn (conf/gunicorn.py) every worker writes its values to files in
    # this directory; a scrape served by one worker must add up all of them.
    if not settings.PROMETHEUS_MULTIPROC_DIR:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry
