"""A booking racing a session, a schedule or a move for the same clinician and time, on the
real PostgreSQL (a thread and connection each, released together): exactly one wins, the
other gets its 409, and the clinician is never double-booked. No timing is asserted."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from bookings.models import Booking
from sessions.booked_time import bookings_overlapping
from sessions.models import RecurringSchedule, Session
from tests.bookings.booking_support import (
    NOW,
    THURSDAY,
    WEDNESDAY,
    World,
    book_body,
    frozen,
    make_world,
    ny,
    post_booking,
)
from tests.bookings.helpers import hosted_session
from tests.bookings.test_booking_races import run_together

pytestmark = pytest.mark.django_db(transaction=True)

TEN = ny(WEDNESDAY, 10)


@pytest.fixture(autouse=True)
def _now() -> Iterator[None]:
    yield from frozen()


@pytest.fixture
def world(dana: User, ava: User, sam: User, pat: User, ada: User) -> World:
    return make_world(dana=dana, ava=ava, sam=sam, pat=pat, ada=ada)


def the_session(world: World, ada: APIClient) -> Any:
    body = {
        "kind": "individual", "title": "Individual therapy", "starts_at": TEN.isoformat(), "duration_minutes": 50,
        "participant": world.sam.pk, "clinician": world.dana.pk,
    }  # fmt: skip
    return ada.post("/api/v1/sessions/", body, format="json")


def the_schedule(world: World, ada: APIClient) -> Any:
    body = {
        "kind": "individual", "title": "Individual therapy", "weekdays": [3], "start_time": "10:00",
        "duration_minutes": 50, "starts_on": NOW.date().isoformat(), "time_zone": "America/New_York",
        "participant": world.sam.pk, "clinician": world.dana.pk,
    }  # fmt: skip
    return ada.post("/api/v1/schedules/", body, format="json")


def assert_never_double_booked(dana: User) -> None:
    hosted = Session.objects.filter(facilitators__clinician=dana, cancelled_at__isnull=True).exclude(kind="family")
    for session in hosted:
        assert not bookings_overlapping([dana.pk], session.starts_at, session.ends_at).exists()


@pytest.mark.parametrize("round_", range(2))
@pytest.mark.parametrize("rival", ["session", "schedule", "move"])
def test_a_booking_and_a_session_for_the_same_time_one_wins(
    world: World, client_for: Callable[[User], APIClient], rival: str, round_: int
) -> None:
    pat, ada = client_for(world.pat), client_for(world.ada)
    moved = hosted_session([world.dana], ny(THURSDAY, 10), ny(THURSDAY, 11), roster=[world.sam])
    move_body = {"starts_at": TEN.isoformat(), "ends_at": (TEN + timedelta(minutes=50)).isoformat()}
    rivals: dict[str, Callable[[], Any]] = {
        "session": lambda: the_session(world, ada),
        "schedule": lambda: the_schedule(world, ada),
        "move": lambda: ada.post(f"/api/v1/sessions/{moved.pk}/move/", move_body, format="json"),
    }
    booked, other = run_together(
        [lambda: post_booking(pat, book_body(world, TEN), key=f"race-{round_}"), rivals[rival]]
    )
    won = 201 if rival != "move" else 200
    assert (booked.status_code, other.status_code) in {(201, 409), (409, won)}
    moved.refresh_from_db()
    if booked.status_code == 201:
        assert other.json()["error"]["code"] == "clinician_booked"
        assert Booking.objects.filter(cancelled_at__isnull=True).count() == 1
        assert not RecurringSchedule.objects.exists() and moved.starts_at == ny(THURSDAY, 10)
    else:
        assert booked.json()["error"]["code"] == "slot_taken"
        assert not Booking.objects.exists()
        if rival == "move":
            assert moved.starts_at == TEN
    assert Session.objects.filter(kind="individual", starts_at=TEN).count() == (0 if booked.status_code == 201 else 1)
    assert_never_double_booked(world.dana)
