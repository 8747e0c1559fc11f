"""Sessions at a fixed instant, and segments written as the rooms write them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import User
from sessions.models import AttendanceSegment, Session
from tests.factories import SessionFactory

START = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def at(minutes: float) -> datetime:
    """START plus this many minutes."""
    return START + timedelta(minutes=minutes)


def segment(session: Session, user: User, joined: float, left: float | None, reason: str = "left") -> None:
    AttendanceSegment.objects.create(
        session=session, user=user, joined_at=at(joined), left_at=None if left is None else at(left), left_reason=reason
    )


@pytest.fixture
def ended_session(dana: User, theo: User, ava: User, sam: User) -> Callable[..., Session]:
    """A 90-minute group session at START, hosted by dana (lead) and theo, with ava and
    sam on its roster, ended by a host at its scheduled end unless told otherwise."""

    def make(minutes: int = 90, ended_after: float | None = 90, roster: list[User] | None = None) -> Session:
        return SessionFactory.create(
            starts_at=START,
            ends_at=at(minutes),
            ended_at=None if ended_after is None else at(ended_after),
            hosts=[dana, theo],
            roster=[ava, sam] if roster is None else roster,
        )

    return make
