"""The bookings API (CONTRACT.md): POST /bookings/ with an Idempotency-Key, list and detail
by visibility, cancel and reschedule; refusals and bad input change nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient

from accounts.models import Consent, User
from bookings.idempotency import delete_expired_records
from bookings.models import Booking, IdempotencyRecord
from bookings.services import book_family_session
from bookings.tasks import delete_expired_idempotency_keys
from notifications.models import Notification
from tests.bookings.booking_support import (
    BOOKINGS,
    NOW,
    THURSDAY,
    WEDNESDAY,
    World,
    book_body,
    frozen,
    live_bookings,
    make_world,
    ny,
    post_booking,
)
from tests.factories import ConsentFactory, GuardianLinkFactory, UserFactory

pytestmark = pytest.mark.django_db

TEN = ny(WEDNESDAY, 10)
Snapshot = Callable[[], dict[str, int]]
ClientFor = Callable[[User], APIClient]


@pytest.fixture(autouse=True)
def _now() -> Iterator[None]:
    yield from frozen()


@pytest.fixture
def world(dana: User, ava: User, sam: User, pat: User, ada: User) -> World:
    return make_world(dana=dana, ava=ava, sam=sam, pat=pat, ada=ada)


def error_of(response: Any) -> dict[str, Any]:
    return response.json()["error"]


# --- Booking -------------------------------------------------------------------------------


def test_a_guardian_books_and_gets_the_booking_and_its_session(world: World, client_for: ClientFor) -> None:
    response = post_booking(client_for(world.pat), book_body(world, TEN))
    assert response.status_code == 201, response.content
    body = response.json()
    booking = Booking.objects.get()
    assert body["id"] == booking.pk and body["status"] == "booked"
    assert (body["clinician"], body["participant"], body["booked_by"]) == (world.dana.pk, world.ava.pk, world.pat.pk)
    # In the caller's zone, with its offset.
    assert body["starts_at"] == "2027-03-03T10:00:00-05:00" and body["ends_at"] == "2027-03-03T10:50:00-05:00"
    session = body["session"]
    assert session["id"] == booking.session_id and session["kind"] == "family" and session["status"] == "scheduled"
    assert session["roster"] == [
        {"user": world.ava.pk, "role": "participant"},
        {"user": world.pat.pk, "role": "guardian"},
    ]
    assert session["hosts"] == [{"user": world.dana.pk, "role": "lead"}]
    assert body["cancel_reason"] is None  # family never see a cancel reason
    assert "title" not in session


def test_a_taken_slot_is_409_in_the_error_envelope(world: World, client_for: ClientFor, db_snapshot: Snapshot) -> None:
    assert post_booking(client_for(world.pat), book_body(world, TEN)).status_code == 201
    client = client_for(world.sam)
    before = db_snapshot()
    response = post_booking(client, book_body(world, TEN, world.sam), key="other")
    assert response.status_code == 409
    assert error_of(response)["code"] == "slot_taken" and error_of(response)["message"]
    assert db_snapshot() == before


@pytest.mark.parametrize(
    ("who", "participant", "status", "field"),
    [
        ("stranger_guardian", "ava", 400, "participant"),
        ("no_consent_guardian", "ava", 403, None),
        ("ava", "ava", 403, None),
        ("sam", "ava", 403, None),
        ("theo", "ava", 400, "participant"),
    ],
)
def test_who_may_not_book_is_refused_and_nothing_changes(
    world: World, client_for: ClientFor, db_snapshot: Snapshot, who: str, participant: str, status: int,
    field: str | None,
) -> None:  # fmt: skip
    people: dict[str, User] = {"ava": world.ava, "sam": world.sam, "theo": UserFactory.create(username="theo")}
    people["stranger_guardian"] = UserFactory.create(guardian=True)
    people["no_consent_guardian"] = world.pat
    Consent.objects.filter(link__guardian=world.pat).update(scopes=["hours"]) if who == "no_consent_guardian" else None
    client = client_for(people[who])
    before = db_snapshot()
    response = post_booking(client, book_body(world, TEN, people[participant]))
    assert response.status_code == status, response.content
    if field:
        assert error_of(response)["fields"] == {field: ["No such participant."]}
    assert db_snapshot() == before


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("slot_start", "2027-03-03T10:00:00", None),  # no offset: not read in the server's zone
        ("slot_start", "2027-03-03T25:00:00Z", None),
        ("slot_start", "9999-12-31T23:59:59Z", None),
        ("slot_start", 1700, None),
        ("slot_start", None, None),
        ("slot_start", "2027-03-03T10:05:00-05:00", "not_on_slot_boundary"),
        ("slot_start", "2027-03-01T09:00:00-05:00", "slot_in_past"),
        ("slot_start", "2027-03-02T10:00:00-05:00", "inside_notice_period"),
        ("slot_start", "2027-03-06T10:00:00-05:00", "outside_availability"),  # a Saturday
        ("clinician", "abc", None),
        ("clinician", 2**63, None),
        ("clinician", 10**12, None),  # no such account: the uniform refusal
        ("participant", True, None),
        ("participant", [1], None),
        ("participant", 10**12, None),
    ],
)
def test_bad_input_is_400_and_changes_nothing(
    world: World, client_for: ClientFor, db_snapshot: Snapshot, field: str, value: Any, code: str | None
) -> None:
    body = book_body(world, TEN)
    body[field] = value
    client = client_for(world.pat)
    before = db_snapshot()
    response = post_booking(client, body)
    assert response.status_code == 400, response.content
    assert error_of(response)["code"] == "invalid" and field in error_of(response)["fields"]
    assert db_snapshot() == before


@pytest.mark.parametrize("payload", [[], "slot", {"slot_start": "2027-03-03T10:00:00-05:00"}])
def test_a_body_that_is_no_booking_is_400(
    world: World, client_for: ClientFor, db_snapshot: Snapshot, payload: Any
) -> None:
    client = client_for(world.pat)
    before = db_snapshot()
    response = client.post(BOOKINGS, payload, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 400 and error_of(response)["code"] == "invalid"
    assert db_snapshot() == before


def test_malformed_json_is_400(world: World, client_for: ClientFor, db_snapshot: Snapshot) -> None:
    client = client_for(world.pat)
    before = db_snapshot()
    response = client.post(BOOKINGS, data="{not json", content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 400 and error_of(response)["code"] == "invalid"
    assert db_snapshot() == before


def test_anonymous_is_401(world: World) -> None:
    assert post_booking(APIClient(), book_body(world, TEN)).status_code == 401


# --- Idempotency-Key -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", [None, "", "k" * 256, "has space", "naïve"], ids=["missing", "empty", "long", "space", "non-ascii"]
)
def test_the_key_is_required_and_bounded(
    world: World, client_for: ClientFor, db_snapshot: Snapshot, key: str | None
) -> None:
    client = client_for(world.pat)
    before = db_snapshot()
    if key is None:
        response = client.post(BOOKINGS, book_body(world, TEN), format="json")
    else:
        response = client.post(BOOKINGS, book_body(world, TEN), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == ["Idempotency-Key"]
    assert db_snapshot() == before


def test_a_key_of_255_characters_is_fine(world: World, client_for: ClientFor) -> None:
    assert post_booking(client_for(world.pat), book_body(world, TEN), key="k" * 255).status_code == 201


def test_the_same_key_and_body_replay_the_first_answer(world: World, client_for: ClientFor) -> None:
    client = client_for(world.pat)
    first = post_booking(client, book_body(world, TEN))
    # Keys in another order are the same body.
    body = dict(reversed(list(book_body(world, TEN).items())))
    again = post_booking(client, body)
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert len(live_bookings()) == 1


def test_the_same_key_with_another_body_is_422(world: World, client_for: ClientFor, db_snapshot: Snapshot) -> None:
    client = client_for(world.pat)
    assert post_booking(client, book_body(world, TEN)).status_code == 201
    before = db_snapshot()
    response = post_booking(client, book_body(world, ny(THURSDAY, 14)))
    assert response.status_code == 422
    assert error_of(response)["code"] == "idempotency_key_reused" and error_of(response)["message"]
    assert db_snapshot() == before


def test_keys_are_per_caller(world: World, client_for: ClientFor) -> None:
    """Another user's same key is another key: dana's request is not pat's replay."""
    assert post_booking(client_for(world.pat), book_body(world, TEN)).status_code == 201
    response = post_booking(client_for(world.dana), book_body(world, ny(THURSDAY, 14)))
    assert response.status_code == 201 and "Idempotent-Replayed" not in response


def test_a_refused_request_stores_nothing_and_its_retry_is_answered_afresh(world: World, client_for: ClientFor) -> None:
    client = client_for(world.sam)
    assert post_booking(client_for(world.pat), book_body(world, TEN), key="pat").status_code == 201
    assert post_booking(client, book_body(world, TEN, world.sam)).status_code == 409
    assert not IdempotencyRecord.objects.filter(user=world.sam).exists()
    Booking.objects.get().session.facilitators.all()  # the slot frees when pat cancels
    assert client_for(world.pat).post(f"{BOOKINGS}{Booking.objects.get().pk}/cancel/").status_code == 200
    assert post_booking(client, book_body(world, TEN, world.sam)).status_code == 201


def test_an_expired_key_is_new(world: World, client_for: ClientFor) -> None:
    body = book_body(world, ny(THURSDAY, 14))
    first = post_booking(client_for(world.pat), body)
    assert first.status_code == 201
    assert client_for(world.pat).post(f"{BOOKINGS}{first.json()['id']}/cancel/").status_code == 200
    with time_machine.travel(NOW + timedelta(hours=24) - timedelta(minutes=1), tick=False):
        replayed = post_booking(client_for(world.pat), body)
        assert replayed.json() == first.json() and replayed["Idempotent-Replayed"] == "true"
    with time_machine.travel(NOW + timedelta(hours=24), tick=False):
        fresh = post_booking(client_for(world.pat), body)
    assert fresh.status_code == 201 and fresh.json()["id"] != first.json()["id"]
    assert len(live_bookings()) == 1 and IdempotencyRecord.objects.count() == 1


def test_the_sweep_deletes_expired_records_only(world: World, client_for: ClientFor) -> None:
    assert post_booking(client_for(world.pat), book_body(world, TEN), key="old").status_code == 201
    with time_machine.travel(NOW + timedelta(hours=23), tick=False):
        assert post_booking(client_for(world.sam), book_body(world, ny(THURSDAY, 14), world.sam)).status_code == 201
    assert delete_expired_records(now=NOW + timedelta(hours=24)) == 1
    assert list(IdempotencyRecord.objects.values_list("user__username", flat=True)) == ["sam"]
    assert delete_expired_records(now=NOW + timedelta(hours=24)) == 0


def test_beat_runs_the_sweep_hourly(settings: Any) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["delete-expired-idempotency-keys"]
    assert entry == {"task": "bookings.tasks.delete_expired_idempotency_keys", "schedule": 3600.0}
    assert delete_expired_idempotency_keys.name == entry["task"]
    assert delete_expired_idempotency_keys() == 0


# --- Reading -------------------------------------------------------------------------------


def test_who_sees_which_booking(world: World, client_for: ClientFor) -> None:
    ava_booking = book_family_session(by=world.pat, clinician=world.dana, participant=world.ava, slot_start=TEN)
    sam_booking = book_family_session(
        by=world.sam, clinician=world.dana, participant=world.sam, slot_start=ny(THURSDAY, 14)
    )
    theo = UserFactory.create(username="theo")
    stranger = UserFactory.create(guardian=True)
    expected = {
        world.pat: [ava_booking.pk], world.ava: [ava_booking.pk], world.sam: [sam_booking.pk],
        world.dana: [ava_booking.pk, sam_booking.pk], world.ada: [ava_booking.pk, sam_booking.pk],
        theo: [], stranger: [],
    }  # fmt: skip
    for person, ids in expected.items():
        client = client_for(person)
        listed = client.get(BOOKINGS)
        assert listed.status_code == 200
        assert [item["id"] for item in listed.json()["results"]] == ids, person.username
        for booking in (ava_booking, sam_booking):
            detail = client.get(f"{BOOKINGS}{booking.pk}/")
            assert detail.status_code == (200 if booking.pk in ids else 404), person.username
    # A guardian whose consent ended sees nothing, even what they booked.
    Consent.objects.filter(link__guardian=world.pat).update(revoked_at=NOW)
    assert client_for(world.pat).get(BOOKINGS).json()["results"] == []
    assert client_for(world.pat).get(f"{BOOKINGS}{ava_booking.pk}/").status_code == 404


def test_unknown_or_far_ids_are_404(world: World, client_for: ClientFor) -> None:
    client = client_for(world.ada)
    for pk in ("999999", "9" * 18, "9" * 30, "abc", "slots-x"):
        assert client.get(f"{BOOKINGS}{pk}/").status_code == 404, pk
        assert client.post(f"{BOOKINGS}{pk}/cancel/").status_code == 404, pk


def test_the_list_takes_a_fixed_number_of_queries(
    world: World, client_for: ClientFor, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    for hour in (9, 10, 11, 12):
        book_family_session(by=world.pat, clinician=world.dana, participant=world.ava, slot_start=ny(THURSDAY, hour))
    client = client_for(world.dana)
    with django_assert_max_num_queries(8):
        assert len(client.get(BOOKINGS).json()["results"]) == 4


# --- Cancel and reschedule -----------------------------------------------------------------


def test_cancel_through_the_api(world: World, client_for: ClientFor, db_snapshot: Snapshot) -> None:
    booking = book_family_session(by=world.pat, clinician=world.dana, participant=world.ava, slot_start=TEN)
    url = f"{BOOKINGS}{booking.pk}/cancel/"
    pat, stranger = client_for(world.pat), client_for(UserFactory.create(guardian=True))
    # Another guardian of ava with schedule consent sees the booking but is not on it.
    other_parent = UserFactory.create(guardian=True)
    link = GuardianLinkFactory.create(guardian=other_parent, adolescent=world.ava, created_by=world.ada)
    ConsentFactory.create(link=link, scopes=["schedule"])
    other = client_for(other_parent)
    before = db_snapshot()
    assert other.get(f"{BOOKINGS}{booking.pk}/").status_code == 200
    refused = other.post(url)
    assert refused.status_code == 403 and error_of(refused)["code"] == "permission_denied"
    for bad in ({"reason": 12}, {"reason": "x" * 501}, ["reason"]):
        response = pat.post(url, bad, format="json")
        assert response.status_code == 400, bad
    # Someone who does not see it: 404, as for no such booking.
    assert stranger.post(url).status_code == 404
    assert db_snapshot() == before
    response = pat.post(url, {"reason": "Family travel"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "cancelled" and body["session"]["status"] == "cancelled" and body["cancelled_at"]
    staff_view = client_for(world.dana).get(f"{BOOKINGS}{booking.pk}/").json()
    assert staff_view["cancel_reason"] == "Family travel"
    again = client_for(world.dana).post(url, {"reason": "x"}, format="json")
    assert again.status_code == 409 and error_of(again)["code"] == "booking_cancelled"


def test_cancel_inside_the_cut_off(world: World, client_for: ClientFor) -> None:
    booking = book_family_session(by=world.pat, clinician=world.dana, participant=world.ava, slot_start=TEN)
    url = f"{BOOKINGS}{booking.pk}/cancel/"
    with time_machine.travel(TEN - timedelta(hours=23, minutes=59), tick=False):
        refused = client_for(world.pat).post(url)
        assert refused.status_code == 409 and error_of(refused)["code"] == "inside_cancellation_cutoff"
        assert "24 hours" in error_of(refused)["message"]
        no_reason = client_for(world.dana).post(url)
        assert no_reason.status_code == 400 and "reason" in error_of(no_reason)["fields"]
        assert client_for(world.dana).post(url, {"reason": "Clinician ill"}, format="json").status_code == 200


def test_reschedule_through_the_api(world: World, client_for: ClientFor, db_snapshot: Snapshot) -> None:
    booking = book_family_session(by=world.pat, clinician=world.dana, participant=world.ava, slot_start=TEN)
    url = f"{BOOKINGS}{booking.pk}/reschedule/"
    pat, sam = client_for(world.pat), client_for(world.sam)
    before = db_snapshot()
    for bad in ({}, {"slot_start": "2027-03-04T14:00:00"}, {"slot_start": "2027-03-04T14:05:00-05:00"}):
        assert pat.post(url, bad, format="json").status_code == 400, bad
    assert sam.post(url, {"slot_start": "2027-03-04T14:00:00-05:00"}, format="json").status_code == 404
    assert db_snapshot() == before
    response = pat.post(url, {"slot_start": "2027-03-04T14:00:00-05:00"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["starts_at"] == "2027-03-04T14:00:00-05:00"
    assert response.json()["session"]["starts_at"] == "2027-03-04T14:00:00-05:00"


def test_the_sessions_api_shows_the_booked_family_session_to_the_guardian(world: World, client_for: ClientFor) -> None:
    booking = book_family_session(by=world.pat, clinician=world.dana, participant=world.ava, slot_start=TEN)
    listed = client_for(world.pat).get("/api/v1/sessions/", {"from": "2027-03-01", "to": "2027-03-08"})
    assert [item["id"] for item in listed.json()] == [booking.session_id]
    assert listed.json()[0]["kind"] == "family"


# --- Other guardians -----------------------------------------------------------------------


def test_the_clinician_adds_a_linked_guardian_who_alone_hears_of_it(
    world: World, client_for: ClientFor, db_snapshot: Snapshot, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        booking = book_family_session(by=world.dana, clinician=world.dana, participant=world.ava, slot_start=TEN)
    url = f"{BOOKINGS}{booking.pk}/guardians/"
    dana, pat = client_for(world.dana), client_for(world.pat)
    stranger = UserFactory.create(guardian=True)
    before = db_snapshot()
    # The family cannot add people; a stranger, a participant or a bad id is no guardian.
    assert pat.post(url, {"guardian": world.pat.pk}, format="json").status_code == 403
    for bad in (stranger.pk, world.sam.pk, 10**12, "x", True, None):
        response = dana.post(url, {"guardian": bad}, format="json")
        assert response.status_code == 400, bad
        assert list(error_of(response)["fields"]) == ["guardian"]
    assert error_of(dana.post(url, {"guardian": stranger.pk}, format="json"))["fields"] == {
        "guardian": ["No such guardian for this participant."]
    }
    assert db_snapshot() == before
    with django_capture_on_commit_callbacks(execute=True):
        response = dana.post(url, {"guardian": world.pat.pk}, format="json")
    assert response.status_code == 200, response.content
    assert {"user": world.pat.pk, "role": "guardian"} in response.json()["session"]["roster"]
    told = Notification.objects.filter(kind="booking_confirmed").values_list("recipient__username", flat=True)
    assert sorted(told) == ["ava", "dana", "pat"]  # pat once, the others only from the booking
    again = dana.post(url, {"guardian": world.pat.pk}, format="json")
    assert again.status_code == 409 and error_of(again)["code"] == "already_on_roster"
    # The added guardian may now cancel it like the booker.
    assert pat.post(f"{BOOKINGS}{booking.pk}/cancel/").status_code == 200
