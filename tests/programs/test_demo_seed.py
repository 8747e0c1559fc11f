"""seed_demo: the CONTRACT.md personas, programs and open sessions; a second run adds nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import demo as accounts_demo
from accounts.models import User
from attendance.models import AttendanceRecord
from bookings.models import Booking
from programs.demo import DEMO_PROGRAMS, DEMO_TIME_ZONE, demo_today
from programs.models import CareTransition, Enrollment
from server.demo import DemoRefused, run_seed_steps
from server.run import process_env
from sessions.models import AttendanceSegment, Session, SessionStatus

pytestmark = pytest.mark.django_db

# A Tuesday morning in New York: no demo group meets (they meet Monday, Wednesday and
# Thursday from 16:00 and 18:00), so the seed opens fresh sessions. At a group's own hour
# the seed reuses the one in progress, started more than 5 minutes before.
BETWEEN_GROUPS = datetime(2026, 12, 8, 15, 0, tzinfo=ZoneInfo("UTC"))


@pytest.fixture
def between_groups() -> Iterator[None]:
    with time_machine.travel(BETWEEN_GROUPS, tick=True):
        yield


@pytest.mark.usefixtures("between_groups")
def test_seed_demo_creates_open_sessions_and_is_idempotent(db_snapshot: Callable[[], dict[str, int]]) -> None:
    call_command("seed_demo")
    first = db_snapshot()
    call_command("seed_demo")
    assert db_snapshot() == first

    people = {user.username: user for user in User.objects.all()}
    assert {"dana", "theo", "ava", "sam", "pat", "ada"} <= set(people)
    now = timezone.now()
    started = Session.objects.filter(starts_at__lte=now, kind="group")  # not the individual sessions
    open_sessions = [s for s in started if s.status_at(now) == SessionStatus.OPEN]
    by_member = {entry.user.username: session for session in open_sessions for entry in session.roster.all()}
    assert set(by_member) == {"ava", "sam"}
    teen = by_member["ava"]
    assert now - teen.starts_at <= timedelta(minutes=5)
    assert teen.ends_at - teen.starts_at == timedelta(hours=3)
    assert {f.clinician.username: f.role for f in teen.facilitators.all()} == {"dana": "lead", "theo": "co"}
    assert by_member["sam"].facilitators.get().clinician.username == "dana"
    ava_enrollment = Enrollment.objects.get(participant=people["ava"])
    assert ava_enrollment.program.age_band == "adolescent" and ava_enrollment.program.level_of_care.code == "IOP"
    assert (demo_today() - ava_enrollment.start_date).days == 21
    # Next weeks' schedule exists.
    assert Session.objects.filter(starts_at__gt=now + timedelta(days=7)).exists()


def _open_sessions() -> list[Session]:
    """Open group sessions (an individual session may be open too, at its hour)."""
    now = timezone.now()
    return [s for s in Session.objects.filter(kind="group") if s.status_at(now) == SessionStatus.OPEN]


@pytest.mark.usefixtures("between_groups")
def test_each_start_reopens_a_session_when_the_last_one_ended() -> None:
    call_command("seed_demo")
    # Every open session ends: the seeded ones and, at the demo groups' own hours, the
    # scheduled one in progress (ending only unscheduled ones made this test fail then).
    Session.objects.filter(pk__in=[s.pk for s in _open_sessions()]).update(ended_at=timezone.now())
    call_command("seed_demo")
    # One open session a demo group, none twice.
    assert sorted(s.title for s in _open_sessions()) == sorted(program[3] for program in DEMO_PROGRAMS)


def test_seed_demo_refuses_under_production_settings_and_creates_nothing(
    settings: Any, db_snapshot: Callable[[], dict[str, int]]
) -> None:
    settings.DEBUG, settings.HTTPS_ONLY, settings.DEMO = False, True, False
    before = db_snapshot()
    with pytest.raises(CommandError, match="production settings"):
        call_command("seed_demo")
    assert db_snapshot() == before
    assert not User.objects.filter(username__in=["ada", "dana", "theo"]).exists()


def test_demo_staff_accounts_are_refused_on_every_seeding_path_under_production_settings(settings: Any) -> None:
    settings.DEBUG, settings.HTTPS_ONLY, settings.DEMO = False, True, False
    for seed in (accounts_demo.seed, run_seed_steps):
        with pytest.raises(DemoRefused):
            seed()
    assert not User.objects.exists()


def test_seed_demo_runs_under_production_settings_only_when_demo_is_explicit(settings: Any) -> None:
    settings.DEBUG, settings.HTTPS_ONLY, settings.DEMO = False, True, True
    call_command("seed_demo")
    assert User.objects.filter(username="ada", is_superuser=True).exists()


def test_make_run_marks_its_processes_as_a_demo() -> None:
    assert process_env({}, 8000)["DEMO"] == "1"


# --- demo attendance (issue 21, item 9) ----------------------------------------------------
#
# The seed runs at these instants (New York, the demo programs' zone): a Monday morning;
# Thursday during ava's last group of the week (the open session the demo keeps is that
# one, with 45 minutes left); Friday during her individual session; a Sunday evening; and
# the Monday after New York's spring-forward change (the history weeks cross it). Each
# shows the same statuses: they are decided relative to the day of the first seeding.
NEW_YORK = ZoneInfo(DEMO_TIME_ZONE)
SEEDED_AT = [
    datetime(2026, 11, 16, 9, 0, tzinfo=NEW_YORK),
    datetime(2026, 11, 19, 16, 45, tzinfo=NEW_YORK),
    datetime(2026, 11, 20, 16, 30, tzinfo=NEW_YORK),
    datetime(2026, 11, 22, 22, 30, tzinfo=NEW_YORK),
    datetime(2026, 3, 30, 7, 0, tzinfo=NEW_YORK),
]
# (required, attended, status, level) of the two weeks before this one and of this week.
EXPECTED_WEEKS = {
    # ava: met with 360 of 360; the step-down prorates the last week (3 x 360/7 + 4 x 60/7 =
    # 189); this week OP's 60 minutes with her sessions still ahead.
    "ava": [(360, 360, "met", "IOP"), (189, 340, "met", "OP"), (60, 0, "on_track", "OP")],
    # sam: 325 and 240 of 540 minutes; this week can reach at most 510 of 540.
    "sam": [(540, 325, "short", "IOP"), (540, 240, "short", "IOP"), (540, 0, "at_risk", "IOP")],
}


def _week_label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _hours(client: APIClient, person: User, week: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/participants/{person.pk}/hours/", {"week": week})
    assert response.status_code == 200, response.content
    return dict(response.json())


def _record(username: str, day: date) -> AttendanceRecord:
    return AttendanceRecord.objects.select_related("session").get(
        user__username=username, session__occurrence_date=day, session__schedule__isnull=False
    )


@pytest.mark.parametrize("seeded_at", SEEDED_AT, ids=lambda instant: instant.strftime("%a-%H%M"))
def test_demo_hours_show_every_status(seeded_at: datetime, client_for: Callable[[User], APIClient]) -> None:
    with time_machine.travel(seeded_at, tick=False):
        call_command("seed_demo")
        people = {user.username: user for user in User.objects.all()}
        today = seeded_at.date()
        statuses = set()
        for username, expected in EXPECTED_WEEKS.items():
            person = people[username]
            client = client_for(person)
            for weeks_ago, (required, attended, status, level) in zip((2, 1, 0), expected, strict=True):
                hours = _hours(client, person, _week_label(today - timedelta(weeks=weeks_ago)))
                got = (hours["required_minutes"], hours["attended_minutes"], hours["status"], hours["level_of_care"])
                assert got == (required, attended, status, level), (username, weeks_ago, hours)
                statuses.add(status)
            # This week is the one the hours page opens on.
            assert client.get(f"/api/v1/participants/{person.pk}/hours/").json()["status"] == expected[2][2]
            # The first week, from the enrollment's start (21 days ago): prorated by its days.
            first = today - timedelta(days=21)
            hours = _hours(client, person, _week_label(first))
            enrolled_days = 7 - first.weekday()
            assert hours["required_minutes"] == round(hours_per_week(username) * enrolled_days / 7)
            assert hours["status"] == ("met" if hours["attended_minutes"] >= hours["required_minutes"] else "short")
        assert statuses == {"met", "on_track", "at_risk", "short"}


def hours_per_week(username: str) -> int:
    return {"ava": 360, "sam": 540}[username]


def test_demo_attendance_is_computed_from_room_segments(client_for: Callable[[User], APIClient]) -> None:
    seeded_at = SEEDED_AT[0]
    with time_machine.travel(seeded_at, tick=False):
        call_command("seed_demo")
    last_monday = seeded_at.date() - timedelta(weeks=1)
    # Late: ava joined Monday's group 20 minutes late.
    late = _record("ava", last_monday)
    assert (late.status, late.attended_minutes) == ("late", 70)
    # A 90-second drop within the grace period: one interval, the gap counted.
    reconnect = _record("ava", last_monday + timedelta(days=2))
    assert (reconnect.status, reconnect.attended_minutes, len(reconnect.intervals)) == ("attended", 90, 1)
    assert AttendanceSegment.objects.filter(session=reconnect.session, user=reconnect.user).count() == 2
    # Five minutes away: two intervals, the gap not counted.
    dropped = _record("sam", last_monday - timedelta(weeks=1) + timedelta(days=3))
    assert (dropped.status, dropped.attended_minutes, len(dropped.intervals)) == ("attended", 85, 2)
    # The absence: no segment, and the record says so.
    absent = _record("sam", last_monday + timedelta(days=2))
    assert (absent.status, absent.attended_minutes, absent.first_join) == ("absent", 0, None)
    assert not AttendanceSegment.objects.filter(session=absent.session, user=absent.user).exists()
    # Every past demo session's records are the product's, as a recompute writes them.
    records = AttendanceRecord.objects.filter(session__starts_at__lt=seeded_at)
    assert records.count() == AttendanceRecord.objects.count() == 2 * (3 + 1) * 2 + _first_week_sessions(seeded_at)
    assert not records.filter(override_status__isnull=False).exists()
    # The step-down is a real care transition, by dana, from last Thursday.
    transition = CareTransition.objects.get()
    assert (transition.from_level.code, transition.to_level.code) == ("IOP", "OP")
    assert transition.effective_date == last_monday + timedelta(days=3)
    assert transition.enrollment.participant.username == "ava" and transition.clinician.username == "dana"
    # dana sees it in the requirement: the week before 360, last week 189.
    dana = User.objects.get(username="dana")
    url = f"/api/v1/enrollments/{transition.enrollment_id}/requirement/"
    client = client_for(dana)
    required = [
        client.get(url, {"week": _week_label(last_monday - timedelta(weeks=weeks))}).json()["min_minutes"]
        for weeks in (1, 0)
    ]
    assert required == [360, 189]


def _first_week_sessions(seeded_at: datetime) -> int:
    """Sessions of both participants in the enrollment's first week (from its start day)."""
    start = seeded_at.date() - timedelta(days=21)
    days = [start + timedelta(days=offset) for offset in range(7 - start.weekday())]
    ava = sum(1 for day in days if day.isoweekday() in (1, 3, 4, 5))
    sam = sum(1 for day in days if day.isoweekday() in (1, 2, 3, 4))
    return ava + sam


def test_demo_attendance_seeds_once(db_snapshot: Callable[[], dict[str, int]]) -> None:
    with time_machine.travel(SEEDED_AT[1], tick=False):
        call_command("seed_demo")
        first = db_snapshot()
        call_command("seed_demo")
        assert db_snapshot() == first
    history = (AttendanceSegment.objects.count(), AttendanceRecord.objects.count(), CareTransition.objects.count())
    # A week later (a demo kept in .iop/ and started again): the history is not written again.
    with time_machine.travel(SEEDED_AT[1] + timedelta(weeks=1), tick=False):
        call_command("seed_demo")
    assert AttendanceSegment.objects.count() == history[0] and CareTransition.objects.count() == history[2]
    assert AttendanceRecord.objects.filter(session__starts_at__lt=SEEDED_AT[1]).count() == history[1]


def test_demo_programs_bill_under_a_payer_rule(client_for: Callable[[User], APIClient]) -> None:
    seeded_at = SEEDED_AT[0]
    with time_machine.travel(seeded_at, tick=False):
        call_command("seed_demo")
        ada = User.objects.get(username="ada")
        client = client_for(ada)
        program = Enrollment.objects.get(participant__username="sam").program
        assert program.payer_rule is not None and program.payer_rule.code == "H0015"
        start = seeded_at.date() - timedelta(weeks=2)
        response = client.get(
            f"/api/v1/programs/{program.pk}/billing/", {"from": start.isoformat(), "to": seeded_at.date().isoformat()}
        )
        assert response.status_code == 200, response.content
        rows = response.json()["rows"]
        # sam's demo weeks are short by design (see EXPECTED_WEEKS): his days fall short of 3 hours.
        assert rows and all(row["participant"] == program.enrollments.get().participant_id for row in rows)
        assert not any(row["day_meets_rule"] for row in rows)


def test_seeding_during_the_demo_family_session_still_succeeds() -> None:
    """dana cannot lead an open group over pat's booked family session: a run at that hour
    opens none for her groups instead of failing (make run seeds at every start)."""
    with time_machine.travel(BETWEEN_GROUPS, tick=False):
        call_command("seed_demo")
    booking = Booking.objects.get(booked_by__username="pat")
    with time_machine.travel(booking.session.starts_at + timedelta(minutes=10), tick=False):
        call_command("seed_demo")
        now = timezone.now()
        hosted = Session.objects.filter(facilitators__clinician=booking.clinician, cancelled_at__isnull=True)
        overlapping = [
            s
            for s in hosted.exclude(pk=booking.session_id)
            if s.starts_at < booking.session.ends_at and s.ends_at > booking.session.starts_at
        ]
        assert overlapping == [] and booking.session.status_at(now) == SessionStatus.OPEN
