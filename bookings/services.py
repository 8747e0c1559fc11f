"""Every write to bookings: book a family session, cancel it, reschedule it.

Race-free by construction: each booking or rescheduling runs in one transaction that first
locks the clinician's User row (as sessions.services does when it creates schedules, so
the two serialize), then checks the slot (bookings.slots.check_bookable), then writes. The
exclusion constraint on Booking.during is the backstop: an overlap that got past the check
is an IntegrityError, answered as the same 409.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.backends.postgresql.psycopg_any import DateTimeTZRange
from django.utils import timezone
from psycopg.errors import ExclusionViolation

from accounts.models import Role, User
from accounts.selectors import guardian_may_see, is_linked_guardian
from audit import services as audit
from bookings import notices
from bookings.models import Booking
from bookings.slots import Slot, booking_policy, check_bookable
from programs.selectors import treats
from programs.services import NO_SUCH_PARTICIPANT, refuse_person
from server.errors import Conflict
from sessions.models import FacilitatorRole, RosterEntry, RosterRole, Session, SessionKind, SessionStatus
from sessions.services import mark_session_cancelled

# The session's clinical title; never sent outside the system (notifications carry none).
FAMILY_SESSION_TITLE = "Family session"
NO_SUCH_CLINICIAN = "No such clinician for this participant."
SLOT_TAKEN = "This slot was taken meanwhile; pick another."


# --- Who may book, cancel, reschedule ------------------------------------------------------


def ensure_may_book(*, by: User, participant: User) -> None:
    """A guardian for their linked adolescent while the adolescent's consent in force
    shares the schedule; an adult participant for themselves; a clinician for a participant
    they treat; an admin for anyone. Someone the caller may not book for is "no such
    participant" (400), as for an id that does not exist; a linked guardian without the
    consent is told to ask for it (403)."""
    if not by.is_active:
        raise PermissionDenied("This account is deactivated.")
    if participant.role != Role.PARTICIPANT or not participant.is_active:
        refuse_person(
            by=by, field="participant", reason="Only active participants can be booked.", uniform=NO_SUCH_PARTICIPANT
        )
    if by.role == Role.ADMIN:
        return
    if by.role == Role.CLINICIAN:
        if not treats(clinician=by, participant=participant):
            raise ValidationError({"participant": NO_SUCH_PARTICIPANT})
        return
    if by.role == Role.GUARDIAN:
        if not is_linked_guardian(guardian=by, adolescent=participant):
            raise ValidationError({"participant": NO_SUCH_PARTICIPANT})
        if not guardian_may_see(guardian=by, adolescent=participant, scope="schedule"):
            raise PermissionDenied("The participant's consent does not include their schedule; ask them to share it.")
        return
    if by.role == Role.PARTICIPANT:
        if by.pk != participant.pk:
            raise PermissionDenied("Participants book family sessions only for themselves.")
        if by.is_adolescent:
            raise PermissionDenied("A guardian or your clinician books your family sessions.")
        return
    raise PermissionDenied("You cannot book family sessions.")


def _check_clinician(*, clinician: User, participant: User) -> None:
    if not (
        clinician.role == Role.CLINICIAN
        and clinician.is_active
        and treats(clinician=clinician, participant=participant)
    ):
        raise ValidationError({"clinician": NO_SUCH_CLINICIAN})


def is_staff_for(*, user: User, booking: Booking) -> bool:
    """Admins and the clinicians who host the booked session (the booked clinician)."""
    if not user.is_active:
        return False
    if user.role == Role.ADMIN:
        return True
    return user.role == Role.CLINICIAN and (
        booking.clinician_id == user.pk or booking.session.facilitators.filter(clinician=user).exists()
    )


def is_family_for(*, user: User, booking: Booking) -> bool:
    """The participant, and the booker or a guardian on the roster while the adolescent's
    consent shares the schedule (a guardian whose link ended may no longer change it)."""
    if not user.is_active:
        return False
    if user.pk == booking.participant_id:
        return True
    if user.role == Role.GUARDIAN:
        on_roster = (
            booking.booked_by_id == user.pk
            or booking.session.roster.filter(user=user, role=RosterRole.GUARDIAN, removed_at__isnull=True).exists()
        )
        return on_roster and guardian_may_see(guardian=user, adolescent=booking.participant, scope="schedule")
    return user.role == Role.PARTICIPANT and booking.booked_by_id == user.pk


def _may_change(*, by: User, booking: Booking) -> bool:
    """True for staff (may act inside the cut-off), False for family; refuses others."""
    if is_staff_for(user=by, booking=booking):
        return True
    if booking.booked_by_id == by.pk and by.role in (Role.CLINICIAN, Role.ADMIN) and by.is_active:
        return True
    if is_family_for(user=by, booking=booking):
        return False
    raise PermissionDenied("Only the people on this booking and its clinician can change it.")


def _inside_cutoff(*, booking: Booking, now: datetime) -> bool:
    """From the cut-off on (exclusive: at exactly starts_at - cut-off it still may be
    changed). Read from the clinician's policy now, not at booking time."""
    cutoff = timedelta(minutes=booking_policy(booking.clinician).cancellation_cutoff_minutes)
    return now > booking.session.starts_at - cutoff


def _cutoff_refusal(booking: Booking, action: str) -> Conflict:
    minutes = booking_policy(booking.clinician).cancellation_cutoff_minutes
    count, unit = (minutes // 60, "hour") if minutes % 60 == 0 else (minutes, "minute")
    span = f"{count} {unit}{'' if count == 1 else 's'}"
    return Conflict(
        f"Bookings can be {action} up to {span} before the session starts; please contact the clinician.",
        code="inside_cancellation_cutoff",
    )


# --- Writes --------------------------------------------------------------------------------


def _lock_clinician(clinician: User) -> None:
    User.objects.select_for_update().filter(pk=clinician.pk).first()


def _during(slot: Slot) -> DateTimeTZRange:
    return DateTimeTZRange(slot.starts_at, slot.ends_at, "[)")


def book_family_session(
    *, by: User, clinician: User, participant: User, slot_start: datetime, now: datetime | None = None
) -> Booking:
    """Book the slot starting at ``slot_start`` with ``clinician`` for ``participant``: a
    family session (the clinician leads; the participant and a booking guardian on its
    roster) and its booking. 409 when the slot is taken."""
    ensure_may_book(by=by, participant=participant)
    _check_clinician(clinician=clinician, participant=participant)
    now = now or timezone.now()
    try:
        with transaction.atomic():
            _lock_clinician(clinician)
            slot = check_bookable(clinician=clinician, slot_start=slot_start, now=now)
            session = Session(
                kind=SessionKind.FAMILY, title=FAMILY_SESSION_TITLE, starts_at=slot.starts_at, ends_at=slot.ends_at
            )
            session.save()
            session.facilitators.create(clinician=clinician, role=FacilitatorRole.LEAD)
            roster = [RosterEntry(session=session, user=participant, role=RosterRole.PARTICIPANT)]
            if by.role == Role.GUARDIAN:
                roster.append(RosterEntry(session=session, user=by, role=RosterRole.GUARDIAN))
            RosterEntry.objects.bulk_create(roster)
            booking = Booking.objects.create(
                session=session, clinician=clinician, participant=participant, booked_by=by, during=_during(slot)
            )
            audit.record(
                actor=by,
                action="booking.create",
                target=booking,
                data={"session": session.pk, "clinician": clinician.pk, "participant": participant.pk},
            )
            notices.booking_confirmed_on_commit(booking=booking)
    except IntegrityError as exc:
        # The exclusion constraint: another live booking of this clinician overlaps.
        if isinstance(exc.__cause__, ExclusionViolation):
            raise Conflict(SLOT_TAKEN, code="slot_taken") from exc
        raise
    return booking


def _open_booking(booking: Booking, now: datetime) -> Booking:
    """The booking locked and read again (inside the caller's transaction), if it may still
    change: not cancelled, its session not started."""
    booking = Booking.objects.select_for_update(of=("self",)).select_related("session", "clinician").get(pk=booking.pk)
    if booking.cancelled_at is not None or booking.session.cancelled_at is not None:
        raise Conflict("This booking is already cancelled.", code="booking_cancelled")
    if booking.session.status_at(now) != SessionStatus.SCHEDULED:
        raise Conflict("This session has already opened or ended.", code="session_not_scheduled")
    return booking


def cancel_booking(*, by: User, booking: Booking, reason: str = "", now: datetime | None = None) -> Booking:
    """Cancel the booking and its session (rooms close, its people hear). Inside the
    cut-off only staff may, and they must say why."""
    staff = _may_change(by=by, booking=booking)
    reason = reason.strip()
    now = now or timezone.now()
    with transaction.atomic():
        booking = _open_booking(booking, now)
        inside = _inside_cutoff(booking=booking, now=now)
        if inside and not staff:
            raise _cutoff_refusal(booking, "cancelled")
        if inside and not reason:
            raise ValidationError({"reason": "Say why: the session is inside its cancellation cut-off."})
        booking.cancelled_at = now
        booking.cancelled_by = by
        booking.cancel_reason = reason
        booking.save(update_fields=["cancelled_at", "cancelled_by", "cancel_reason"])
        # The reason itself stays out of the audit log: it may be clinical.
        audit.record(actor=by, action="booking.cancel", target=booking, data={"inside_cutoff": inside})
        booking.session = mark_session_cancelled(by=by, session=booking.session)
    return booking


def reschedule_booking(*, by: User, booking: Booking, slot_start: datetime, now: datetime | None = None) -> Booking:
    """Move the booking and its session to another free slot of the same clinician, in one
    transaction: the old slot is freed only if the new one is taken. Same cut-off rule as
    cancelling (staff may move a session inside it)."""
    staff = _may_change(by=by, booking=booking)
    now = now or timezone.now()
    try:
        with transaction.atomic():
            _lock_clinician(booking.clinician)
            booking = _open_booking(booking, now)
            if _inside_cutoff(booking=booking, now=now) and not staff:
                raise _cutoff_refusal(booking, "rescheduled")
            slot = check_bookable(
                clinician=booking.clinician, slot_start=slot_start, now=now, exclude_session_id=booking.session_id
            )
            if slot.starts_at == booking.session.starts_at and slot.ends_at == booking.session.ends_at:
                raise ValidationError({"slot_start": "The booking is already at this time."})
            session = booking.session
            session.starts_at, session.ends_at, session.moved_at = slot.starts_at, slot.ends_at, now
            session.save(update_fields=["starts_at", "ends_at", "moved_at"])
            booking.during = _during(slot)
            booking.save(update_fields=["during"])
            audit.record(actor=by, action="booking.reschedule", target=booking, data={"session": session.pk})
            notices.booking_confirmed_on_commit(booking=booking)
    except IntegrityError as exc:
        if isinstance(exc.__cause__, ExclusionViolation):
            raise Conflict(SLOT_TAKEN, code="slot_taken") from exc
        raise
    return booking


NO_SUCH_GUARDIAN = "No such guardian for this participant."


def add_guardian(*, by: User, booking: Booking, guardian: User, now: datetime | None = None) -> Booking:
    """Put another linked guardian of the adolescent on the family session (the clinician
    or an admin). The guardian needs an active link and the adolescent's consent sharing
    the schedule, as in the room; only they hear the confirmation (the others already
    did). Someone else is "no such guardian" to a clinician (links are not theirs to see)."""
    if not is_staff_for(user=by, booking=booking):
        raise PermissionDenied("Only the clinician and admins add guardians to a family session.")
    if not guardian_may_see(guardian=guardian, adolescent=booking.participant, scope="schedule"):
        reason = "This person is not a guardian of the participant with consent to share the schedule."
        refuse_person(by=by, field="guardian", reason=reason, uniform=NO_SUCH_GUARDIAN)
    now = now or timezone.now()
    with transaction.atomic():
        booking = _open_booking(booking, now)
        entry = RosterEntry.objects.filter(session=booking.session, user=guardian).first()
        if entry is not None and entry.removed_at is None:
            raise Conflict("This guardian is already on the session.", code="already_on_roster")
        if entry is None:
            RosterEntry.objects.create(session=booking.session, user=guardian, role=RosterRole.GUARDIAN)
        else:
            entry.removed_at, entry.role = None, RosterRole.GUARDIAN
            entry.save(update_fields=["removed_at", "role"])
        audit.record(actor=by, action="booking.add_guardian", target=booking, data={"guardian": guardian.pk})
        notices.booking_confirmed_on_commit(booking=booking)
    return booking
