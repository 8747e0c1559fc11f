"""Who may enrol whom, what a refusal may say, and what ending an enrollment ends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from audit.models import AuditEntry
from groups.models import GroupMembership
from programs.models import Enrollment, Program
from sessions.models import RosterEntry, Session
from tests.factories import UserFactory, make_enrollment, make_group, make_program, make_session
from tests.support.revocations import listening_for_revocations

pytestmark = pytest.mark.django_db
Clients = Callable[[User], APIClient]
Snapshot = Callable[[], dict[str, int]]


def _body(participant_id: int, program: Program, clinician_id: int) -> dict[str, object]:
    return {
        "participant": participant_id,
        "program": program.pk,
        "start_date": timezone.localdate().isoformat(),
        "primary_clinician": clinician_id,
        "medically_stable": True,
        "detox_status": "not_needed",
        "stable_living_situation": True,
        "able_to_attend": True,
    }


@pytest.fixture
def adult_program(dana: User) -> Program:
    program = make_program(age_band="adult")
    program.clinicians.add(dana)
    return program


# --- Who enrols ---------------------------------------------------------------------------


def test_the_programs_clinician_and_an_admin_enrol(
    client_for: Clients, adult_program: Program, ada: User, dana: User, sam: User
) -> None:
    response = client_for(dana).post("/api/v1/enrollments/", _body(sam.pk, adult_program, dana.pk), format="json")
    assert response.status_code == 201, response.json()
    other = UserFactory.create(adult=True)
    response = client_for(ada).post("/api/v1/enrollments/", _body(other.pk, adult_program, dana.pk), format="json")
    assert response.status_code == 201, response.json()
    assert Enrollment.objects.filter(program=adult_program).count() == 2


@pytest.mark.parametrize("role", ["theo", "sam", "pat"])
def test_others_cannot_enrol_in_the_program(
    role: str,
    request: pytest.FixtureRequest,
    client_for: Clients,
    adult_program: Program,
    dana: User,
    db_snapshot: Snapshot,
) -> None:
    """theo is a clinician, but not one of this program's: he could otherwise enrol anyone
    unenrolled and so see all their sessions."""
    participant = UserFactory.create(adult=True)
    client = client_for(request.getfixturevalue(role))
    before = db_snapshot()
    response = client.post("/api/v1/enrollments/", _body(participant.pk, adult_program, dana.pk), format="json")
    assert response.status_code == 403
    assert db_snapshot() == before


def test_a_clinician_cannot_name_themself_to_reach_another_program(
    client_for: Clients, adult_program: Program, theo: User, sam: User, db_snapshot: Snapshot
) -> None:
    client = client_for(theo)
    before = db_snapshot()
    response = client.post("/api/v1/enrollments/", _body(sam.pk, adult_program, theo.pk), format="json")
    assert response.status_code == 403
    assert db_snapshot() == before


def test_the_primary_clinician_works_in_the_program(
    client_for: Clients, adult_program: Program, ada: User, dana: User, theo: User, sam: User, db_snapshot: Snapshot
) -> None:
    clients = {"dana": client_for(dana), "ada": client_for(ada)}
    before = db_snapshot()
    for client in clients.values():
        for clinician_id in (theo.pk, sam.pk, ada.pk, 10**9):
            response = client.post("/api/v1/enrollments/", _body(sam.pk, adult_program, clinician_id), format="json")
            assert response.status_code == 400
            assert response.json()["error"]["fields"] == {"primary_clinician": ["No such clinician in this program."]}
    assert db_snapshot() == before


# --- What a refusal says ------------------------------------------------------------------


def test_a_clinicians_refusals_say_nothing_about_the_person(
    client_for: Clients,
    adult_program: Program,
    ada: User,
    dana: User,
    theo: User,
    ava: User,
    pat: User,
    db_snapshot: Snapshot,
) -> None:
    """No account, a guardian, a clinician, an adolescent, an adult in treatment elsewhere
    with another clinician: the same 400 for each (being in treatment is itself protected)."""
    treated_elsewhere = UserFactory.create(adult=True)
    make_enrollment(participant=treated_elsewhere, program=make_program(age_band="adult"), clinician=theo)
    deactivated = UserFactory.create(adult=True, is_active=False)
    client = client_for(dana)
    before = db_snapshot()
    ids = [10**9, pat.pk, theo.pk, ada.pk, ava.pk, treated_elsewhere.pk, deactivated.pk]
    answers = [client.post("/api/v1/enrollments/", _body(pk, adult_program, dana.pk), format="json") for pk in ids]
    assert [response.status_code for response in answers] == [400] * len(ids)
    assert len({str(response.json()) for response in answers}) == 1
    assert answers[0].json()["error"]["fields"] == {"participant": ["No such participant."]}
    assert db_snapshot() == before


def test_an_admin_hears_the_reason(
    client_for: Clients, adult_program: Program, ada: User, dana: User, theo: User, ava: User
) -> None:
    treated_elsewhere = UserFactory.create(adult=True)
    make_enrollment(participant=treated_elsewhere, program=make_program(age_band="adult"), clinician=theo)
    admin = client_for(ada)
    teen = admin.post("/api/v1/enrollments/", _body(ava.pk, adult_program, dana.pk), format="json")
    assert teen.json()["error"]["fields"] == {"participant": ["This program is for adult participants."]}
    twice = admin.post("/api/v1/enrollments/", _body(treated_elsewhere.pk, adult_program, dana.pk), format="json")
    assert twice.status_code == 409
    assert twice.json()["error"]["code"] == "active_enrollment_exists"


def test_a_transitions_clinician_works_in_the_program(
    client_for: Clients, adult_program: Program, dana: User, theo: User, sam: User, db_snapshot: Snapshot
) -> None:
    enrollment = make_enrollment(participant=sam, program=adult_program, clinician=dana)
    client = client_for(dana)
    url = f"/api/v1/enrollments/{enrollment.pk}/transitions/"
    before = db_snapshot()
    for clinician_id in (theo.pk, sam.pk, 10**9):
        body = {"to_level": "OP", "effective_date": timezone.localdate().isoformat(), "reason": "Goals met"}
        response = client.post(url, {**body, "clinician": clinician_id}, format="json")
        assert response.status_code == 400
        assert response.json()["error"]["fields"] == {"clinician": ["No such clinician in this program."]}
    assert db_snapshot() == before


# --- Program staff ------------------------------------------------------------------------


def test_admins_name_a_programs_clinicians(
    client_for: Clients, adult_program: Program, ada: User, dana: User, theo: User, sam: User
) -> None:
    url = f"/api/v1/programs/{adult_program.pk}/"
    admin = client_for(ada)
    assert client_for(dana).patch(url, {"clinicians": [dana.pk, theo.pk]}, format="json").status_code == 403
    response = admin.patch(url, {"clinicians": [dana.pk, theo.pk]}, format="json")
    assert response.status_code == 200, response.json()
    assert sorted(response.json()["clinicians"]) == sorted([dana.pk, theo.pk])
    entry = AuditEntry.objects.filter(action="program.update").latest("id")
    assert entry.data["clinicians"] == sorted([dana.pk, theo.pk])
    for bad in ([sam.pk], [10**9], ["dana"], "dana"):
        response = admin.patch(url, {"clinicians": bad}, format="json")
        assert response.status_code == 400, bad
        assert "clinicians" in response.json()["error"]["fields"]
    assert set(adult_program.clinicians.values_list("pk", flat=True)) == {dana.pk, theo.pk}


# --- Ending an enrollment -----------------------------------------------------------------


def test_ending_an_enrollment_ends_memberships_rosters_and_the_open_socket(
    client_for: Clients,
    django_capture_on_commit_callbacks: Callable,
    adult_program: Program,
    dana: User,
    theo: User,
    sam: User,
) -> None:
    enrollment = make_enrollment(participant=sam, program=adult_program, clinician=dana)
    groups = [make_group(program=adult_program, lead=dana, members=[sam]) for _ in range(2)]
    # A group of another program (an earlier enrollment) is not this enrollment's to end.
    other_group = make_group(program=make_program(age_band="adult"), lead=theo, members=[sam])
    sessions: dict[str, Session] = {}
    for index, group in enumerate(groups):
        sessions[f"past{index}"] = make_session(group=group, hosts=[dana], roster=[sam], starts_in=timedelta(days=-2))
        sessions[f"open{index}"] = make_session(
            group=group, hosts=[dana], roster=[sam], starts_in=timedelta(minutes=-10)
        )
        sessions[f"future{index}"] = make_session(group=group, hosts=[dana], roster=[sam], starts_in=timedelta(days=3))
    elsewhere = make_session(group=other_group, hosts=[theo], roster=[sam], starts_in=timedelta(days=3))
    participant = client_for(sam)
    assert participant.get(f"/api/v1/sessions/{sessions['future0'].pk}/").status_code == 200

    with listening_for_revocations() as revocations, django_capture_on_commit_callbacks(execute=True):
        response = client_for(dana).post(
            f"/api/v1/enrollments/{enrollment.pk}/end/",
            {"status": "discharged", "ended_on": timezone.localdate().isoformat()},
            format="json",
        )
        assert response.status_code == 200, response.json()

    revoked = {"type": "access.revoked", "reason": "removed_from_roster", "user": sam.pk}
    assert sorted(revocations.published(), key=lambda event: event["session_id"]) == [
        {**revoked, "session_id": sessions["open0"].pk},
        {**revoked, "session_id": sessions["open1"].pk},
    ]
    for group in groups:
        assert GroupMembership.objects.get(group=group, participant=sam).left_at is not None
    assert GroupMembership.objects.get(group=other_group, participant=sam).left_at is None
    on_roster = set(RosterEntry.objects.filter(user=sam, removed_at__isnull=True).values_list("session_id", flat=True))
    assert on_roster == {sessions["past0"].pk, sessions["past1"].pk, elsewhere.pk}  # history stays
    for name in ("open0", "open1", "future0", "future1"):
        assert participant.get(f"/api/v1/sessions/{sessions[name].pk}/").status_code == 404
    assert AuditEntry.objects.filter(action="group.member_remove", actor=dana).count() == 2
    # Nor can the lead put them back while they are not enrolled.
    again = client_for(dana).post(f"/api/v1/groups/{groups[0].pk}/members/", {"participant": sam.pk}, format="json")
    assert again.status_code == 400


@pytest.mark.parametrize("role", ["theo", "sam", "pat"])
def test_only_the_enrollments_clinicians_and_admins_end_it(
    role: str,
    request: pytest.FixtureRequest,
    client_for: Clients,
    adult_program: Program,
    dana: User,
    sam: User,
    db_snapshot: Snapshot,
) -> None:
    enrollment = make_enrollment(participant=sam, program=adult_program, clinician=dana)
    make_group(program=adult_program, lead=dana, members=[sam])
    client = client_for(request.getfixturevalue(role))
    before = db_snapshot()
    body = {"status": "discharged", "ended_on": timezone.localdate().isoformat()}
    response = client.post(f"/api/v1/enrollments/{enrollment.pk}/end/", body, format="json")
    assert response.status_code in (403, 404)
    assert db_snapshot() == before


def test_an_admin_ends_an_enrollment_the_same_way(
    client_for: Clients, django_capture_on_commit_callbacks: Callable, adult_program: Program, ada: User, dana: User
) -> None:
    person = UserFactory.create(adult=True)
    enrollment = make_enrollment(participant=person, program=adult_program, clinician=dana)
    group = make_group(program=adult_program, lead=dana, members=[person])
    future = make_session(group=group, hosts=[dana], roster=[person], starts_in=timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        body = {"status": "transferred", "ended_on": timezone.localdate().isoformat()}
        assert client_for(ada).post(f"/api/v1/enrollments/{enrollment.pk}/end/", body, format="json").status_code == 200
    assert RosterEntry.objects.get(session=future, user=person).removed_at is not None
