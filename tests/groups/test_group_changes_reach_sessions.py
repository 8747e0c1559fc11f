"""A group's facilitator changes reach the hosts of its sessions that have not ended, and
whoever loses host power in a session open now has their socket there closed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from groups.models import TherapyGroup
from sessions.models import Session
from tests.factories import UserFactory, make_group, make_program, make_session
from tests.support.revocations import listening_for_revocations

pytestmark = pytest.mark.django_db
Clients = Callable[[User], APIClient]


def _hosts(session: Session) -> dict[str, str]:
    return {row.clinician.username: row.role for row in session.facilitators.select_related("clinician")}


def _revoked(user: User, session: Session) -> dict[str, object]:
    return {"type": "access.revoked", "reason": "removed_from_roster", "session_id": session.pk, "user": user.pk}


@pytest.fixture
def teen_group(dana: User, theo: User, ava: User) -> TherapyGroup:
    return make_group(program=make_program(age_band="adolescent"), lead=dana, co=[theo], members=[ava])


def _patch_group(
    client: APIClient, group: TherapyGroup, changes: Mapping[str, object], capture: Callable
) -> tuple[dict[str, object], list[dict[str, object]]]:
    """PATCH the group as ``client``, its commit hooks run: the group and the revocations
    published."""
    with listening_for_revocations() as revocations, capture(execute=True):
        response = client.patch(f"/api/v1/groups/{group.pk}/", changes, format="json")
        assert response.status_code == 200, response.json()
    return response.json(), revocations.published()


def _sessions(group: TherapyGroup, hosts: list[User], roster: list[User]) -> dict[str, Session]:
    return {
        "past": make_session(group=group, hosts=hosts, roster=roster, starts_in=timedelta(days=-3)),
        "open": make_session(group=group, hosts=hosts, roster=roster, starts_in=timedelta(minutes=-5)),
        "future": make_session(group=group, hosts=hosts, roster=roster, starts_in=timedelta(days=2)),
    }


def test_removing_a_co_facilitator_ends_their_host_power_in_open_and_future_sessions(
    client_for: Clients,
    django_capture_on_commit_callbacks: Callable,
    teen_group: TherapyGroup,
    ada: User,
    dana: User,
    theo: User,
    ava: User,
) -> None:
    sessions = _sessions(teen_group, [dana, theo], [ava])
    theo_client = client_for(theo)
    assert theo_client.get(f"/api/v1/sessions/{sessions['open'].pk}/").status_code == 200
    group, published = _patch_group(
        client_for(ada), teen_group, {"co_facilitators": []}, django_capture_on_commit_callbacks
    )
    assert group["co_facilitators"] == []
    # Their socket in the open adolescent room closes at once (the room closes it 4403).
    assert published == [_revoked(theo, sessions["open"])]
    assert _hosts(sessions["open"]) == {"dana": "lead"}
    assert _hosts(sessions["future"]) == {"dana": "lead"}
    assert _hosts(sessions["past"]) == {"dana": "lead", "theo": "co"}  # history stays
    # No rejoining as host, and the session is no longer theirs to see or end.
    assert theo_client.get(f"/api/v1/sessions/{sessions['open'].pk}/").status_code == 404
    assert theo_client.post(f"/api/v1/sessions/{sessions['future'].pk}/cancel/").status_code == 404


def test_a_new_co_facilitator_hosts_the_open_and_future_sessions(
    client_for: Clients, django_capture_on_commit_callbacks: Callable, ada: User, dana: User, theo: User, ava: User
) -> None:
    group = make_group(program=make_program(age_band="adolescent"), lead=dana, members=[ava])
    sessions = _sessions(group, [dana], [ava])
    _, published = _patch_group(
        client_for(ada), group, {"co_facilitators": [theo.pk]}, django_capture_on_commit_callbacks
    )
    assert published == []
    assert _hosts(sessions["open"]) == {"dana": "lead", "theo": "co"}
    assert _hosts(sessions["future"]) == {"dana": "lead", "theo": "co"}
    assert _hosts(sessions["past"]) == {"dana": "lead"}
    assert client_for(theo).get(f"/api/v1/sessions/{sessions['future'].pk}/").status_code == 200


def test_a_new_lead_replaces_the_old_one_whose_socket_closes(
    client_for: Clients,
    django_capture_on_commit_callbacks: Callable,
    teen_group: TherapyGroup,
    ada: User,
    dana: User,
    theo: User,
    ava: User,
) -> None:
    sessions = _sessions(teen_group, [dana, theo], [ava])
    newcomer = UserFactory.create(username="noor")
    changes = {"lead_facilitator": newcomer.pk}
    _, published = _patch_group(client_for(ada), teen_group, changes, django_capture_on_commit_callbacks)
    assert published == [_revoked(dana, sessions["open"])]
    for name in ("open", "future"):
        assert _hosts(sessions[name]) == {"noor": "lead", "theo": "co"}
    assert _hosts(sessions["past"]) == {"dana": "lead", "theo": "co"}


def test_swapping_lead_and_co_closes_the_demoted_leads_socket(
    client_for: Clients,
    django_capture_on_commit_callbacks: Callable,
    teen_group: TherapyGroup,
    ada: User,
    dana: User,
    theo: User,
    ava: User,
) -> None:
    """A lead made co-facilitator has their open socket closed (they may rejoin as
    co-facilitator; the room reads who holds the controls at each action anyway)."""
    sessions = _sessions(teen_group, [dana, theo], [ava])
    changes = {"lead_facilitator": theo.pk, "co_facilitators": [dana.pk]}
    _, published = _patch_group(client_for(ada), teen_group, changes, django_capture_on_commit_callbacks)
    assert published == [_revoked(dana, sessions["open"])]
    for name in ("open", "future"):
        assert _hosts(sessions[name]) == {"theo": "lead", "dana": "co"}
    assert _hosts(sessions["past"]) == {"dana": "lead", "theo": "co"}


def test_renaming_a_group_leaves_hosts_and_sockets_alone(
    client_for: Clients,
    django_capture_on_commit_callbacks: Callable,
    teen_group: TherapyGroup,
    ada: User,
    dana: User,
    theo: User,
    ava: User,
) -> None:
    sessions = _sessions(teen_group, [dana, theo], [ava])
    _, published = _patch_group(
        client_for(ada), teen_group, {"title": "DBT skills"}, django_capture_on_commit_callbacks
    )
    assert published == []
    assert _hosts(sessions["open"]) == {"dana": "lead", "theo": "co"}


@pytest.mark.parametrize("role", ["dana", "theo", "sam", "pat"])
def test_only_admins_change_a_groups_facilitators(
    role: str,
    request: pytest.FixtureRequest,
    client_for: Clients,
    teen_group: TherapyGroup,
    dana: User,
    theo: User,
    ava: User,
    db_snapshot: Callable[[], dict[str, int]],
) -> None:
    sessions = _sessions(teen_group, [dana, theo], [ava])
    client = client_for(request.getfixturevalue(role))
    before = db_snapshot()
    response = client.patch(f"/api/v1/groups/{teen_group.pk}/", {"co_facilitators": []}, format="json")
    assert response.status_code == 403
    assert db_snapshot() == before
    assert _hosts(sessions["open"]) == {"dana": "lead", "theo": "co"}


@pytest.mark.parametrize(
    "change",
    [{"co_facilitators": ["theo"]}, {"lead_facilitator": 0}, {"co_facilitators": [10**9]}, {"lead_facilitator": None}],
)
def test_bad_facilitator_input_changes_nothing(
    change: dict[str, object],
    client_for: Clients,
    teen_group: TherapyGroup,
    ada: User,
    dana: User,
    theo: User,
    ava: User,
    db_snapshot: Callable[[], dict[str, int]],
) -> None:
    _sessions(teen_group, [dana, theo], [ava])
    admin = client_for(ada)
    before = db_snapshot()
    response = admin.patch(f"/api/v1/groups/{teen_group.pk}/", change, format="json")
    assert response.status_code == 400, response.json()
    assert db_snapshot() == before


def test_a_participant_cannot_be_made_a_facilitator(
    client_for: Clients, teen_group: TherapyGroup, ada: User, dana: User, theo: User, ava: User, sam: User
) -> None:
    sessions = _sessions(teen_group, [dana, theo], [ava])
    response = client_for(ada).patch(f"/api/v1/groups/{teen_group.pk}/", {"co_facilitators": [sam.pk]}, format="json")
    assert response.status_code == 400
    assert "co_facilitators" in response.json()["error"]["fields"]
    assert _hosts(sessions["future"]) == {"dana": "lead", "theo": "co"}
