"""Therapy groups: capacity, age matching, membership and its effect on rosters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from groups.models import GroupMembership
from sessions.models import RosterEntry
from tests.factories import UserFactory, make_enrollment, make_group, make_program, make_session

pytestmark = pytest.mark.django_db
Clients = Callable[[User], APIClient]


def _group_body(program_id: int, lead: User, **extra: object) -> dict[str, object]:
    return {
        "program": program_id,
        "title": "DBT skills",
        "modality": "dbt_skills",
        "lead_facilitator": lead.pk,
        **extra,
    }


def test_admin_creates_a_group_with_co_facilitator(client_for: Clients, ada: User, dana: User, theo: User) -> None:
    program = make_program(age_band="adolescent")
    response = client_for(ada).post(
        "/api/v1/groups/", _group_body(program.pk, dana, co_facilitators=[theo.pk]), format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["age_band"] == "adolescent"
    assert body["capacity"] == 12
    assert body["co_facilitators"] == [theo.pk]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"capacity": 16}, "capacity"),
        ({"capacity": 0}, "capacity"),
        ({"capacity": "big"}, "capacity"),
        ({"modality": "hypnosis"}, "modality"),
        ({"co_facilitators": "theo"}, "co_facilitators"),
    ],
)
def test_bad_group_input_changes_nothing(
    extra: dict[str, object], field: str, client_for: Clients, ada: User, dana: User, db_snapshot: Callable
) -> None:
    program = make_program()
    client = client_for(ada)
    before = db_snapshot()
    response = client.post("/api/v1/groups/", _group_body(program.pk, dana, **extra), format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert db_snapshot() == before


def test_lead_must_be_a_clinician(client_for: Clients, ada: User, sam: User) -> None:
    program = make_program()
    response = client_for(ada).post("/api/v1/groups/", _group_body(program.pk, sam), format="json")
    assert response.status_code == 400


@pytest.mark.parametrize("role", ["dana", "sam", "pat"])
def test_only_admins_create_groups(role: str, request: pytest.FixtureRequest, client_for: Clients, theo: User) -> None:
    program = make_program()
    user = request.getfixturevalue(role)
    assert client_for(user).post("/api/v1/groups/", _group_body(program.pk, theo), format="json").status_code == 403


def test_adolescent_group_refuses_adults_and_guardians(
    client_for: Clients, ada: User, dana: User, sam: User, pat: User, db_snapshot: Callable
) -> None:
    group = make_group(program=make_program(age_band="adolescent"), lead=dana)
    client = client_for(ada)
    before = db_snapshot()
    for person in (sam, pat):
        response = client.post(f"/api/v1/groups/{group.pk}/members/", {"participant": person.pk}, format="json")
        assert response.status_code == 400
        assert "participant" in response.json()["error"]["fields"]
    assert db_snapshot() == before


def test_adult_group_refuses_adolescents(client_for: Clients, ada: User, dana: User, ava: User) -> None:
    group = make_group(program=make_program(age_band="adult"), lead=dana)
    response = client_for(ada).post(f"/api/v1/groups/{group.pk}/members/", {"participant": ava.pk}, format="json")
    assert response.status_code == 400


def test_full_group_and_duplicate_member_are_conflicts(client_for: Clients, ada: User, dana: User) -> None:
    members = [UserFactory.create(adult=True) for _ in range(2)]
    program = make_program()
    for member in members:
        make_enrollment(participant=member, program=program, clinician=dana)
    group = make_group(program=program, lead=dana, members=members[:1], capacity=1)
    client = client_for(ada)
    url = f"/api/v1/groups/{group.pk}/members/"
    assert client.post(url, {"participant": members[0].pk}, format="json").json()["error"]["code"] == "already_member"
    response = client.post(url, {"participant": members[1].pk}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "group_full"


def test_lead_facilitator_manages_members_other_clinicians_do_not(
    client_for: Clients, dana: User, theo: User, sam: User
) -> None:
    program = make_program()
    make_enrollment(participant=sam, program=program, clinician=dana)
    group = make_group(program=program, lead=dana)
    url = f"/api/v1/groups/{group.pk}/members/"
    assert client_for(theo).post(url, {"participant": sam.pk}, format="json").status_code == 404  # not theirs to see
    assert client_for(dana).post(url, {"participant": sam.pk}, format="json").status_code == 201


def test_membership_changes_update_future_rosters_only(client_for: Clients, ada: User, dana: User, sam: User) -> None:
    program = make_program()
    make_enrollment(participant=sam, program=program, clinician=dana)
    group = make_group(program=program, lead=dana)
    past = make_session(group=group, hosts=[dana], starts_in=timedelta(days=-3))
    future = make_session(group=group, hosts=[dana], starts_in=timedelta(days=2))
    client = client_for(ada)
    assert client.post(f"/api/v1/groups/{group.pk}/members/", {"participant": sam.pk}, format="json").status_code == 201
    assert RosterEntry.objects.filter(session=future, user=sam, removed_at__isnull=True).exists()
    assert not RosterEntry.objects.filter(session=past, user=sam).exists()

    response = client.post(f"/api/v1/groups/{group.pk}/members/remove/", {"participant": sam.pk}, format="json")
    assert response.status_code == 200
    assert RosterEntry.objects.get(session=future, user=sam).removed_at is not None
    assert GroupMembership.objects.get(group=group, participant=sam).left_at is not None
    again = client.post(f"/api/v1/groups/{group.pk}/members/remove/", {"participant": sam.pk}, format="json")
    assert again.status_code == 409


def test_capacity_cannot_drop_below_members(client_for: Clients, ada: User, dana: User) -> None:
    members = [UserFactory.create(adult=True) for _ in range(3)]
    group = make_group(program=make_program(), lead=dana, members=members)
    response = client_for(ada).patch(f"/api/v1/groups/{group.pk}/", {"capacity": 2}, format="json")
    assert response.status_code == 409
    assert client_for(ada).patch(f"/api/v1/groups/{group.pk}/", {"capacity": 15}, format="json").status_code == 200
    assert client_for(ada).patch(f"/api/v1/groups/{group.pk}/", {"age_band": "adult"}, format="json").status_code == 400


def test_a_member_needs_an_active_enrollment_in_the_groups_program(
    client_for: Clients, ada: User, dana: User, sam: User, db_snapshot: Callable
) -> None:
    program, elsewhere = make_program(), make_program()
    group = make_group(program=program, lead=dana)
    url = f"/api/v1/groups/{group.pk}/members/"
    admin = client_for(ada)
    before = db_snapshot()
    response = admin.post(url, {"participant": sam.pk}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "participant": ["This participant has no active enrollment in the group's program."]
    }
    make_enrollment(participant=sam, program=elsewhere, clinician=dana)
    assert admin.post(url, {"participant": sam.pk}, format="json").status_code == 400
    assert db_snapshot() == before | {
        "programs_enrollment": before["programs_enrollment"] + 1,
        "programs_program_clinicians": before["programs_program_clinicians"] + 1,
    }


def test_a_lead_hears_nothing_about_people_outside_the_program(
    client_for: Clients, ada: User, dana: User, theo: User, sam: User, ava: User, pat: User, db_snapshot: Callable
) -> None:
    """Refusals to a group's lead read the same for every id they may not see: no account,
    a guardian, a clinician, an adolescent, an adult not enrolled here."""
    group = make_group(program=make_program(age_band="adult"), lead=dana)
    url = f"/api/v1/groups/{group.pk}/members/"
    lead, admin = client_for(dana), client_for(ada)
    before = db_snapshot()
    answers = [
        lead.post(url, {"participant": pk}, format="json") for pk in (10**9, pat.pk, theo.pk, ada.pk, ava.pk, sam.pk)
    ]
    assert {response.status_code for response in answers} == {400}
    assert len({str(response.json()) for response in answers}) == 1
    assert answers[0].json()["error"]["fields"] == {"participant": ["No such participant."]}
    assert db_snapshot() == before
    # An admin, who sees every account, hears the reason.
    admin_answer = admin.post(url, {"participant": pat.pk}, format="json").json()
    assert admin_answer["error"]["fields"] == {"participant": ["Guardians are never members of a therapy group."]}


def test_removing_a_non_member_reads_the_same_for_any_id(
    client_for: Clients, dana: User, theo: User, ava: User
) -> None:
    group = make_group(program=make_program(age_band="adult"), lead=dana)
    url = f"/api/v1/groups/{group.pk}/members/remove/"
    answers = [client_for(dana).post(url, {"participant": pk}, format="json") for pk in (10**9, theo.pk, ava.pk)]
    assert {response.status_code for response in answers} == {409}
    assert {str(response.json()) for response in answers} == {str(answers[0].json())}
