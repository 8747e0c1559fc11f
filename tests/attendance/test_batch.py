"""Attendance records written in batches (attendance.services.recompute_attendance): the
statement the live path runs for one session, run for many. Same rows either way, one
statement per batch, and a recompute that finds nothing new writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from attendance.models import AttendanceRecord, AttendanceRun
from attendance.services import recompute_attendance, record_attendance, record_session_attendance
from sessions.models import Session
from tests.attendance.conftest import at, segment

pytestmark = pytest.mark.django_db

FIELDS = ("session_id", "user_id", "attended_seconds", "attended_minutes", "first_join", "last_leave", "intervals")


def _records() -> list[tuple[Any, ...]]:
    return list(AttendanceRecord.objects.order_by("session_id", "user_id").values_list(*FIELDS, "status"))


def _row_versions() -> dict[int, str]:
    """Where each record's row version lies: an UPDATE writes a new version elsewhere."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, ctid::text FROM attendance_attendancerecord")
        return dict(cursor.fetchall())


@pytest.fixture
def three_sessions(ended_session: Callable[..., Session], ava: User, sam: User) -> list[Session]:
    """Three ended sessions, each with something different in it."""
    first, second, third = ended_session(), ended_session(ended_after=60), ended_session()
    segment(first, ava, 0, 40)
    segment(first, ava, 41, 90)  # a drop under the grace
    segment(first, sam, 20, 90)  # late
    segment(second, ava, 0, 60)
    segment(second, ava, 10, 30)  # a second tab
    segment(third, sam, 0, 30)
    segment(third, sam, 45, 70)  # a drop beyond the grace, and gone early: partial
    return [first, second, third]


def test_batches_write_the_same_rows_as_one_session_at_a_time(three_sessions: list[Session]) -> None:
    assert recompute_attendance(session_ids=[s.pk for s in three_sessions], batch=2) == 6
    batched = _records()
    AttendanceRecord.objects.all().delete()
    AttendanceRun.objects.all().delete()
    for session in three_sessions:
        record_session_attendance(session_id=session.pk)
    assert _records() == batched
    assert {status for *_, status in batched} == {"attended", "late", "absent", "partial"}


def _statements(step: Callable[[], object]) -> int:
    """The statements ``step`` runs, leaving out savepoints and SET LOCAL."""
    with CaptureQueriesContext(connection) as captured:
        step()
    plumbing = ("SAVEPOINT", "RELEASE SAVEPOINT", "SET LOCAL")
    return sum(1 for query in captured.captured_queries if not query["sql"].lstrip().startswith(plumbing))


def test_one_statement_per_batch(three_sessions: list[Session]) -> None:
    ids = [s.pk for s in three_sessions]
    assert _statements(partial(record_attendance, session_ids=ids)) == 1
    assert _statements(partial(recompute_attendance, session_ids=ids, batch=2)) == 2
    assert _statements(partial(recompute_attendance, session_ids=ids, batch=1)) == 3
    assert _statements(partial(record_session_attendance, session_id=ids[0])) == 1


def test_a_recompute_that_finds_the_same_figures_writes_nothing(three_sessions: list[Session]) -> None:
    ids = [s.pk for s in three_sessions]
    recompute_attendance(session_ids=ids)
    versions = _row_versions()
    assert recompute_attendance(session_ids=ids) == 0
    assert _row_versions() == versions


def test_a_recompute_rewrites_only_the_records_that_changed(three_sessions: list[Session], sam: User) -> None:
    ids = [s.pk for s in three_sessions]
    recompute_attendance(session_ids=ids)
    versions = _row_versions()
    segment(three_sessions[0], sam, 5, 20)  # sam was there before the late join after all
    assert recompute_attendance(session_ids=ids) == 1
    changed = AttendanceRecord.objects.get(session=three_sessions[0], user=sam)
    after = _row_versions()
    assert [pk for pk in versions if versions[pk] != after[pk]] == [changed.pk]
    assert (changed.status, changed.attended_minutes) == ("attended", 85)


def test_a_batch_skips_sessions_not_over_or_cancelled(
    three_sessions: list[Session], ended_session: Callable[..., Session], ava: User
) -> None:
    live = ended_session(ended_after=None)
    Session.objects.filter(pk=live.pk).update(starts_at=timezone.now(), ends_at=timezone.now() + timedelta(hours=1))
    cancelled = ended_session()
    Session.objects.filter(pk=cancelled.pk).update(cancelled_at=at(-60))
    segment(cancelled, ava, 0, 90)
    recompute_attendance(session_ids=[live.pk, cancelled.pk, *[s.pk for s in three_sessions]], batch=2)
    assert set(AttendanceRun.objects.values_list("session_id", flat=True)) == {s.pk for s in three_sessions}
    assert not AttendanceRecord.objects.filter(session__in=[live, cancelled]).exists()


def test_intervals_are_written_as_python_writes_them(ended_session: Callable[..., Session], ava: User) -> None:
    """The API's strings: isoformat() in UTC, microseconds only where there are some."""
    session = ended_session()
    joined = at(0) + timedelta(microseconds=250_000)
    left = at(30)
    segment(session, ava, 0, 30)
    session.attendance_segments.update(joined_at=joined)
    segment(session, ava, 40, 90)
    record_session_attendance(session_id=session.pk)
    record = AttendanceRecord.objects.get(session=session, user=ava)
    assert record.intervals == [
        {"from": joined.isoformat(), "to": left.isoformat()},
        {"from": at(40).isoformat(), "to": at(90).isoformat()},
    ]
    assert record.intervals[0]["from"].endswith(":00.250000+00:00")


@pytest.mark.django_db(transaction=True)
def test_batches_on_several_connections_write_the_same_rows(three_sessions: list[Session]) -> None:
    ids = [s.pk for s in three_sessions]
    assert recompute_attendance(session_ids=ids, batch=1, workers=3, now=at(100)) == 6
    parallel = _records()
    AttendanceRecord.objects.all().delete()
    AttendanceRun.objects.all().delete()
    assert recompute_attendance(session_ids=ids, now=at(100)) == 6
    assert _records() == parallel
    assert recompute_attendance(session_ids=ids, batch=1, workers=3, now=at(100)) == 0


def test_batches_on_several_connections_refuse_to_run_inside_a_transaction(three_sessions: list[Session]) -> None:
    with pytest.raises(RuntimeError):
        recompute_attendance(session_ids=[s.pk for s in three_sessions], batch=1, workers=2)
    assert not AttendanceRecord.objects.exists()
