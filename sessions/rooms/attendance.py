"""Attendance segments: one connected interval of a person in a room (main room or a
breakout), opened when they are admitted and present, closed when they leave, are
removed, or the session ends. Several tabs share one segment (presence.py decides when
a person, not a socket, arrives or leaves)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from sessions.models import AttendanceSegment


def open_segment(*, session_id: int, user_id: int) -> None:
    # ON CONFLICT DO NOTHING: another process may have opened it first (one open segment
    # per person), and unlike catching IntegrityError it needs no savepoint round trips.
    AttendanceSegment.objects.bulk_create(
        [AttendanceSegment(session_id=session_id, user_id=user_id, joined_at=timezone.now())], ignore_conflicts=True
    )


def close_segments(*, session_id: int, reason: str, user_id: int | None = None, at: datetime | None = None) -> int:
    """Close the open segment of one person, or of everyone in the session, now or ``at``
    (a dead process's socket: when it was last heard from, never before the segment began)."""
    segments = AttendanceSegment.objects.filter(session_id=session_id, left_at__isnull=True)
    if user_id is not None:
        segments = segments.filter(user_id=user_id)
    left_at = timezone.now() if at is None else Greatest(Value(at), F("joined_at"))
    return segments.update(left_at=left_at, left_reason=reason)
