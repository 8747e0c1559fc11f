"""POST/GET /sessions/{id}/checkin/: stored per session, prefilled from the last one,
phone numbers validated; bad input changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from audit.models import AuditEntry
from measures.models import CheckIn
from tests.factories import UserFactory, make_session

pytestmark = pytest.mark.django_db

BODY = {
    "location": {"region": "Illinois", "country": "us"},
    "emergency_contact": {"name": "Robin", "relation": "sister", "phone": "312-555-0199"},
}


def url(session: Any) -> str:
    return f"/api/v1/sessions/{session.pk}/checkin/"


def test_check_in_then_prefill_the_next_session(client_for: Callable[[User], APIClient], sam: User) -> None:
    first = make_session(kind="individual", roster=[sam], starts_in=timedelta(minutes=-5))
    second = make_session(kind="individual", roster=[sam], starts_in=timedelta(days=1))
    client = client_for(sam)
    assert client.get(url(first)).status_code == 404  # nothing to prefill yet
    response = client.post(url(first), BODY, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["location"] == {"region": "Illinois", "country": "US", "address": ""}
    assert response.json()["emergency_contact"]["phone"] == "+13125550199"
    prefill = client.get(url(second)).json()
    assert prefill["prefilled"] is True and prefill["emergency_contact"]["name"] == "Robin"
    assert client.get(url(first)).json()["prefilled"] is False
    again = {**BODY, "location": {"region": "Ontario", "country": "CA", "address": "1 King St"}}
    assert client.post(url(first), again, format="json").status_code == 201  # replaces it
    assert CheckIn.objects.get().region == "Ontario"
    entries = AuditEntry.objects.filter(action="session.checkin")
    assert entries.count() == 2 and "Robin" not in str(list(entries.values_list("data", flat=True)))


@pytest.mark.parametrize(
    "body",
    [
        {**BODY, "emergency_contact": {**BODY["emergency_contact"], "phone": "12"}},
        {**BODY, "emergency_contact": {**BODY["emergency_contact"], "phone": "555-0199-999-888"}},
        {**BODY, "emergency_contact": {**BODY["emergency_contact"], "phone": "call me"}},
        {**BODY, "emergency_contact": {**BODY["emergency_contact"], "phone": 3125550199}},
        {**BODY, "emergency_contact": {"name": "Robin", "relation": "sister"}},
        {**BODY, "location": {"country": "US"}},
        {**BODY, "location": {"region": "Illinois", "country": "USA"}},
        {**BODY, "location": {"region": "Illinois", "country": "ZZ"}},
        {**BODY, "location": {"region": "x" * 101, "country": "US"}},
        {"location": BODY["location"]},
        {},
        [],
    ],
)
def test_bad_check_ins_are_a_400_and_store_nothing(
    client_for: Callable[[User], APIClient], sam: User, db_snapshot: Callable[[], dict[str, int]], body: Any
) -> None:
    session = make_session(kind="individual", roster=[sam], starts_in=timedelta(minutes=-5))
    client = client_for(sam)
    before = db_snapshot()
    assert client.post(url(session), body, format="json").status_code == 400
    assert db_snapshot() == before


def test_only_the_participant_on_the_roster_checks_in(
    client_for: Callable[[User], APIClient], sam: User, dana: User, db_snapshot: Callable[[], dict[str, int]]
) -> None:
    session = make_session(kind="individual", hosts=[dana], roster=[sam], starts_in=timedelta(minutes=-5))
    outsider = UserFactory.create(adult=True)
    clients = [client_for(outsider), client_for(dana)]
    before = db_snapshot()
    assert clients[0].post(url(session), BODY, format="json").status_code == 404
    assert clients[1].post(url(session), BODY, format="json").status_code == 403  # a host does not check in
    assert client_for(sam).post("/api/v1/sessions/999999/checkin/", BODY, format="json").status_code == 404
    assert {k: v for k, v in db_snapshot().items() if k != "knox_authtoken"} == {
        k: v for k, v in before.items() if k != "knox_authtoken"
    }


def test_an_ended_session_takes_no_checkin(client_for: Callable[[User], APIClient], sam: User) -> None:
    session = make_session(kind="individual", roster=[sam], starts_in=timedelta(days=-1))
    assert client_for(sam).post(url(session), BODY, format="json").status_code == 400
    assert not CheckIn.objects.exists()
