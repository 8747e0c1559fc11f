"""Who may do what in a session. Used by the API, the live room and notifications."""

from __future__ import annotations

from accounts.models import User
from sessions.models import Session


def is_host(*, session: Session, user: User) -> bool:
    return session.facilitators.filter(clinician=user).exists()


def is_on_roster(*, session: Session, user: User) -> bool:
    return session.roster.filter(user=user, removed_at__isnull=True).exists()
