"""Fixtures of the live-room tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.sessions.rooms.support import Clients


@pytest.fixture
async def clients(transactional_db: None) -> AsyncIterator[Clients]:
    opened = Clients()
    yield opened
    await opened.close_all()
