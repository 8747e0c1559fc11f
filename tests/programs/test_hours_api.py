"""Weekly hours over the API (issue 21, item 3): one participant's ISO week and a whole
program's, exactly CONTRACT.md's shape, from attendance records (overrides applied), the
prorated requirement and the sessions still scheduled; who may see them; bad input.

Hand-computed weeks: 2026-W48 is Monday 23 to Sunday 29 November; 2026-W44 is Monday
26 October to Sunday 1 November, when New York falls back from EDT to EST (169 hours).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from rest_framework.test import APIClient

from accounts.models import Consent, ConsentScope, User
from attendance.models import AttendanceRecord, AttendanceStatus, OverrideStatus
from programs.models import CareTransition, Enrollment, Program
from sessions.models import Session
from tests.factories import EnrollmentFactory, SessionFactory, UserFactory, level_of_care, make_program

pytestmark = pytest.mark.django_db

Clients = Callable[[User], APIClient]
CHICAGO = ZoneInfo("America/Chicago")
NEW_YORK = ZoneInfo("America/New_York")
KEYS = {
    "participant",
    "week",
    "level_of_care",
    "required_minutes",
    "attended_minutes",
    "scheduled_remaining_minutes",
    "status",
}
# Wednesday evening of 2026-W48 in Chicago, and a moment after that week.
MID_W48 = datetime(2026, 11, 25, 20, tzinfo=CHICAGO)
AFTER_W48 = datetime(2026, 12, 2, 9, tzinfo=CHICAGO)


def _session(person: User, starts_at: datetime, minutes: int, **fields: Any) -> Session:
    return SessionFactory.create(
        starts_at=starts_at, ends_at=starts_at + timedelta(minutes=minutes), roster=[person], **fields
    )


def _attended(person: User, starts_at: datetime, minutes: int, **fields: Any) -> AttendanceRecord:
    """An ended session with the person's attendance record (as the attendance task writes it)."""
    session = _session(person, starts_at, 90, ended_at=starts_at + timedelta(minutes=90))
    return AttendanceRecord.objects.create(
        session=session,
        user=person,
        attended_seconds=minutes * 60,
        attended_minutes=minutes,
        status=AttendanceStatus.ATTENDED if minutes else AttendanceStatus.ABSENT,
        **fields,
    )


def _enroll(person: User, program: Program, clinician: User, **fields: Any) -> Enrollment:
    fields.setdefault("start_date", date(2026, 9, 1))
    return EnrollmentFactory.create(participant=person, program=program, primary_clinician=clinician, **fields)


def _hours(client: APIClient, participant: User, week: str | None = "2026-W48") -> Any:
    query = {} if week is None else {"week": week}
    return client.get(f"/api/v1/participants/{participant.pk}/hours/", query)


@pytest.fixture
def adult_program(dana: User) -> Program:
    return make_program(age_band="adult", level="IOP", time_zone="America/Chicago", clinicians=[dana])


@pytest.fixture
def sam_enrolled(sam: User, dana: User, adult_program: Program) -> Enrollment:
    return _enroll(sam, adult_program, dana)


# --- hand-computed weeks -----------------------------------------------------------------


def test_a_step_down_mid_week_with_an_override_an_excuse_and_sessions_ahead(
    sam: User, dana: User, sam_enrolled: Enrollment, client_for: Clients
) -> None:
    # IOP (540 min) to OP (60 min) from Thursday: 3 x 540/7 + 4 x 60/7 = 265.7 -> 266.
    CareTransition.objects.create(
        enrollment=sam_enrolled,
        from_level=level_of_care("IOP"),
        to_level=level_of_care("OP"),
        effective_date=date(2026, 11, 26),
        reason="Stepping down",
        clinician=dana,
    )
    _attended(sam, datetime(2026, 11, 23, 17, tzinfo=CHICAGO), 90)  # Monday
    # Tuesday: the rooms saw 40 minutes; he was there by phone the whole time.
    _attended(
        sam,
        datetime(2026, 11, 24, 17, tzinfo=CHICAGO),
        40,
        override_minutes=90,
        override_status=OverrideStatus.ATTENDED,
        override_reason="Joined by phone after his camera failed",
        overridden_by=dana,
    )
    # Wednesday: an excused absence still counts no minutes.
    _attended(
        sam,
        datetime(2026, 11, 25, 17, tzinfo=CHICAGO),
        0,
        override_status=OverrideStatus.EXCUSED,
        override_reason="Medical appointment",
        overridden_by=dana,
    )
    _session(sam, datetime(2026, 11, 26, 17, tzinfo=CHICAGO), 60)  # Thursday, ahead
    _session(sam, datetime(2026, 11, 29, 23, tzinfo=CHICAGO), 90)  # Sunday 23:00: 60 min in the week
    _session(sam, datetime(2026, 11, 27, 17, tzinfo=CHICAGO), 60, cancelled_at=MID_W48)
    _attended(sam, datetime(2026, 11, 22, 17, tzinfo=CHICAGO), 90)  # the Sunday before: week 47
    _attended(sam, datetime(2026, 11, 30, 9, tzinfo=CHICAGO), 90)  # the Monday after: week 49
    _attended(UserFactory.create(adult=True), datetime(2026, 11, 23, 17, tzinfo=CHICAGO), 90)  # someone else's

    with time_machine.travel(MID_W48, tick=False):
        response = _hours(client_for(sam), sam)
    assert response.status_code == 200, response.content
    # Without the override: 90 + 40 + 120 ahead = 250 < 266, at risk. With it, on track.
    assert response.json() == {
        "participant": sam.pk,
        "week": "2026-W48",
        "level_of_care": "OP",
        "required_minutes": 266,
        "attended_minutes": 180,
        "scheduled_remaining_minutes": 120,
        "status": "on_track",
    }

    with time_machine.travel(AFTER_W48, tick=False):
        after = _hours(client_for(sam), sam).json()
    assert (after["attended_minutes"], after["scheduled_remaining_minutes"], after["status"]) == (180, 0, "short")


def test_a_dst_week_in_new_york_counts_sessions_by_local_start(ava: User, dana: User, client_for: Clients) -> None:
    program = make_program(age_band="adolescent", level="IOP", time_zone="America/New_York", clinicians=[dana])
    _enroll(ava, program, dana)
    # Adolescent IOP: 360 minutes. The week runs from Monday 26 Oct 00:00 EDT (04:00 UTC) to
    # Monday 2 Nov 00:00 EST (05:00 UTC).
    _attended(ava, datetime(2026, 10, 25, 23, 30, tzinfo=NEW_YORK), 45)  # Sunday before (03:30 UTC Monday)
    _attended(ava, datetime(2026, 10, 26, 0, 30, tzinfo=NEW_YORK), 60)  # first hour of the week
    for day in (27, 28, 29, 30):
        _attended(ava, datetime(2026, 10, day, 16, tzinfo=NEW_YORK), 60)
    _attended(ava, datetime(2026, 11, 1, 23, tzinfo=NEW_YORK), 60)  # last hour, EST (04:00 UTC Monday)
    _attended(ava, datetime(2026, 11, 2, 0, 30, tzinfo=NEW_YORK), 50)  # next week
    # UTC weeks would give 45 + 240 = 285; an EDT-long week would lose Sunday night's 60.
    with time_machine.travel(datetime(2026, 11, 10, tzinfo=NEW_YORK), tick=False):
        body = _hours(client_for(ava), ava, "2026-W44").json()
    assert body == {
        "participant": ava.pk,
        "week": "2026-W44",
        "level_of_care": "IOP",
        "required_minutes": 360,
        "attended_minutes": 360,
        "scheduled_remaining_minutes": 0,
        "status": "met",
    }


def test_the_default_week_is_this_week_in_the_programs_time_zone(
    sam: User, sam_enrolled: Enrollment, client_for: Clients
) -> None:
    # Sunday 29 Nov 23:30 in Chicago is already Monday of week 49 in UTC.
    with time_machine.travel(datetime(2026, 11, 29, 23, 30, tzinfo=CHICAGO), tick=False):
        client = client_for(sam)
        assert _hours(client, sam, None).json()["week"] == "2026-W48"
        assert _hours(client, sam, "").json()["week"] == "2026-W48"


def test_a_week_ended_mid_way_counts_its_enrolled_days_and_a_week_without_any_is_404(
    sam: User, dana: User, adult_program: Program, client_for: Clients
) -> None:
    # Ended on Tuesday: two enrolled days of IOP, 2 x 540/7 = 154.3 -> 154.
    enrollment = _enroll(sam, adult_program, dana, status="completed", ended_on=date(2026, 11, 24))
    _attended(sam, datetime(2026, 11, 23, 17, tzinfo=CHICAGO), 90)
    with time_machine.travel(AFTER_W48, tick=False):
        client = client_for(sam)
        body = _hours(client, sam).json()
        assert (body["required_minutes"], body["attended_minutes"], body["status"]) == (154, 90, "short")
        for week in ("2026-W49", "2026-W35"):  # after it ended; before it started (1 September)
            response = _hours(client, sam, week)
            assert response.status_code == 404, week
            assert response.json()["error"]["message"] == "This participant was not enrolled in a program that week."
    assert enrollment.start_date == date(2026, 9, 1)
    never = UserFactory.create(adult=True)
    assert _hours(client_for(never), never, None).status_code == 404


# --- who sees it -------------------------------------------------------------------------


@pytest.fixture
def ava_enrolled(ava: User, dana: User) -> Enrollment:
    program = make_program(age_band="adolescent", clinicians=[dana])
    return _enroll(ava, program, dana)


@pytest.mark.parametrize("who", ["ava", "dana", "ada"])
def test_the_participant_their_clinicians_and_admins_see_the_week(
    who: str, ava_enrolled: Enrollment, ava: User, client_for: Clients, request: pytest.FixtureRequest
) -> None:
    response = _hours(client_for(request.getfixturevalue(who)), ava)
    assert response.status_code == 200, response.content
    assert set(response.json()) == KEYS
    assert response["Cache-Control"] == "no-store"


def test_a_clinician_of_the_program_who_is_not_primary_sees_it(
    ava_enrolled: Enrollment, ava: User, theo: User, client_for: Clients
) -> None:
    ava_enrolled.program.clinicians.add(theo)
    assert _hours(client_for(theo), ava).status_code == 200


@pytest.mark.parametrize("who", ["theo", "sam"])
def test_others_get_404_as_for_no_such_participant(
    who: str, ava_enrolled: Enrollment, ava: User, client_for: Clients, request: pytest.FixtureRequest
) -> None:
    client = client_for(request.getfixturevalue(who))
    response = _hours(client, ava)
    assert response.status_code == 404
    assert response.json() == _hours(client, UserFactory.build(pk=2**62)).json()


def test_a_participant_cannot_see_another_and_a_non_participant_has_no_hours(
    ava_enrolled: Enrollment, sam: User, ava: User, dana: User, ada: User, client_for: Clients
) -> None:
    assert _hours(client_for(ava), sam).status_code == 404
    assert _hours(client_for(ada), dana).status_code == 404


def test_a_guardian_sees_the_week_only_while_consent_names_hours(
    ava_enrolled: Enrollment, ava: User, pat: User, client_for: Clients
) -> None:
    client = client_for(pat)
    # pat's consent shares ava's schedule only, and then her attendance: neither is hours.
    for scopes in ([ConsentScope.SCHEDULE], [ConsentScope.SCHEDULE, ConsentScope.ATTENDANCE]):
        Consent.objects.filter(link__guardian=pat).update(scopes=scopes)
        response = _hours(client, ava)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"
    Consent.objects.filter(link__guardian=pat).update(scopes=[ConsentScope.HOURS])
    assert _hours(client, ava).status_code == 200


def test_an_unrelated_guardian_gets_404(ava_enrolled: Enrollment, ava: User, client_for: Clients) -> None:
    assert _hours(client_for(UserFactory.create(guardian=True)), ava).status_code == 404


def test_anonymous_is_401(ava_enrolled: Enrollment, ava: User, api: APIClient) -> None:
    response = _hours(api, ava)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


# --- bad input ---------------------------------------------------------------------------


BAD_WEEKS = ["2026-W54", "2025-W53", "abc", "9999-W01", "2026-W00", "2026-W5", "2026-w48", "2026W48", " 2026-W48"]


@pytest.mark.parametrize("week", BAD_WEEKS)
def test_a_week_that_is_not_iso_is_400_and_changes_nothing(
    week: str,
    sam: User,
    sam_enrolled: Enrollment,
    client_for: Clients,
    db_snapshot: Callable[[], dict[str, int]],
    dana: User,
) -> None:
    client, program_client = client_for(sam), client_for(dana)
    before = db_snapshot()
    for response in (
        _hours(client, sam, week),
        program_client.get(f"/api/v1/programs/{sam_enrolled.program_id}/hours/", {"week": week}),
    ):
        assert response.status_code == 400, (week, response.content)
        error = response.json()["error"]
        assert error["code"] == "invalid" and list(error["fields"]) == ["week"], error
    assert db_snapshot() == before


@pytest.mark.parametrize("sort", ["name", "RISK", "-risk"])
def test_an_unknown_sort_is_400(sort: str, sam_enrolled: Enrollment, dana: User, client_for: Clients) -> None:
    response = client_for(dana).get(f"/api/v1/programs/{sam_enrolled.program_id}/hours/", {"sort": sort})
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["sort"]


# --- the program's week ------------------------------------------------------------------


def _program_hours(client: APIClient, program: Program, **query: str) -> Any:
    return client.get(f"/api/v1/programs/{program.pk}/hours/", {"week": "2026-W48", **query})


def test_the_programs_week_sorted_by_risk(adult_program: Program, dana: User, client_for: Clients) -> None:
    people = {name: UserFactory.create(adult=True, username=name) for name in ("met", "on", "risky", "riskier")}
    for person in people.values():
        _enroll(person, adult_program, dana)
    # Adult IOP: 540 minutes. By Wednesday evening:
    _attended(people["met"], datetime(2026, 11, 23, 9, tzinfo=CHICAGO), 540)
    _attended(people["on"], datetime(2026, 11, 23, 9, tzinfo=CHICAGO), 400)
    _session(people["on"], datetime(2026, 11, 27, 9, tzinfo=CHICAGO), 180)  # 580 within reach
    _attended(people["risky"], datetime(2026, 11, 23, 9, tzinfo=CHICAGO), 300)
    _session(people["risky"], datetime(2026, 11, 27, 9, tzinfo=CHICAGO), 180)  # 60 short at best
    _attended(people["riskier"], datetime(2026, 11, 23, 9, tzinfo=CHICAGO), 100)  # 440 short
    # Not in this program's week: enrolled elsewhere, or only from the week after.
    _enroll(UserFactory.create(adult=True), make_program(), dana)
    _enroll(UserFactory.create(adult=True), adult_program, dana, start_date=date(2026, 11, 30))

    with time_machine.travel(MID_W48, tick=False):
        client = client_for(dana)
        rows = _program_hours(client, adult_program, sort="risk").json()
        by_id = _program_hours(client, adult_program, sort="participant").json()
        default = _program_hours(client, adult_program).json()
    names = {person.pk: name for name, person in people.items()}
    assert [(names[row["participant"]], row["status"]) for row in rows] == [
        ("riskier", "at_risk"),
        ("risky", "at_risk"),
        ("on", "on_track"),
        ("met", "met"),
    ]
    assert all(set(row) == KEYS for row in rows)
    assert rows[0]["attended_minutes"] == 100 and rows[1]["scheduled_remaining_minutes"] == 180
    assert default == rows
    assert [row["participant"] for row in by_id] == sorted(person.pk for person in people.values())

    with time_machine.travel(AFTER_W48, tick=False):
        after = _program_hours(client_for(dana), adult_program).json()
    # Once the week is over the Friday sessions no longer count: short, the largest shortfall first.
    assert [(names[row["participant"]], row["status"]) for row in after] == [
        ("riskier", "short"),
        ("risky", "short"),
        ("on", "short"),
        ("met", "met"),
    ]


def test_one_row_per_participant_the_enrollment_that_runs_at_the_weeks_end(
    sam: User, dana: User, adult_program: Program, client_for: Clients
) -> None:
    # Completed on Tuesday and enrolled again from Thursday, in the same program.
    _enroll(sam, adult_program, dana, status="completed", ended_on=date(2026, 11, 24))
    _enroll(sam, adult_program, dana, start_date=date(2026, 11, 26))
    with time_machine.travel(AFTER_W48, tick=False):
        rows = _program_hours(client_for(dana), adult_program).json()
    # The later enrollment's four days: 4 x 540/7 = 308.6 -> 309.
    assert [(row["participant"], row["required_minutes"]) for row in rows] == [(sam.pk, 309)]


@pytest.mark.parametrize("who", ["dana", "ada"])
def test_the_programs_clinicians_and_admins_see_its_week(
    who: str, sam_enrolled: Enrollment, client_for: Clients, request: pytest.FixtureRequest
) -> None:
    response = _program_hours(client_for(request.getfixturevalue(who)), sam_enrolled.program)
    assert response.status_code == 200
    assert [row["participant"] for row in response.json()] == [sam_enrolled.participant_id]


@pytest.mark.parametrize(("who", "status"), [("theo", 403), ("sam", 403), ("ava", 403), ("pat", 403)])
def test_others_cannot_see_the_programs_week(
    who: str, status: int, sam_enrolled: Enrollment, client_for: Clients, request: pytest.FixtureRequest
) -> None:
    # theo is a clinician, but not of this program.
    response = _program_hours(client_for(request.getfixturevalue(who)), sam_enrolled.program)
    assert response.status_code == status
    assert response.json()["error"]["code"] == "permission_denied"


def test_the_programs_week_anonymous_is_401(sam_enrolled: Enrollment, api: APIClient) -> None:
    assert _program_hours(api, sam_enrolled.program).status_code == 401


# The queries of one program's week, whatever its size: the bearer token (knox: two), the
# program and its clinicians, the caller's clinician check, enrollments, care transitions,
# attended minutes, remaining sessions.
PROGRAM_WEEK_QUERIES = 9


@pytest.mark.parametrize("size", [2, 6])
def test_the_programs_week_takes_the_same_queries_whatever_its_size(
    size: int, adult_program: Program, dana: User, client_for: Clients, django_assert_num_queries: Callable[..., Any]
) -> None:
    for _ in range(size):
        person = UserFactory.create(adult=True)
        enrollment = _enroll(person, adult_program, dana)
        CareTransition.objects.create(
            enrollment=enrollment,
            from_level=level_of_care("IOP"),
            to_level=level_of_care("OP"),
            effective_date=date(2026, 11, 26),
            reason="Stepping down",
            clinician=dana,
        )
        _attended(person, datetime(2026, 11, 23, 17, tzinfo=CHICAGO), 90)
        _session(person, datetime(2026, 11, 27, 17, tzinfo=CHICAGO), 90)
    with time_machine.travel(MID_W48, tick=False):
        client = client_for(dana)
        with django_assert_num_queries(PROGRAM_WEEK_QUERIES):
            response = _program_hours(client, adult_program)
    assert response.status_code == 200
    assert len(response.json()) == size
    assert {row["level_of_care"] for row in response.json()} == {"OP"}


# One participant's week: the bearer token (knox: two), the participant, the viewer's
# access check (a clinician's: one), the week's enrollment, care transitions, attended
# minutes, remaining sessions.
PARTICIPANT_WEEK_QUERIES = 8


@pytest.mark.parametrize("sessions", [1, 5])
def test_a_participants_week_takes_the_same_queries_whatever_its_sessions(
    sessions: int,
    sam: User,
    dana: User,
    sam_enrolled: Enrollment,
    client_for: Clients,
    django_assert_num_queries: Callable[..., Any],
) -> None:
    for day in range(sessions):
        _attended(sam, datetime(2026, 11, 23 + day, 9, tzinfo=CHICAGO), 60)
        _session(sam, datetime(2026, 11, 23 + day, 20, tzinfo=CHICAGO), 60)
    with time_machine.travel(datetime(2026, 11, 23, 12, tzinfo=CHICAGO), tick=False):
        client = client_for(dana)
        with django_assert_num_queries(PARTICIPANT_WEEK_QUERIES):
            response = _hours(client, sam)
    assert response.json()["attended_minutes"] == 60 * sessions
