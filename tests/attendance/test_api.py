"""GET /sessions/{id}/attendance/, GET and PATCH /attendance/{id}/: who may read, who may
override, and bad input that changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import User
from attendance import tasks
from attendance.models import AttendanceRecord
from audit.models import AuditEntry
from programs.models import Enrollment, EnrollmentStatus
from sessions.models import Session
from tests.attendance.conftest import segment
from tests.factories import UserFactory, make_enrollment, make_program

pytestmark = pytest.mark.django_db
Clients = Callable[[User], APIClient]
ENROLLED_FROM = date(2026, 11, 2)
WEEK = "2026-W48"  # the week of the sessions here (conftest.START)


@pytest.fixture
def recorded(ended_session: Callable[..., Session], ava: User, sam: User) -> Session:
    """ava attended late (75 minutes); sam was absent."""
    session = ended_session()
    segment(session, ava, 15, 90)
    tasks.record_session_attendance(session.pk)
    return session


def _record(session: Session, user: User) -> AttendanceRecord:
    return AttendanceRecord.objects.get(session=session, user=user)


@pytest.mark.parametrize("who", ["dana", "theo", "ada"])
def test_hosts_and_admins_list_a_sessions_attendance(
    recorded: Session, client_for: Clients, ava: User, sam: User, who: str, request: pytest.FixtureRequest
) -> None:
    response = client_for(request.getfixturevalue(who)).get(f"/api/v1/sessions/{recorded.pk}/attendance/")
    assert response.status_code == 200
    body = {row["user"]: row for row in response.json()}
    assert (body[ava.pk]["status"], body[ava.pk]["minutes"], body[ava.pk]["computed_status"]) == ("late", 75, "late")
    assert body[ava.pk]["intervals"] == [{"from": "2026-11-23T17:15:00+00:00", "to": "2026-11-23T18:30:00+00:00"}]
    assert (body[sam.pk]["status"], body[sam.pk]["minutes"], body[sam.pk]["first_join"]) == ("absent", 0, None)


def test_the_list_takes_the_same_queries_whatever_the_roster(
    ended_session: Callable[..., Session], client_for: Clients, dana: User
) -> None:
    client = client_for(dana)

    def queries(roster_size: int) -> int:
        session = ended_session(roster=UserFactory.create_batch(roster_size, adult=True))
        tasks.record_session_attendance(session.pk)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(f"/api/v1/sessions/{session.pk}/attendance/")
        assert response.status_code == 200
        assert len(response.json()) == roster_size
        return len(captured)

    small = queries(2)
    assert queries(8) == small
    assert small <= 8


@pytest.mark.parametrize(("who", "status"), [("ava", 403), ("sam", 403), ("pat", 403), ("stranger", 404)])
def test_others_cannot_list_a_sessions_attendance(
    recorded: Session, client_for: Clients, who: str, status: int, request: pytest.FixtureRequest
) -> None:
    user = UserFactory.create() if who == "stranger" else request.getfixturevalue(who)
    response = client_for(user).get(f"/api/v1/sessions/{recorded.pk}/attendance/")
    assert response.status_code == status
    assert set(response.json()["error"]) == {"code", "message", "fields"}


@pytest.fixture(params=["primary", "program"])
def treating_clinician(request: pytest.FixtureRequest, ava: User) -> User:
    """A clinician who treats ava (her primary clinician, or a clinician of her program)
    and hosts none of her sessions."""
    clinician = UserFactory.create()
    if request.param == "primary":
        program, primary = make_program(age_band="adolescent"), clinician
    else:
        program, primary = make_program(age_band="adolescent", clinicians=[clinician]), UserFactory.create()
    make_enrollment(participant=ava, program=program, clinician=primary, start_date=ENROLLED_FROM)
    return clinician


def test_a_treating_clinician_who_does_not_host_reads_the_record_but_cannot_override_it(
    recorded: Session,
    client_for: Clients,
    ava: User,
    sam: User,
    treating_clinician: User,
    db_snapshot: Callable[[], dict[str, int]],
) -> None:
    client = client_for(treating_clinician)
    # The session's list stays with its hosts and admins (404 for a clinician who does not
    # see the session at all: sessions.selectors.sessions_visible_to).
    assert client.get(f"/api/v1/sessions/{recorded.pk}/attendance/").status_code in (403, 404)
    record = _record(recorded, ava)
    # Each record of the participant's week list opens.
    week = client.get(f"/api/v1/participants/{ava.pk}/attendance/", {"week": WEEK})
    assert week.status_code == 200
    assert [row["id"] for row in week.json()["results"]] == [record.pk]
    response = client.get(f"/api/v1/attendance/{record.pk}/")
    assert response.status_code == 200
    assert (response.json()["user"], response.json()["status"]) == (ava.pk, "late")
    # Not the records of a participant they do not treat, even in the same session.
    assert client.get(f"/api/v1/attendance/{_record(recorded, sam).pk}/").status_code == 404
    # Overriding stays with the session's hosts and admins.
    before, rows = db_snapshot(), list(AttendanceRecord.objects.values())
    refused = client.patch(
        f"/api/v1/attendance/{record.pk}/", {"override_status": "attended", "reason": "Was there"}, format="json"
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert db_snapshot() == before
    assert list(AttendanceRecord.objects.values()) == rows


def test_a_clinician_whose_treatment_ended_no_longer_reads_the_record(
    recorded: Session, client_for: Clients, ava: User, treating_clinician: User
) -> None:
    Enrollment.objects.filter(participant=ava).update(status=EnrollmentStatus.DISCHARGED)
    record = _record(recorded, ava)
    client = client_for(treating_clinician)
    assert client.get(f"/api/v1/attendance/{record.pk}/").status_code == 404
    assert client.get(f"/api/v1/participants/{ava.pk}/attendance/", {"week": WEEK}).status_code == 404


def test_a_host_reads_each_record_once_whatever_the_number_of_hosts(
    recorded: Session, client_for: Clients, dana: User, ava: User
) -> None:
    # dana hosts the session and treats ava: both reasons match, the record comes once.
    make_enrollment(participant=ava, program=make_program(age_band="adolescent"), clinician=dana)
    record = _record(recorded, ava)
    assert client_for(dana).get(f"/api/v1/attendance/{record.pk}/").status_code == 200


def test_a_participant_reads_their_own_record_only(
    recorded: Session, client_for: Clients, ava: User, sam: User, pat: User
) -> None:
    own, other = _record(recorded, ava), _record(recorded, sam)
    client = client_for(ava)
    response = client.get(f"/api/v1/attendance/{own.pk}/")
    assert response.status_code == 200
    assert (response.json()["user"], response.json()["status"]) == (ava.pk, "late")
    assert client.get(f"/api/v1/attendance/{other.pk}/").status_code == 404
    # A guardian does not read the adolescent's attendance here.
    assert client_for(pat).get(f"/api/v1/attendance/{own.pk}/").status_code == 404


@pytest.mark.parametrize("who", ["dana", "theo", "ada"])
def test_hosts_and_admins_read_any_record_of_the_session(
    recorded: Session, client_for: Clients, sam: User, who: str, request: pytest.FixtureRequest
) -> None:
    record = _record(recorded, sam)
    assert client_for(request.getfixturevalue(who)).get(f"/api/v1/attendance/{record.pk}/").status_code == 200


def test_a_host_excuses_an_absence_audited_with_old_and_new_values(
    recorded: Session, client_for: Clients, dana: User, sam: User
) -> None:
    record = _record(recorded, sam)
    response = client_for(dana).patch(
        f"/api/v1/attendance/{record.pk}/",
        {"override_status": "excused", "reason": "Hospital appointment"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["computed_status"], body["override_reason"], body["overridden_by"]) == (
        "excused",
        "absent",
        "Hospital appointment",
        dana.pk,
    )
    entry = AuditEntry.objects.get(action="attendance.override")
    assert (entry.actor_id, entry.target_id) == (dana.pk, str(record.pk))
    assert entry.data["old"] == {"status": None, "minutes": None}
    assert entry.data["new"] == {"status": "excused", "minutes": None}
    assert entry.data["computed"] == {"status": "absent", "minutes": 0}


def test_an_admin_overrides_minutes_and_then_clears_the_override(
    recorded: Session, client_for: Clients, ada: User, ava: User
) -> None:
    record = _record(recorded, ava)
    client = client_for(ada)
    response = client.patch(
        f"/api/v1/attendance/{record.pk}/", {"override_minutes": 90, "reason": "Joined by phone"}, format="json"
    )
    assert (response.status_code, response.json()["minutes"], response.json()["computed_minutes"]) == (200, 90, 75)
    response = client.patch(
        f"/api/v1/attendance/{record.pk}/", {"override_minutes": None, "reason": "Phone log was wrong"}, format="json"
    )
    assert response.status_code == 200
    record.refresh_from_db()
    assert (record.override_minutes, record.override_reason, record.overridden_by, record.effective_minutes) == (
        None,
        "",
        None,
        75,
    )
    assert AuditEntry.objects.filter(action="attendance.override").count() == 2


@pytest.mark.parametrize(("who", "status"), [("ava", 403), ("sam", 403), ("pat", 403), ("stranger", 404)])
def test_participants_guardians_and_other_clinicians_cannot_override(
    recorded: Session,
    client_for: Clients,
    ava: User,
    who: str,
    status: int,
    request: pytest.FixtureRequest,
    db_snapshot: Callable[[], dict[str, int]],
) -> None:
    user = UserFactory.create() if who == "stranger" else request.getfixturevalue(who)
    record, client = _record(recorded, ava), client_for(user)
    before = db_snapshot()
    response = client.patch(
        f"/api/v1/attendance/{record.pk}/", {"override_status": "attended", "reason": "Was there"}, format="json"
    )
    assert response.status_code == status
    assert db_snapshot() == before
    assert _record(recorded, ava).override_status is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"override_status": "attended"}, "reason"),
        ({"override_status": "attended", "reason": "   "}, "reason"),
        ({"override_status": "attended", "reason": 5}, "reason"),
        ({"override_minutes": -1, "reason": "Typo"}, "override_minutes"),
        ({"override_minutes": 91, "reason": "More than the session"}, "override_minutes"),
        ({"override_minutes": "60", "reason": "A string"}, "override_minutes"),
        ({"override_minutes": True, "reason": "A boolean"}, "override_minutes"),
        ({"override_minutes": 60.5, "reason": "A float"}, "override_minutes"),
        ({"override_status": "present", "reason": "Unknown"}, "override_status"),
        ({"override_status": "excused", "reason": "She came late"}, "override_status"),
        ({"override_status": "attended", "reason": "Ok", "attended_minutes": 90}, "attended_minutes"),
        ({"reason": "Nothing to override"}, None),
    ],
)
def test_bad_overrides_are_refused_and_change_nothing(
    recorded: Session,
    client_for: Clients,
    dana: User,
    ava: User,
    body: dict[str, Any],
    field: str | None,
    db_snapshot: Callable[[], dict[str, int]],
) -> None:
    record, client = _record(recorded, ava), client_for(dana)  # late, not absent: it cannot be excused
    before, rows = db_snapshot(), list(AttendanceRecord.objects.values())
    response = client.patch(f"/api/v1/attendance/{record.pk}/", body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    if field is not None:
        assert field in error["fields"], error
    assert db_snapshot() == before
    assert list(AttendanceRecord.objects.values()) == rows


def test_an_excuse_with_minutes_is_refused(recorded: Session, client_for: Clients, dana: User, sam: User) -> None:
    record = _record(recorded, sam)
    response = client_for(dana).patch(
        f"/api/v1/attendance/{record.pk}/",
        {"override_status": "excused", "override_minutes": 30, "reason": "Excused"},
        format="json",
    )
    assert response.status_code == 400
    assert _record(recorded, sam).override_status is None


def test_put_is_not_offered(recorded: Session, client_for: Clients, dana: User, ava: User) -> None:
    record = _record(recorded, ava)
    response = client_for(dana).put(f"/api/v1/attendance/{record.pk}/", {"reason": "x"}, format="json")
    assert response.status_code == 405


def test_the_schema_documents_the_override_with_its_required_reason(client_for: Clients, dana: User) -> None:
    schema = client_for(dana).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert {"get"} <= set(schema["paths"]["/api/v1/sessions/{id}/attendance/"])
    patch = schema["paths"]["/api/v1/attendance/{id}/"]["patch"]
    body = patch["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert schema["components"]["schemas"][body]["required"] == ["reason"]


def test_the_django_admin_shows_records_but_cannot_change_them(recorded: Session, ada: User, ava: User) -> None:
    from django.contrib import admin
    from django.test import RequestFactory

    model_admin = admin.site._registry[AttendanceRecord]
    request = RequestFactory().get("/admin/")
    request.user = ada
    record = _record(recorded, ava)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, record)
    assert not model_admin.has_delete_permission(request, record)
