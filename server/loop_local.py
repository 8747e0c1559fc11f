"""One object per running event loop.

asyncio clients (a psycopg pool, a redis-py client, the room hub's pub/sub connection)
belong to the loop that made them. A server process runs one loop, so each is made once;
tests run one loop per test, and each gets its own.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class LoopLocal(Generic[T]):
    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = weakref.WeakKeyDictionary()

    def get(self) -> T:
        """This loop's object, made on first use."""
        loop = asyncio.get_running_loop()
        found = self._by_loop.get(loop)
        if found is None:
            found = self._by_loop[loop] = self._factory()
        return found

    def peek(self) -> T | None:
        """This loop's object if it has one."""
        return self._by_loop.get(asyncio.get_running_loop())

    def pop(self) -> T | None:
        """This loop's object, forgotten (the caller closes it)."""
        return self._by_loop.pop(asyncio.get_running_loop(), None)
