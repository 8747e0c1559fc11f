"""Recurring schedules: wall-clock time across DST, idempotent expansion, one-off changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from rest_framework.test import APIClient

from accounts.models import User
from sessions import services
from sessions.models import RecurringSchedule, Session
from tests.factories import make_group, make_program

pytestmark = pytest.mark.django_db
Clients = Callable[[User], APIClient]


def _schedule(group, ada: User, zone: str, start: time = time(17, 0), weekdays=(1, 3, 4), **extra) -> RecurringSchedule:
    return services.create_schedule(
        by=ada,
        kind="group",
        title="Evening group",
        group=group,
        weekdays=list(weekdays),
        start_time=start,
        duration_minutes=90,
        starts_on=date(2026, 1, 1),
        time_zone=zone,
        **extra,
    )


@pytest.mark.parametrize(
    ("zone", "change_day"),
    [
        ("America/Chicago", date(2026, 3, 8)),
        ("America/Chicago", date(2026, 11, 1)),
        ("Europe/London", date(2026, 3, 29)),
        ("Europe/London", date(2026, 10, 25)),
    ],
)
def test_occurrences_keep_local_time_across_dst(zone: str, change_day: date, ada: User, dana: User, sam: User) -> None:
    group = make_group(program=make_program(time_zone=zone), lead=dana, members=[sam])
    schedule = _schedule(group, ada, zone, weekdays=range(1, 8))
    created = services.generate_occurrences(
        schedule=schedule, first_day=change_day - timedelta(days=3), last_day=change_day + timedelta(days=3)
    )
    assert created == 7
    sessions = list(schedule.sessions.order_by("starts_at"))
    local_starts = {s.starts_at.astimezone(ZoneInfo(zone)).time() for s in sessions}
    assert local_starts == {time(17, 0)}
    utc_hours = [s.starts_at.astimezone(UTC).hour for s in sessions]
    assert len(set(utc_hours)) == 2, "the UTC time must shift by an hour at the change"
    assert all(s.ends_at - s.starts_at == timedelta(minutes=90) for s in sessions)
    assert all(list(s.roster.values_list("user", flat=True)) == [sam.pk] for s in sessions)


def test_a_time_skipped_by_spring_forward_moves_forward(ada: User, dana: User) -> None:
    group = make_group(program=make_program(time_zone="America/Chicago"), lead=dana)
    schedule = _schedule(group, ada, "America/Chicago", start=time(2, 30), weekdays=[7])  # Sundays
    services.generate_occurrences(schedule=schedule, first_day=date(2026, 3, 8), last_day=date(2026, 3, 8))
    session = schedule.sessions.get()
    assert session.starts_at.astimezone(ZoneInfo("America/Chicago")).time() == time(3, 30)


def test_generation_is_idempotent(ada: User, dana: User, sam: User) -> None:
    group = make_group(program=make_program(), lead=dana, members=[sam])
    schedule = _schedule(group, ada, "America/Chicago")
    first = services.generate_occurrences(schedule=schedule, first_day=date(2026, 12, 1), last_day=date(2026, 12, 28))
    second = services.generate_occurrences(schedule=schedule, first_day=date(2026, 12, 1), last_day=date(2026, 12, 28))
    assert first == 12 and second == 0
    assert schedule.sessions.count() == 12


def test_beat_task_expands_a_rolling_four_week_horizon_once(ada: User, dana: User) -> None:
    from sessions.tasks import generate_upcoming_sessions

    group = make_group(program=make_program(), lead=dana)
    _schedule(group, ada, "America/Chicago")
    with time_machine.travel(datetime(2026, 12, 1, 12, tzinfo=UTC), tick=False):
        assert generate_upcoming_sessions.apply().get() == 12
        assert generate_upcoming_sessions.apply().get() == 0
    with time_machine.travel(datetime(2026, 12, 8, 12, tzinfo=UTC), tick=False):
        assert generate_upcoming_sessions.apply().get() == 3  # one more week of Mon/Wed/Thu


def test_cancelling_or_moving_one_occurrence_leaves_the_others(ada: User, dana: User) -> None:
    group = make_group(program=make_program(), lead=dana)
    schedule = _schedule(group, ada, "America/Chicago")
    with time_machine.travel(datetime(2026, 12, 1, 12, tzinfo=UTC), tick=False):
        services.generate_upcoming_sessions()
        first, second, *rest = list(schedule.sessions.order_by("starts_at"))
        services.cancel_session(by=dana, session=first)
        new_start = second.starts_at + timedelta(hours=1)
        services.move_session(by=dana, session=second, starts_at=new_start, ends_at=new_start + timedelta(minutes=90))
        assert services.generate_upcoming_sessions() == 0
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.cancelled_at is not None
    assert second.starts_at == new_start and second.moved_at is not None
    assert all(
        s.cancelled_at is None and s.moved_at is None for s in Session.objects.filter(pk__in=[s.pk for s in rest])
    )


def test_overlapping_schedule_for_the_same_facilitator_is_a_conflict(
    client_for: Clients, ada: User, dana: User, theo: User, db_snapshot: Callable
) -> None:
    program = make_program()
    first_group = make_group(program=program, lead=dana)
    second_group = make_group(program=program, lead=theo, co=[dana])
    _schedule(first_group, ada, "America/Chicago")
    client = client_for(ada)
    body = {
        "kind": "group",
        "title": "Another group",
        "group": second_group.pk,
        "weekdays": [3],
        "start_time": "18:00",
        "duration_minutes": 60,
        "starts_on": "2026-01-01",
    }
    before = db_snapshot()
    response = client.post("/api/v1/schedules/", body, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "schedule_overlap"
    assert db_snapshot() == before
    # Later the same evening does not overlap.
    ok = client.post("/api/v1/schedules/", {**body, "start_time": "18:30"}, format="json")
    assert ok.status_code == 201, ok.json()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"weekdays": [0]}, "weekdays"),
        ({"weekdays": []}, "weekdays"),
        ({"duration_minutes": 5}, "duration_minutes"),
        ({"ends_on": "2025-12-01"}, "ends_on"),
        ({"time_zone": "Nowhere/Special"}, "time_zone"),
        ({"start_time": "25:00"}, "start_time"),
        ({"kind": "family"}, "kind"),
    ],
)
def test_bad_schedule_input_changes_nothing(
    change: dict[str, object], field: str, client_for: Clients, ada: User, dana: User, db_snapshot: Callable
) -> None:
    group = make_group(program=make_program(), lead=dana)
    client = client_for(ada)
    body = {
        "kind": "group",
        "title": "Group",
        "group": group.pk,
        "weekdays": [1],
        "start_time": "17:00",
        "duration_minutes": 90,
        "starts_on": "2026-01-01",
        **change,
    }
    before = db_snapshot()
    response = client.post("/api/v1/schedules/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"]
    assert db_snapshot() == before


def test_only_admins_manage_schedules(client_for: Clients, dana: User, sam: User) -> None:
    assert client_for(dana).get("/api/v1/schedules/").status_code == 403
    assert client_for(sam).get("/api/v1/schedules/").status_code == 403


def test_recurring_individual_sessions(ada: User, dana: User, sam: User) -> None:
    schedule = services.create_schedule(
        by=ada,
        kind="individual",
        title="Individual therapy",
        participant=sam,
        clinician=dana,
        weekdays=[2],
        start_time=time(10, 0),
        duration_minutes=50,
        starts_on=date(2026, 12, 1),
    )
    assert (
        services.generate_occurrences(schedule=schedule, first_day=date(2026, 12, 1), last_day=date(2026, 12, 14)) == 2
    )
    session = schedule.sessions.order_by("starts_at")[0]
    assert session.kind == "individual"
    assert list(session.roster.values_list("user", flat=True)) == [sam.pk]
    assert list(session.facilitators.values_list("clinician", flat=True)) == [dana.pk]
