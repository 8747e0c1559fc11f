"""Booking confirmations: the clinician and everyone on the family session hear once per
booked time (a rescheduled booking is confirmed again at its new time). Cancellations are
told by notifications.session_cancelled, as for every cancelled session."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.db import transaction

from accounts.models import Role
from bookings.models import Booking
from notifications.kinds import NotificationKind
from notifications.services import notify
from notifications.session_cancelled import adolescent_on, session_link, session_people


def notify_booking_confirmed(*, booking_id: int) -> int:
    """Idempotent: the dedupe key names the booking, the time it was booked for and the
    person. PHI-free: the local date and time and a link."""
    booking = (
        Booking.objects.filter(pk=booking_id, cancelled_at__isnull=True)
        .select_related("session")
        .prefetch_related("session__roster__user", "session__facilitators__clinician")
        .first()
    )
    if booking is None:
        return 0
    session = booking.session
    people = session_people(session)
    about = adolescent_on(people)
    booked_for = int(session.starts_at.timestamp())
    sent = 0
    for person in people:
        if not person.is_active:
            continue
        local = session.starts_at.astimezone(ZoneInfo(person.time_zone))
        notification = notify(
            recipient=person,
            kind=NotificationKind.BOOKING_CONFIRMED,
            data={"date": local.date().isoformat(), "time": local.strftime("%H:%M"), "link": session_link(session)},
            about=about if person.role == Role.GUARDIAN else None,
            dedupe_key=f"booking_confirmed:{booking.pk}:{booked_for}:{person.pk}",
            session=session,  # its email carries the session's .ics
        )
        sent += notification is not None
    return sent


def booking_confirmed_on_commit(*, booking: Booking) -> None:
    """After the booking (or its move) commits; a failure to notify is logged, and does
    not fail the booking."""
    booking_id = booking.pk
    transaction.on_commit(lambda: notify_booking_confirmed(booking_id=booking_id), robust=True)
