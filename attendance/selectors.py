"""Attended time from the rooms' AttendanceSegment rows, computed in PostgreSQL.

One union serves the live view of one session and the batch recompute of many:
MERGED_SPANS_CTE, read by ``attended_intervals(session_ids=[...])`` (one query, whatever
the batch) and by the statement that writes attendance records (attendance.services)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Model
from django.utils import timezone

from sessions.models import AttendanceSegment, Session

# How the union is made exact (all in one statement):
#   1. clip every segment to the session's window [starts_at - early allowance, ends_at];
#      an open segment (left_at NULL: the person is still there, or a process died before
#      closing it) runs to the session's ended_at, or to now while the session is live;
#   2. widen each clipped range's upper end by `widen` = grace - 1 microsecond, so two
#      ranges separated by a gap g touch or overlap exactly when g < grace (timestamptz
#      has microsecond resolution, so "g <= grace - 1 us" is "g < grace");
#   3. range_agg unions them per (session, person): overlapping ranges (several tabs, a
#      breakout next to the main room) count once, touching ones (a drop under grace) join;
#   4. unnest the multirange and take `widen` back off each merged range's upper end. A
#      merged range's upper end is the greatest widened upper end of its members, that is
#      the greatest true upper end plus `widen`, so the trim gives back a true leave time
#      (never past ends_at). The gap a merge swallowed counts as attended time.
# ``{sessions}`` is the session table, or a CTE of some of its rows (the recompute's
# sessions that are over, attendance.services); the columns read are the same.
MERGED_SPANS_CTE = """
clipped AS (
    SELECT seg.session_id,
           seg.user_id,
           greatest(seg.joined_at, s.starts_at - %(early)s) AS joined,
           least(coalesce(seg.left_at, s.ended_at, %(now)s), s.ends_at) AS left_
      FROM {segment} seg
      JOIN {sessions} s ON s.id = seg.session_id
     WHERE seg.session_id = ANY(%(session_ids)s)
), merged AS (
    SELECT session_id, user_id, unnest(range_agg(tstzrange(joined, left_ + %(widen)s))) AS span
      FROM clipped
     WHERE joined < left_
     GROUP BY session_id, user_id
)"""

_ATTENDED_INTERVALS_SQL = (
    "WITH"
    + MERGED_SPANS_CTE
    + """
SELECT session_id,
       user_id,
       array_agg(lower(span) ORDER BY lower(span)) AS joins,
       array_agg(upper(span) - %(widen)s ORDER BY lower(span)) AS leaves
  FROM merged
 GROUP BY session_id, user_id
"""
)


@dataclass(frozen=True)
class Attended:
    """One person's attended time of one session, with the intervals it is made of."""

    session_id: int
    user_id: int
    intervals: tuple[tuple[datetime, datetime], ...]

    @property
    def seconds(self) -> int:
        # Whole seconds, rounded down; minutes are whole minutes of these, rounded down.
        return int(sum((leave - join for join, leave in self.intervals), timedelta()).total_seconds())

    @property
    def minutes(self) -> int:
        return self.seconds // 60

    @property
    def first_join(self) -> datetime | None:
        return self.intervals[0][0] if self.intervals else None

    @property
    def last_leave(self) -> datetime | None:
        return self.intervals[-1][1] if self.intervals else None


def grace() -> timedelta:
    """The room's grace period: a drop shorter than this does not split attendance."""
    return timedelta(seconds=settings.ROOM_GRACE_SECONDS)


def early_join_allowance() -> timedelta:
    return timedelta(minutes=settings.ATTENDANCE_EARLY_JOIN_MINUTES)


def attended_intervals(*, session_ids: Sequence[int], now: datetime | None = None) -> dict[tuple[int, int], Attended]:
    """Attended time per (session id, user id) of everyone with a segment in these
    sessions (hosts included; callers pick the people they report on). One query."""
    if not session_ids:
        return {}
    sql = _ATTENDED_INTERVALS_SQL.format(**union_tables(sessions=table(Session)))
    with connection.cursor() as cursor:
        cursor.execute(sql, union_params(session_ids=session_ids, now=now))
        rows = cursor.fetchall()
    return {
        (session_id, user_id): Attended(session_id, user_id, tuple(zip(joins, leaves, strict=True)))
        for session_id, user_id, joins, leaves in rows
    }


def table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def union_tables(*, sessions: str) -> dict[str, str]:
    """The names MERGED_SPANS_CTE is formatted with: ``sessions`` is a table or CTE name."""
    return {"segment": table(AttendanceSegment), "sessions": sessions}


def union_params(*, session_ids: Sequence[int], now: datetime | None = None) -> dict[str, Any]:
    """The parameters of MERGED_SPANS_CTE. ``widen`` (grace - 1 us) is what the merge adds
    to each range's upper end and takes back off (see above)."""
    return {
        "session_ids": list(session_ids),
        "early": early_join_allowance(),
        "now": now or timezone.now(),
        "widen": max(grace() - timedelta(microseconds=1), timedelta()),
    }
