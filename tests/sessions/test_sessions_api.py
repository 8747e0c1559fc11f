"""GET /api/v1/sessions/ per CONTRACT.md: shape, visibility per role, bad ranges, query
counts; single sessions; the private iCal feed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import Consent, ConsentScope, User
from programs.models import Enrollment
from sessions.models import Session
from tests.factories import UserFactory, make_enrollment, make_group, make_program, make_session

pytestmark = pytest.mark.django_db
Clients = Callable[[User], APIClient]


def make_group_program(session: Session):
    assert session.group is not None
    return session.group.program


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [item["id"] for item in response.json()]


@pytest.fixture
def group_session(dana: User, theo: User, ava: User) -> Session:
    group = make_group(program=make_program(age_band="adolescent"), lead=dana, co=[theo], members=[ava])
    return make_session(group=group, hosts=[dana, theo], roster=[ava])


@pytest.fixture
def family_session(dana: User, ava: User, pat: User) -> Session:
    return make_session(kind="family", hosts=[dana], roster=[ava], guardians=[pat], title="Family therapy")


def test_list_shape_matches_the_contract(client_for: Clients, ava: User, group_session: Session) -> None:
    response = client_for(ava).get("/api/v1/sessions/")
    assert response.status_code == 200
    [item] = response.json()
    # CONTRACT.md's keys, plus the service a bill is built from (added; the kind's default).
    assert set(item) == {"id", "kind", "service", "title", "starts_at", "ends_at", "status", "group"}
    assert item["kind"] == "group" and item["status"] == "scheduled" and item["group"] == group_session.group_id
    assert item["service"] == "group_therapy"
    # ISO 8601 with the offset of the caller's zone (ava: America/New_York).
    assert item["starts_at"][-6:] in ("-05:00", "-04:00")


def test_participant_sees_only_sessions_they_are_on(
    client_for: Clients, ava: User, sam: User, group_session: Session
) -> None:
    assert _ids(client_for(ava).get("/api/v1/sessions/")) == [group_session.pk]
    assert _ids(client_for(sam).get("/api/v1/sessions/")) == []
    response = client_for(sam).get(f"/api/v1/sessions/{group_session.pk}/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_clinicians_see_what_they_facilitate_or_supervise(
    client_for: Clients, dana: User, theo: User, ava: User, group_session: Session
) -> None:
    outsider = UserFactory.create(username="olga")
    assert _ids(client_for(theo).get("/api/v1/sessions/")) == [group_session.pk]
    assert _ids(client_for(outsider).get("/api/v1/sessions/")) == []
    Enrollment.objects.create(
        participant=ava,
        program=make_group_program(group_session),
        start_date=group_session.starts_at.date() - timedelta(days=7),
        planned_end_date=group_session.starts_at.date() + timedelta(days=70),
        primary_clinician=outsider,
        medically_stable=True,
        detox_status="not_needed",
        stable_living_situation=True,
        able_to_attend=True,
        created_by=outsider,
    )
    assert _ids(client_for(outsider).get("/api/v1/sessions/")) == [group_session.pk]


def test_admin_sees_all(client_for: Clients, ada: User, group_session: Session, family_session: Session) -> None:
    assert sorted(_ids(client_for(ada).get("/api/v1/sessions/"))) == sorted([group_session.pk, family_session.pk])


def test_guardian_sees_family_sessions_only_with_schedule_consent(
    client_for: Clients, pat: User, group_session: Session, family_session: Session
) -> None:
    client = client_for(pat)
    assert _ids(client.get("/api/v1/sessions/")) == [family_session.pk]
    assert client.get(f"/api/v1/sessions/{group_session.pk}/").status_code == 404
    Consent.objects.filter(link__guardian=pat).update(scopes=[ConsentScope.HOURS])
    assert _ids(client.get("/api/v1/sessions/")) == []
    assert client.get(f"/api/v1/sessions/{family_session.pk}/").status_code == 404


def test_guardian_without_any_consent_sees_nothing(client_for: Clients, pat: User, family_session: Session) -> None:
    Consent.objects.filter(link__guardian=pat).delete()
    assert _ids(client_for(pat).get("/api/v1/sessions/")) == []


def test_range_filters_and_status(client_for: Clients, ava: User, group_session: Session) -> None:
    client = client_for(ava)
    start = group_session.starts_at
    inside = {"from": (start - timedelta(hours=1)).isoformat(), "to": (start + timedelta(hours=1)).isoformat()}
    assert _ids(client.get("/api/v1/sessions/", inside)) == [group_session.pk]
    later = {"from": (start + timedelta(days=1)).isoformat()}
    assert _ids(client.get("/api/v1/sessions/", later)) == []
    local_day = start.astimezone(ZoneInfo(ava.time_zone)).date()  # a date means midnight in the caller's zone
    assert _ids(client.get("/api/v1/sessions/", {"from": local_day.isoformat()})) == [group_session.pk]


@pytest.mark.parametrize(
    "params",
    [
        {"from": "yesterday"},
        {"from": "2026-11-24T10:00:00"},  # no offset
        {"from": "2026-13-40"},
        {"from": "2026-11-24", "to": "2026-11-23"},
        {"from": "2026-01-01", "to": "2026-12-31"},  # more than 93 days
    ],
)
def test_bad_ranges_are_400(params: dict[str, str], client_for: Clients, ava: User) -> None:
    response = client_for(ava).get("/api/v1/sessions/", params)
    assert response.status_code == 400
    assert response.json()["error"]["fields"]


def test_anonymous_is_401(api: APIClient) -> None:
    assert api.get("/api/v1/sessions/").status_code == 401


def test_list_query_count_does_not_grow_with_sessions(client_for: Clients, ava: User, dana: User) -> None:
    group = make_group(program=make_program(age_band="adolescent"), lead=dana, members=[ava])
    client = client_for(ava)

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/v1/sessions/").status_code == 200
        return len(queries)

    make_session(group=group, hosts=[dana], roster=[ava])
    few = count_queries()
    for days in range(2, 12):
        make_session(group=group, hosts=[dana], roster=[ava], starts_in=timedelta(days=days))
    assert count_queries() == few


def test_clinician_schedules_a_single_individual_session(client_for: Clients, dana: User, sam: User) -> None:
    make_enrollment(participant=sam, program=make_program(), clinician=dana)
    body = {
        "kind": "individual",
        "title": "Individual therapy",
        "participant": sam.pk,
        "clinician": dana.pk,
        "local_date": "2026-12-02",
        "local_time": "10:00",
        "time_zone": "America/Chicago",
        "duration_minutes": 50,
    }
    response = client_for(dana).post("/api/v1/sessions/", body, format="json")
    assert response.status_code == 201, response.json()
    session = Session.objects.get(pk=response.json()["id"])
    assert session.starts_at.isoformat() == "2026-12-02T16:00:00+00:00"
    assert list(session.roster.values_list("user", flat=True)) == [sam.pk]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"local_date": "2026-03-08", "local_time": "02:30"}, "local_time"),  # skipped by spring-forward
        ({"time_zone": "Atlantis/Capital"}, "time_zone"),
        ({"duration_minutes": None, "ends_at": "2026-12-01T10:00:00-06:00"}, "ends_at"),  # before the start
        ({"duration_minutes": 600}, "duration_minutes"),
        ({"kind": "family"}, "kind"),
        ({"local_time": None}, "local_time"),
    ],
)
def test_bad_single_session_input_changes_nothing(
    change: dict[str, object], field: str, client_for: Clients, dana: User, sam: User, db_snapshot: Callable
) -> None:
    body: dict[str, object] = {
        "kind": "individual",
        "title": "Individual therapy",
        "participant": sam.pk,
        "clinician": dana.pk,
        "local_date": "2026-12-02",
        "local_time": "10:00",
        "time_zone": "America/Chicago",
        "duration_minutes": 50,
    }
    body.update(change)
    body = {key: value for key, value in body.items() if value is not None}
    make_enrollment(participant=sam, program=make_program(), clinician=dana)
    client = client_for(dana)
    before = db_snapshot()
    response = client.post("/api/v1/sessions/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"]
    assert db_snapshot() == before


@pytest.mark.parametrize("role", ["sam", "pat"])
def test_participants_and_guardians_cannot_schedule(
    role: str, request: pytest.FixtureRequest, client_for: Clients
) -> None:
    user = request.getfixturevalue(role)
    response = client_for(user).post("/api/v1/sessions/", {"kind": "individual", "title": "x"}, format="json")
    assert response.status_code == 403


def test_only_facilitators_or_admins_cancel(
    client_for: Clients, dana: User, ada: User, ava: User, group_session: Session
) -> None:
    outsider = UserFactory.create(username="olga")
    assert client_for(ava).post(f"/api/v1/sessions/{group_session.pk}/cancel/").status_code == 403
    assert client_for(outsider).post(f"/api/v1/sessions/{group_session.pk}/cancel/").status_code == 404
    response = client_for(dana).post(f"/api/v1/sessions/{group_session.pk}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert client_for(ada).post(f"/api/v1/sessions/{group_session.pk}/cancel/").status_code == 409


def test_calendar_feed_is_private_revocable_and_phi_free(
    client_for: Clients, api: APIClient, ava: User, group_session: Session
) -> None:
    client = client_for(ava)
    response = client.post("/api/v1/calendar-feed/")
    assert response.status_code == 201
    path = response.json()["url"].split("testserver", 1)[1]
    feed = api.get(path)
    assert feed.status_code == 200
    assert feed["Content-Type"].startswith("text/calendar")
    text = feed.content.decode()
    assert "SUMMARY:Group session" in text
    assert group_session.title not in text
    assert "Relapse" not in text
    # A new feed replaces the old URL; revoking ends it.
    second = client.post("/api/v1/calendar-feed/").json()["url"].split("testserver", 1)[1]
    assert api.get(path).status_code == 404
    assert api.get(second).status_code == 200
    assert client.delete("/api/v1/calendar-feed/").status_code == 204
    assert api.get(second).status_code == 404
    assert api.get("/calendar/not-a-token.ics").json()["error"]["code"] == "not_found"
