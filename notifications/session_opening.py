"""When a session opens, everyone on it gets one notification with a join link."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from accounts.models import Role
from notifications.kinds import NotificationKind
from notifications.services import notify
from sessions.calendar import session_path
from sessions.models import Session

# Sessions that opened longer ago than this are not announced (the worker was down).
LATE_LIMIT = timedelta(minutes=30)


def join_link(session: Session) -> str:
    """The session's page the server serves (rendered absolute with PUBLIC_BASE_URL)."""
    return session_path(session)


def notify_opened_sessions(*, now: datetime | None = None) -> int:
    """Idempotent: the dedupe key (session, person) means one notification each."""
    now = now or timezone.now()
    lead = timedelta(minutes=settings.SESSION_OPEN_LEAD_MINUTES)
    sessions = Session.objects.filter(
        starts_at__lte=now + lead,
        starts_at__gt=now + lead - LATE_LIMIT,
        ends_at__gt=now,
        cancelled_at__isnull=True,
        ended_at__isnull=True,
    ).prefetch_related("roster__user", "facilitators__clinician")
    sent = 0
    for session in sessions:
        people = [entry.user for entry in session.roster.all() if entry.removed_at is None]
        people += [row.clinician for row in session.facilitators.all()]
        adolescents = [person for person in people if person.role == Role.PARTICIPANT and person.is_adolescent]
        for person in people:
            local = session.starts_at.astimezone(ZoneInfo(person.time_zone))
            notification = notify(
                recipient=person,
                kind=NotificationKind.SESSION_OPENING,
                data={"time": local.strftime("%H:%M"), "link": join_link(session)},
                about=adolescents[0] if adolescents and person.role == Role.GUARDIAN else None,
                dedupe_key=f"session_opening:{session.pk}:{person.pk}",
            )
            sent += notification is not None
    return sent
