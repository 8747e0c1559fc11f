"""Races on the real PostgreSQL: concurrent requests, each thread with its own database
connection, released together by a barrier. No timing is asserted, only outcomes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from django.db import connections
from rest_framework.test import APIClient

from accounts.models import User
from bookings import slots
from bookings.models import Booking, IdempotencyRecord
from bookings.services import book_family_session
from sessions.models import Session
from tests.bookings.booking_support import (
    BOOKINGS,
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

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 20


@pytest.fixture(autouse=True)
def _now() -> Iterator[None]:
    yield from frozen()


@pytest.fixture
def world(dana: User, ava: User, sam: User, pat: User, ada: User) -> World:
    return make_world(dana=dana, ava=ava, sam=sam, pat=pat, ada=ada)


def run_together(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run each call on its own thread (its own connection), all released at once."""
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(calls))

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = calls[index]()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    return results


def statuses(responses: list[Any]) -> list[int]:
    return sorted(response.status_code for response in responses)


def test_twenty_requests_for_one_slot_book_it_once(world: World, client_for: Callable[[User], APIClient]) -> None:
    clients = [client_for(world.pat if index % 2 else world.ada) for index in range(THREADS)]
    body = book_body(world, ny(WEDNESDAY, 10))
    responses = run_together(
        [partial(post_booking, clients[index], body, key=f"key-{index}") for index in range(THREADS)]
    )
    assert statuses(responses) == [201] + [409] * (THREADS - 1)
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"slot_taken"}
    assert Session.objects.filter(kind="family").count() == 1 and Booking.objects.count() == 1


def test_twenty_requests_for_two_overlapping_slots_of_different_lengths_book_one(
    world: World, client_for: Callable[[User], APIClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Half the requests see a 110-minute policy (slots at 09:00, 11:00, ...) and book
    09:00-10:50; the other half a 50-minute one and book 10:00-10:50. The two overlap."""
    lengths = threading.local()
    real_policy = slots.booking_policy

    def policy_of_this_thread(clinician: User) -> slots.PolicyView:
        policy = real_policy(clinician)
        minutes = getattr(lengths, "minutes", policy.session_minutes)
        return slots.PolicyView(**{**policy.__dict__, "session_minutes": minutes})

    monkeypatch.setattr(slots, "booking_policy", policy_of_this_thread)
    clients = [client_for(world.pat) for _ in range(THREADS)]

    def request(index: int) -> Any:
        lengths.minutes = 110 if index % 2 else 50
        start = ny(WEDNESDAY, 9) if index % 2 else ny(WEDNESDAY, 10)
        return post_booking(clients[index], book_body(world, start), key=f"key-{index}")

    responses = run_together([partial(request, index) for index in range(THREADS)])
    assert statuses(responses) == [201] + [409] * (THREADS - 1)
    booking = Booking.objects.get()
    length = booking.session.ends_at - booking.session.starts_at
    assert length in (timedelta(minutes=50), timedelta(minutes=110))
    assert Session.objects.filter(kind="family").count() == 1


def test_twenty_requests_with_the_same_key_book_once_and_all_get_its_answer(
    world: World, client_for: Callable[[User], APIClient]
) -> None:
    clients = [client_for(world.pat) for _ in range(THREADS)]
    body = book_body(world, ny(WEDNESDAY, 10))
    responses = run_together([partial(post_booking, clients[index], body, key="same") for index in range(THREADS)])
    assert statuses(responses) == [201] * THREADS
    # The same JSON (a replay's keys come back in jsonb's order, which JSON leaves free).
    assert all(response.json() == responses[0].json() for response in responses)
    assert sum(1 for response in responses if response.get("Idempotent-Replayed") == "true") == THREADS - 1
    assert Booking.objects.count() == 1 and IdempotencyRecord.objects.count() == 1


@pytest.mark.parametrize("round_", range(3))
def test_reschedule_is_atomic_under_a_concurrent_booking_of_the_new_slot(
    world: World, client_for: Callable[[User], APIClient], round_: int
) -> None:
    old, new = ny(WEDNESDAY, 10), ny(THURSDAY, 14)
    booking = book_family_session(by=world.pat, clinician=world.dana, participant=world.ava, slot_start=old)
    pat, sam = client_for(world.pat), client_for(world.sam)
    move, take = run_together(
        [
            lambda: pat.post(f"{BOOKINGS}{booking.pk}/reschedule/", {"slot_start": new.isoformat()}, format="json"),
            lambda: post_booking(sam, book_body(world, new, world.sam), key=f"sam-{round_}"),
        ]
    )
    assert {(move.status_code, take.status_code)} <= {(200, 409), (409, 201)}
    session = Session.objects.get(pk=booking.session_id)
    booking.refresh_from_db()
    if move.status_code == 200:
        # The move won: the booking is at the new time, and sam's request found it taken.
        assert session.starts_at == new and [b.pk for b in live_bookings()] == [booking.pk]
    else:
        # The move lost: the booking keeps its old slot, untouched, beside sam's.
        assert session.starts_at == old and session.moved_at is None and len(live_bookings()) == 2
    assert (booking.during.lower, booking.during.upper) == (session.starts_at, session.ends_at)
