"""Which level of care applies on a day, and what a week requires.

Proration rule for a week with a transition (or an enrollment that starts or ends inside
it): each calendar day of the ISO week carries one seventh of the weekly minimum of the
level in effect that day; days outside the enrollment carry nothing. The sum is rounded to
the nearest minute. So a step down from IOP (adult, 540 min) to OP (60 min) effective on a
Thursday gives 3 x 540/7 + 4 x 60/7 = 265.7 -> 266 minutes that week.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from fractions import Fraction
from typing import Any

from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from accounts.models import ConsentScope, Role, User
from accounts.selectors import guardian_may_see, is_linked_guardian
from programs.models import CareTransition, Enrollment, EnrollmentStatus, LevelOfCare, Program
from server.input_limits import EARLIEST_DATE, LATEST_DATE


def works_in(*, clinician: User, program: Program) -> bool:
    """A clinician works in a program when the program's staff names them (one query)."""
    return clinician.role == Role.CLINICIAN and program.clinicians.filter(pk=clinician.pk).exists()


def treats(*, clinician: User, participant: User) -> bool:
    """The participant is in treatment with this clinician: an active enrollment whose
    primary clinician they are, or in a program they work in (one query)."""
    return (
        clinician.role == Role.CLINICIAN
        and Enrollment.objects.filter(participant=participant, status=EnrollmentStatus.ACTIVE)
        .filter(Q(primary_clinician=clinician) | Q(program__clinicians=clinician))
        .exists()
    )


def participants_treated_by(*, clinician: User) -> QuerySet[Enrollment, Any]:
    """The ids (``participant_id``) of the participants ``treats`` says this clinician
    treats, as a subquery: the same rule, for filtering many records in one query."""
    return (
        Enrollment.objects.filter(status=EnrollmentStatus.ACTIVE, participant__role=Role.PARTICIPANT)
        .filter(Q(primary_clinician=clinician) | Q(program__clinicians=clinician))
        .values("participant_id")
    )


class RecordAccess(StrEnum):
    """What a viewer may know of a participant's attendance or hours."""

    VISIBLE = "visible"
    # A linked guardian whose ward's consent in force does not name the scope: the
    # endpoint answers 403 (ask the adolescent), since the guardian knows of the link.
    NO_CONSENT = "no_consent"
    # Anyone else: the endpoint answers 404, as for an id that does not exist.
    HIDDEN = "hidden"


def participant_record_access(*, viewer: User, participant: User, scope: ConsentScope) -> RecordAccess:
    """Who may see a participant's attendance (``scope`` attendance) or weekly hours
    (``scope`` hours): the participant themself, their clinicians (``treats``: the primary
    clinician of an active enrollment or a clinician of its program; facilitating one of
    their sessions is not enough for the whole record), admins, and a guardian only while
    the adolescent's consent in force names ``scope`` (CLINICAL.md, 42 CFR Part 2).
    Inactive viewers see nothing. At most two queries."""
    if not viewer.is_active or participant.role != Role.PARTICIPANT:
        return RecordAccess.HIDDEN
    if viewer.role == Role.ADMIN:
        allowed = True
    elif viewer.role == Role.PARTICIPANT:
        allowed = viewer.pk == participant.pk
    elif viewer.role == Role.CLINICIAN:
        allowed = treats(clinician=viewer, participant=participant)
    elif viewer.role == Role.GUARDIAN:
        if guardian_may_see(guardian=viewer, adolescent=participant, scope=scope):
            return RecordAccess.VISIBLE
        linked = is_linked_guardian(guardian=viewer, adolescent=participant)
        return RecordAccess.NO_CONSENT if linked else RecordAccess.HIDDEN
    else:
        allowed = False
    return RecordAccess.VISIBLE if allowed else RecordAccess.HIDDEN


def can_see_hours(*, viewer: User, participant: User) -> bool:
    """The weekly hours of ``participant`` (participant_record_access with ``hours``)."""
    access = participant_record_access(viewer=viewer, participant=participant, scope=ConsentScope.HOURS)
    return access == RecordAccess.VISIBLE


def can_see_attendance(*, viewer: User, participant: User) -> bool:
    """The attendance records of ``participant`` (participant_record_access with ``attendance``)."""
    access = participant_record_access(viewer=viewer, participant=participant, scope=ConsentScope.ATTENDANCE)
    return access == RecordAccess.VISIBLE


def level_on(enrollment: Enrollment, day: date) -> LevelOfCare:
    transition = (
        enrollment.transitions.filter(effective_date__lte=day)
        .select_related("to_level")
        .order_by("-effective_date", "-id")
        .first()
    )
    return transition.to_level if transition else enrollment.program.level_of_care


def with_level_code_on(enrollments: QuerySet[Enrollment], day: date) -> QuerySet[Enrollment]:
    """Annotates ``level_code``: the code of the level in effect on ``day``, read as
    level_on reads it (the latest transition effective by then, else the program's level),
    inside the same query, so a page of enrollments costs no query per row."""
    latest = CareTransition.objects.filter(enrollment=OuterRef("pk"), effective_date__lte=day).order_by(
        "-effective_date", "-id"
    )
    return enrollments.annotate(
        level_code=Coalesce(Subquery(latest.values("to_level__code")[:1]), F("program__level_of_care__code"))
    )


def parse_iso_week(text: str) -> tuple[int, int]:
    """'2026-W48' -> (2026, 48); raises ValueError for anything else."""
    year_text, sep, week_text = text.partition("-W")
    if not sep or len(year_text) != 4 or len(week_text) != 2 or not (year_text + week_text).isdigit():
        raise ValueError("Use an ISO week like 2026-W48.")
    year, week = int(year_text), int(week_text)
    if not EARLIEST_DATE.year <= year <= LATEST_DATE.year:
        raise ValueError(f"Use a week between {EARLIEST_DATE.year} and {LATEST_DATE.year}.")
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError as exc:
        raise ValueError(f"{year} has no ISO week {week}.") from exc
    return year, week


def week_days(year: int, week: int) -> list[date]:
    monday = date.fromisocalendar(year, week, 1)
    return [monday + timedelta(days=offset) for offset in range(7)]


@dataclass(frozen=True)
class WeeklyRequirement:
    year: int
    week: int
    min_minutes: int
    max_minutes: int | None
    levels: list[str]  # level code per day, Monday first; "" where not enrolled

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.week:02d}"


def _daily_bounds(enrollment: Enrollment, level: LevelOfCare) -> tuple[int, int | None]:
    program = enrollment.program
    band = program.age_band
    minimum = level.min_weekly_minutes(band)
    maximum = level.max_weekly_minutes(band)
    if level.pk == program.level_of_care_id and program.min_weekly_minutes_override is not None:
        minimum = max(minimum, program.min_weekly_minutes_override)
    # A program may require more than its level's usual maximum (an IOP running 20 h):
    # the week's maximum is then the program's minimum, never below it.
    return minimum, None if maximum is None else max(maximum, minimum)


def weekly_requirement(
    enrollment: Enrollment, year: int, week: int, *, transitions: Sequence[CareTransition] | None = None
) -> WeeklyRequirement:
    """``transitions``: the enrollment's care transitions with their ``to_level``, in
    effective order, when the caller already loaded them (a program's week loads them all
    in one query); otherwise one query here."""
    if transitions is None:
        transitions = list(enrollment.transitions.select_related("to_level").order_by("effective_date", "id"))
    base = enrollment.program.level_of_care
    end = enrollment.ended_on
    total_min = Fraction(0)
    total_max: Fraction | None = Fraction(0)
    levels: list[str] = []
    for day in week_days(year, week):
        if day < enrollment.start_date or (end is not None and day > end):
            levels.append("")
            continue
        level = base
        for transition in transitions:
            if transition.effective_date <= day:
                level = transition.to_level
        minimum, maximum = _daily_bounds(enrollment, level)
        total_min += Fraction(minimum, 7)
        total_max = None if total_max is None or maximum is None else total_max + Fraction(maximum, 7)
        levels.append(level.code)
    return WeeklyRequirement(
        year=year,
        week=week,
        min_minutes=int(total_min + Fraction(1, 2)),
        max_minutes=None if total_max is None else int(total_max + Fraction(1, 2)),
        levels=levels,
    )
