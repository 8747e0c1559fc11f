"""Demo availability and booking (CONTRACT.md, issue 22 item 7): dana takes family sessions
on weekdays 09:00-17:00 her time, so she has bookable slots over the next 14 days, and pat
has one family session booked with her for ava next week. Idempotent: windows are added
only if dana has none, and a booking only if pat has no live one still to come."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from accounts.models import User
from bookings import availability, services
from bookings.models import AvailabilityWindow, Booking
from bookings.slots import booking_policy, free_slots

DEMO_WEEKDAYS = [1, 2, 3, 4, 5]
DEMO_HOURS = (time(9, 0), time(17, 0))
# Tuesday: the demo groups meet on Mondays, Wednesdays and Thursdays.
PREFERRED_WEEKDAY = 2


def _ensure_windows(dana: User, ada: User) -> None:
    if AvailabilityWindow.objects.filter(clinician=dana).exists():
        return
    for weekday in DEMO_WEEKDAYS:
        availability.add_window(
            by=ada, clinician=dana, weekday=weekday, start_time=DEMO_HOURS[0], end_time=DEMO_HOURS[1]
        )


def _next_week(dana: User, now: datetime) -> tuple[datetime, datetime]:
    """Monday 00:00 to the Monday after, of next week in dana's policy zone."""
    zone = ZoneInfo(booking_policy(dana).time_zone)
    today = now.astimezone(zone).date()
    monday = today + timedelta(days=7 - today.weekday())
    start = datetime.combine(monday, time.min, tzinfo=zone)
    return start, datetime.combine(monday + timedelta(days=7), time.min, tzinfo=zone)


def _ensure_family_booking(dana: User, pat: User, ava: User) -> Booking | None:
    now = timezone.now()
    upcoming = Booking.objects.filter(booked_by=pat, cancelled_at__isnull=True, session__starts_at__gt=now).first()
    if upcoming is not None:
        return upcoming
    start, end = _next_week(dana, now)
    offered = free_slots(clinician=dana, start=start, end=end, now=now)
    if not offered:
        return None
    preferred = [slot for slot in offered if slot.starts_at.astimezone(start.tzinfo).isoweekday() == PREFERRED_WEEKDAY]
    slot = (preferred or offered)[0]
    return services.book_family_session(by=pat, clinician=dana, participant=ava, slot_start=slot.starts_at, now=now)


def seed() -> dict[str, object]:
    people = {user.username: user for user in User.objects.filter(username__in=["ada", "dana", "ava", "pat"])}
    _ensure_windows(people["dana"], people["ada"])
    booking = _ensure_family_booking(people["dana"], people["pat"], people["ava"])
    return {"family_booking": booking}
