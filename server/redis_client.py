"""One shared redis-py client per process for the app's own keys (tickets, presence, ...)."""

from __future__ import annotations

from functools import lru_cache

import redis
from django.conf import settings


@lru_cache(maxsize=1)
def get_redis() -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_URL,
        max_connections=settings.REDIS_POOL_SIZE,
        socket_connect_timeout=5,
        socket_timeout=5,
        health_check_interval=30,
    )
