"""Telling everyone on a session something about it (cancelled, booked): its roster and
hosts, each once, in their own time zone. PHI-free: the local date and time and a link to
the session's page, never its title or kind."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from zoneinfo import ZoneInfo

from accounts.models import Role, User
from notifications.services import notify
from sessions.calendar import session_path
from sessions.models import Session


def session_people(session: Session) -> list[User]:
    """The session's roster (removed people aside) and hosts, each once."""
    people = {entry.user_id: entry.user for entry in session.roster.all() if entry.removed_at is None}
    people.update({row.clinician_id: row.clinician for row in session.facilitators.all()})
    return list(people.values())


def adolescent_on(people: Sequence[User]) -> User | None:
    """The adolescent a guardian's notice is about (a family session has one participant)."""
    return next((p for p in people if p.role == Role.PARTICIPANT and p.is_adolescent), None)


def notify_session_people(
    *, session: Session, kind: str, dedupe_key: Callable[[User], str], skip_id: int | None = None
) -> int:
    """One notice of ``kind`` to each active person on the session but ``skip_id``, keyed by
    ``dedupe_key(person)`` so a retry sends nothing twice; its email carries the session's
    .ics. Call with the session's roster and facilitators prefetched. Returns how many."""
    people = session_people(session)
    about = adolescent_on(people)
    sent = 0
    for person in people:
        if person.pk == skip_id or not person.is_active:
            continue
        local = session.starts_at.astimezone(ZoneInfo(person.time_zone))
        notification = notify(
            recipient=person,
            kind=kind,
            data={"date": local.date().isoformat(), "time": local.strftime("%H:%M"), "link": session_path(session)},
            about=about if person.role == Role.GUARDIAN else None,
            dedupe_key=dedupe_key(person),
            session=session,
        )
        sent += notification is not None
    return sent
