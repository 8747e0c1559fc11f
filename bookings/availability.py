"""Every write to a clinician's availability: their booking policy, weekly windows and
dated exceptions. The clinician themself or a program admin; each change audited.

Each write locks the clinician's account row first, as booking does (bookings.services),
so a booking checks its slot against availability that is not changing under it."""

from __future__ import annotations

from datetime import date, time

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User, validate_time_zone
from audit import services as audit
from bookings.models import AvailabilityException, AvailabilityWindow, BookingPolicy, ExceptionKind
from bookings.slots import booking_policy

# The model's check constraints, named for the validation that mirrors them.
SESSION_MINUTES_RANGE = (15, 240)
MAX_BUFFER_MINUTES = 120
MAX_NOTICE_MINUTES = 30 * 24 * 60
MAX_CUTOFF_MINUTES = 30 * 24 * 60
# Room for any real week (several windows a day) and a year of dated changes; more is a
# client gone wrong, refused before it makes slot lookups slow.
MAX_WINDOWS = 70
MAX_UPCOMING_EXCEPTIONS = 400

NOT_YOURS = "Only the clinician and program admins can change a clinician's availability."


def ensure_can_manage_availability(*, by: User, clinician: User) -> None:
    """The clinician themself, or an admin; the clinician must be a clinician."""
    if by.is_active and by.role == Role.ADMIN and clinician.role == Role.CLINICIAN:
        return
    if by.is_active and by.role == Role.CLINICIAN and by.pk == clinician.pk:
        return
    raise PermissionDenied(NOT_YOURS)


def _lock(clinician: User) -> None:
    User.objects.select_for_update().filter(pk=clinician.pk).first()


def _whole_minutes(clock: time) -> time:
    return clock.replace(second=0, microsecond=0)


def _check_range(field: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValidationError({field: f"Use a whole number of minutes from {low} to {high}."})


def set_booking_policy(
    *,
    by: User,
    clinician: User,
    time_zone: str,
    session_minutes: int,
    buffer_minutes: int,
    min_notice_minutes: int,
    cancellation_cutoff_minutes: int,
) -> BookingPolicy:
    """Replaces the clinician's rules. The windows' wall-clock times are read in the new
    zone from now on (09:00 stays 09:00, in that zone); existing bookings keep their times."""
    ensure_can_manage_availability(by=by, clinician=clinician)
    try:
        validate_time_zone(time_zone)
    except ValidationError as exc:
        raise ValidationError({"time_zone": exc.messages}) from exc
    _check_range("session_minutes", session_minutes, *SESSION_MINUTES_RANGE)
    _check_range("buffer_minutes", buffer_minutes, 0, MAX_BUFFER_MINUTES)
    _check_range("min_notice_minutes", min_notice_minutes, 0, MAX_NOTICE_MINUTES)
    _check_range("cancellation_cutoff_minutes", cancellation_cutoff_minutes, 0, MAX_CUTOFF_MINUTES)
    values = {
        "time_zone": time_zone,
        "session_minutes": session_minutes,
        "buffer_minutes": buffer_minutes,
        "min_notice_minutes": min_notice_minutes,
        "cancellation_cutoff_minutes": cancellation_cutoff_minutes,
    }
    with transaction.atomic():
        _lock(clinician)
        policy, _ = BookingPolicy.objects.update_or_create(clinician=clinician, defaults=values)
        audit.record(actor=by, action="booking_policy.set", target=policy, data={"clinician": clinician.pk, **values})
    return policy


def add_window(
    *,
    by: User,
    clinician: User,
    weekday: int,
    start_time: time,
    end_time: time,
    valid_from: date | None = None,
    valid_until: date | None = None,
) -> AvailabilityWindow:
    """A weekly window, wall-clock in the policy zone, within one day. Windows may overlap
    (the slot engine merges them)."""
    ensure_can_manage_availability(by=by, clinician=clinician)
    start_time, end_time = _whole_minutes(start_time), _whole_minutes(end_time)
    if not 1 <= weekday <= 7:
        raise ValidationError({"weekday": "Use an ISO weekday, 1 (Monday) to 7 (Sunday)."})
    if end_time <= start_time:
        raise ValidationError({"end_time": "A window ends after it starts, on the same day."})
    if valid_from is not None and valid_until is not None and valid_until < valid_from:
        raise ValidationError({"valid_until": "A window cannot stop before it starts."})
    with transaction.atomic():
        _lock(clinician)
        if AvailabilityWindow.objects.filter(clinician=clinician).count() >= MAX_WINDOWS:
            raise ValidationError({"weekday": f"A clinician has at most {MAX_WINDOWS} weekly windows."})
        window = AvailabilityWindow.objects.create(
            clinician=clinician,
            weekday=weekday,
            start_time=start_time,
            end_time=end_time,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        audit.record(
            actor=by,
            action="availability_window.create",
            target=window,
            data={"clinician": clinician.pk, "weekday": weekday, "start_time": f"{start_time:%H:%M}"},
        )
    return window


def remove_window(*, by: User, window: AvailabilityWindow) -> None:
    """Slots it offered stop being offered; sessions booked in it stay."""
    clinician = window.clinician
    ensure_can_manage_availability(by=by, clinician=clinician)
    with transaction.atomic():
        _lock(clinician)
        audit.record(actor=by, action="availability_window.delete", target=window, data={"clinician": clinician.pk})
        window.delete()


def _policy_today(clinician: User) -> date:
    return timezone.now().astimezone(booking_policy(clinician).zone).date()


def add_exception(
    *,
    by: User,
    clinician: User,
    kind: str,
    day: date,
    start_time: time | None = None,
    end_time: time | None = None,
) -> AvailabilityException:
    """Time off (no times: the whole day) or extra hours (times required) on a local date
    in the policy zone, today or later."""
    ensure_can_manage_availability(by=by, clinician=clinician)
    if kind not in ExceptionKind.values:
        raise ValidationError({"kind": f"Use one of: {', '.join(ExceptionKind.values)}."})
    if (start_time is None) != (end_time is None):
        raise ValidationError({"end_time": "Give both start_time and end_time, or neither (the whole day)."})
    if kind == ExceptionKind.EXTRA_HOURS and start_time is None:
        raise ValidationError({"start_time": "Extra hours need a start_time and an end_time."})
    if start_time is not None and end_time is not None:
        start_time, end_time = _whole_minutes(start_time), _whole_minutes(end_time)
        if end_time <= start_time:
            raise ValidationError({"end_time": "The hours end after they start, on the same day."})
    today = _policy_today(clinician)
    if day < today:
        raise ValidationError({"date": "Exceptions are for today or later."})
    with transaction.atomic():
        _lock(clinician)
        upcoming = AvailabilityException.objects.filter(clinician=clinician, date__gte=today).count()
        if upcoming >= MAX_UPCOMING_EXCEPTIONS:
            raise ValidationError({"date": f"A clinician has at most {MAX_UPCOMING_EXCEPTIONS} upcoming exceptions."})
        exception = AvailabilityException.objects.create(
            clinician=clinician, kind=kind, date=day, start_time=start_time, end_time=end_time
        )
        audit.record(
            actor=by,
            action="availability_exception.create",
            target=exception,
            data={"clinician": clinician.pk, "kind": kind, "date": day.isoformat()},
        )
    return exception


def remove_exception(*, by: User, exception: AvailabilityException) -> None:
    clinician = exception.clinician
    ensure_can_manage_availability(by=by, clinician=clinician)
    with transaction.atomic():
        _lock(clinician)
        audit.record(
            actor=by, action="availability_exception.delete", target=exception, data={"clinician": clinician.pk}
        )
        exception.delete()
