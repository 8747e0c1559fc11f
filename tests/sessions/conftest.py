"""Room tests run one event loop each: close that loop's async clients as it ends, so no
connection to the test database outlives its test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from server.ws import close_loop_clients
from sessions.rooms.chat_poster import close_loop_poster


@pytest.fixture(autouse=True)
async def _close_loop_clients() -> AsyncIterator[None]:
    yield
    await close_loop_poster()  # it writes through the loop's database pool
    await close_loop_clients()
