"""GET /api/v1/bookings/slots/: who sees a clinician's free slots, in which time zone, and
bad queries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import Consent, ConsentScope, User
from programs.models import Enrollment
from tests.bookings.helpers import add_window, hosted_session
from tests.factories import ConsentFactory, GuardianLinkFactory, UserFactory, make_enrollment, make_program

pytestmark = pytest.mark.django_db

URL = "/api/v1/bookings/slots/"
NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)

Client = Callable[[User], APIClient]


@pytest.fixture(autouse=True)
def _frozen() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def treated(dana: User, sam: User, ava: User) -> None:
    """dana is sam's primary clinician (adult program) and ava's (adolescent program)."""
    make_enrollment(participant=sam, program=make_program(age_band="adult"), clinician=dana)
    make_enrollment(participant=ava, program=make_program(age_band="adolescent"), clinician=dana)


def slot_starts(response: Any, key: str = "starts_at") -> list[str]:
    assert response.status_code == 200, response.content[:300]
    return [slot[key] for slot in response.json()["slots"]]


def test_a_slot_in_utc_and_in_the_requesters_zone(dana: User, sam: User, treated: None, client_for: Client) -> None:
    add_window(dana, 3, "09:00", "10:00")  # Wednesdays, New York
    sam.time_zone = "Asia/Tokyo"
    sam.save(update_fields=["time_zone"])
    response = client_for(sam).get(URL, {"clinician": str(dana.pk), "from": "2027-03-03", "to": "2027-03-05"})
    assert response.json() == {
        "clinician": dana.pk,
        "from": "2027-03-02T15:00:00Z",  # midnight in Tokyo
        "to": "2027-03-04T15:00:00Z",
        "time_zone": "Asia/Tokyo",
        "slots": [
            {
                "starts_at": "2027-03-03T14:00:00Z",
                "ends_at": "2027-03-03T14:50:00Z",
                "local_starts_at": "2027-03-03T23:00:00+09:00",
                "local_ends_at": "2027-03-03T23:50:00+09:00",
                "time_zone": "Asia/Tokyo",
            }
        ],
    }


def test_default_range_is_from_now_for_14_days(dana: User, client_for: Client) -> None:
    add_window(dana, 1, "09:00", "10:00")
    response = client_for(dana).get(URL, {"clinician": dana.pk})
    assert response.json()["from"] == "2027-03-01T12:00:00Z" and response.json()["to"] == "2027-03-15T12:00:00Z"
    # Today's 09:00 has passed and tomorrow's is inside the day's notice: the 8th and the 15th
    # (09:00 New York is 13:00 UTC from the 14th, inside the range).
    assert slot_starts(response) == ["2027-03-08T14:00:00Z"]
    only_from = client_for(dana).get(URL, {"clinician": str(dana.pk), "from": "2027-03-02T00:00:00Z"})
    assert only_from.json()["to"] == "2027-03-16T00:00:00Z"
    assert slot_starts(only_from) == ["2027-03-08T14:00:00Z", "2027-03-15T13:00:00Z"]


def test_a_guardian_in_london_sees_local_times_shift_across_both_changes(
    dana: User, pat: User, treated: None, client_for: Client
) -> None:
    """dana's Monday 09:00 in New York: New York moves on 14 March and 7 November 2027,
    London on 28 March and 31 October, so pat's local time moves 14:00, 13:00, 14:00."""
    pat.time_zone = "Europe/London"
    pat.save(update_fields=["time_zone"])
    add_window(dana, 1, "09:00", "10:00")
    spring = client_for(pat).get(URL, {"clinician": str(dana.pk), "from": "2027-03-07", "to": "2027-04-05"})
    assert slot_starts(spring, "local_starts_at") == [
        "2027-03-08T14:00:00+00:00",
        "2027-03-15T13:00:00+00:00",
        "2027-03-22T13:00:00+00:00",
        "2027-03-29T14:00:00+01:00",
    ]
    assert slot_starts(spring) == [
        "2027-03-08T14:00:00Z",
        "2027-03-15T13:00:00Z",
        "2027-03-22T13:00:00Z",
        "2027-03-29T13:00:00Z",
    ]
    with time_machine.travel(datetime(2027, 10, 1, tzinfo=UTC), tick=False):
        autumn = client_for(pat).get(URL, {"clinician": str(dana.pk), "from": "2027-10-24", "to": "2027-11-09"})
    assert slot_starts(autumn, "local_starts_at") == [
        "2027-10-25T14:00:00+01:00",
        "2027-11-01T13:00:00+00:00",
        "2027-11-08T14:00:00+00:00",
    ]


def test_the_clinicians_own_view_stays_at_nine_across_new_yorks_changes(dana: User, client_for: Client) -> None:
    add_window(dana, 1, "09:00", "10:00")
    response = client_for(dana).get(URL, {"clinician": str(dana.pk), "from": "2027-03-07", "to": "2027-03-16"})
    assert slot_starts(response, "local_starts_at") == ["2027-03-08T09:00:00-05:00", "2027-03-15T09:00:00-04:00"]


def test_sessions_of_any_kind_take_their_slots(dana: User, theo: User, client_for: Client) -> None:
    add_window(dana, 2, "09:00", "12:00")
    tuesday = datetime(2027, 3, 2, 14, tzinfo=UTC)  # 09:00 New York
    session = hosted_session([theo, dana], tuesday + timedelta(hours=1), tuesday + timedelta(hours=1, minutes=30))
    query = {"clinician": str(dana.pk), "from": "2027-03-02", "to": "2027-03-03"}
    assert slot_starts(client_for(dana).get(URL, query)) == ["2027-03-02T14:00:00Z", "2027-03-02T16:00:00Z"]
    session.cancelled_at = NOW
    session.save(update_fields=["cancelled_at"])
    assert len(slot_starts(client_for(dana).get(URL, query))) == 3


# --- Who sees them ------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["dana", "theo", "ada", "sam", "ava", "pat"])
def test_staff_and_the_people_the_clinician_treats_see_them(
    who: str, dana: User, theo: User, ada: User, sam: User, ava: User, pat: User, treated: None, client_for: Client
) -> None:
    add_window(dana, 3, "09:00", "10:00")
    viewer = {"dana": dana, "theo": theo, "ada": ada, "sam": sam, "ava": ava, "pat": pat}[who]
    response = client_for(viewer).get(URL, {"clinician": str(dana.pk), "from": "2027-03-03", "to": "2027-03-04"})
    assert slot_starts(response) == ["2027-03-03T14:00:00Z"]


def test_a_clinician_of_the_program_treats_too(theo: User, sam: User, dana: User, client_for: Client) -> None:
    enrollment = make_enrollment(participant=sam, program=make_program(), clinician=dana)
    enrollment.program.clinicians.add(theo)
    add_window(theo, 3, "09:00", "10:00")
    response = client_for(sam).get(URL, {"clinician": str(theo.pk), "from": "2027-03-03", "to": "2027-03-04"})
    assert len(slot_starts(response)) == 1


def assert_hidden(client: APIClient, clinician_id: int) -> None:
    response = client.get(URL, {"clinician": clinician_id})
    assert response.status_code == 404, response.content[:300]
    assert response.json()["error"] == {"code": "not_found", "message": "No such clinician.", "fields": {}}


def test_participants_and_guardians_not_in_the_clinicians_care_get_404(
    dana: User, theo: User, ava: User, pat: User, treated: None, client_for: Client
) -> None:
    stranger = UserFactory.create(adult=True)
    other_guardian = UserFactory.create(guardian=True)
    for viewer in (stranger, other_guardian):
        assert_hidden(client_for(viewer), dana.pk)
    # theo treats nobody of theirs.
    for viewer in (ava, pat):
        assert_hidden(client_for(viewer), theo.pk)


def test_a_guardian_without_schedule_consent_gets_404(
    dana: User, ava: User, pat: User, treated: None, client_for: Client
) -> None:
    Consent.objects.filter(link__guardian=pat).update(revoked_at=NOW)
    assert_hidden(client_for(pat), dana.pk)
    link = Consent.objects.filter(link__guardian=pat).get().link
    hours_only = ConsentFactory.create(link=link, scopes=[ConsentScope.HOURS])
    assert_hidden(client_for(pat), dana.pk)
    hours_only.revoked_at = NOW
    hours_only.save(update_fields=["revoked_at"])
    ConsentFactory.create(link=link, scopes=[ConsentScope.SCHEDULE, ConsentScope.HOURS])
    assert client_for(pat).get(URL, {"clinician": dana.pk}).status_code == 200


def test_a_guardian_of_a_ward_no_longer_in_treatment_gets_404(
    dana: User, ava: User, pat: User, treated: None, client_for: Client
) -> None:
    Enrollment.objects.filter(participant=ava).update(status="completed")
    assert_hidden(client_for(pat), dana.pk)


def test_a_guardian_linked_to_another_adolescent_sees_nothing_of_avas_clinician(
    dana: User, ada: User, treated: None, client_for: Client
) -> None:
    guardian = UserFactory.create(guardian=True)
    other_ward = UserFactory.create(adolescent=True)
    link = GuardianLinkFactory.create(guardian=guardian, adolescent=other_ward, created_by=ada)
    ConsentFactory.create(link=link, scopes=[ConsentScope.SCHEDULE])
    assert_hidden(client_for(guardian), dana.pk)


def test_ids_that_are_no_clinician_are_404_for_everyone(
    ada: User, sam: User, pat: User, treated: None, client_for: Client
) -> None:
    inactive = UserFactory.create(is_active=False)
    for viewer in (ada, sam, pat):
        for pk in (sam.pk, pat.pk, ada.pk, inactive.pk, 10**9):
            assert_hidden(client_for(viewer), pk)


def test_without_credentials_401(dana: User, api: APIClient) -> None:
    assert api.get(URL, {"clinician": dana.pk}).status_code == 401


# --- Bad queries --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "clinician"),
        ({"clinician": "abc"}, "clinician"),
        ({"clinician": "0"}, "clinician"),
        ({"clinician": str(2**63)}, "clinician"),
        ({"clinician": "1.5"}, "clinician"),
        ({"from": "2027-03-10", "to": "2027-03-09"}, "to"),
        ({"from": "2027-03-10", "to": "2027-03-10"}, "to"),
        ({"from": "2027-03-01", "to": "2027-05-01"}, "to"),  # 61 days
        ({"from": "2027-03-01T00:00:00Z", "to": "2027-04-30T00:00:01Z"}, "to"),
        ({"to": "2027-02-01"}, "to"),  # before now
        ({"from": "2027-03-01T09:00:00"}, "from"),  # no offset
        ({"from": "2027-02-30"}, "from"),
        ({"from": "next week"}, "from"),
        ({"from": "9999-12-31"}, "from"),
        ({"to": "9999-12-31T23:59:59-12:00"}, "to"),
    ],
)
def test_bad_queries_are_400(
    query: dict[str, str], field: str, dana: User, client_for: Client, db_snapshot: Callable[[], dict[str, int]]
) -> None:
    client = client_for(dana)
    before = db_snapshot()
    response = client.get(URL, {"clinician": str(dana.pk), **query} if field != "clinician" else query)
    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"]["code"] == "invalid" and field in response.json()["error"]["fields"]
    assert db_snapshot() == before


def test_sixty_days_exactly_is_allowed(dana: User, client_for: Client) -> None:
    response = client_for(dana).get(
        URL, {"clinician": str(dana.pk), "from": "2027-03-01T00:00:00Z", "to": "2027-04-30T00:00:00Z"}
    )
    assert response.status_code == 200


def test_queries_are_the_same_for_one_day_and_sixty(
    dana: User, theo: User, sam: User, pat: User, treated: None, client_for: Client
) -> None:
    for weekday in range(1, 8):
        add_window(dana, weekday, "08:00", "18:00")
    first = date(2027, 3, 2)
    for offset in range(60):
        start = datetime(first.year, first.month, first.day, 17, tzinfo=UTC) + timedelta(days=offset)
        hosted_session([dana, theo], start, start + timedelta(hours=1))
    for viewer in (dana, sam, pat):
        client = client_for(viewer)
        with CaptureQueriesContext(connection) as one_day:
            client.get(URL, {"clinician": str(dana.pk), "from": "2027-03-02", "to": "2027-03-03"})
        with CaptureQueriesContext(connection) as sixty_days:
            response = client.get(URL, {"clinician": str(dana.pk), "from": "2027-03-02", "to": "2027-05-01"})
        assert len(slot_starts(response)) > 400
        assert len(one_day) == len(sixty_days), viewer.username
        # Two for the bearer token, the clinician, one for a participant's or guardian's
        # access, then the engine's five (policy, windows, exceptions, busy sessions, the
        # schedules she hosts: none, so no occurrences to read).
        assert len(sixty_days) == (8 if viewer == dana else 9), [q["sql"][:80] for q in sixty_days.captured_queries]
