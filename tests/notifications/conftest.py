from __future__ import annotations

import pytest

from accounts.models import User

OPENING = {"time": "17:00", "link": "/sessions/1/join"}


@pytest.fixture
def opening_data() -> dict[str, str]:
    return dict(OPENING)


@pytest.fixture
def emailable(sam: User) -> User:
    sam.email = "sam@example.invalid"
    sam.save(update_fields=["email"])
    return sam
