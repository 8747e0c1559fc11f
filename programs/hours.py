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

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from django.db.models import F, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from attendance.models import AttendanceRecord
from programs.models import CareTransition, Enrollment, Program
from programs.selectors import WeeklyRequirement, weekly_requirement
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
    remaining = scheduled_remaining_minutes_of(
        participant_ids=[participant.pk], program=program, year=year, week=week, now=now
    )
    return remaining.get(participant.pk, 0)


def scheduled_remaining_minutes_of(
    *, participant_ids: Collection[int], program: Program, year: int, week: int, now: datetime | None = None
) -> dict[int, int]:
    """scheduled_remaining_minutes for many participants at once, by participant id (absent
    where nothing is left). One query, whatever the number of participants."""
    start, end = week_bounds(year, week, program.time_zone)
    from_ = max(start, (now or timezone.now()).astimezone(UTC))
    if from_ >= end or not participant_ids:
        return {}
    rows = RosterEntry.objects.filter(
        user_id__in=participant_ids,
        role=RosterRole.PARTICIPANT,
        removed_at__isnull=True,
        session__cancelled_at__isnull=True,
        session__ended_at__isnull=True,
        session__starts_at__lt=end,
        session__ends_at__gt=from_,
    ).values_list("user_id", "session__starts_at", "session__ends_at")
    spans: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for user_id, starts_at, ends_at in rows:
        spans[user_id].append((starts_at, ends_at))
    return {
        user_id: int(covered_time(user_spans, start=from_, end=end).total_seconds()) // 60
        for user_id, user_spans in spans.items()
    }


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


# --- a participant's week, and a whole program's ------------------------------------------
#
# Which enrollment a week belongs to: one with at least one enrolled day in it (an ended
# enrollment up to its ended_on). Where two do (a transfer inside the week), the one in
# effect on the week's last enrolled day: a running one, else the one that ended last. A
# week with no enrolled day has no requirement to meet, so it has no hours to report: the
# API answers 404 for it rather than a row that would read "met" with 0 of 0 minutes.

LATEST_FIRST = (F("ended_on").desc(nulls_first=True), F("start_date").desc(), F("id").desc())

RISK_RANK = {HoursStatus.SHORT: 0, HoursStatus.AT_RISK: 1, HoursStatus.ON_TRACK: 2, HoursStatus.MET: 3}


@dataclass(frozen=True)
class WeeklyHours:
    """One participant's ISO week, in the shape of CONTRACT.md's hours endpoint."""

    participant_id: int
    year: int
    week: int
    # The level in effect on the week's last enrolled day (the requirement prorates them all).
    level_of_care: str
    required_minutes: int
    attended_minutes: int
    scheduled_remaining_minutes: int
    status: HoursStatus

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @property
    def shortfall_minutes(self) -> int:
        """Minutes still missing even if every remaining scheduled minute is attended
        (negative: minutes to spare)."""
        return self.required_minutes - self.attended_minutes - self.scheduled_remaining_minutes


def risk_order(hours: WeeklyHours) -> tuple[int, int, int]:
    """short, at_risk, on_track, met; within each, the largest shortfall first."""
    return RISK_RANK[hours.status], -hours.shortfall_minutes, hours.participant_id


def enrolled_in_week(year: int, week: int) -> Q:
    monday = date.fromisocalendar(year, week, 1)
    sunday = monday + timedelta(days=6)
    return Q(start_date__lte=sunday) & (Q(ended_on__isnull=True) | Q(ended_on__gte=monday))


def enrollment_for_week(*, participant: User, year: int, week: int) -> Enrollment | None:
    """The enrollment the participant's week belongs to (see above), or None. One query."""
    return (
        Enrollment.objects.filter(enrolled_in_week(year, week), participant=participant)
        .select_related("program__level_of_care")
        .order_by(*LATEST_FIRST)
        .first()
    )


def current_week(*, participant: User, now: datetime | None = None) -> tuple[int, int] | None:
    """The ISO week it is now in the time zone of the participant's latest enrollment's
    program (None: never enrolled). One query."""
    latest = (
        Enrollment.objects.filter(participant=participant).select_related("program").order_by(*LATEST_FIRST).first()
    )
    return None if latest is None else week_now_in(latest.program.time_zone, now=now)


def week_now_in(time_zone: str, *, now: datetime | None = None) -> tuple[int, int]:
    """The ISO (year, week) it is now in ``time_zone``."""
    year, week, _ = (now or timezone.now()).astimezone(ZoneInfo(time_zone)).isocalendar()
    return year, week


def participant_weekly_hours(
    *, participant: User, year: int, week: int, now: datetime | None = None
) -> WeeklyHours | None:
    """The participant's week, or None when they had no enrolled day in it. At most four
    queries."""
    enrollment = enrollment_for_week(participant=participant, year=year, week=week)
    if enrollment is None:
        return None
    [hours] = weekly_hours_of(program=enrollment.program, enrollments=[enrollment], year=year, week=week, now=now)
    return hours


def program_weekly_hours(*, program: Program, year: int, week: int, now: datetime | None = None) -> list[WeeklyHours]:
    """Every participant with an enrolled day of the week in ``program``, in participant id
    order (one row each, from the enrollment the week belongs to). At most four queries,
    whatever the number of participants."""
    enrollments = list(
        Enrollment.objects.filter(enrolled_in_week(year, week), program=program)
        .select_related("program__level_of_care")
        .order_by("participant_id", *LATEST_FIRST)
        .distinct("participant_id")
    )
    return weekly_hours_of(program=program, enrollments=enrollments, year=year, week=week, now=now)


def weekly_hours_of(
    *, program: Program, enrollments: Sequence[Enrollment], year: int, week: int, now: datetime | None = None
) -> list[WeeklyHours]:
    """The week of each enrollment's participant (enrollments of ``program``, one per
    participant), in the given order. At most three queries, whatever the number:

    - required: weekly_requirement, the level of care on each day, transitions prorated;
    - attended: the effective minutes (a clinician's override, else the computed ones) of
      the participant's attendance records of sessions starting inside the week, in the
      program's time zone. A record is written when its session ends, so a session under
      way counts in neither attended nor (for the part already past) remaining until then;
    - scheduled remaining: scheduled_remaining_minutes_of (sessions not ended yet);
    - status: hours_status, the week over or not at ``now``.
    """
    if not enrollments:
        return []
    now = now or timezone.now()
    participant_ids = [enrollment.participant_id for enrollment in enrollments]
    transitions: dict[int, list[CareTransition]] = defaultdict(list)
    for transition in (
        CareTransition.objects.filter(enrollment__in=[enrollment.pk for enrollment in enrollments])
        .select_related("to_level")
        .order_by("effective_date", "id")
    ):
        transitions[transition.enrollment_id].append(transition)
    start, end = week_bounds(year, week, program.time_zone)
    attended: dict[int, int] = dict(
        AttendanceRecord.objects.filter(
            user_id__in=participant_ids, session__starts_at__gte=start, session__starts_at__lt=end
        )
        .order_by()
        .values("user_id")
        .annotate(minutes=Sum(Coalesce("override_minutes", "attended_minutes")))
        .values_list("user_id", "minutes")
    )
    remaining = scheduled_remaining_minutes_of(
        participant_ids=participant_ids, program=program, year=year, week=week, now=now
    )
    over = week_is_over(year=year, week=week, time_zone=program.time_zone, now=now)
    weeks = []
    # The requirement depends only on the enrollment's dates and transitions (the program
    # is the same for all): most of a program's participants share one, computed once.
    requirements: dict[tuple[object, ...], WeeklyRequirement] = {}
    for enrollment in enrollments:
        own = transitions[enrollment.pk]
        key = (
            enrollment.program_id,
            enrollment.start_date,
            enrollment.ended_on,
            *((t.effective_date, t.to_level_id) for t in own),
        )
        if key not in requirements:
            requirements[key] = weekly_requirement(enrollment, year, week, transitions=own)
        requirement = requirements[key]
        level = next((code for code in reversed(requirement.levels) if code), program.level_of_care.code)
        attended_minutes = attended.get(enrollment.participant_id, 0)
        remaining_minutes = remaining.get(enrollment.participant_id, 0)
        weeks.append(
            WeeklyHours(
                participant_id=enrollment.participant_id,
                year=year,
                week=week,
                level_of_care=level,
                required_minutes=requirement.min_minutes,
                attended_minutes=attended_minutes,
                scheduled_remaining_minutes=remaining_minutes,
                status=hours_status(
                    required_minutes=requirement.min_minutes,
                    attended_minutes=attended_minutes,
                    scheduled_remaining_minutes=remaining_minutes,
                    week_over=over,
                ),
            )
        )
    return weeks
