"""Programs, enrollments, transitions and levels of care over the API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from audit.models import AuditEntry
from programs.models import CareTransition, Enrollment, LevelOfCare
from tests.factories import EnrollmentFactory, make_enrollment, make_program

pytestmark = pytest.mark.django_db
Clients = Callable[[User], APIClient]

PROGRAM = {"name": "Evening IOP", "level_of_care": "IOP", "age_band": "adult", "time_zone": "America/Chicago"}


def _enrollment_body(participant: User, program_id: int, clinician: User, **extra: object) -> dict[str, object]:
    return {
        "participant": participant.pk,
        "program": program_id,
        "start_date": "2026-11-02",
        "primary_clinician": clinician.pk,
        "medically_stable": True,
        "detox_status": "not_needed",
        "stable_living_situation": True,
        "able_to_attend": True,
        **extra,
    }


def test_admin_creates_a_program(client_for: Clients, ada: User) -> None:
    response = client_for(ada).post("/api/v1/programs/", PROGRAM, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["level_of_care"] == "IOP"
    assert response.json()["typical_length_weeks"] == 12
    assert AuditEntry.objects.filter(action="program.create").count() == 1


@pytest.mark.parametrize("role", ["dana", "sam", "pat"])
def test_only_admins_create_programs(role: str, request: pytest.FixtureRequest, client_for: Clients) -> None:
    user = request.getfixturevalue(role)
    response = client_for(user).post("/api/v1/programs/", PROGRAM, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_anonymous_is_refused(api: APIClient) -> None:
    assert api.get("/api/v1/programs/").status_code == 401


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"level_of_care": "XOP"}, "level_of_care"),
        ({"age_band": "toddler"}, "age_band"),
        ({"typical_length_weeks": 0}, "typical_length_weeks"),
        ({"days_per_week_target": "three"}, "days_per_week_target"),
        ({"min_weekly_minutes_override": 100}, "min_weekly_minutes_override"),
        ({"min_weekly_minutes_override": 5000}, "min_weekly_minutes_override"),
    ],
)
def test_bad_program_input_changes_nothing(
    change: dict[str, object], field: str, client_for: Clients, ada: User, db_snapshot: Callable[[], dict[str, int]]
) -> None:
    client = client_for(ada)
    before = db_snapshot()
    response = client.post("/api/v1/programs/", {**PROGRAM, **change}, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert db_snapshot() == before


def test_malformed_json_is_a_400(client_for: Clients, ada: User) -> None:
    response = client_for(ada).post("/api/v1/programs/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_clinician_enrolls_and_eligibility_is_recorded_not_gating(client_for: Clients, dana: User, sam: User) -> None:
    program = make_program(age_band="adult")
    program.clinicians.add(dana)  # dana works in the program
    body = _enrollment_body(sam, program.pk, dana, medically_stable=False)
    response = client_for(dana).post("/api/v1/enrollments/", body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["eligibility_met"] is False
    assert data["medically_stable"] is False
    assert data["planned_end_date"] == "2027-01-25"  # 12 weeks after the start
    assert data["level_of_care"] == "IOP"


def test_second_active_enrollment_is_a_conflict(
    client_for: Clients, dana: User, sam: User, db_snapshot: Callable[[], dict[str, int]]
) -> None:
    program = make_program(age_band="adult")
    program.clinicians.add(dana)  # dana works in the program
    client = client_for(dana)
    assert (
        client.post("/api/v1/enrollments/", _enrollment_body(sam, program.pk, dana), format="json").status_code == 201
    )
    before = db_snapshot()
    response = client.post("/api/v1/enrollments/", _enrollment_body(sam, program.pk, dana), format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "active_enrollment_exists"
    assert db_snapshot() == before


def test_adolescent_cannot_enroll_in_an_adult_program(client_for: Clients, dana: User, ava: User) -> None:
    program = make_program(age_band="adult")
    program.clinicians.add(dana)  # dana works in the program
    response = client_for(dana).post("/api/v1/enrollments/", _enrollment_body(ava, program.pk, dana), format="json")
    assert response.status_code == 400
    assert "participant" in response.json()["error"]["fields"]


@pytest.mark.parametrize("role", ["sam", "pat"])
def test_participants_and_guardians_cannot_enroll(
    role: str, request: pytest.FixtureRequest, client_for: Clients
) -> None:
    user = request.getfixturevalue(role)
    program = make_program(age_band="adult")
    dana = User.objects.create(username="dana2", role="clinician")
    response = client_for(user).post("/api/v1/enrollments/", _enrollment_body(user, program.pk, dana), format="json")
    assert response.status_code == 403


def _enrollment(sam: User, dana: User) -> Enrollment:
    return Enrollment.objects.create(
        participant=sam,
        program=make_program(age_band="adult"),
        start_date=date(2026, 11, 2),
        planned_end_date=date(2027, 1, 25),
        primary_clinician=dana,
        medically_stable=True,
        detox_status="not_needed",
        stable_living_situation=True,
        able_to_attend=True,
        created_by=dana,
    )


def test_step_down_is_recorded_audited_and_changes_the_requirement(client_for: Clients, dana: User, sam: User) -> None:
    enrollment = _enrollment(sam, dana)
    client = client_for(dana)
    response = client.post(
        f"/api/v1/enrollments/{enrollment.pk}/transitions/",
        {"to_level": "OP", "effective_date": "2026-11-26", "reason": "Goals met; stepping down"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["direction"] == "step_down"
    assert response.json()["from_level"] == "IOP"
    entry = AuditEntry.objects.get(action="care_transition.create")
    assert entry.actor == dana and entry.data["to"] == "OP"
    requirement = client.get(f"/api/v1/enrollments/{enrollment.pk}/requirement/?week=2026-W48").json()
    assert requirement == {
        "week": "2026-W48",
        "min_minutes": 266,
        "max_minutes": round(3 * 1140 / 7 + 4 * 539 / 7),
        "levels": ["IOP", "IOP", "IOP", "OP", "OP", "OP", "OP"],
    }


def test_transition_to_the_same_level_is_refused(
    client_for: Clients, dana: User, sam: User, db_snapshot: Callable[[], dict[str, int]]
) -> None:
    enrollment = _enrollment(sam, dana)
    client = client_for(dana)
    before = db_snapshot()
    response = client.post(
        f"/api/v1/enrollments/{enrollment.pk}/transitions/",
        {"to_level": "IOP", "effective_date": "2026-11-26", "reason": "No change"},
        format="json",
    )
    assert response.status_code == 400
    assert "to_level" in response.json()["error"]["fields"]
    assert db_snapshot() == before


def test_transitions_must_be_in_date_order(client_for: Clients, dana: User, sam: User) -> None:
    enrollment = _enrollment(sam, dana)
    client = client_for(dana)
    url = f"/api/v1/enrollments/{enrollment.pk}/transitions/"
    assert (
        client.post(
            url, {"to_level": "PHP", "effective_date": "2026-11-20", "reason": "Crisis"}, format="json"
        ).status_code
        == 201
    )
    response = client.post(url, {"to_level": "OP", "effective_date": "2026-11-10", "reason": "x"}, format="json")
    assert response.status_code == 409
    assert CareTransition.objects.count() == 1


def test_transition_before_enrollment_start_is_refused(client_for: Clients, dana: User, sam: User) -> None:
    enrollment = _enrollment(sam, dana)
    response = client_for(dana).post(
        f"/api/v1/enrollments/{enrollment.pk}/transitions/",
        {"to_level": "OP", "effective_date": "2026-10-01", "reason": "x"},
        format="json",
    )
    assert response.status_code == 400


def test_other_clinicians_do_not_see_the_enrollment(client_for: Clients, dana: User, theo: User, sam: User) -> None:
    enrollment = _enrollment(sam, dana)
    assert client_for(theo).get(f"/api/v1/enrollments/{enrollment.pk}/").status_code == 404


@pytest.mark.parametrize("week", ["", "2026-48", "2026-W60", "W48"])
def test_requirement_needs_a_valid_iso_week(week: str, client_for: Clients, dana: User, sam: User) -> None:
    enrollment = _enrollment(sam, dana)
    response = client_for(dana).get(f"/api/v1/enrollments/{enrollment.pk}/requirement/?week={week}")
    assert response.status_code == 400
    assert "week" in response.json()["error"]["fields"]


def test_admin_edits_a_level_of_care(client_for: Clients, ada: User, dana: User) -> None:
    iop = LevelOfCare.objects.get(code="IOP")
    assert (
        client_for(dana)
        .patch(f"/api/v1/levels-of-care/{iop.pk}/", {"adult_min_weekly_minutes": 600}, format="json")
        .status_code
        == 403
    )
    response = client_for(ada).patch(
        f"/api/v1/levels-of-care/{iop.pk}/", {"adult_min_weekly_minutes": 600}, format="json"
    )
    assert response.status_code == 200
    iop.refresh_from_db()
    assert iop.adult_min_weekly_minutes == 600
    bad = client_for(ada).patch(f"/api/v1/levels-of-care/{iop.pk}/", {"adult_max_weekly_minutes": 100}, format="json")
    assert bad.status_code == 400
    unknown = client_for(ada).patch(f"/api/v1/levels-of-care/{iop.pk}/", {"code": "ZZZ"}, format="json")
    assert unknown.status_code == 400
    iop.refresh_from_db()
    assert iop.adult_max_weekly_minutes == 1140 and iop.code == "IOP"


def test_end_enrollment(client_for: Clients, dana: User, sam: User) -> None:
    enrollment = _enrollment(sam, dana)
    client = client_for(dana)
    url = f"/api/v1/enrollments/{enrollment.pk}/end/"
    assert client.post(url, {"status": "active", "ended_on": "2026-12-01"}, format="json").status_code == 400
    response = client.post(url, {"status": "completed", "ended_on": "2026-12-01"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "completed"
    assert client.post(url, {"status": "completed", "ended_on": "2026-12-01"}, format="json").status_code == 409


def test_enrollments_show_the_level_in_effect_today(client_for: Clients, dana: User, sam: User) -> None:
    """Lists read the level in their one query (selectors.with_level_code_on): the latest
    transition effective by today, not a later one, else the program's level."""
    enrollment = make_enrollment(participant=sam, program=make_program(), clinician=dana)
    untouched = EnrollmentFactory.create(primary_clinician=dana)
    today = timezone.localdate()
    steps = [("IOP", "PHP", -3), ("PHP", "OP", -1), ("OP", "IOP", 1)]
    for from_code, to_code, days in steps:
        CareTransition.objects.create(
            enrollment=enrollment,
            from_level=LevelOfCare.objects.get(code=from_code),
            to_level=LevelOfCare.objects.get(code=to_code),
            effective_date=today + timedelta(days=days),
            reason="Weekly review",
            clinician=dana,
        )
    client = client_for(dana)
    listed = {row["id"]: row["level_of_care"] for row in client.get("/api/v1/enrollments/").json()["results"]}
    assert listed == {enrollment.pk: "OP", untouched.pk: "IOP"}
    assert client.get(f"/api/v1/enrollments/{enrollment.pk}/").json()["level_of_care"] == "OP"
    ended = client.post(
        f"/api/v1/enrollments/{enrollment.pk}/end/", {"status": "completed", "ended_on": str(today)}, format="json"
    )
    assert ended.status_code == 200, ended.json()
    assert ended.json()["level_of_care"] == "OP"
