"""Every write to attendance records: the recompute from the rooms' segments (a Celery
task when a session ends, and the beat sweep) and a clinician's override."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from accounts.models import User
from attendance.models import AttendanceRecord, AttendanceRun, AttendanceStatus, OverrideStatus
from attendance.selectors import MERGED_SPANS_CTE, early_join_allowance, table, union_params, union_tables
from audit import services as audit
from sessions.models import RosterEntry, Session
from sessions.services import ensure_can_manage_sessions_of, session_facilitators

# How many missed sessions one sweep run computes (one statement each batch).
SWEEP_BATCH = 200
# How many sessions one statement of a recompute covers: each is its own transaction, so
# a long recompute holds no lock for long, and its statements stay a few seconds each.
RECOMPUTE_BATCH = 2000


def _iso(timestamp: str) -> str:
    """SQL for a timestamptz as Python's isoformat() writes it in UTC (the API's strings):
    2026-11-23T17:00:00+00:00, with .ffffff only when there are microseconds."""
    utc = f"({timestamp}) AT TIME ZONE 'UTC'"
    return (
        f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS')"
        f" || CASE WHEN date_trunc('second', {utc}) = {utc} THEN '' ELSE to_char({utc}, '.US') END"
        " || '+00:00'"
    )


# One statement writes the records of a batch of sessions (one or thousands: the live path
# after a session ends and a batch recompute are the same statement):
#   - over: the sessions given that are over and not cancelled, and when each was really
#     held until (a host may end a session before ends_at);
#   - merged, attended: the union of each person's segments (attendance.selectors), summed;
#   - roster: one row per roster member, with or without segments, except someone taken
#     off the roster before the session started who never came (not theirs to attend);
#   - computed: the status, the first rule that applies winning: absent (0 whole minutes), partial
#     (attended seconds below ATTENDANCE_PARTIAL_BELOW_PERCENT of the time held, starts_at
#     to its end), late (first join more than ATTENDANCE_LATE_MINUTES after starts_at),
#     left_early (last leave more than ATTENDANCE_LEFT_EARLY_MINUTES before its end),
#     else attended;
#   - changed: records already there whose computed fields differ are updated (only the
#     computed fields, never a clinician's override_* ones); a recompute that finds the
#     same figures writes nothing (no row lock, no new row version, no index writes);
#   - added: records not there yet are inserted in (session, user) order. ON CONFLICT
#     covers a worker that inserted them meanwhile (a redelivered task running beside
#     this one): its rows are updated where they differ, so both end with the same rows;
#   - each session gets its AttendanceRun (one with nobody on its roster too, so the sweep
#     does not pick it again).
_RECORD_ATTENDANCE_SQL = """
WITH over AS MATERIALIZED (
    SELECT id, starts_at, ends_at, ended_at,
           CASE WHEN ended_at < ends_at THEN ended_at ELSE ends_at END AS held_until
      FROM {session}
     WHERE id = ANY(%(session_ids)s)
       AND cancelled_at IS NULL
       AND (ended_at IS NOT NULL OR ends_at <= %(now)s)
),{merged}, attended AS (
    SELECT session_id,
           user_id,
           floor(sum(extract(epoch FROM upper(span) - %(widen)s - lower(span))))::integer AS seconds,
           min(lower(span)) AS first_join,
           max(upper(span)) - %(widen)s AS last_leave,
           jsonb_agg(jsonb_build_object('from', {iso_join}, 'to', {iso_leave}) ORDER BY lower(span)) AS intervals
      FROM merged
     GROUP BY session_id, user_id
), roster AS (
    SELECT r.session_id,
           r.user_id,
           coalesce(a.seconds, 0) AS seconds,
           a.first_join,
           a.last_leave,
           coalesce(a.intervals, '[]'::jsonb) AS intervals,
           s.starts_at,
           s.held_until,
           extract(epoch FROM s.held_until - s.starts_at) AS held_seconds
      FROM {roster} r
      JOIN over s ON s.id = r.session_id
      LEFT JOIN attended a ON a.session_id = r.session_id AND a.user_id = r.user_id
     WHERE r.removed_at IS NULL OR r.removed_at > s.starts_at OR a.user_id IS NOT NULL
), computed AS (
    SELECT session_id,
           user_id,
           seconds,
           seconds / 60 AS minutes,
           first_join,
           last_leave,
           intervals,
           CASE WHEN seconds / 60 = 0 THEN %(absent)s
                WHEN held_seconds > 0 AND seconds * 100 < %(partial_percent)s * held_seconds THEN %(partial)s
                WHEN first_join > starts_at + %(late_after)s THEN %(late)s
                WHEN last_leave < held_until - %(left_early_before)s THEN %(left_early)s
                ELSE %(attended)s
           END AS status
      FROM roster
), runs AS (
    INSERT INTO {run} (session_id, computed_at)
    SELECT id, %(now)s FROM over ORDER BY id
        ON CONFLICT (session_id) DO UPDATE SET computed_at = EXCLUDED.computed_at
), changed AS (
    UPDATE {record} AS record
       SET attended_seconds = c.seconds,
           attended_minutes = c.minutes,
           first_join = c.first_join,
           last_leave = c.last_leave,
           intervals = c.intervals,
           status = c.status
      FROM computed c
     WHERE record.session_id = ANY(%(session_ids)s)
       AND record.session_id = c.session_id
       AND record.user_id = c.user_id
       AND (record.attended_seconds, record.first_join, record.last_leave, record.intervals, record.status)
           IS DISTINCT FROM (c.seconds, c.first_join, c.last_leave, c.intervals, c.status)
    RETURNING 1
), added AS (
    INSERT INTO {record} AS record (session_id, user_id, attended_seconds, attended_minutes, first_join, last_leave,
                                    intervals, status, override_reason)
    SELECT session_id, user_id, seconds, minutes, first_join, last_leave, intervals, status, ''
      FROM computed c
     WHERE NOT EXISTS (SELECT 1 FROM {record} r WHERE r.session_id = c.session_id AND r.user_id = c.user_id)
     ORDER BY session_id, user_id
        ON CONFLICT (session_id, user_id) DO UPDATE
       SET attended_seconds = EXCLUDED.attended_seconds,
           attended_minutes = EXCLUDED.attended_minutes,
           first_join = EXCLUDED.first_join,
           last_leave = EXCLUDED.last_leave,
           intervals = EXCLUDED.intervals,
           status = EXCLUDED.status
     WHERE (record.attended_seconds, record.first_join, record.last_leave, record.intervals, record.status)
           IS DISTINCT FROM (EXCLUDED.attended_seconds, EXCLUDED.first_join, EXCLUDED.last_leave, EXCLUDED.intervals,
                             EXCLUDED.status)
    RETURNING 1
)
SELECT (SELECT count(*) FROM changed) + (SELECT count(*) FROM added)
"""


def record_attendance(*, session_ids: Sequence[int], now: datetime | None = None) -> int:
    """Write (or rewrite) the attendance records of these sessions, those of them that are
    over (ended by a host, or ends_at passed) and not cancelled: one per roster member (see
    _RECORD_ATTENDANCE_SQL). A recompute gives the same rows and never touches an
    override. One statement (and a SET), whatever the number of sessions; returns the
    records written (new or changed)."""
    if not session_ids:
        return 0
    sql = _RECORD_ATTENDANCE_SQL.format(
        merged=MERGED_SPANS_CTE.format(**union_tables(sessions="over")),
        session=table(Session),
        roster=table(RosterEntry),
        run=table(AttendanceRun),
        record=table(AttendanceRecord),
        iso_join=_iso("lower(span)"),
        iso_leave=_iso("upper(span) - %(widen)s"),
    )
    params = union_params(session_ids=sorted(set(session_ids)), now=now or timezone.now())
    params.update(
        partial_percent=settings.ATTENDANCE_PARTIAL_BELOW_PERCENT,
        late_after=timedelta(minutes=settings.ATTENDANCE_LATE_MINUTES),
        left_early_before=timedelta(minutes=settings.ATTENDANCE_LEFT_EARLY_MINUTES),
        **{status: status.value for status in AttendanceStatus},
    )
    with transaction.atomic(), connection.cursor() as cursor:
        # A batch's plan costs enough for PostgreSQL to JIT-compile it, which takes longer
        # than it saves here (S8: 7.0 vs 12.9 s and 8.8 vs 9.1 s for 36,000 sessions). Off
        # until this transaction ends: the caller's, when it holds one.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        (written,) = cursor.fetchone()
    return int(written)


def record_session_attendance(*, session_id: int) -> int:
    """The records of one session that ended: the batch statement with one id."""
    return record_attendance(session_ids=[session_id])


def recompute_attendance(
    *, session_ids: Sequence[int], now: datetime | None = None, batch: int = RECOMPUTE_BATCH, workers: int = 1
) -> int:
    """Rewrite the records of many sessions (a whole program's history, say), ``batch``
    sessions per statement in id order, each batch its own transaction. The same rows as
    one session at a time; returns the records written (new or changed).

    ``workers`` > 1 runs that many batches at once, each on a database connection of its
    own (batches hold disjoint sessions, so they never wait on each other's rows): a
    recompute from a command can use the database server's cores, as PostgreSQL's own
    parallel workers would for one big query. Not from inside a transaction: the other
    connections would not see its rows."""
    if workers > 1 and connection.in_atomic_block:
        raise RuntimeError("recompute_attendance with workers cannot run inside a transaction.")
    ids = sorted(set(session_ids))
    batches = [ids[i : i + batch] for i in range(0, len(ids), batch)]
    now = now or timezone.now()
    if workers <= 1 or len(batches) <= 1:
        return sum(record_attendance(session_ids=chunk, now=now) for chunk in batches)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return sum(pool.map(partial(_record_batch_on_own_connection, now=now), batches))


def _record_batch_on_own_connection(session_ids: list[int], *, now: datetime) -> int:
    try:
        return record_attendance(session_ids=session_ids, now=now)
    finally:
        connection.close()  # this thread's connection: a pool thread keeps none open


def record_missed_attendance(*, now: datetime | None = None) -> int:
    """Sessions that are over (ended by a host, or ends_at passed with no room ever
    ending them) but have no attendance yet: compute them, a batch at a time."""
    now = now or timezone.now()
    missed = (
        Session.objects.filter(cancelled_at__isnull=True)
        .filter(Q(ended_at__isnull=False) | Q(ends_at__lte=now))
        .filter(~Exists(AttendanceRun.objects.filter(session=OuterRef("pk"))))
        .order_by("ends_at", "id")
        .values_list("id", flat=True)[:SWEEP_BATCH]
    )
    return record_attendance(session_ids=list(missed), now=now)


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
