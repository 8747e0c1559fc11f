"""When a participant's day and week meet their program's payer rule (CLINICAL.md).

The figures are data: a ``PayerRule`` row (programs.models), seeded with H0015, S9480 and
Medicare IOP (programs/migrations/0006) and editable by admins. They are read so:

- **A day** is a local date in the program's time zone. Its attended minutes are the sum of
  the effective minutes (a clinician's override, else the computed ones:
  ``AttendanceRecord.effective_minutes``, as the weekly hours use) of the participant's
  attendance records of sessions *starting* that date, on a date they are enrolled in the
  program, in sessions of the program's groups or in sessions with no group (individual,
  family). A session across midnight counts on the date it starts.
- **The daily minimum** is the program's ``minutes_per_day_target`` when the rule says
  ``daily_min_from_program``; else the rule's ``daily_min_minutes``; else there is none.
- **A day meets** the rule when it has attended time and reaches the daily minimum (with
  no minimum, any attended minute does).
- **A week** is the ISO week, Monday to Sunday, in the program's time zone (as in
  programs.hours). Its attended minutes are the sum of its days'; its qualifying days,
  how many of its days meet the rule. Every day of the week counts, also days outside an
  export's date range. Nothing is prorated for a week the enrollment starts or ends in.
  A week still under way is checked as it stands (its shortfalls say "so far").
- **A week meets** the rule when every weekly figure the rule sets holds: at least
  ``min_qualifying_days_per_week`` qualifying days, at least ``weekly_min_minutes``, at most
  ``weekly_max_minutes``. A rule with no weekly figure (S9480) is met by every week.
- **Billable**: the day meets and its week meets.

The seeded rules, so read:

- H0015 (substance-use IOP, per diem): a day meets at 180 minutes or more; a week meets with
  3 or more such days.
- S9480 (psychiatric IOP, per diem): a day meets at the program's own day length
  (``minutes_per_day_target``, default 180; payers' per-day minimums differ, for example by
  age band); no weekly condition.
- Medicare IOP (paid per day): any day with attended time meets; a week meets with 540 to
  1140 minutes (9-19 h). Above 19 h the week does not meet: that is partial hospitalization.
"""

from __future__ import annotations

from dataclasses import dataclass

from programs.models import PayerRule, Program


def daily_minimum(*, rule: PayerRule, program: Program) -> int | None:
    """The minutes a day needs under ``rule`` in ``program`` (None: any attended minute)."""
    if rule.daily_min_from_program:
        return program.minutes_per_day_target
    return rule.daily_min_minutes


def day_meets(*, attended_minutes: int, minimum: int | None) -> bool:
    return attended_minutes > 0 and (minimum is None or attended_minutes >= minimum)


def day_shortfall(*, attended_minutes: int, minimum: int | None) -> str:
    """Why the day does not meet the rule, in plain words ('' when it does)."""
    if day_meets(attended_minutes=attended_minutes, minimum=minimum):
        return ""
    if minimum is None:
        return "no attended time"
    return f"attended {attended_minutes} of {minimum} minutes"


@dataclass(frozen=True)
class WeekCheck:
    """One participant's ISO week against a rule: its figures and what falls short."""

    attended_minutes: int
    qualifying_days: int
    shortfalls: tuple[str, ...]

    @property
    def meets(self) -> bool:
        return not self.shortfalls


def check_week(*, rule: PayerRule, attended_minutes: int, qualifying_days: int, week_over: bool = True) -> WeekCheck:
    """The week against each weekly figure ``rule`` sets (module docstring). A week not over
    yet does not meet a minimum it has not reached, and says so ("so far")."""
    shortfalls = []
    so_far = "" if week_over else " so far"
    days_needed = rule.min_qualifying_days_per_week
    if days_needed is not None and qualifying_days < days_needed:
        noun = "day" if qualifying_days == 1 else "days"
        shortfalls.append(f"week has {qualifying_days} qualifying {noun} of {days_needed}{so_far}")
    if rule.weekly_min_minutes is not None and attended_minutes < rule.weekly_min_minutes:
        shortfalls.append(f"week has {attended_minutes} of {rule.weekly_min_minutes} minutes{so_far}")
    if rule.weekly_max_minutes is not None and attended_minutes > rule.weekly_max_minutes:
        shortfalls.append(f"week has {attended_minutes} minutes, over the maximum of {rule.weekly_max_minutes}")
    return WeekCheck(attended_minutes=attended_minutes, qualifying_days=qualifying_days, shortfalls=tuple(shortfalls))
