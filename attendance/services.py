"""Every write to attendance records: the recompute from the rooms' segments (a Celery
task when a session ends, and the beat sweep) and a clinician's override."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from accounts.models import User
from attendance.models import AttendanceRecord, AttendanceRun, AttendanceStatus, OverrideStatus
from attendance.selectors import Attended, attended_intervals, early_join_allowance
from audit import services as audit
from sessions.models import RosterEntry, Session
from sessions.services import ensure_can_manage_sessions_of, session_facilitators

# What a recompute writes; the override_* fields are a clinician's and never among them.
COMPUTED_FIELDS = ["attended_seconds", "attended_minutes", "first_join", "last_leave", "intervals", "status"]
# How many missed sessions one sweep run computes (one statement each batch).
SWEEP_BATCH = 200


def held_until(session: Session) -> datetime:
    """When the session really stopped: a host may end it before ends_at."""
    if session.ended_at is not None and session.ended_at < session.ends_at:
        return session.ended_at
    return session.ends_at


def computed_status(*, session: Session, attended: Attended | None) -> str:
    """absent: 0 whole minutes. partial: attended time below ATTENDANCE_PARTIAL_BELOW_PERCENT
    of the time the session was held (starts_at to its end). late: first join more than
    ATTENDANCE_LATE_MINUTES after starts_at. left_early: last leave more than
    ATTENDANCE_LEFT_EARLY_MINUTES before the session's end. Otherwise attended. The first
    rule that applies wins, in that order."""
    if attended is None or attended.minutes == 0:
        return AttendanceStatus.ABSENT
    assert attended.first_join is not None and attended.last_leave is not None
    end = held_until(session)
    held_seconds = (end - session.starts_at).total_seconds()
    if held_seconds > 0 and attended.seconds * 100 < settings.ATTENDANCE_PARTIAL_BELOW_PERCENT * held_seconds:
        return AttendanceStatus.PARTIAL
    if attended.first_join > session.starts_at + timedelta(minutes=settings.ATTENDANCE_LATE_MINUTES):
        return AttendanceStatus.LATE
    if attended.last_leave < end - timedelta(minutes=settings.ATTENDANCE_LEFT_EARLY_MINUTES):
        return AttendanceStatus.LEFT_EARLY
    return AttendanceStatus.ATTENDED


def is_over(session: Session, now: datetime) -> bool:
    return session.cancelled_at is None and (session.ended_at is not None or session.ends_at <= now)


def record_attendance(*, sessions: Sequence[Session], now: datetime | None = None) -> int:
    """Write (or rewrite) the attendance records of these ended sessions: one per roster
    member on the roster when the session started, or who attended it. Upserts on
    (session, user): a recompute gives the same rows and never touches an override, and
    two workers running it at once (a redelivered task) both end with the same rows.
    Cancelled and unfinished sessions are skipped (no attendance for a cancelled session).
    Four queries, whatever the number of sessions."""
    now = now or timezone.now()
    sessions = [session for session in sessions if is_over(session, now)]
    if not sessions:
        return 0
    by_id = {session.pk: session for session in sessions}
    attended = attended_intervals(session_ids=list(by_id), now=now)
    roster = RosterEntry.objects.filter(session_id__in=by_id).values_list("session_id", "user_id", "removed_at")
    records = []
    for session_id, user_id, removed_at in sorted(roster):
        session = by_id[session_id]
        person = attended.get((session_id, user_id))
        # Taken off the roster before it started and never there: not theirs to attend.
        if removed_at is not None and removed_at <= session.starts_at and person is None:
            continue
        records.append(_record_for(session=session, user_id=user_id, attended=person))
    with transaction.atomic():
        # Sorted by (session, user) above, so concurrent upserts lock rows in one order.
        AttendanceRecord.objects.bulk_create(
            records,
            update_conflicts=True,
            unique_fields=["session", "user"],
            update_fields=COMPUTED_FIELDS,
        )
        AttendanceRun.objects.bulk_create(
            [AttendanceRun(session_id=session_id, computed_at=now) for session_id in sorted(by_id)],
            update_conflicts=True,
            unique_fields=["session"],
            update_fields=["computed_at"],
        )
    return len(records)


def _record_for(*, session: Session, user_id: int, attended: Attended | None) -> AttendanceRecord:
    intervals = attended.intervals if attended else ()
    return AttendanceRecord(
        session=session,
        user_id=user_id,
        attended_seconds=attended.seconds if attended else 0,
        attended_minutes=attended.minutes if attended else 0,
        first_join=attended.first_join if attended else None,
        last_leave=attended.last_leave if attended else None,
        intervals=[{"from": join.isoformat(), "to": leave.isoformat()} for join, leave in intervals],
        status=computed_status(session=session, attended=attended),
    )


def record_session_attendance(*, session_id: int) -> int:
    session = Session.objects.filter(pk=session_id).first()
    if session is None:
        return 0
    return record_attendance(sessions=[session])


def record_missed_attendance(*, now: datetime | None = None) -> int:
    """Sessions that are over (ended by a host, or ends_at passed with no room ever
    ending them) but have no attendance yet: compute them, a batch at a time."""
    now = now or timezone.now()
    missed = (
        Session.objects.filter(cancelled_at__isnull=True)
        .filter(Q(ended_at__isnull=False) | Q(ends_at__lte=now))
        .filter(~Exists(AttendanceRun.objects.filter(session=OuterRef("pk"))))
        .order_by("ends_at", "id")[:SWEEP_BATCH]
    )
    return record_attendance(sessions=list(missed), now=now)


def max_minutes(session: Session) -> int:
    """The most minutes anyone can have attended: the scheduled length plus the early-join
    allowance."""
    return int((session.ends_at - session.starts_at + early_join_allowance()).total_seconds()) // 60


def override_attendance(
    *, by: User, record: AttendanceRecord, changes: dict[str, Any], reason: str
) -> AttendanceRecord:
    """Set or clear (None) override_status and/or override_minutes, with a reason. The
    computed values stay beside the override; the audit entry keeps old and new values."""
    ensure_can_manage_sessions_of(user=by, facilitators=session_facilitators(record.session))
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the attendance is overridden."})
    with transaction.atomic():
        locked = AttendanceRecord.objects.select_for_update().select_related("session").get(pk=record.pk)
        new_status = changes.get("override_status", locked.override_status)
        new_minutes = changes.get("override_minutes", locked.override_minutes)
        _check_override(record=locked, status=new_status, minutes=new_minutes)
        before = {"status": locked.override_status, "minutes": locked.override_minutes}
        locked.override_status = new_status
        locked.override_minutes = new_minutes
        cleared = new_status is None and new_minutes is None
        locked.override_reason = "" if cleared else reason
        locked.overridden_by = None if cleared else by
        locked.overridden_at = None if cleared else timezone.now()
        locked.save(
            update_fields=["override_status", "override_minutes", "override_reason", "overridden_by", "overridden_at"]
        )
        audit.record(
            actor=by,
            action="attendance.override",
            target=locked,
            data={
                "session": locked.session_id,
                "user": locked.user_id,
                "computed": {"status": locked.status, "minutes": locked.attended_minutes},
                "old": before,
                "new": {"status": new_status, "minutes": new_minutes},
                "reason": reason,
            },
        )
    return locked


def _check_override(*, record: AttendanceRecord, status: str | None, minutes: int | None) -> None:
    if minutes is not None:
        if minutes < 0:
            raise ValidationError({"override_minutes": "Minutes cannot be negative."})
        if minutes > max_minutes(record.session):
            raise ValidationError({"override_minutes": "More minutes than the session lasted."})
    if status == OverrideStatus.EXCUSED:
        # An excuse is for an absence: not for time that was attended.
        if record.status != AttendanceStatus.ABSENT:
            raise ValidationError({"override_status": "Only an absence can be excused."})
        if minutes:
            raise ValidationError({"override_status": "An excused absence has no attended minutes."})
