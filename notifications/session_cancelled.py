"""When a session is cancelled (one occurrence, a whole schedule's, or a booking), everyone
on it hears once: its roster and hosts, except whoever cancelled it."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from accounts.models import User
from notifications.kinds import NotificationKind
from notifications.session_notices import notify_session_people
from sessions.models import Session


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
    # The emails carry the session's .ics, with METHOD:CANCEL now that it is cancelled.
    return notify_session_people(
        session=session,
        kind=NotificationKind.SESSION_CANCELLED,
        dedupe_key=lambda person: f"session_cancelled:{session_id}:{person.pk}",
        skip_id=by_id,
    )


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
