"""Weekly hours: the status of a participant's week and the time still scheduled in it.

Statuses, in CLINICAL.md terms (the week's minimum comes from the level of care on each
day, programs.selectors.weekly_requirement; attended minutes from attendance records,
overrides applied; a week is an ISO week in the program's time zone):

- ``met``: attended minutes reach the week's required minutes (whenever that happens).
- ``on_track``: the week is not over, not yet met, and the sessions still scheduled for
  the participant this week would reach the minimum if attended in full.
- ``at_risk``: the week is not over and even attending every remaining scheduled minute
  would leave it short: someone must add sessions or the week will be lost.
- ``short``: the week is over and the minimum was not met.

Exactly one applies to any week: ``met`` first; then ``short`` once the week is over;
otherwise ``on_track`` or ``at_risk`` by whether attended + remaining reaches the minimum.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from django.utils import timezone

from accounts.models import User
from programs.models import Program
from sessions.models import RosterEntry, RosterRole


class HoursStatus(StrEnum):
    MET = "met"
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    SHORT = "short"


def hours_status(
    *, required_minutes: int, attended_minutes: int, scheduled_remaining_minutes: int, week_over: bool
) -> HoursStatus:
    """The week's status (see the module docstring). Minutes are whole and never negative."""
    if min(required_minutes, attended_minutes, scheduled_remaining_minutes) < 0:
        raise ValueError("Minutes cannot be negative.")
    if attended_minutes >= required_minutes:
        return HoursStatus.MET
    if week_over:
        return HoursStatus.SHORT
    if attended_minutes + scheduled_remaining_minutes >= required_minutes:
        return HoursStatus.ON_TRACK
    return HoursStatus.AT_RISK


def week_bounds(year: int, week: int, time_zone: str) -> tuple[datetime, datetime]:
    """[Monday 00:00, next Monday 00:00) local time in ``time_zone``, in UTC. A week holding
    a DST change is 167 or 169 hours long, not 168. (In UTC, because Python subtracts two
    datetimes of one zone by wall clock, which would lose that hour.)"""
    zone = ZoneInfo(time_zone)
    monday = date.fromisocalendar(year, week, 1)
    start = datetime.combine(monday, time.min, tzinfo=zone)
    end = datetime.combine(monday + timedelta(days=7), time.min, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def week_is_over(*, year: int, week: int, time_zone: str, now: datetime | None = None) -> bool:
    return (now or timezone.now()) >= week_bounds(year, week, time_zone)[1]


def scheduled_remaining_minutes(
    *, participant: User, program: Program, year: int, week: int, now: datetime | None = None
) -> int:
    """Minutes of the ISO week (in the program's time zone) still ahead in sessions the
    participant is on the roster of as a participant, not cancelled and not ended: each
    clipped to the week and to ``now`` (only the part of an open session still ahead).
    Overlapping sessions count once, as the participant can attend only one at a time.
    Whole minutes, rounded down, as attended minutes are. One query."""
    start, end = week_bounds(year, week, program.time_zone)
    from_ = max(start, (now or timezone.now()).astimezone(UTC))
    if from_ >= end:
        return 0
    spans = RosterEntry.objects.filter(
        user=participant,
        role=RosterRole.PARTICIPANT,
        removed_at__isnull=True,
        session__cancelled_at__isnull=True,
        session__ended_at__isnull=True,
        session__starts_at__lt=end,
        session__ends_at__gt=from_,
    ).values_list("session__starts_at", "session__ends_at")
    return int(covered_time(spans, start=from_, end=end).total_seconds()) // 60


def covered_time(spans: Iterable[tuple[datetime, datetime]], *, start: datetime, end: datetime) -> timedelta:
    """The length of the union of ``spans`` clipped to [start, end): overlaps count once."""
    total = timedelta()
    covered_until = start
    for span_start, span_end in sorted(spans):  # in start order: count what earlier ones left
        begin = max(span_start, covered_until)
        finish = min(span_end, end)
        if finish > begin:
            total += finish - begin
            covered_until = finish
    return total
