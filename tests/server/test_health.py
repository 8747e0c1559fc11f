from __future__ import annotations

from unittest import mock

import pytest
from django.test import Client

from tests.processes import free_port


@pytest.mark.django_db
def test_healthz_is_up() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_ok_when_database_and_redis_answer() -> None:
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json()["failing"] == []


@pytest.mark.django_db
def test_readyz_names_failing_redis(settings) -> None:
    # A real connection attempt to a port nothing listens on.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1},
        }
    }
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["redis"]


@pytest.mark.django_db
def test_readyz_names_failing_database() -> None:
    with mock.patch("server.health._database_ok", return_value=False):
        response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "failing", "redis": "ok"}
