"""Listening to the access revocations that close live-room sockets (server/realtime.py).

The room hubs close a socket on each such event (tested with real sockets in
tests/sessions); tests of the services that end access assert the event itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from server.realtime import REVOCATIONS_CHANNEL
from server.redis_client import get_redis


class Revocations:
    def __init__(self) -> None:
        self._pubsub = get_redis().pubsub()
        self._pubsub.subscribe(REVOCATIONS_CHANNEL)
        # The confirmation: once it is read, nothing published later can be missed.
        confirmation = self._pubsub.get_message(timeout=5)
        assert confirmation is not None and confirmation["type"] == "subscribe"
        self._events: list[dict[str, Any]] = []
        self._closed = False

    def published(self) -> list[dict[str, Any]]:
        """Every revocation published while listening, in order (an API call publishes
        them synchronously after its commit, so they are already on the connection)."""
        self._drain()
        return list(self._events)

    def _drain(self) -> None:
        if self._closed:
            return
        while (message := self._pubsub.get_message(timeout=0.2)) is not None:
            if message["type"] == "message":
                self._events.append(orjson.loads(message["data"]))

    def close(self) -> None:
        self._drain()
        self._closed = True
        self._pubsub.close()


@contextmanager
def listening_for_revocations() -> Iterator[Revocations]:
    """Listens until the block ends; what was published stays readable after it."""
    revocations = Revocations()
    try:
        yield revocations
    finally:
        revocations.close()
