"""The names behind the ids (web client, issue 24): GET /programs/{id}/participants/ for a
program's clinicians and admins, and GET /participants/{id}/clinicians/, which tells a
guardian (while the adolescent's consent shares the schedule) whose family-session slots
they may book. Refusals and bad ids change nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import Consent, ConsentScope, User
from programs.models import Enrollment, EnrollmentStatus, Program
from tests.factories import UserFactory, make_enrollment, make_program

pytestmark = pytest.mark.django_db

Clients = Callable[[User], APIClient]


@pytest.fixture
def teen_program(dana: User, theo: User) -> Program:
    return make_program(age_band="adolescent", clinicians=[dana, theo])


@pytest.fixture
def ava_enrolled(ava: User, dana: User, teen_program: Program) -> Enrollment:
    return make_enrollment(participant=ava, program=teen_program, clinician=dana)


def _participants_url(program: Program | int) -> str:
    return f"/api/v1/programs/{getattr(program, 'pk', program)}/participants/"


def _clinicians_url(participant: User | int) -> str:
    return f"/api/v1/participants/{getattr(participant, 'pk', participant)}/clinicians/"


# --- a program's participants --------------------------------------------------------------


def test_the_programs_clinicians_and_admins_get_its_participants_by_name(
    client_for: Clients, ada: User, dana: User, ava: User, ava_enrolled: Enrollment, teen_program: Program
) -> None:
    ended = UserFactory.create(adolescent=True, first_name="Ben", last_name="Ortiz")
    make_enrollment(participant=ended, program=teen_program, clinician=dana)
    Enrollment.objects.filter(participant=ended).update(status=EnrollmentStatus.DISCHARGED)
    make_enrollment(participant=UserFactory.create(adolescent=True), program=make_program(), clinician=dana)
    for viewer in (dana, ada):
        response = client_for(viewer).get(_participants_url(teen_program))
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["count"] == 2
        rows = {row["id"]: row for row in body["results"]}
        assert set(rows) == {ava.pk, ended.pk}
        assert rows[ended.pk] == {"id": ended.pk, "username": ended.username, "first_name": "Ben", "last_name": "Ortiz"}


def test_others_cannot_list_a_programs_participants(
    client_for: Clients, ava: User, sam: User, pat: User, ava_enrolled: Enrollment, teen_program: Program
) -> None:
    outsider = UserFactory.create(username="olga")
    assert client_for(outsider).get(_participants_url(teen_program)).status_code == 403
    for person in (ava, sam, pat):
        response = client_for(person).get(_participants_url(teen_program))
        assert response.status_code == 403
        assert set(response.json()["error"]) >= {"code", "message"}
    assert APIClient().get(_participants_url(teen_program)).status_code == 401


@pytest.mark.parametrize("program_id", ["0", "999999", str(2**63)])
def test_an_unknown_program_is_404(client_for: Clients, ada: User, program_id: str) -> None:
    response = client_for(ada).get(_participants_url(int(program_id)))
    assert response.status_code == 404
    assert "error" in response.json()


def test_a_bad_page_is_400(client_for: Clients, dana: User, teen_program: Program) -> None:
    response = client_for(dana).get(_participants_url(teen_program) + "?limit=abc")
    assert response.status_code == 400
    assert "error" in response.json()


# --- who treats a participant ---------------------------------------------------------------


def test_a_guardian_with_schedule_consent_sees_the_adolescents_clinicians_primary_first(
    client_for: Clients, pat: User, ava: User, dana: User, theo: User, ava_enrolled: Enrollment
) -> None:
    User.objects.filter(pk=theo.pk).update(first_name="Aaron")  # sorts before dana, still second
    UserFactory.create(username="inactive_clinician", is_active=False).programs_staffed.add(ava_enrolled.program)
    response = client_for(pat).get(_clinicians_url(ava))
    assert response.status_code == 200, response.content
    assert [(row["id"], row["primary"]) for row in response.json()] == [(dana.pk, True), (theo.pk, False)]
    assert set(response.json()[0]) == {"id", "first_name", "last_name", "primary"}


def test_the_participant_their_clinicians_and_admins_see_them_too(
    client_for: Clients, ava: User, dana: User, ada: User, ava_enrolled: Enrollment
) -> None:
    for viewer in (ava, dana, ada):
        response = client_for(viewer).get(_clinicians_url(ava))
        assert response.status_code == 200
        assert response.json()[0]["id"] == dana.pk


def test_a_participant_with_no_active_enrollment_has_none(
    client_for: Clients, ava: User, ada: User, ava_enrolled: Enrollment
) -> None:
    Enrollment.objects.filter(pk=ava_enrolled.pk).update(status=EnrollmentStatus.DISCHARGED)
    assert client_for(ada).get(_clinicians_url(ava)).json() == []


def test_a_linked_guardian_without_schedule_consent_gets_403(
    client_for: Clients, pat: User, ava: User, ava_enrolled: Enrollment
) -> None:
    Consent.objects.filter(link__guardian=pat).update(scopes=[ConsentScope.HOURS])
    response = client_for(pat).get(_clinicians_url(ava))
    assert response.status_code == 403
    assert "schedule" in response.json()["error"]["message"]


def test_anyone_else_gets_the_404_of_no_one(
    client_for: Clients, ava: User, sam: User, pat: User, dana: User, ava_enrolled: Enrollment
) -> None:
    stranger_clinician = UserFactory.create(username="olga")
    other_guardian = UserFactory.create(username="gus", guardian=True)
    unknown = client_for(sam).get(_clinicians_url(999999))
    assert unknown.status_code == 404
    for viewer, participant in ((sam, ava), (stranger_clinician, ava), (other_guardian, ava), (pat, sam), (ava, sam)):
        response = client_for(viewer).get(_clinicians_url(participant))
        assert response.status_code == 404, (viewer.username, participant.username)
        assert response.json() == unknown.json()
    assert client_for(sam).get(_clinicians_url(dana)).status_code == 404  # a clinician is no participant


def test_bad_ids_are_404_and_anonymous_401(client_for: Clients, ava: User) -> None:
    assert client_for(ava).get(_clinicians_url(2**63)).status_code == 404
    assert client_for(ava).get("/api/v1/participants/abc/clinicians/").status_code == 404
    assert APIClient().get(_clinicians_url(ava)).status_code == 401


def _queries(client: APIClient, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_both_lists_cost_the_same_queries_however_many_people(
    client_for: Clients, dana: User, ava: User, teen_program: Program, ava_enrolled: Enrollment
) -> None:
    client = client_for(dana)
    few = (_queries(client, _participants_url(teen_program)), _queries(client, _clinicians_url(ava)))
    for _ in range(3):
        make_enrollment(participant=UserFactory.create(adolescent=True), program=teen_program, clinician=dana)
        teen_program.clinicians.add(UserFactory.create())
    more = (_queries(client, _participants_url(teen_program)), _queries(client, _clinicians_url(ava)))
    assert few == more
    assert len(client.get(_clinicians_url(ava)).json()) == 5
