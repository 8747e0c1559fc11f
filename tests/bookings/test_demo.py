"""The demo's bookings (issue 22, item 7): dana has bookable slots over the next 14 days,
pat has one family session booked with her for ava next week; a second seeding adds
nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import User
from bookings.models import Booking
from bookings.slots import free_slots

pytestmark = pytest.mark.django_db


def test_the_demo_has_bookable_slots_and_one_family_session_next_week(
    db_snapshot: Callable[[], dict[str, int]],
) -> None:
    call_command("seed_demo")
    first = db_snapshot()
    call_command("seed_demo")
    assert db_snapshot() == first

    people = {user.username: user for user in User.objects.all()}
    now = timezone.now()
    fortnight = free_slots(clinician=people["dana"], start=now, end=now + timedelta(days=14))
    # Ten weekdays of eight slots, less the demo groups she leads: plenty either way.
    assert len(fortnight) >= 40
    booking = Booking.objects.get()
    assert (booking.clinician, booking.participant, booking.booked_by) == (people["dana"], people["ava"], people["pat"])
    session = booking.session
    assert session.kind == "family" and session.cancelled_at is None
    assert {(entry.user.username, entry.role) for entry in session.roster.all()} == {
        ("ava", "participant"),
        ("pat", "guardian"),
    }
    zone = ZoneInfo(people["dana"].time_zone)
    this_week = now.astimezone(zone).isocalendar()
    booked_week = session.starts_at.astimezone(zone).isocalendar()
    assert (booked_week.year, booked_week.week) == (
        (now + timedelta(weeks=1)).astimezone(zone).isocalendar().year,
        (now + timedelta(weeks=1)).astimezone(zone).isocalendar().week,
    )
    assert booked_week.week != this_week.week
    # The booked slot is no longer offered.
    assert session.starts_at not in [slot.starts_at for slot in fortnight]
