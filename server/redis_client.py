"""One shared redis-py client per process for the app's own keys (tickets, presence, ...),
and one asyncio client per event loop for the websocket hot path (chat)."""

from __future__ import annotations

from functools import lru_cache

import redis
import redis.asyncio as aioredis
from django.conf import settings

from server.loop_local import LoopLocal


def _client_options() -> dict[str, object]:
    return {
        "max_connections": settings.REDIS_POOL_SIZE,
        "socket_connect_timeout": 5,
        "socket_timeout": 5,
        "health_check_interval": 30,
    }


@lru_cache(maxsize=1)
def get_redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, **_client_options())


# How these connections show in CLIENT LIST.
ASYNC_CLIENT_NAME = "iop-ws-chat"


def _new_async_client() -> aioredis.Redis:
    return aioredis.Redis.from_url(settings.REDIS_URL, client_name=ASYNC_CLIENT_NAME, **_client_options())  # type: ignore[arg-type]


# One client per event loop (server/loop_local.py): its connections belong to that loop.
_async_clients = LoopLocal(_new_async_client)


def get_async_redis() -> aioredis.Redis:
    return _async_clients.get()


async def close_async_redis() -> None:
    client = _async_clients.pop()
    if client is not None:
        await client.aclose()


async def drop_async_redis_connections() -> None:
    """After Redis restarted, this loop's pooled connections are dead: the next command
    should open a new one rather than fail on an old one."""
    client = _async_clients.peek()
    if client is not None:
        await client.connection_pool.disconnect()
