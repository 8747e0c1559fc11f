"""Liveness and readiness probes (CONTRACT.md)."""

from __future__ import annotations

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        return False


def _redis_ok() -> bool:
    try:
        client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
        return bool(client.ping())
    except Exception:
        return False


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database_ok(), "redis": _redis_ok()}
    failing = [name for name, ok in checks.items() if not ok]
    body = {
        "status": "ok" if not failing else "unavailable",
        "checks": {name: "ok" if ok else "failing" for name, ok in checks.items()},
        "failing": failing,
    }
    return JsonResponse(body, status=200 if not failing else 503)
