"""Telling a participant's clinician in time (programs/forecasts.py): an at-risk week,
once per participant and week from the program's forecast moment on, and a run of
absences, once per streak."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from accounts.models import User
from attendance.models import AttendanceRecord, AttendanceStatus, OverrideStatus
from notifications.kinds import NotificationKind
from notifications.models import Notification
from programs.forecasts import notify_absence_streaks, send_hours_forecasts
from programs.models import Enrollment, Program
from sessions.models import Session
from tests.factories import EnrollmentFactory, ProgramFactory, SessionFactory, UserFactory

pytestmark = pytest.mark.django_db

# ISO week 2026-W50 in New York: Monday 7 December 2026 to Sunday 13 December.
WEDNESDAY_NOON = datetime(2026, 12, 9, 17, 0, tzinfo=UTC)
THURSDAY_1230 = datetime(2026, 12, 10, 17, 30, tzinfo=UTC)  # 12:30 in New York
NEXT_THURSDAY_1230 = THURSDAY_1230 + timedelta(days=7)


def told(kind: str, recipient: User) -> list[Notification]:
    return list(Notification.objects.filter(kind=kind, recipient=recipient))


@pytest.fixture
def program() -> Program:
    """An adult IOP program in New York whose forecast runs on Thursdays at 12:00."""
    return ProgramFactory.create(time_zone="America/New_York", forecast_weekday=4)


def enrolled(program: Program, clinician: User) -> Enrollment:
    with time_machine.travel(WEDNESDAY_NOON - timedelta(days=14), tick=False):
        return EnrollmentFactory.create(program=program, primary_clinician=clinician)


def scheduled(participant: User, *, at: datetime, minutes: int) -> Session:
    with time_machine.travel(at - timedelta(hours=1), tick=False):
        return SessionFactory.create(
            kind="individual", starts_in=timedelta(hours=1), minutes=minutes, roster=[participant]
        )


def test_an_at_risk_week_is_told_to_the_primary_clinician_once_from_the_forecast_moment(program: Program) -> None:
    clinician = UserFactory.create(username="dana")
    at_risk = enrolled(program, clinician)  # nothing attended, 90 minutes ahead: 540 cannot be reached
    on_track = enrolled(program, clinician)  # 600 minutes still ahead this week
    scheduled(at_risk.participant, at=datetime(2026, 12, 11, 15, 0, tzinfo=UTC), minutes=90)
    scheduled(on_track.participant, at=datetime(2026, 12, 11, 15, 0, tzinfo=UTC), minutes=600)

    with time_machine.travel(WEDNESDAY_NOON, tick=False):
        assert send_hours_forecasts() == 0, "before the program's forecast moment"
    with time_machine.travel(THURSDAY_1230, tick=False):
        assert send_hours_forecasts() == 1
        assert send_hours_forecasts() == 0, "once per participant and week"
    (note,) = told(NotificationKind.HOURS_AT_RISK, clinician)
    assert note.data == {"link": f"/api/v1/participants/{at_risk.participant_id}/hours/"}
    assert "IOP" not in note.title + note.body, "PHI-free: no program type"
    with time_machine.travel(NEXT_THURSDAY_1230, tick=False):
        assert send_hours_forecasts() == 2, "a new week: both have nothing scheduled now"


def test_a_program_chooses_its_own_forecast_moment(program: Program) -> None:
    Program.objects.filter(pk=program.pk).update(forecast_weekday=5)  # Friday
    enrolled(program, UserFactory.create())
    with time_machine.travel(THURSDAY_1230, tick=False):
        assert send_hours_forecasts() == 0
    with time_machine.travel(THURSDAY_1230 + timedelta(days=1), tick=False):
        assert send_hours_forecasts() == 1


def absent_from(participant: User, count: int, *, start: datetime) -> list[Session]:
    sessions = []
    for index in range(count):
        session = scheduled(participant, at=start + timedelta(days=index), minutes=60)
        AttendanceRecord.objects.create(
            session=session, user=participant, attended_seconds=0, attended_minutes=0, status=AttendanceStatus.ABSENT
        )
        sessions.append(session)
    return sessions


def test_three_absences_in_a_row_tell_the_clinician_once_per_streak(program: Program) -> None:
    clinician = UserFactory.create()
    participant = enrolled(program, clinician).participant
    first = absent_from(participant, 2, start=datetime(2026, 12, 1, 15, 0, tzinfo=UTC))
    assert notify_absence_streaks(session_id=first[-1].pk) == 0, "two is not a streak yet"
    third = absent_from(participant, 1, start=datetime(2026, 12, 3, 15, 0, tzinfo=UTC))[0]
    assert notify_absence_streaks(session_id=third.pk) == 1
    assert notify_absence_streaks(session_id=third.pk) == 0, "a redelivered task tells no one twice"
    fourth = absent_from(participant, 1, start=datetime(2026, 12, 4, 15, 0, tzinfo=UTC))[0]
    assert notify_absence_streaks(session_id=fourth.pk) == 0, "the same streak goes on"
    (note,) = told(NotificationKind.ABSENCE_STREAK, clinician)
    assert note.data == {"link": f"/api/v1/participants/{participant.pk}/hours/"}


def test_an_excused_absence_or_an_attended_session_ends_a_streak(program: Program) -> None:
    clinician = UserFactory.create()
    participant = enrolled(program, clinician).participant
    sessions = absent_from(participant, 3, start=datetime(2026, 12, 1, 15, 0, tzinfo=UTC))
    AttendanceRecord.objects.filter(session=sessions[1]).update(
        override_status=OverrideStatus.EXCUSED, override_reason="Hospital appointment"
    )
    assert notify_absence_streaks(session_id=sessions[-1].pk) == 0
    more = absent_from(participant, 2, start=datetime(2026, 12, 4, 15, 0, tzinfo=UTC))
    assert notify_absence_streaks(session_id=more[-1].pk) == 1, "three unexcused in a row since the excused one"
    assert [n.kind for n in told(NotificationKind.ABSENCE_STREAK, clinician)] == [NotificationKind.ABSENCE_STREAK]


def test_an_admin_sets_when_the_forecast_runs(program: Program, client_for: Any, ada: User, dana: User) -> None:
    url = f"/api/v1/programs/{program.pk}/"
    response = client_for(ada).patch(url, {"forecast_weekday": 5, "forecast_time": "09:30"}, format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["forecast_weekday"], response.json()["forecast_time"]) == (5, "09:30:00")
    assert client_for(dana).patch(url, {"forecast_weekday": 2}, format="json").status_code == 403


@pytest.mark.parametrize("changes", [{"forecast_weekday": 0}, {"forecast_weekday": 8}, {"forecast_weekday": "mon"},
                                     {"forecast_time": "25:00"}, {"forecast_time": 12}])  # fmt: skip
def test_a_bad_forecast_moment_is_a_400_and_changes_nothing(
    program: Program, client_for: Any, ada: User, changes: dict[str, object]
) -> None:
    response = client_for(ada).patch(f"/api/v1/programs/{program.pk}/", changes, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == set(changes)
    program.refresh_from_db()
    assert (program.forecast_weekday, program.forecast_time.isoformat()) == (4, "12:00:00")
