"""A program's own weekly minimum (issue 21, item 4).

CLINICAL.md: a program may set a higher minimum than its level's floor, and some IOPs run
10-20 h a week. So an IOP program may require up to 20 h (where PHP starts), never less
than the IOP floor, never more than the next level's floor, never more than a week holds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from audit.models import AuditEntry
from programs.models import Program
from programs.selectors import weekly_requirement
from tests.factories import make_enrollment, make_program

pytestmark = pytest.mark.django_db
Clients = Callable[[User], APIClient]

IOP_ADULTS = {"name": "Evening IOP", "level_of_care": "IOP", "age_band": "adult", "time_zone": "America/Chicago"}
TWENTY_HOURS = 20 * 60


@pytest.mark.parametrize("age_band", ["adult", "adolescent"])
def test_admin_creates_an_iop_program_requiring_twenty_hours(age_band: str, client_for: Clients, ada: User) -> None:
    body = {**IOP_ADULTS, "age_band": age_band, "min_weekly_minutes_override": TWENTY_HOURS}
    response = client_for(ada).post("/api/v1/programs/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["min_weekly_minutes_override"] == TWENTY_HOURS
    assert Program.objects.get(pk=response.json()["id"]).min_weekly_minutes_override == TWENTY_HOURS


def test_admin_raises_an_iop_programs_minimum_above_nineteen_hours(client_for: Clients, ada: User) -> None:
    program = make_program(age_band="adult")
    response = client_for(ada).patch(
        f"/api/v1/programs/{program.pk}/", {"min_weekly_minutes_override": 19 * 60 + 30}, format="json"
    )
    assert response.status_code == 200, response.json()
    program.refresh_from_db()
    assert program.min_weekly_minutes_override == 19 * 60 + 30
    entry = AuditEntry.objects.get(action="program.update")
    assert entry.actor == ada and entry.data["fields"] == ["min_weekly_minutes_override"]


def test_the_weeks_requirement_follows_the_programs_minimum_above_the_levels_maximum(
    client_for: Clients, dana: User, sam: User
) -> None:
    program = make_program(age_band="adult", min_weekly_minutes_override=TWENTY_HOURS)
    enrollment = make_enrollment(participant=sam, program=program, clinician=dana, start_date=date(2026, 11, 2))
    response = client_for(dana).get(f"/api/v1/enrollments/{enrollment.pk}/requirement/?week=2026-W48")
    assert response.status_code == 200
    # Never min > max: the week's maximum rises to the program's minimum.
    assert response.json()["min_minutes"] == TWENTY_HOURS
    assert response.json()["max_minutes"] == TWENTY_HOURS


def test_a_program_minimum_within_the_band_keeps_the_levels_maximum(sam: User, dana: User) -> None:
    program = make_program(age_band="adult", min_weekly_minutes_override=600)
    enrollment = make_enrollment(participant=sam, program=program, clinician=dana, start_date=date(2026, 11, 2))
    requirement = weekly_requirement(enrollment, 2026, 48)
    assert (requirement.min_minutes, requirement.max_minutes) == (600, 19 * 60)


def test_a_php_program_may_require_more_than_the_php_floor(client_for: Clients, ada: User) -> None:
    body = {**IOP_ADULTS, "level_of_care": "PHP", "min_weekly_minutes_override": 30 * 60}
    response = client_for(ada).post("/api/v1/programs/", body, format="json")
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize("role", ["dana", "theo", "sam", "ava", "pat"])
def test_only_admins_set_a_programs_minimum(
    role: str, request: pytest.FixtureRequest, client_for: Clients, db_snapshot: Callable[[], dict[str, int]]
) -> None:
    program = make_program(age_band="adult")
    client = client_for(request.getfixturevalue(role))
    before = db_snapshot()
    created = client.post("/api/v1/programs/", {**IOP_ADULTS, "min_weekly_minutes_override": 600}, format="json")
    changed = client.patch(f"/api/v1/programs/{program.pk}/", {"min_weekly_minutes_override": 600}, format="json")
    assert created.status_code == changed.status_code == 403
    assert changed.json()["error"]["code"] == "permission_denied"
    assert db_snapshot() == before
    program.refresh_from_db()
    assert program.min_weekly_minutes_override is None


@pytest.mark.parametrize(
    ("level", "age_band", "minutes"),
    [
        ("IOP", "adult", -60),  # negative
        ("IOP", "adult", 8 * 60),  # below the adult IOP floor of 9 h
        ("IOP", "adolescent", 5 * 60),  # below the adolescent IOP floor of 6 h
        ("IOP", "adult", TWENTY_HOURS + 1),  # past where PHP starts: that is a PHP program
        ("OP", "adult", 9 * 60 + 1),  # past where IOP starts
        ("PHP", "adult", 168 * 60 + 1),  # more than a week holds
        ("PHP", "adult", 10**9),  # absurd
        ("IOP", "adult", "ten hours"),  # not a number
        ("IOP", "adult", 600.5),  # not whole minutes
    ],
)
def test_an_impossible_program_minimum_is_a_400_and_changes_nothing(
    level: str,
    age_band: str,
    minutes: object,
    client_for: Clients,
    ada: User,
    db_snapshot: Callable[[], dict[str, int]],
) -> None:
    program = make_program(age_band=age_band, level=level)
    client = client_for(ada)
    before = db_snapshot()
    body = {**IOP_ADULTS, "level_of_care": level, "age_band": age_band, "min_weekly_minutes_override": minutes}
    created = client.post("/api/v1/programs/", body, format="json")
    changed = client.patch(f"/api/v1/programs/{program.pk}/", {"min_weekly_minutes_override": minutes}, format="json")
    for response in (created, changed):
        assert response.status_code == 400, response.json()
        assert "min_weekly_minutes_override" in response.json()["error"]["fields"]
    assert db_snapshot() == before
    program.refresh_from_db()
    assert program.min_weekly_minutes_override is None
