"""The slot engine: which family-session starts a clinician offers, and whether one is free.

Within each local date in the policy zone, the availability intervals are the weekly
windows of that weekday valid that date, plus extra hours, minus time off (overlapping
windows merge). In each interval slots start at its start and then every
session_minutes + buffer_minutes, while start + session_minutes <= the interval's end.
A slot is free when it starts at or after now + min_notice and no session the clinician
hosts (lead or co, any kind, cancelled ones aside) overlaps
[start - buffer, start + session_minutes + buffer). An occurrence of a schedule the
clinician hosts that is not generated yet counts as such a session (the generator fills
only a rolling horizon; slots go further ahead).

Wall-clock times become instants per date (sessions.occurrences.local_to_utc), so a 09:00
window stays 09:00 local across DST changes; a slot whose start does not exist (the
spring-forward gap) is skipped, and an ambiguous one (fall-back) is its first occurrence.
A slot lasts session_minutes of real time. At most six queries whatever the range.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import models
from django.db.models import Q
from django.utils import timezone
from rest_framework.exceptions import ErrorDetail, ValidationError

from accounts.models import User
from bookings.models import AvailabilityException, AvailabilityWindow, BookingPolicy, ExceptionKind
from server.errors import Conflict
from server.input_limits import instant_in_range
from sessions.models import Session
from sessions.occurrences import local_time_exists, local_to_utc, pending_occurrences

MAX_RANGE = timedelta(days=60)
_DAY_MINUTES = 24 * 60


@dataclass(frozen=True)
class Slot:
    starts_at: datetime  # UTC, aware
    ends_at: datetime


@dataclass(frozen=True)
class PolicyView:
    """A clinician's booking rules: their BookingPolicy row, or the model's defaults in
    the clinician's own time zone when they have none (``stored`` False)."""

    time_zone: str
    session_minutes: int
    buffer_minutes: int
    min_notice_minutes: int
    cancellation_cutoff_minutes: int
    stored: bool

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def session_length(self) -> timedelta:
        return timedelta(minutes=self.session_minutes)

    @property
    def buffer(self) -> timedelta:
        return timedelta(minutes=self.buffer_minutes)

    @property
    def notice(self) -> timedelta:
        return timedelta(minutes=self.min_notice_minutes)


def _field_default(name: str) -> int:
    field = BookingPolicy._meta.get_field(name)
    assert isinstance(field, models.Field)
    value = field.get_default()
    assert isinstance(value, int)
    return value


def booking_policy(clinician: User) -> PolicyView:
    """The clinician's rules (one query)."""
    row = BookingPolicy.objects.filter(clinician=clinician).first()
    if row is None:
        return PolicyView(
            time_zone=clinician.time_zone,
            session_minutes=_field_default("session_minutes"),
            buffer_minutes=_field_default("buffer_minutes"),
            min_notice_minutes=_field_default("min_notice_minutes"),
            cancellation_cutoff_minutes=_field_default("cancellation_cutoff_minutes"),
            stored=False,
        )
    return PolicyView(
        time_zone=row.time_zone,
        session_minutes=row.session_minutes,
        buffer_minutes=row.buffer_minutes,
        min_notice_minutes=row.min_notice_minutes,
        cancellation_cutoff_minutes=row.cancellation_cutoff_minutes,
        stored=True,
    )


# --- Availability intervals per local date -------------------------------------------------

Interval = tuple[int, int]  # minutes of the local day, [start, end)


def _minute(clock: time) -> int:
    return clock.hour * 60 + clock.minute


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _subtract(intervals: Sequence[Interval], holes: Sequence[Interval]) -> list[Interval]:
    result = list(intervals)
    for hole_start, hole_end in holes:
        kept: list[Interval] = []
        for start, end in result:
            if hole_end <= start or hole_start >= end:
                kept.append((start, end))
                continue
            if start < hole_start:
                kept.append((start, hole_start))
            if hole_end < end:
                kept.append((hole_end, end))
        result = kept
    return result


@dataclass(frozen=True)
class _Availability:
    windows: list[AvailabilityWindow]
    exceptions: dict[date, list[AvailabilityException]]

    def intervals_on(self, day: date) -> list[Interval]:
        weekday = day.isoweekday()
        open_: list[Interval] = [
            (_minute(w.start_time), _minute(w.end_time))
            for w in self.windows
            if w.weekday == weekday
            and (w.valid_from is None or w.valid_from <= day)
            and (w.valid_until is None or day <= w.valid_until)
        ]
        holes: list[Interval] = []
        for exception in self.exceptions.get(day, []):
            if exception.start_time is None or exception.end_time is None:
                if exception.kind == ExceptionKind.TIME_OFF:
                    return []  # the whole day off
                continue  # extra hours always have times (a check constraint)
            span = (_minute(exception.start_time), _minute(exception.end_time))
            (open_ if exception.kind == ExceptionKind.EXTRA_HOURS else holes).append(span)
        return _subtract(_merge(open_), _merge(holes))


def _load_availability(clinician: User, first_day: date, last_day: date) -> _Availability:
    """Two queries: the windows valid somewhere in the dates, the exceptions on them."""
    windows = list(
        AvailabilityWindow.objects.filter(clinician=clinician)
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=last_day))
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=first_day))
    )
    exceptions: dict[date, list[AvailabilityException]] = defaultdict(list)
    for exception in AvailabilityException.objects.filter(clinician=clinician, date__range=(first_day, last_day)):
        exceptions[exception.date].append(exception)
    return _Availability(windows=windows, exceptions=exceptions)


def _slots_on(day: date, intervals: Sequence[Interval], policy: PolicyView) -> list[Slot]:
    step = policy.session_minutes + policy.buffer_minutes
    slots: list[Slot] = []
    for interval_start, interval_end in intervals:
        # The interval's end as an instant: a slot spanning a DST change lasts its real
        # length and must still end by then.
        end_clock = time.max if interval_end >= _DAY_MINUTES else time(*divmod(interval_end, 60))
        end_instant = local_to_utc(day, end_clock, policy.time_zone)
        minute = interval_start
        while minute + policy.session_minutes <= interval_end:
            clock = time(*divmod(minute, 60))
            if local_time_exists(day, clock, policy.time_zone):
                starts_at = local_to_utc(day, clock, policy.time_zone)
                ends_at = starts_at + policy.session_length
                # Across the spring-forward gap an hour of wall clock is no time at all:
                # a slot starting before the one before it (and its buffer) ends is not offered.
                after_previous = not slots or starts_at >= slots[-1].ends_at + policy.buffer
                if ends_at <= end_instant and after_previous:
                    slots.append(Slot(starts_at=starts_at, ends_at=ends_at))
            minute += step
    return slots


def _offered_slots(availability: _Availability, policy: PolicyView, first_day: date, last_day: date) -> list[Slot]:
    """Every slot the availability offers on these local dates, taken or not, in order."""
    slots: list[Slot] = []
    day = first_day
    while day <= last_day:
        slots += _slots_on(day, availability.intervals_on(day), policy)
        day += timedelta(days=1)
    return sorted(set(slots), key=lambda slot: slot.starts_at)


# --- Busy time ---------------------------------------------------------------------------


def _busy_intervals(
    clinician: User, start: datetime, end: datetime, exclude_session_id: int | None
) -> list[tuple[datetime, datetime]]:
    """[starts_at, ends_at) of the sessions the clinician hosts overlapping [start, end),
    cancelled ones aside, and of the occurrences their schedules will have there but do
    not yet (three queries)."""
    sessions = Session.objects.filter(
        facilitators__clinician=clinician, cancelled_at__isnull=True, starts_at__lt=end, ends_at__gt=start
    )
    if exclude_session_id is not None:
        sessions = sessions.exclude(pk=exclude_session_id)
    return sorted(
        [*sessions.values_list("starts_at", "ends_at"), *pending_occurrences(clinician=clinician, start=start, end=end)]
    )


def _is_clear(slot: Slot, busy: Sequence[tuple[datetime, datetime]], policy: PolicyView) -> bool:
    guard_start = slot.starts_at - policy.buffer
    guard_end = slot.ends_at + policy.buffer
    return not any(busy_start < guard_end and busy_end > guard_start for busy_start, busy_end in busy)


def _local_dates(start: datetime, end: datetime, zone: ZoneInfo) -> tuple[date, date]:
    return start.astimezone(zone).date(), end.astimezone(zone).date()


# --- The two calls ------------------------------------------------------------------------


def free_slots(
    *,
    clinician: User,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
    exclude_session_id: int | None = None,
) -> list[Slot]:
    """The free slots starting in [start, end), in order. ``end`` after ``start``, at most
    MAX_RANGE later (else a 400). At most six queries whatever the range."""
    if timezone.is_naive(start) or timezone.is_naive(end):
        raise ValidationError({"from": ["Give times with their UTC offset."]})
    if end <= start:
        raise ValidationError({"to": ["The end of the range must be after its start."]})
    if end - start > MAX_RANGE:
        raise ValidationError({"to": [f"Ask for at most {MAX_RANGE.days} days at a time."]})
    now = now or timezone.now()
    policy = booking_policy(clinician)
    first_day, last_day = _local_dates(start, end, policy.zone)
    offered = _offered_slots(_load_availability(clinician, first_day, last_day), policy, first_day, last_day)
    earliest = max(start, now + policy.notice)
    wanted = [slot for slot in offered if earliest <= slot.starts_at < end]
    if not wanted:
        return []
    busy = _busy_intervals(
        clinician, wanted[0].starts_at - policy.buffer, wanted[-1].ends_at + policy.buffer, exclude_session_id
    )
    return [slot for slot in wanted if _is_clear(slot, busy, policy)]


def _refuse(message: str, code: str) -> ValidationError:
    return ValidationError({"slot_start": [ErrorDetail(message, code=code)]})


def check_bookable(
    *,
    clinician: User,
    slot_start: datetime,
    now: datetime | None = None,
    exclude_session_id: int | None = None,
) -> Slot:
    """The slot starting at ``slot_start`` if it may be booked now, else a 400 naming why
    (codes invalid_time, slot_in_past, inside_notice_period, not_on_slot_boundary,
    outside_availability) or a 409 (slot_taken) when a session the clinician hosts is
    within the buffer of it. Race-free only inside the caller's transaction holding the
    clinician's row lock (bookings.services). At most six queries."""
    if not isinstance(slot_start, datetime) or timezone.is_naive(slot_start) or not instant_in_range(slot_start):
        raise _refuse("Give the slot's start as an ISO 8601 time with its UTC offset.", "invalid_time")
    slot_start = slot_start.astimezone(UTC)
    now = now or timezone.now()
    if slot_start < now:
        raise _refuse("This time has passed.", "slot_in_past")
    policy = booking_policy(clinician)
    if slot_start < now + policy.notice:
        raise _refuse(
            f"Book at least {policy.min_notice_minutes} minutes ahead.",
            "inside_notice_period",
        )
    day = slot_start.astimezone(policy.zone).date()
    availability = _load_availability(clinician, day, day)
    offered = _offered_slots(availability, policy, day, day)
    starts = [slot.starts_at for slot in offered]
    index = bisect_left(starts, slot_start)
    if index == len(starts) or starts[index] != slot_start:
        local_minute = _minute(slot_start.astimezone(policy.zone).time())
        inside = any(start <= local_minute < end for start, end in availability.intervals_on(day))
        if inside:
            raise _refuse("Pick one of the offered slot times.", "not_on_slot_boundary")
        raise _refuse("The clinician is not available at this time.", "outside_availability")
    slot = offered[index]
    busy = _busy_intervals(clinician, slot.starts_at - policy.buffer, slot.ends_at + policy.buffer, exclude_session_id)
    if not _is_clear(slot, busy, policy):
        raise Conflict("This slot was taken meanwhile; pick another.", code="slot_taken")
    return slot
