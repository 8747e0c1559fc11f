"""Booking confirmations: the clinician and everyone on the family session hear once per
booked time (a rescheduled booking is confirmed again at its new time). Cancellations are
told by notifications.session_cancelled, as for every cancelled session."""

from __future__ import annotations

from django.db import transaction

from bookings.models import Booking
from notifications.kinds import NotificationKind
from notifications.session_notices import notify_session_people


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
    booked_for = int(session.starts_at.timestamp())
    return notify_session_people(
        session=session,
        kind=NotificationKind.BOOKING_CONFIRMED,
        dedupe_key=lambda person: f"booking_confirmed:{booking_id}:{booked_for}:{person.pk}",
    )


def booking_confirmed_on_commit(*, booking: Booking) -> None:
    """After the booking (or its move) commits; a failure to notify is logged, and does
    not fail the booking."""
    booking_id = booking.pk
    transaction.on_commit(lambda: notify_booking_confirmed(booking_id=booking_id), robust=True)
