"""A clinician is never double-booked by a session either: a single session, a moved one
or a schedule's occurrence may not overlap a live booked family session of one of its
facilitators (bookings.services guards the other direction).

Race-free the same way as booking: the caller's transaction first locks the
facilitators' User rows ordered by pk (lock_hosts), the lock bookings.services takes on
the clinician, so a booking and a session for the same clinician serialize and the second
sees the first. Overlap is of [starts_at, ends_at): a session may start as a booking ends
(the clinician's booking buffer governs the slots offered, not the sessions staff make).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.backends.postgresql.psycopg_any import DateTimeTZRange
from django.db.models import QuerySet

from accounts.models import User
from audit import services as audit
from server.errors import Conflict
from sessions.models import RecurringSchedule, Session
from sessions.occurrences import occurrences_overlapping

if TYPE_CHECKING:
    from bookings.models import Booking

CLINICIAN_BOOKED = "clinician_booked"
log = logging.getLogger("iop.sessions")


def lock_hosts(people: Iterable[User]) -> None:
    """Lock the people's User rows in pk order (the order every such lock is taken in)."""
    ids = sorted({person.pk for person in people})
    list(User.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))


def live_bookings_of(clinician_ids: Iterable[int]) -> QuerySet[Booking]:
    from bookings.models import Booking  # bookings builds on sessions, not the reverse

    return Booking.objects.filter(clinician_id__in=list(clinician_ids), cancelled_at__isnull=True)


def bookings_overlapping(clinician_ids: Iterable[int], start: datetime, end: datetime) -> QuerySet[Booking]:
    """Live bookings of these clinicians overlapping [start, end), earliest first."""
    during = DateTimeTZRange(start, end, "[)")
    return live_bookings_of(clinician_ids).filter(during__overlap=during).order_by("during")


def refuse_if_booked(
    *, hosts: Sequence[User], starts_at: datetime, ends_at: datetime, session_id: int | None = None
) -> None:
    """409 clinician_booked when a host has a live booking overlapping [starts_at, ends_at).
    Call with lock_hosts(hosts) held. ``session_id``: the session being moved (its own
    booking, if any, is no conflict). One query."""
    clashes = bookings_overlapping([person.pk for person in hosts], starts_at, ends_at)
    if session_id is not None:
        clashes = clashes.exclude(session_id=session_id)
    if clashes.exists():
        raise _session_over_booking()


def refuse_sessions_over_bookings(*, hosts: Sequence[User], sessions: Sequence[Session]) -> None:
    """refuse_if_booked for several sessions at once (hosts joining a group's sessions):
    one query for the hosts' bookings over the sessions' whole span, compared here."""
    if not sessions:
        return
    start = min(session.starts_at for session in sessions)
    end = max(session.ends_at for session in sessions)
    booked = bookings_overlapping([person.pk for person in hosts], start, end).values_list("during", flat=True)
    for during in booked:
        if any(session.starts_at < during.upper and during.lower < session.ends_at for session in sessions):
            raise _session_over_booking()


def _session_over_booking() -> Conflict:
    return Conflict(
        "A facilitator of this session has a booked family session at an overlapping time; "
        "pick another time, or reschedule or cancel the booking first.",
        code=CLINICIAN_BOOKED,
    )


def refuse_schedule_over_bookings(*, schedule: RecurringSchedule, hosts: Sequence[User], now: datetime) -> None:
    """409 clinician_booked when an occurrence of the schedule would overlap a live booking
    of a host that has not ended. A host's live bookings to come are few rows, so each is
    checked against the occurrences around it, however long (or open-ended) the schedule
    runs. Call with lock_hosts(hosts) held. One query."""
    bookings = live_bookings_of(person.pk for person in hosts).filter(during__endswith__gt=now)
    for booking in bookings.select_related("session"):
        booked = booking.session  # its times are the booking's `during`
        clash = next(occurrences_overlapping(schedule, booked.starts_at, booked.ends_at), None)
        if clash is not None:
            raise Conflict(
                f"A facilitator of this schedule has a booked family session overlapping its occurrence on "
                f"{clash.day.isoformat()}; change the schedule, or reschedule or cancel the booking first.",
                code=CLINICIAN_BOOKED,
            )


def flag_occurrence_over_bookings(*, session: Session, hosts: Sequence[User]) -> int:
    """For the generator, which has nobody to answer a 409: record each live booking of a
    host the new occurrence overlaps (an audit entry and a warning, ids only), inside the
    generator's transaction. Returns how many. One query when there are none."""
    clashes = list(bookings_overlapping([person.pk for person in hosts], session.starts_at, session.ends_at))
    for booking in clashes:
        data = {"booking": booking.pk, "clinician": booking.clinician_id}
        audit.record(actor=None, action="session.overlaps_booking", target=session, data=data)
        log.warning(
            "Occurrence session #%s overlaps live booking #%s of clinician #%s",
            session.pk,
            booking.pk,
            booking.clinician_id,
        )
    return len(clashes)
