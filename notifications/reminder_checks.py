"""Who a session reminder is for, asked when it is claimed and again when its email goes
out (it may wait for a retry or for quiet hours while the session changes)."""

from __future__ import annotations

from datetime import datetime

from accounts.models import User
from notifications.models import Notification, SessionReminder
from sessions.models import RosterEntry, Session, SessionFacilitator


def is_on_session(*, session_id: int, user_id: int) -> bool:
    """On the roster and not removed, or one of its hosts."""
    return (
        RosterEntry.objects.filter(session_id=session_id, user_id=user_id, removed_at__isnull=True).exists()
        or SessionFacilitator.objects.filter(session_id=session_id, clinician_id=user_id).exists()
    )


def session_refusal(session: Session | None, *, starts_at: datetime, now: datetime) -> str | None:
    """Why a reminder of the session starting at ``starts_at`` is no longer right, or None."""
    if session is None:
        return "session_gone"
    if session.cancelled_at is not None:
        return "session_cancelled"
    if session.starts_at != starts_at:
        return "session_moved"
    if session.ended_at is not None or now >= session.starts_at:
        return "session_started"
    return None


def reminder_refusal(notification: Notification, now: datetime) -> str | None:
    """At sending time: the session was cancelled, moved (its new reminders are other
    rows), has started (the email waited out quiet hours past the start) or the recipient
    is no longer on it."""
    reminder = SessionReminder.objects.filter(notification=notification).first()
    if reminder is None:
        return "session_gone"
    refusal = session_refusal(notification.session, starts_at=reminder.starts_at, now=now)
    if refusal is not None:
        return refusal
    recipient: User = notification.recipient
    if not is_on_session(session_id=reminder.session_id, user_id=recipient.pk):
        return "not_on_session"
    return None
