"""S8's data set (bench/attendance_data.py) at a tiny size: the rows it writes, their shape,
and that the product's attendance path takes them as they are."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Exists, OuterRef

from attendance.models import AttendanceRecord
from attendance.services import recompute_attendance
from bench import attendance_data
from bench.attendance_data import Size
from programs.models import Program
from sessions.models import AttendanceSegment, RosterEntry, Session, SessionFacilitator

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)  # a Wednesday


def test_groups_take_eight_to_twelve_in_turn_and_the_last_the_rest() -> None:
    assert Size(participants=23, weeks=1).groups == [(0, 8), (8, 9), (17, 6)]
    groups = attendance_data.FULL.groups
    assert len(groups) == 1000
    assert sum(size for _, size in groups) == 10_000
    assert Counter(size for _, size in groups) == {8: 200, 9: 200, 10: 200, 11: 200, 12: 200}


def test_the_weeks_end_before_this_one() -> None:
    monday = attendance_data.first_monday_for(12, NOW)
    assert monday.isoweekday() == 1
    assert monday + timedelta(weeks=13) == NOW.date() - timedelta(days=NOW.weekday())


@pytest.mark.django_db
def test_a_tiny_data_set_has_every_row_the_computation_needs() -> None:
    data = attendance_data.generate(Size(participants=23, weeks=2), now=NOW)
    # 3 groups x 2 weeks x 3 sessions; every member on every session of their group.
    assert data.counts == {
        "participants": 23,
        "groups": 3,
        "sessions": 18,
        "roster_entries": 23 * 6,
        "segments": data.counts["segments"],
        "enrollments": 23,
        "care_transitions": data.counts["care_transitions"],
    }
    assert len(data.session_ids) == 18 and len(data.program_ids) == 4
    assert data.iso_weeks == [
        data.first_monday.isocalendar()[:2],
        (data.first_monday + timedelta(weeks=1)).isocalendar()[:2],
    ]
    sessions = Session.objects.filter(pk__in=data.session_ids)
    assert all(session.ends_at <= NOW and session.cancelled_at is None for session in sessions)
    assert SessionFacilitator.objects.filter(session__in=sessions, role="lead").count() == 18
    # Each group meets at its local time in its program's zone, 3 hours.
    for session in sessions.select_related("group__program"):
        assert session.group is not None
        local = session.starts_at.astimezone(ZoneInfo(session.group.program.time_zone))
        assert local.time() in {time(9), time(13), time(18)} and local.isoweekday() in {1, 3, 5}
        assert session.ends_at - session.starts_at == timedelta(hours=3)
    # The lead's segment per session, and about three per roster entry that attended.
    segments = AttendanceSegment.objects.filter(session__in=sessions)
    participants = segments.filter(user__role="participant")
    assert segments.count() - participants.count() == 18
    assert 23 * 6 < participants.count() < 23 * 6 * 5


@pytest.mark.django_db
def test_the_product_writes_a_record_for_every_roster_entry_it_should() -> None:
    data = attendance_data.generate(Size(participants=40, weeks=2), now=NOW)
    written = recompute_attendance(session_ids=data.session_ids, now=NOW)
    # Taken off the roster the day before: no segment, so no record.
    removed = RosterEntry.objects.filter(session_id__in=data.session_ids, removed_at__isnull=False)
    came = AttendanceSegment.objects.filter(session_id=OuterRef("session_id"), user_id=OuterRef("user_id"))
    assert not removed.filter(Exists(came)).exists()
    removed_and_away = removed.count()
    assert written == data.counts["roster_entries"] - removed_and_away
    statuses = Counter(AttendanceRecord.objects.values_list("status", flat=True))
    assert statuses["attended"] > statuses["absent"] > 0
    assert Program.objects.filter(pk__in=data.program_ids, level_of_care__code="OP").count() == 1


def test_an_insert_gets_the_model_default_of_a_not_null_column_it_does_not_name() -> None:
    """A field added to a model after the generator was written does not break it."""
    params: dict[str, object] = {}
    statement = (
        "INSERT INTO groups_therapygroup (title, modality, age_band, created_at, lead_facilitator_id, program_id)\n"
        "SELECT 'g', 'art', 'adult', now(), 1, 2 ORDER BY 1"
    )
    rewritten = attendance_data.with_defaults(statement, params)
    assert rewritten == (
        "INSERT INTO groups_therapygroup (title, modality, age_band, created_at, lead_facilitator_id, program_id, "
        "capacity) SELECT given.*, %(default_groups_therapygroup_capacity)s FROM (SELECT 'g', 'art', 'adult', now(), "
        "1, 2 ORDER BY 1) AS given"
    )
    assert params == {"default_groups_therapygroup_capacity": 12}
    # Every column named (or nullable, or without a default): unchanged.
    assert attendance_data.with_defaults("CREATE TEMP TABLE t AS SELECT 1", params) == "CREATE TEMP TABLE t AS SELECT 1"
