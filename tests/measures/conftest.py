from __future__ import annotations

import pytest

from tests.measures.support import seed_instruments


@pytest.fixture(autouse=True)
def _instruments(django_db_blocker: pytest.FixtureRequest) -> None:
    """The seeded instruments, also after a transactional test's flush."""
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        seed_instruments()
