"""Attendance records: the computed status, the task that writes them when a session
ends, the beat sweep, and that a recompute is exactly-once (same rows, overrides kept)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
import time_machine

from accounts.models import User
from attendance import tasks
from attendance.models import AttendanceRecord, AttendanceRun
from attendance.services import override_attendance, record_missed_attendance
from sessions.models import RosterEntry, Session
from sessions.rooms import host
from tests.attendance.conftest import at, segment

pytestmark = pytest.mark.django_db


def _rows(session: Session) -> list[tuple[Any, ...]]:
    return list(
        AttendanceRecord.objects.filter(session=session)
        .order_by("user_id")
        .values_list(
            "id",
            "user_id",
            "attended_seconds",
            "attended_minutes",
            "first_join",
            "last_leave",
            "intervals",
            "status",
            "override_status",
            "override_minutes",
            "override_reason",
        )
    )


def _status(session: Session, user: User) -> tuple[str, int]:
    record = AttendanceRecord.objects.get(session=session, user=user)
    return record.status, record.attended_minutes


@pytest.mark.parametrize(
    ("spans", "expected"),
    [
        ([(0, 90)], ("attended", 90)),
        ([(9, 90)], ("attended", 81)),  # within the 10 late minutes
        ([(15, 90)], ("late", 75)),
        ([(0, 70)], ("left_early", 70)),
        ([(0, 85)], ("attended", 85)),  # within the 10 left-early minutes
        ([(15, 70)], ("partial", 55)),  # under 75 % wins over late and left early
        ([(0, 40), (45, 90)], ("attended", 85)),  # a 5-minute drop: 85 minutes, still attended
        ([(0, 0.5)], ("absent", 0)),  # 30 seconds is 0 whole minutes
        ([], ("absent", 0)),
    ],
)
def test_hand_computed_statuses(
    ended_session: Callable[..., Session], ava: User, spans: list[tuple[float, float]], expected: tuple[str, int]
) -> None:
    session = ended_session()
    for joined, left in spans:
        segment(session, ava, joined, left)
    tasks.record_session_attendance(session.pk)
    assert _status(session, ava) == expected


def test_a_crashed_process_open_segment_counts_until_the_session_ended(
    ended_session: Callable[..., Session], ava: User
) -> None:
    session = ended_session()
    segment(session, ava, 5, None)
    tasks.record_session_attendance(session.pk)
    record = AttendanceRecord.objects.get(session=session, user=ava)
    assert (record.status, record.attended_minutes, record.first_join, record.last_leave) == (
        "attended",
        85,
        at(5),
        at(90),
    )
    assert record.intervals == [{"from": at(5).isoformat(), "to": at(90).isoformat()}]


def test_a_session_a_host_ended_early_measures_against_its_real_end(
    ended_session: Callable[..., Session], ava: User
) -> None:
    session = ended_session(ended_after=60)
    segment(session, ava, 0, 60)
    tasks.record_session_attendance(session.pk)
    assert _status(session, ava) == ("attended", 60)


def test_every_roster_member_gets_a_record_and_hosts_none(
    ended_session: Callable[..., Session], ava: User, sam: User, dana: User
) -> None:
    session = ended_session()
    segment(session, dana, 0, 90)
    segment(session, ava, 0, 90)
    assert tasks.record_session_attendance(session.pk) == 2
    assert dict(AttendanceRecord.objects.filter(session=session).values_list("user_id", "status")) == {
        ava.pk: "attended",
        sam.pk: "absent",
    }


def test_someone_taken_off_the_roster_before_the_start_gets_no_record(
    ended_session: Callable[..., Session], ava: User, sam: User
) -> None:
    session = ended_session()
    RosterEntry.objects.filter(session=session, user=sam).update(removed_at=at(-60))
    tasks.record_session_attendance(session.pk)
    assert list(AttendanceRecord.objects.filter(session=session).values_list("user_id", flat=True)) == [ava.pk]


def test_recomputing_gives_identical_rows_and_keeps_an_override(
    ended_session: Callable[..., Session], ava: User, sam: User, dana: User
) -> None:
    session = ended_session()
    segment(session, ava, 15, 90)
    tasks.record_session_attendance(session.pk)
    first = _rows(session)
    tasks.record_session_attendance(session.pk)  # a redelivered task
    assert _rows(session) == first
    absent = AttendanceRecord.objects.get(session=session, user=sam)
    override_attendance(by=dana, record=absent, changes={"override_status": "excused"}, reason="Hospital visit")
    overridden = _rows(session)
    tasks.record_session_attendance(session.pk)
    assert _rows(session) == overridden
    assert AttendanceRecord.objects.filter(session=session).count() == 2
    record = AttendanceRecord.objects.get(session=session, user=sam)
    assert (record.status, record.effective_status, record.override_reason) == ("absent", "excused", "Hospital visit")


def test_a_recompute_after_late_segments_updates_the_computed_values_only(
    ended_session: Callable[..., Session], ava: User, dana: User
) -> None:
    session = ended_session()
    segment(session, ava, 0, 30)
    tasks.record_session_attendance(session.pk)
    record = AttendanceRecord.objects.get(session=session, user=ava)
    override_attendance(by=dana, record=record, changes={"override_minutes": 80}, reason="Audio-only call")
    segment(session, ava, 30, 90)
    tasks.record_session_attendance(session.pk)
    record.refresh_from_db()
    assert (record.attended_minutes, record.status, record.override_minutes, record.effective_minutes) == (
        90,
        "attended",
        80,
        80,
    )


def test_cancelled_and_unfinished_sessions_get_no_attendance(ended_session: Callable[..., Session], ava: User) -> None:
    cancelled = ended_session(ended_after=None)
    Session.objects.filter(pk=cancelled.pk).update(cancelled_at=at(-60))
    live = ended_session(ended_after=None)
    segment(live, ava, 0, None)
    with time_machine.travel(at(30), tick=False):
        assert tasks.record_session_attendance(cancelled.pk) == 0
        assert tasks.record_session_attendance(live.pk) == 0
        assert record_missed_attendance() == 0
    assert not AttendanceRecord.objects.exists()
    assert not AttendanceRun.objects.exists()


def test_the_sweep_records_sessions_whose_end_passed_once(ended_session: Callable[..., Session], ava: User) -> None:
    missed = ended_session(ended_after=None)  # nobody ended the room
    segment(missed, ava, 0, 50)
    empty = ended_session(ended_after=None, roster=[])
    with time_machine.travel(at(91), tick=False):
        assert tasks.record_missed_attendance() == 2
        assert tasks.record_missed_attendance() == 0  # nothing left; the empty session is not retried
    assert _status(missed, ava) == ("partial", 50)
    assert AttendanceRun.objects.filter(session=empty).exists()


def test_ending_the_room_queues_the_task_after_commit(
    ended_session: Callable[..., Session], django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    session = ended_session(ended_after=None)
    with mock.patch.object(tasks.record_session_attendance, "delay") as delay, mock.patch.object(host, "_announce_end"):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            assert host._end(session.pk, actor=None, data={"reason": "ends_at_passed"})
        delay.assert_not_called()  # not before the end is committed
        for callback in callbacks:
            callback()
    delay.assert_called_once_with(session.pk)
    assert Session.objects.get(pk=session.pk).ended_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_broker_failure_does_not_undo_or_break_the_end(ended_session: Callable[..., Session]) -> None:
    """The end is committed and announced; the beat sweep records the attendance later."""
    session = ended_session(ended_after=None)
    with (
        mock.patch.object(tasks.record_session_attendance, "delay", side_effect=ConnectionError("broker down")),
        mock.patch.object(host, "_announce_end") as announce,
    ):
        assert host._end(session.pk, actor=None, data={"reason": "ends_at_passed"})
    announce.assert_called_once_with(session.pk)
    assert Session.objects.get(pk=session.pk).ended_at is not None
