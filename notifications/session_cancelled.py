"""When a session is cancelled (one occurrence, a whole schedule's, or a booking), everyone
on it hears once: its roster and hosts, except whoever cancelled it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from django.db import transaction

from accounts.models import Role, User
from notifications.kinds import NotificationKind
from notifications.services import notify
from sessions.calendar import session_path
from sessions.models import Session

logger = logging.getLogger(__name__)


def session_link(session: Session) -> str:
    """The session's page the server serves (rendered absolute with PUBLIC_BASE_URL)."""
    return session_path(session)


def session_people(session: Session) -> list[User]:
    """The session's roster (removed people aside) and hosts, each once."""
    people = {entry.user_id: entry.user for entry in session.roster.all() if entry.removed_at is None}
    people.update({row.clinician_id: row.clinician for row in session.facilitators.all()})
    return list(people.values())


def adolescent_on(people: Sequence[User]) -> User | None:
    """The adolescent a guardian's notice is about (a family session has one participant)."""
    return next((p for p in people if p.role == Role.PARTICIPANT and p.is_adolescent), None)


def notify_session_cancelled(*, session_id: int, by_id: int | None) -> int:
    """Idempotent: the dedupe key (session, person) means one notice each. PHI-free: the
    local date and time and a link, never the session's title or kind."""
    session = (
        Session.objects.filter(pk=session_id, cancelled_at__isnull=False)
        .prefetch_related("roster__user", "facilitators__clinician")
        .first()
    )
    if session is None:
        return 0
    people = session_people(session)
    about = adolescent_on(people)
    sent = 0
    for person in people:
        if person.pk == by_id or not person.is_active:
            continue
        local = session.starts_at.astimezone(ZoneInfo(person.time_zone))
        notification = notify(
            recipient=person,
            kind=NotificationKind.SESSION_CANCELLED,
            data={"date": local.date().isoformat(), "time": local.strftime("%H:%M"), "link": session_link(session)},
            about=about if person.role == Role.GUARDIAN else None,
            dedupe_key=f"session_cancelled:{session.pk}:{person.pk}",
            session=session,  # its email carries the .ics with METHOD:CANCEL
        )
        sent += notification is not None
    return sent


def notify_cancelled_on_commit(*, session_ids: Sequence[int], by: User | None) -> None:
    """After the cancellation commits, tell each session's people. A failure to notify is
    logged and does not undo (or fail) the cancellation."""
    ids = list(session_ids)
    by_id = by.pk if by is not None else None

    def send() -> None:
        for session_id in ids:
            notify_session_cancelled(session_id=session_id, by_id=by_id)

    if ids:
        transaction.on_commit(send, robust=True)
