"""Demo attendance (issue 21, item 9): three weeks of history for ava and sam, written as
the rooms write it (AttendanceSegment rows) and turned into attendance records by the
product's own service, so that their weekly hours show every status.

The three weeks are the ISO weeks (in the demo programs' zone) from their enrollment's
start, 21 days before the first seeding, to the Sunday before the week of the first
seeding. They hang on that start date, so a later run (another day) adds nothing. They
hold each participant's group occurrences (the schedule's own, as its beat would have
made them) and a weekly individual session with dana; every past session is present in
full unless PLAN says otherwise.

- ava, adolescent IOP (360 min a week): present throughout; the second week is met with
  360 of 360 minutes. In the third she is late on Monday, reconnects on Wednesday and
  steps down to OP from Thursday, which prorates the week's requirement to 189 minutes
  (met with 340). This week she needs 60 minutes (OP) with sessions still ahead: on_track.
- sam, adult IOP (540 min a week): his groups and individual session add up to 330 min,
  so his past weeks are short (a reconnect and a 5-minute drop in the second week, an
  absence in the third) and this week is at_risk whenever the seed runs: all he can
  attend this week (at most 330 min and the 3-hour session the demo opens) is under 540.

A room's breakout does not split a segment (sessions/rooms/attendance.py: one segment
covers the main room and its breakouts), so breakouts leave no rows of their own here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, time, timedelta

from django.db import transaction

from accounts.models import User
from attendance.models import AttendanceRun
from attendance.services import record_session_attendance
from programs import services
from programs.demo import DEMO_PROGRAMS, DEMO_TIME_ZONE
from programs.models import Enrollment, EnrollmentStatus, LevelOfCare
from sessions import services as session_services
from sessions.models import AttendanceSegment, RecurringSchedule, Session, SessionKind

HISTORY_WEEKS = 3
# Each participant's weekly individual session with dana: ISO weekday, local start, minutes.
# (Days and hours clear of dana's groups, Monday, Wednesday and Thursday at 16:00 and 18:00.)
INDIVIDUAL_SESSIONS = {"ava": (5, time(16, 0), 90), "sam": (2, time(18, 0), 60)}
INDIVIDUAL_TITLE = "Individual session"

# A visit: its segments as (joined, left) in minutes from the session's start, None for its
# end (the host ends the session on time). Left reasons as the rooms write them.
Visit = tuple[tuple[float, float | None], ...]
PRESENT: Visit = ((-2, None),)  # in the room before the start until the end
LATE: Visit = ((20, None),)  # 20 minutes late: more than ATTENDANCE_LATE_MINUTES
RECONNECT: Visit = ((-2, 40), (41.5, None))  # a 90-second drop, within the grace period: one interval
DROP: Visit = ((-2, 30), (35, None))  # 5 minutes away, past the grace period: two intervals
ABSENT: Visit = ()

# (participant, history week 0-2, ISO weekday) -> visit; anything else is PRESENT.
PLAN: dict[tuple[str, int, int], Visit] = {
    ("ava", 2, 1): LATE,
    ("ava", 2, 3): RECONNECT,
    ("sam", 1, 3): RECONNECT,
    ("sam", 1, 4): DROP,
    ("sam", 2, 3): ABSENT,
}
# ava steps down from IOP to OP on the Thursday of the third history week.
STEP_DOWN = ("ava", 2, 4)
STEP_DOWN_REASON = "Step-down to outpatient care: treatment goals of the intensive phase reached."


def first_monday(enrollment: Enrollment) -> date:
    return enrollment.start_date - timedelta(days=enrollment.start_date.weekday())


def history_days(enrollment: Enrollment) -> tuple[date, date]:
    """From the enrollment's start to the Sunday of the third week it started in."""
    return enrollment.start_date, first_monday(enrollment) + timedelta(days=7 * HISTORY_WEEKS - 1)


def seed() -> dict[str, object]:
    """Idempotent: schedules, segments and the step-down are made once; only sessions
    without attendance yet are computed."""
    people = {user.username: user for user in User.objects.filter(username__in=["ada", "dana", *INDIVIDUAL_SESSIONS])}
    written = 0
    with transaction.atomic():
        for program_name, _band, username, *_ in DEMO_PROGRAMS:
            participant = people[username]
            enrollment = Enrollment.objects.select_related("program").get(
                participant=participant, program__name=program_name, status=EnrollmentStatus.ACTIVE
            )
            _individual_schedule(participant, enrollment, people)
            sessions = _history_sessions(participant, enrollment)
            _write_segments(participant, enrollment, sessions)
            for session in _without_attendance(sessions):
                written += record_session_attendance(session_id=session.pk)
            if STEP_DOWN[0] == username:
                _step_down(enrollment, people["dana"])
        # This week's and the coming weeks' individual sessions.
        session_services.generate_upcoming_sessions()
    return {"attendance_records": written}


def _individual_schedule(participant: User, enrollment: Enrollment, people: dict[str, User]) -> None:
    schedules = RecurringSchedule.objects.filter(participant=participant, cancelled_at__isnull=True)
    if schedules.exists():
        return
    weekday, start, minutes = INDIVIDUAL_SESSIONS[participant.username]
    session_services.create_schedule(
        by=people["ada"],
        kind=SessionKind.INDIVIDUAL,
        title=INDIVIDUAL_TITLE,
        participant=participant,
        clinician=people["dana"],
        weekdays=[weekday],
        start_time=start,
        duration_minutes=minutes,
        starts_on=enrollment.start_date,
        time_zone=DEMO_TIME_ZONE,
    )


def _history_sessions(participant: User, enrollment: Enrollment) -> list[Session]:
    """The participant's group and individual occurrences over the history weeks, made by
    the schedules' own expansion (keyed by schedule and date: never twice)."""
    first, last = history_days(enrollment)
    active = RecurringSchedule.objects.filter(cancelled_at__isnull=True)
    schedules = [
        *active.filter(participant=participant),
        *active.filter(
            group__program=enrollment.program,
            group__memberships__participant=participant,
            group__memberships__left_at__isnull=True,
        ),
    ]
    for schedule in schedules:
        session_services.generate_occurrences(schedule=schedule, first_day=first, last_day=last)
    return list(
        Session.objects.filter(
            roster__user=participant,
            schedule__isnull=False,
            occurrence_date__range=(first, last),
            cancelled_at__isnull=True,
        ).order_by("starts_at")
    )


def visit_for(username: str, enrollment: Enrollment, day: date) -> Visit:
    week = (day - first_monday(enrollment)).days // 7
    return PLAN.get((username, week, day.isoweekday()), PRESENT)


def _write_segments(participant: User, enrollment: Enrollment, sessions: Sequence[Session]) -> None:
    """The rooms' rows for each past session, once: a session where the participant has a
    segment already is left as it is."""
    done = set(
        AttendanceSegment.objects.filter(user=participant, session__in=sessions).values_list("session_id", flat=True)
    )
    rows = []
    for session in sessions:
        if session.pk in done:
            continue
        assert session.occurrence_date is not None
        visit = visit_for(participant.username, enrollment, session.occurrence_date)
        for index, (joined, left) in enumerate(visit):
            last = index == len(visit) - 1
            rows.append(
                AttendanceSegment(
                    session=session,
                    user=participant,
                    joined_at=session.starts_at + timedelta(minutes=joined),
                    left_at=session.ends_at if left is None else session.starts_at + timedelta(minutes=left),
                    # The end of the session closes the last one; an earlier one was a dropped socket.
                    left_reason="session_ended" if last else "closed_1006",
                )
            )
    AttendanceSegment.objects.bulk_create(rows)


def _without_attendance(sessions: Sequence[Session]) -> list[Session]:
    computed = set(AttendanceRun.objects.filter(session__in=sessions).values_list("session_id", flat=True))
    return [session for session in sessions if session.pk not in computed]


def _step_down(enrollment: Enrollment, clinician: User) -> None:
    if enrollment.transitions.exists():
        return
    _, week, weekday = STEP_DOWN
    services.record_care_transition(
        by=clinician,
        enrollment=enrollment,
        to_level=LevelOfCare.objects.get(code="OP"),
        effective_date=first_monday(enrollment) + timedelta(days=7 * week + weekday - 1),
        reason=STEP_DOWN_REASON,
        clinician=clinician,
    )
