"""Liveness and readiness probes (CONTRACT.md)."""

from __future__ import annotations

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from server.worker_heartbeat import stale_workers


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        return False


def _redis_ok() -> bool:
    # A round trip through the cache's public API (Django's Redis cache raises when Redis
    # does not answer): the cache, channel layer and broker share that Redis.
    try:
        cache.get("readyz-probe")
        return True
    except Exception:
        return False


def _stale_workers() -> list[str]:
    try:
        return stale_workers()
    except Exception:  # Redis failing is reported as such
        return []


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database_ok(), "redis": _redis_ok()}
    failing = [name for name, ok in checks.items() if not ok]
    # A Celery worker that stopped beating is named, but does not take this web process out
    # of the load balancer: it serves requests as well as before.
    stale = _stale_workers() if checks["redis"] else []
    body = {
        "status": "unavailable" if failing else "degraded" if stale else "ok",
        "checks": {name: "ok" if ok else "failing" for name, ok in checks.items()},
        "failing": failing,
        "stale_workers": stale,
    }
    return JsonResponse(body, status=200 if not failing else 503)
