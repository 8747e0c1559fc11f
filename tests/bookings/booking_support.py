"""A bookable world for the booking tests: dana available on weekdays 09:00-17:00 New York
time (default policy: 50 min, 10 min buffer, 24 h notice and cut-off), ava (15) and sam
(adult) in her care, pat ava's guardian with schedule consent. Time stands still at
Monday 1 March 2027, 12:00 New York, unless a test travels."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import time_machine
from rest_framework.test import APIClient

from accounts.models import User
from bookings.models import Booking
from tests.bookings.helpers import add_window
from tests.factories import make_enrollment, make_program

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=NEW_YORK)  # a Monday
WEDNESDAY = date(2027, 3, 3)
THURSDAY = date(2027, 3, 4)
BOOKINGS = "/api/v1/bookings/"


def ny(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK)


@dataclass
class World:
    dana: User
    ava: User
    sam: User
    pat: User
    ada: User


def make_world(*, dana: User, ava: User, sam: User, pat: User, ada: User) -> World:
    make_enrollment(participant=ava, program=make_program(age_band="adolescent"), clinician=dana)
    make_enrollment(participant=sam, program=make_program(age_band="adult"), clinician=dana)
    for weekday in range(1, 6):
        add_window(dana, weekday, "09:00", "17:00")
    return World(dana=dana, ava=ava, sam=sam, pat=pat, ada=ada)


def frozen(moment: datetime = NOW) -> Iterator[None]:
    with time_machine.travel(moment, tick=False):
        yield


def book_body(world: World, start: datetime, participant: User | None = None) -> dict[str, Any]:
    return {
        "slot_start": start.isoformat(),
        "clinician": world.dana.pk,
        "participant": (participant or world.ava).pk,
    }


def post_booking(client: APIClient, body: dict[str, Any], key: str | None = "key-1") -> Any:
    if key is None:
        return client.post(BOOKINGS, body, format="json")
    return client.post(BOOKINGS, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def live_bookings() -> list[Booking]:
    return list(Booking.objects.filter(cancelled_at__isnull=True))
