"""A participant's attendance records over the API: GET /participants/{id}/attendance/ and
a guardian's read of their adolescent's records (issue 21, item 3).

A guardian reads an adolescent's records only while the adolescent's consent in force names
`attendance` (CLINICAL.md, 42 CFR Part 2), never changes them, and never sees the
clinician's note. The week list answers as the hours endpoint does: a linked guardian
without the scope 403, anyone else 404. A record read by id says 404 whenever it is not
theirs to see: the id names no one, and a 403 would tell which ids are the adolescent's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import Consent, ConsentScope, GuardianLink, User
from accounts.services import end_guardian_access_at_adulthood, give_consent, revoke_consent
from attendance import services
from attendance.models import AttendanceRecord
from audit.models import AuditEntry
from programs.models import Enrollment
from sessions.models import Session
from tests.attendance.conftest import START, segment
from tests.factories import UserFactory, make_enrollment, make_program

pytestmark = pytest.mark.django_db
Clients = Callable[[User], APIClient]

WEEK = "2026-W48"  # START, Monday 23 November 2026, is in it (Chicago)
GUARDIAN_HIDDEN = {"override_reason", "overridden_by"}


@pytest.fixture
def ava_enrolled(ava: User, dana: User) -> Enrollment:
    program = make_program(age_band="adolescent", clinicians=[dana])
    return make_enrollment(participant=ava, program=program, clinician=dana, start_date=date(2026, 11, 2))


@pytest.fixture
def recorded(ended_session: Callable[..., Session], ava: User, sam: User, ava_enrolled: Enrollment) -> Session:
    """ava attended late (75 minutes); sam was absent. A clinician noted why ava was late."""
    session = ended_session()
    segment(session, ava, 15, 90)
    services.record_session_attendance(session_id=session.pk)
    dana = session.facilitators.get(role="lead").clinician
    services.override_attendance(
        by=dana, record=_record(session, ava), changes={"override_minutes": 80}, reason="Clock error at her end"
    )
    return session


def _record(session: Session, user: User) -> AttendanceRecord:
    return AttendanceRecord.objects.get(session=session, user=user)


def _share(pat: User, scopes: list[str]) -> None:
    Consent.objects.filter(link__guardian=pat).update(scopes=scopes)


def _week(client: APIClient, person: User, **params: str) -> Any:
    return client.get(f"/api/v1/participants/{person.pk}/attendance/", {"week": WEEK, **params})


def _is_404(response: Any) -> bool:
    return response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def _is_403(response: Any) -> bool:
    return response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"


# --- a guardian ---------------------------------------------------------------------------


def test_a_guardian_with_the_attendance_scope_reads_the_adolescents_records(
    recorded: Session, client_for: Clients, pat: User, ava: User, sam: User
) -> None:
    _share(pat, [ConsentScope.SCHEDULE, ConsentScope.ATTENDANCE])
    client = client_for(pat)
    response = _week(client, ava)
    assert response.status_code == 200
    [row] = response.json()["results"]
    record = _record(recorded, ava)
    assert (row["id"], row["user"], row["session"], row["status"], row["minutes"]) == (
        record.pk,
        ava.pk,
        recorded.pk,
        "late",
        80,
    )
    assert GUARDIAN_HIDDEN.isdisjoint(row)  # the clinician's note and name are not theirs
    one = client.get(f"/api/v1/attendance/{record.pk}/")
    assert one.status_code == 200 and one.json() == row
    # Someone else's record on the same session: as if it did not exist.
    assert _is_404(client.get(f"/api/v1/attendance/{_record(recorded, sam).pk}/"))
    assert _is_404(_week(client, sam))


@pytest.mark.parametrize("scopes", [[], [ConsentScope.SCHEDULE], [ConsentScope.SCHEDULE, ConsentScope.HOURS]])
def test_without_the_attendance_scope_a_guardian_is_refused(
    scopes: list[str], recorded: Session, client_for: Clients, pat: User, ava: User
) -> None:
    _share(pat, scopes)
    client = client_for(pat)
    assert _is_403(_week(client, ava))
    assert _is_404(client.get(f"/api/v1/attendance/{_record(recorded, ava).pk}/"))


def test_revoking_the_consent_or_the_link_ends_the_guardians_view(
    recorded: Session, client_for: Clients, pat: User, ava: User, ada: User
) -> None:
    link = GuardianLink.objects.get(guardian=pat, adolescent=ava)
    give_consent(by=ava, link=link, scopes=[ConsentScope.ATTENDANCE])
    client = client_for(pat)
    record_url = f"/api/v1/attendance/{_record(recorded, ava).pk}/"
    assert _week(client, ava).status_code == 200 and client.get(record_url).status_code == 200
    revoke_consent(by=ava, consent=Consent.objects.get(link=link, revoked_at__isnull=True))
    assert _is_403(_week(client, ava))  # still linked: ask ava
    assert _is_404(client.get(record_url))
    GuardianLink.objects.filter(pk=link.pk).update(revoked_at=START)
    assert _is_404(_week(client, ava))  # no longer linked: no such participant


def test_the_guardians_view_ends_when_the_adolescent_turns_18(
    recorded: Session, client_for: Clients, pat: User, ava: User
) -> None:
    _share(pat, list(ConsentScope.values))
    assert ava.birth_date is not None
    eighteenth = date(ava.birth_date.year + 18, ava.birth_date.month, ava.birth_date.day)
    record_url = f"/api/v1/attendance/{_record(recorded, ava).pk}/"
    with time_machine.travel(eighteenth - timedelta(days=1), tick=False):
        client = client_for(pat)
        assert _week(client, ava).status_code == 200 and client.get(record_url).status_code == 200
    with time_machine.travel(eighteenth + timedelta(hours=12), tick=False):
        client = client_for(pat)
        # A minor's consent stops counting on the birthday, before the hourly task ends the link.
        assert _is_403(_week(client, ava))
        assert _is_404(client.get(record_url))
        # Once the hourly task has ended the link, ava is no one pat may ask about.
        assert end_guardian_access_at_adulthood() == 1
        assert _is_404(_week(client, ava))
        assert _is_404(client.get(record_url))


def test_a_guardian_cannot_change_a_record_even_with_the_scope(
    recorded: Session, client_for: Clients, pat: User, ava: User, db_snapshot: Callable[[], dict[str, int]]
) -> None:
    _share(pat, list(ConsentScope.values))
    record = _record(recorded, ava)
    client = client_for(pat)
    before, audits = db_snapshot(), AuditEntry.objects.count()
    for body in ({"override_status": "attended", "reason": "Was there"}, {"override_minutes": 90, "reason": "x"}):
        response = client.patch(f"/api/v1/attendance/{record.pk}/", body, format="json")
        assert _is_403(response)
    assert db_snapshot() == before and AuditEntry.objects.count() == audits
    record.refresh_from_db()
    assert (record.override_status, record.override_minutes) == (None, 80)


def test_a_guardian_still_reads_their_own_record(
    ended_session: Callable[..., Session], client_for: Clients, pat: User, ava: User
) -> None:
    # A guardian on a session's roster (a family session) has their own record.
    session = ended_session(roster=[ava, pat])
    services.record_session_attendance(session_id=session.pk)
    assert client_for(pat).get(f"/api/v1/attendance/{_record(session, pat).pk}/").status_code == 200


# --- everyone else ------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["ava", "dana", "ada"])
def test_the_participant_their_clinician_and_admins_read_the_week(
    who: str, recorded: Session, client_for: Clients, ava: User, request: pytest.FixtureRequest
) -> None:
    response = _week(client_for(request.getfixturevalue(who)), ava)
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert (row["user"], row["minutes"], row["override_reason"]) == (ava.pk, 80, "Clock error at her end")


def test_others_get_404_as_for_no_such_participant(
    recorded: Session, client_for: Clients, ava: User, sam: User, theo: User, pat: User
) -> None:
    # theo co-hosts the session but is not ava's clinician; sam is another participant;
    # an unrelated guardian; pat asking about sam.
    for viewer, person in ((theo, ava), (sam, ava), (UserFactory.create(guardian=True), ava), (pat, sam)):
        assert _is_404(_week(client_for(viewer), person))
    assert _is_404(client_for(sam).get(f"/api/v1/participants/{2**63 - 1}/attendance/"))


def test_anonymous_is_401(recorded: Session, api: APIClient, ava: User) -> None:
    assert _week(api, ava).status_code == 401


def test_the_week_lists_only_sessions_starting_in_it(
    recorded: Session, ended_session: Callable[..., Session], client_for: Clients, ava: User, dana: User
) -> None:
    client = client_for(dana)
    later = Session.objects.filter(pk=ended_session().pk)
    later.update(starts_at=START + timedelta(weeks=1), ends_at=START + timedelta(weeks=1, minutes=90))
    services.record_session_attendance(session_id=later.get().pk)
    assert [row["session"] for row in _week(client, ava).json()["results"]] == [recorded.pk]
    following = _week(client, ava, week="2026-W49").json()["results"]
    assert [row["session"] for row in following] == [later.get().pk]
    # A week with no enrolled day: 404, as the hours endpoint.
    assert _is_404(_week(client, ava, week="2026-W40"))


@pytest.mark.parametrize(
    "params", [{"week": "2026-W54"}, {"week": "abc"}, {"week": "2026-W48", "limit": "x"}, {"offset": "-1"}]
)
def test_bad_input_is_400_and_changes_nothing(
    params: dict[str, str], recorded: Session, client_for: Clients, ava: User, db_snapshot: Callable[[], dict[str, int]]
) -> None:
    client = client_for(ava)
    before = db_snapshot()
    response = client.get(f"/api/v1/participants/{ava.pk}/attendance/", params)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
    assert db_snapshot() == before


def test_the_week_takes_the_same_queries_whatever_its_records(
    ended_session: Callable[..., Session], client_for: Clients, ava: User, pat: User, ava_enrolled: Enrollment
) -> None:
    _share(pat, [ConsentScope.ATTENDANCE])
    client = client_for(pat)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert _week(client, ava).status_code == 200
        return len(captured)

    def add_sessions(count: int) -> None:
        for _ in range(count):
            session = ended_session()
            segment(session, ava, 0, 90)
            services.record_session_attendance(session_id=session.pk)

    add_sessions(2)
    few = queries()
    add_sessions(4)
    assert queries() == few
    assert len(_week(client, ava).json()["results"]) == 6
