"""PostgreSQL for the websocket hot path, on the event loop itself.

Most websocket database work runs in Django's ORM on a thread (``server.ws.db_task``).
A chat line is different: it is the one write that happens many times a second in every
room, and the thread hop, the pool checkout's health check and the GIL contention of the
db threads against the event loop cost more than its statement (bench S2: p99 a few
times the bare server's). So chat is stored with psycopg's async driver over a small
pool of connections per event loop, with plain SQL and no ORM.

The pool connects with Django's own connection parameters (the test database in tests),
autocommits, and opens lazily on first use. One per event loop: psycopg's async
connections belong to the loop that made them (a server process has one loop; tests run
one loop per test and close it with ``close_pools()``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from django.conf import settings
from django.db import connections
from psycopg_pool import AsyncConnectionPool

from server.loop_local import LoopLocal

# Django's keys that are not psycopg connection parameters (its sync cursor class and
# adapter map) are left out; the values we bind are plain ints, text and aware datetimes.
_NOT_FOR_PSYCOPG = {"cursor_factory", "context"}
# How these connections show in pg_stat_activity.
APPLICATION_NAME = "iop-ws-chat"


def _connection_kwargs() -> dict[str, Any]:
    params = connections["default"].get_connection_params()
    kwargs = {key: value for key, value in params.items() if key not in _NOT_FOR_PSYCOPG}
    kwargs["autocommit"] = True
    kwargs["application_name"] = APPLICATION_NAME
    return kwargs


def _new_pool() -> AsyncConnectionPool:
    return AsyncConnectionPool(
        kwargs=_connection_kwargs(),
        min_size=1,
        max_size=settings.DB_ASYNC_POOL_SIZE,
        timeout=settings.DB_POOL_TIMEOUT,
        max_lifetime=settings.DB_POOL_MAX_LIFETIME,
        open=False,
        name="iop-async",
    )


_pools = LoopLocal(_new_pool)


@asynccontextmanager
async def connection() -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A pooled autocommit connection of this event loop."""
    pool = _pools.get()
    if pool.closed:
        await pool.open(wait=False)
    async with pool.connection() as conn:
        yield conn


async def execute(sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """Run one statement; its first row, if it returns any. A statement that fails on a
    broken connection (PostgreSQL restarted) is retried once on a sound one, so callers
    pass only statements that are safe to run twice."""
    rows = await _run(sql, params, first_only=True)
    return rows[0] if rows else None


async def fetch_all(sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """``execute``, returning every row."""
    return await _run(sql, params, first_only=False)


async def _run(sql: str, params: tuple[Any, ...], *, first_only: bool) -> list[tuple[Any, ...]]:
    for attempt in (1, 2):
        try:
            async with connection() as conn:
                cursor = await conn.execute(sql, params)
                if not cursor.description:
                    return []
                if first_only:
                    row = await cursor.fetchone()
                    return [] if row is None else [row]
                return await cursor.fetchall()
        except psycopg.OperationalError:
            if attempt == 2:
                raise
            # The pool drops the connection that failed; after a server restart its idle
            # ones are dead too: check them all before the retry takes one.
            await _pools.get().check()
    raise AssertionError("unreachable")


async def close_pools() -> None:
    """Close this loop's pool (end of a test, or of a process that owns its loop)."""
    pool = _pools.pop()
    if pool is not None and not pool.closed:
        await pool.close()
