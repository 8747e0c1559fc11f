"""A clinician schedules individual sessions only with participants in treatment with them,
and a refusal says nothing about the person behind an id."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from sessions.models import Session
from tests.factories import UserFactory, make_enrollment, make_program

pytestmark = pytest.mark.django_db
Clients = Callable[[User], APIClient]


def _body(participant_id: int, clinician: User) -> dict[str, object]:
    return {
        "kind": "individual",
        "title": "Individual therapy",
        "participant": participant_id,
        "clinician": clinician.pk,
        "local_date": "2026-12-02",
        "local_time": "10:00",
        "time_zone": "America/Chicago",
        "duration_minutes": 50,
    }


def test_primary_clinician_and_program_colleague_schedule_one(
    client_for: Clients, dana: User, theo: User, sam: User
) -> None:
    program = make_program()
    make_enrollment(participant=sam, program=program, clinician=dana)
    program.clinicians.add(theo)
    for clinician in (dana, theo):
        response = client_for(clinician).post("/api/v1/sessions/", _body(sam.pk, clinician), format="json")
        assert response.status_code == 201, response.json()
    assert Session.objects.filter(kind="individual", roster__user=sam).count() == 2


def test_a_clinician_cannot_put_a_stranger_on_their_session(
    client_for: Clients, ada: User, dana: User, theo: User, sam: User, ava: User, pat: User, db_snapshot: Callable
) -> None:
    """sam is in treatment with theo, not dana: dana could otherwise schedule him and see
    the session. No account, a guardian, a clinician, sam: the same 400."""
    make_enrollment(participant=sam, program=make_program(), clinician=theo)
    unenrolled = UserFactory.create(adult=True)
    client = client_for(dana)
    before = db_snapshot()
    answers = [
        client.post("/api/v1/sessions/", _body(pk, dana), format="json")
        for pk in (10**9, pat.pk, theo.pk, ada.pk, ava.pk, sam.pk, unenrolled.pk)
    ]
    assert [response.status_code for response in answers] == [400] * 7
    assert len({str(response.json()) for response in answers}) == 1
    assert answers[0].json()["error"]["fields"] == {"participant": ["No such participant."]}
    assert db_snapshot() == before


def test_an_admin_schedules_anyone_and_hears_the_reason(
    client_for: Clients, ada: User, dana: User, sam: User, pat: User
) -> None:
    admin = client_for(ada)
    assert admin.post("/api/v1/sessions/", _body(sam.pk, dana), format="json").status_code == 201
    refused = admin.post("/api/v1/sessions/", _body(pat.pk, dana), format="json")
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {
        "participant": ["Only participants are on an individual session's roster."]
    }
