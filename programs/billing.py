"""Billing days: one row per participant and day with attended time, checked against the
program's payer rule (the definitions are in programs.payer_rules).

Days with no attended time are left out: an export lists what can be billed and what
falls short of it, not every day of the calendar. A week's figures still count every one
of its days, also those outside the range asked for.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.utils import timezone

from attendance.models import AttendanceRecord
from programs.hours import week_bounds, week_is_over
from programs.models import Enrollment, PayerRule, Program
from programs.payer_rules import WeekCheck, check_week, daily_minimum, day_meets, day_shortfall

# (participant id, ISO year, ISO week number)
WeekKey = tuple[int, int, int]


@dataclass(frozen=True)
class BillingDay:
    participant_id: int
    first_name: str
    last_name: str
    date: date
    attended_minutes: int
    # The distinct services (sessions.models.SessionService) attended that day, sorted.
    services: tuple[str, ...]
    day_meets_rule: bool
    week: str
    week_attended_minutes: int
    week_qualifying_days: int
    week_meets_rule: bool
    # Why the day or its week falls short, in plain words ('' when billable).
    short_reason: str

    @property
    def billable(self) -> bool:
        return self.day_meets_rule and self.week_meets_rule


def monday_of(day: date) -> date:
    return day - timedelta(days=day.isoweekday() - 1)


def _enrolled_days(
    program: Program, first: date, last: date
) -> tuple[dict[int, list[tuple[date, date]]], dict[int, tuple[str, str]]]:
    """Each participant's enrolled spans in the program that touch [first, last], and
    their names. One query."""
    spans: dict[int, list[tuple[date, date]]] = defaultdict(list)
    names: dict[int, tuple[str, str]] = {}
    enrollments = (
        Enrollment.objects.filter(Q(ended_on__isnull=True) | Q(ended_on__gte=first), program=program)
        .filter(start_date__lte=last)
        .values_list("participant_id", "start_date", "ended_on", "participant__first_name", "participant__last_name")
    )
    for participant_id, start_date, ended_on, first_name, last_name in enrollments:
        spans[participant_id].append((start_date, ended_on or date.max))
        names[participant_id] = (first_name, last_name)
    return spans, names


def _attended_by_day(
    program: Program, participant_ids: list[int], first: date, last: date
) -> tuple[dict[tuple[int, date], int], dict[tuple[int, date], set[str]]]:
    """Effective attended minutes and the services with attended time, per (participant,
    local date), for sessions starting in the ISO weeks from ``first`` to ``last``. One
    query."""
    zone = ZoneInfo(program.time_zone)
    start = week_bounds(*first.isocalendar()[:2], program.time_zone)[0]
    end = week_bounds(*last.isocalendar()[:2], program.time_zone)[1]
    records = (
        AttendanceRecord.objects.filter(
            Q(session__group__isnull=True) | Q(session__group__program=program),
            user_id__in=participant_ids,
            session__starts_at__gte=start,
            session__starts_at__lt=end,
        )
        .select_related("session")
        .only("user_id", "attended_minutes", "override_minutes", "session__starts_at", "session__service")
    )
    minutes: dict[tuple[int, date], int] = defaultdict(int)
    services: dict[tuple[int, date], set[str]] = defaultdict(set)
    for record in records:
        key = (record.user_id, record.session.starts_at.astimezone(zone).date())
        minutes[key] += record.effective_minutes
        if record.effective_minutes > 0:
            services[key].add(record.session.service)
    return minutes, services


def billing_days(
    *, program: Program, rule: PayerRule, first_day: date, last_day: date, now: datetime | None = None
) -> list[BillingDay]:
    """Every participant's days with attended time from ``first_day`` to ``last_day``
    (local dates, inclusive) in ``program``, by participant id then date; weeks not over
    at ``now`` are checked as they stand. Two queries, whatever the number of participants
    and days."""
    now = now or timezone.now()
    first = monday_of(first_day)
    last = monday_of(last_day) + timedelta(days=6)
    spans, names = _enrolled_days(program, first, last)
    minutes, services = _attended_by_day(program, list(spans), first, last)
    minimum = daily_minimum(rule=rule, program=program)

    def enrolled(participant_id: int, day: date) -> bool:
        return any(start <= day <= end for start, end in spans[participant_id])

    days = sorted(
        (participant_id, day)
        for (participant_id, day), attended in minutes.items()
        if attended > 0 and enrolled(participant_id, day)
    )
    week_minutes: dict[WeekKey, int] = defaultdict(int)
    week_qualifying: dict[WeekKey, int] = defaultdict(int)
    for participant_id, day in days:
        key = (participant_id, *day.isocalendar()[:2])
        week_minutes[key] += minutes[participant_id, day]
        week_qualifying[key] += day_meets(attended_minutes=minutes[participant_id, day], minimum=minimum)
    weeks: dict[WeekKey, WeekCheck] = {
        key: check_week(
            rule=rule,
            attended_minutes=week_minutes[key],
            qualifying_days=week_qualifying[key],
            week_over=week_is_over(year=key[1], week=key[2], time_zone=program.time_zone, now=now),
        )
        for key in week_minutes
    }
    rows = []
    for participant_id, day in days:
        if not first_day <= day <= last_day:
            continue
        attended = minutes[participant_id, day]
        year, week_number, _ = day.isocalendar()
        week = weeks[participant_id, year, week_number]
        reasons = [day_shortfall(attended_minutes=attended, minimum=minimum), *week.shortfalls]
        rows.append(
            BillingDay(
                participant_id=participant_id,
                first_name=names[participant_id][0],
                last_name=names[participant_id][1],
                date=day,
                attended_minutes=attended,
                services=tuple(sorted(services[participant_id, day])),
                day_meets_rule=day_meets(attended_minutes=attended, minimum=minimum),
                week=f"{year}-W{week_number:02d}",
                week_attended_minutes=week.attended_minutes,
                week_qualifying_days=week.qualifying_days,
                week_meets_rule=week.meets,
                short_reason="; ".join(reason for reason in reasons if reason),
            )
        )
    return rows
