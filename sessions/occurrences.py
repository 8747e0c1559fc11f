"""When a recurring schedule meets: its occurrences on local dates as instants, generated
or not yet. Wall-clock times become instants per date in the schedule's zone, so 17:00
stays 17:00 local across DST changes. The generator (sessions.services) and the slot
engine (bookings.slots: time a schedule will fill is busy already) share this expansion."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q

from accounts.models import User
from sessions.models import RecurringSchedule, Session, SessionKind


def local_to_utc(day: date, clock: time, zone: str) -> datetime:
    """The instant a wall-clock time on a day in an IANA zone names. A time skipped by a
    spring-forward change moves forward by the gap (02:30 -> 03:30), as clocks do."""
    local = datetime.combine(day, clock, tzinfo=ZoneInfo(zone))
    return local.astimezone(UTC)


def local_time_exists(day: date, clock: time, zone: str) -> bool:
    local = datetime.combine(day, clock, tzinfo=ZoneInfo(zone))
    round_trip = local.astimezone(UTC).astimezone(ZoneInfo(zone))
    return round_trip.replace(tzinfo=None) == local.replace(tzinfo=None)


@dataclass(frozen=True)
class Occurrence:
    day: date  # the local date in the schedule's zone (Session.occurrence_date)
    starts_at: datetime
    ends_at: datetime


def occurrences(schedule: RecurringSchedule, first_day: date, last_day: date) -> Iterator[Occurrence]:
    """The schedule's occurrences on local dates in [first_day, last_day] and within its
    own starts_on..ends_on, in order; whether it is cancelled is the caller's business."""
    day = max(first_day, schedule.starts_on)
    end = min(last_day, schedule.ends_on or last_day)
    length = timedelta(minutes=schedule.duration_minutes)
    while day <= end:
        if day.isoweekday() in schedule.weekdays:
            starts_at = local_to_utc(day, schedule.start_time, schedule.time_zone)
            yield Occurrence(day=day, starts_at=starts_at, ends_at=starts_at + length)
        day += timedelta(days=1)


def occurrences_overlapping(schedule: RecurringSchedule, start: datetime, end: datetime) -> Iterator[Occurrence]:
    """Its occurrences overlapping [start, end). One starting the local day before may run
    past midnight (sessions last up to 8 hours), so that day is looked at too."""
    zone = ZoneInfo(schedule.time_zone)
    first_day = start.astimezone(zone).date() - timedelta(days=1)
    for occurrence in occurrences(schedule, first_day, end.astimezone(zone).date()):
        if occurrence.starts_at < end and occurrence.ends_at > start:
            yield occurrence


def schedules_hosted_by(clinician: User) -> list[RecurringSchedule]:
    """Active schedules whose occurrences the clinician will host: the clinician of an
    individual schedule, the lead or a co-facilitator of a group's (as the generator reads
    the group's people when it creates an occurrence). One query."""
    hosted = (
        Q(kind=SessionKind.INDIVIDUAL, clinician=clinician)
        | Q(group__lead_facilitator=clinician)
        | Q(group__co_facilitators=clinician)
    )
    return list(RecurringSchedule.objects.filter(hosted, cancelled_at__isnull=True).distinct())


def pending_occurrences(*, clinician: User, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """[starts_at, ends_at) of the occurrences overlapping [start, end) of schedules the
    clinician hosts that are not generated yet (no session on that date in any state: a
    cancelled or moved occurrence is never generated again). The generator fills only a
    rolling horizon, but bookings go further ahead: this is the time it will fill later.
    Two queries."""
    schedules = schedules_hosted_by(clinician)
    if not schedules:
        return []
    # Every zone's local dates of [start, end) lie within a day of the UTC ones.
    dates = (start.astimezone(UTC).date() - timedelta(days=2), end.astimezone(UTC).date() + timedelta(days=1))
    generated = set(
        Session.objects.filter(schedule__in=schedules, occurrence_date__range=dates).values_list(
            "schedule_id", "occurrence_date"
        )
    )
    return sorted(
        (occurrence.starts_at, occurrence.ends_at)
        for schedule in schedules
        for occurrence in occurrences_overlapping(schedule, start, end)
        if (schedule.pk, occurrence.day) not in generated
    )
