"""Availability API: a clinician's booking policy, weekly windows and dated exceptions.
The clinician themself and admins; everyone else refused with nothing changed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient

from accounts.models import User
from audit.models import AuditEntry
from bookings.availability import MAX_WINDOWS
from bookings.models import AvailabilityException, AvailabilityWindow, BookingPolicy
from tests.bookings.helpers import add_window, time_off

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)
GOOD_POLICY = {
    "time_zone": "America/Chicago",
    "session_minutes": 45,
    "buffer_minutes": 15,
    "min_notice_minutes": 120,
    "cancellation_cutoff_minutes": 720,
}

Client = Callable[[User], APIClient]
Snapshot = Callable[[], dict[str, int]]


@pytest.fixture(autouse=True)
def _frozen() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


def policy_url(clinician: User) -> str:
    return f"/api/v1/clinicians/{clinician.pk}/booking-policy/"


def windows_url(clinician: User) -> str:
    return f"/api/v1/clinicians/{clinician.pk}/availability-windows/"


def exceptions_url(clinician: User) -> str:
    return f"/api/v1/clinicians/{clinician.pk}/availability-exceptions/"


def assert_refused(response: Any, status: int, snapshot: Snapshot, before: dict[str, int]) -> None:
    assert response.status_code == status, response.content[:300]
    assert response.json()["error"]["code"] in ("invalid", "permission_denied", "not_found", "not_authenticated")
    assert snapshot() == before


# --- Policy -------------------------------------------------------------------------------


def test_the_defaults_until_a_policy_is_set(dana: User, client_for: Client) -> None:
    response = client_for(dana).get(policy_url(dana))
    assert response.status_code == 200
    assert response.json() == {
        "clinician": dana.pk,
        "time_zone": "America/New_York",
        "session_minutes": 50,
        "buffer_minutes": 10,
        "min_notice_minutes": 1440,
        "cancellation_cutoff_minutes": 1440,
        "is_default": True,
    }


@pytest.mark.parametrize("who", ["dana", "ada"])
def test_the_clinician_or_an_admin_sets_the_policy(who: str, dana: User, ada: User, client_for: Client) -> None:
    by = {"dana": dana, "ada": ada}[who]
    response = client_for(by).put(policy_url(dana), GOOD_POLICY, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"clinician": dana.pk, **GOOD_POLICY, "is_default": False}
    policy = BookingPolicy.objects.get(clinician=dana)
    assert (policy.time_zone, policy.session_minutes, policy.cancellation_cutoff_minutes) == (
        "America/Chicago",
        45,
        720,
    )
    entry = AuditEntry.objects.get(action="booking_policy.set")
    assert entry.actor_id == by.pk and entry.data["clinician"] == dana.pk
    # Again: the row is replaced, not duplicated.
    again = client_for(by).put(policy_url(dana), {**GOOD_POLICY, "session_minutes": 60}, format="json")
    assert again.json()["session_minutes"] == 60 and BookingPolicy.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("time_zone", "Mars/Olympus_Mons"),
        ("time_zone", "EST5EDT " * 20),
        ("time_zone", 5),
        ("session_minutes", 14),
        ("session_minutes", 241),
        ("session_minutes", "50"),
        ("session_minutes", 50.5),
        ("session_minutes", True),
        ("buffer_minutes", -1),
        ("buffer_minutes", 121),
        ("min_notice_minutes", 30 * 24 * 60 + 1),
        ("cancellation_cutoff_minutes", 10**30),
        ("cancellation_cutoff_minutes", None),
    ],
)
def test_bad_policy_values_are_400_and_change_nothing(
    field: str, value: Any, dana: User, client_for: Client, db_snapshot: Snapshot
) -> None:
    client = client_for(dana)
    before = db_snapshot()
    response = client.put(policy_url(dana), {**GOOD_POLICY, field: value}, format="json")
    assert_refused(response, 400, db_snapshot, before)
    assert field in response.json()["error"]["fields"]


def test_a_policy_missing_a_field_is_400(dana: User, client_for: Client, db_snapshot: Snapshot) -> None:
    client = client_for(dana)
    before = db_snapshot()
    body = {key: value for key, value in GOOD_POLICY.items() if key != "buffer_minutes"}
    response = client.put(policy_url(dana), body, format="json")
    assert_refused(response, 400, db_snapshot, before)
    bad_json = client.put(policy_url(dana), "{not json", content_type="application/json")
    assert_refused(bad_json, 400, db_snapshot, before)


# --- Who is refused -----------------------------------------------------------------------


def _requests(dana: User) -> list[tuple[str, str, dict[str, Any] | None]]:
    window = add_window(dana, 1, "09:00", "12:00")
    exception = time_off(dana, date(2027, 3, 10))
    return [
        ("get", policy_url(dana), None),
        ("put", policy_url(dana), GOOD_POLICY),
        ("get", windows_url(dana), None),
        ("post", windows_url(dana), {"weekday": 2, "start_time": "09:00", "end_time": "10:00"}),
        ("delete", f"{windows_url(dana)}{window.pk}/", None),
        ("get", exceptions_url(dana), None),
        ("post", exceptions_url(dana), {"kind": "time_off", "date": "2027-03-12"}),
        ("delete", f"{exceptions_url(dana)}{exception.pk}/", None),
    ]


@pytest.mark.parametrize("who", ["theo", "sam", "ava", "pat"])
def test_others_are_refused_403(
    who: str, dana: User, theo: User, sam: User, ava: User, pat: User, client_for: Client, db_snapshot: Snapshot
) -> None:
    requests = _requests(dana)
    client = client_for({"theo": theo, "sam": sam, "ava": ava, "pat": pat}[who])
    before = db_snapshot()
    for method, url, body in requests:
        response = getattr(client, method)(url, body, format="json")
        assert_refused(response, 403, db_snapshot, before)


def test_without_credentials_401(dana: User, api: APIClient, db_snapshot: Snapshot) -> None:
    requests = _requests(dana)
    before = db_snapshot()
    for method, url, body in requests:
        assert_refused(getattr(api, method)(url, body, format="json"), 401, db_snapshot, before)


def test_an_id_that_is_no_clinician_is_404_for_admins(ada: User, sam: User, client_for: Client) -> None:
    for pk in (sam.pk, ada.pk, 10**9, 2**63 - 1):
        response = client_for(ada).get(f"/api/v1/clinicians/{pk}/booking-policy/")
        assert response.status_code == 404, pk


def test_a_clinician_cannot_delete_anothers_window_through_their_own_url(
    dana: User, theo: User, client_for: Client, db_snapshot: Snapshot
) -> None:
    theirs = add_window(theo, 1, "09:00", "12:00")
    client = client_for(dana)
    before = db_snapshot()
    response = client.delete(f"{windows_url(dana)}{theirs.pk}/")
    assert_refused(response, 404, db_snapshot, before)


# --- Windows ------------------------------------------------------------------------------


def test_windows_create_list_delete(dana: User, client_for: Client) -> None:
    client = client_for(dana)
    body = {"weekday": 1, "start_time": "09:00", "end_time": "12:30", "valid_from": "2027-03-01"}
    created = client.post(windows_url(dana), body, format="json")
    assert created.status_code == 201, created.content
    window = created.json()
    assert window == {
        "id": window["id"],
        "weekday": 1,
        "start_time": "09:00",
        "end_time": "12:30",
        "valid_from": "2027-03-01",
        "valid_until": None,
    }
    client.post(windows_url(dana), {"weekday": 3, "start_time": "13:00:00", "end_time": "17:00"}, format="json")
    listed = client.get(windows_url(dana)).json()
    assert [(w["weekday"], w["start_time"]) for w in listed] == [(1, "09:00"), (3, "13:00")]
    assert client.delete(f"{windows_url(dana)}{window['id']}/").status_code == 204
    assert list(AvailabilityWindow.objects.values_list("weekday", flat=True)) == [3]
    actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["availability_window.create", "availability_window.create", "availability_window.delete"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"weekday": 0}, "weekday"),
        ({"weekday": 8}, "weekday"),
        ({"weekday": "1"}, "weekday"),
        ({"weekday": None}, "weekday"),
        ({"start_time": "25:00"}, "start_time"),
        ({"start_time": 900}, "start_time"),
        ({"end_time": "09:00"}, "end_time"),
        ({"end_time": "08:00"}, "end_time"),
        ({"end_time": "09:00:30"}, "end_time"),  # whole minutes: the same as the start
        ({"valid_from": "2027-04-01", "valid_until": "2027-03-01"}, "valid_until"),
        ({"valid_from": "9999-12-31"}, "valid_from"),
    ],
)
def test_bad_windows_are_400_and_change_nothing(
    changes: dict[str, Any], field: str, dana: User, client_for: Client, db_snapshot: Snapshot
) -> None:
    client = client_for(dana)
    before = db_snapshot()
    body = {"weekday": 1, "start_time": "09:00", "end_time": "12:00", **changes}
    response = client.post(windows_url(dana), body, format="json")
    assert_refused(response, 400, db_snapshot, before)
    assert field in response.json()["error"]["fields"], response.json()


def test_windows_are_capped(dana: User, client_for: Client, db_snapshot: Snapshot) -> None:
    AvailabilityWindow.objects.bulk_create(
        AvailabilityWindow(clinician=dana, weekday=1 + n % 7, start_time="09:00", end_time="10:00")
        for n in range(MAX_WINDOWS)
    )
    client = client_for(dana)
    before = db_snapshot()
    body = {"weekday": 1, "start_time": "11:00", "end_time": "12:00"}
    assert_refused(client.post(windows_url(dana), body, format="json"), 400, db_snapshot, before)


# --- Exceptions ---------------------------------------------------------------------------


def test_exceptions_create_list_delete(dana: User, ada: User, client_for: Client) -> None:
    client = client_for(dana)
    bodies = [
        {"kind": "time_off", "date": "2027-03-10"},
        {"kind": "time_off", "date": "2027-03-11", "start_time": "13:00", "end_time": "15:00"},
        {"kind": "extra_hours", "date": "2027-03-13", "start_time": "10:00", "end_time": "12:00"},
    ]
    created = [client.post(exceptions_url(dana), body, format="json") for body in bodies]
    assert [response.status_code for response in created] == [201, 201, 201]
    assert created[0].json()["start_time"] is None and created[1].json()["start_time"] == "13:00"
    listed = client.get(exceptions_url(dana)).json()
    assert [(e["kind"], e["date"]) for e in listed] == [
        ("time_off", "2027-03-10"),
        ("time_off", "2027-03-11"),
        ("extra_hours", "2027-03-13"),
    ]
    window = client.get(exceptions_url(dana), {"from": "2027-03-11", "to": "2027-03-11"}).json()
    assert [e["date"] for e in window] == ["2027-03-11"]
    assert client_for(ada).delete(f"{exceptions_url(dana)}{listed[0]['id']}/").status_code == 204
    assert AvailabilityException.objects.count() == 2
    assert AuditEntry.objects.filter(action="availability_exception.delete", actor_id=ada.pk).count() == 1


def test_past_exceptions_are_listed_only_when_asked(dana: User, client_for: Client) -> None:
    time_off(dana, date(2027, 2, 1))
    time_off(dana, date(2027, 3, 2))
    assert [e["date"] for e in client_for(dana).get(exceptions_url(dana)).json()] == ["2027-03-02"]
    asked = client_for(dana).get(exceptions_url(dana), {"from": "2027-01-01"}).json()
    assert [e["date"] for e in asked] == ["2027-02-01", "2027-03-02"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "holiday", "date": "2027-03-10"}, "kind"),
        ({"kind": "time_off"}, "date"),
        ({"kind": "time_off", "date": "2027-02-28"}, "date"),  # yesterday in New York
        ({"kind": "time_off", "date": "2027-02-30"}, "date"),
        ({"kind": "time_off", "date": "2027-03-10", "start_time": "10:00"}, "end_time"),
        ({"kind": "time_off", "date": "2027-03-10", "end_time": "10:00"}, "end_time"),
        ({"kind": "extra_hours", "date": "2027-03-10"}, "start_time"),
        ({"kind": "extra_hours", "date": "2027-03-10", "start_time": "12:00", "end_time": "11:00"}, "end_time"),
        ({"kind": "extra_hours", "date": "2027-03-10", "start_time": 12, "end_time": "13:00"}, "start_time"),
    ],
)
def test_bad_exceptions_are_400_and_change_nothing(
    body: dict[str, Any], field: str, dana: User, client_for: Client, db_snapshot: Snapshot
) -> None:
    client = client_for(dana)
    before = db_snapshot()
    response = client.post(exceptions_url(dana), body, format="json")
    assert_refused(response, 400, db_snapshot, before)
    assert field in response.json()["error"]["fields"], response.json()


def test_bad_exception_list_dates_are_400(dana: User, client_for: Client) -> None:
    client = client_for(dana)
    for value in ("9999-12-31", "2027-13-01", "soon"):
        response = client.get(exceptions_url(dana), {"from": value})
        assert response.status_code == 400 and "from" in response.json()["error"]["fields"]
    inverted = client.get(exceptions_url(dana), {"from": "2027-03-10", "to": "2027-03-09"})
    assert inverted.status_code == 400 and "to" in inverted.json()["error"]["fields"]
    before_today = client.get(exceptions_url(dana), {"to": "2027-02-27"})  # from defaults to today
    assert before_today.status_code == 400
