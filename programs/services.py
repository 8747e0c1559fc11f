"""Every write to programs: levels of care, programs, enrollments and care transitions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any, NoReturn

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from accounts.models import AgeBand, Role, User, validate_time_zone
from accounts.services import ensure_admin
from audit import services as audit
from programs.models import (
    CareTransition,
    DetoxStatus,
    Enrollment,
    EnrollmentStatus,
    LevelOfCare,
    PayerRule,
    Program,
)
from programs.selectors import level_on, works_in
from server.errors import Conflict
from server.service_helpers import check_editable


def ensure_staff(user: User) -> None:
    """Clinicians and program admins."""
    if not (user.is_active and user.role in (Role.CLINICIAN, Role.ADMIN)):
        raise PermissionDenied("Only clinicians and program admins can do this.")


# What anyone but an admin hears about an id they may not see, whatever the reason: the
# same words for an id with no account, a guardian, a participant of the other age band or
# one in treatment elsewhere, so a refusal tells nothing about that person.
NO_SUCH_PARTICIPANT = "No such participant."
NO_SUCH_CLINICIAN = "No such clinician in this program."


def refuse_person(*, by: User, field: str, reason: str, uniform: str) -> NoReturn:
    """Admins see every account, so they hear the reason; anyone else hears ``uniform``."""
    raise ValidationError({field: reason if by.role == Role.ADMIN else uniform})


def ensure_can_enroll(*, user: User, program: Program) -> None:
    """Admins, and the clinicians who work in the program."""
    if user.is_active and (user.role == Role.ADMIN or works_in(clinician=user, program=program)):
        return
    raise PermissionDenied("Only program admins and the program's clinicians can enrol participants in it.")


def _check_time_zone(value: str) -> None:
    try:
        validate_time_zone(value)
    except ValidationError as exc:
        raise ValidationError({"time_zone": exc.messages}) from exc


# --- Levels of care ----------------------------------------------------------------------

LEVEL_EDITABLE_FIELDS = frozenset(
    {
        "name",
        "adult_min_weekly_minutes",
        "adult_max_weekly_minutes",
        "adolescent_min_weekly_minutes",
        "adolescent_max_weekly_minutes",
    }
)


def update_level_of_care(*, by: User, level: LevelOfCare, changes: dict[str, Any]) -> LevelOfCare:
    ensure_admin(by)
    check_editable(changes, LEVEL_EDITABLE_FIELDS)
    for band in ("adult", "adolescent"):
        low = changes.get(f"{band}_min_weekly_minutes", getattr(level, f"{band}_min_weekly_minutes"))
        high = changes.get(f"{band}_max_weekly_minutes", getattr(level, f"{band}_max_weekly_minutes"))
        if high is not None and high < low:
            raise ValidationError({f"{band}_max_weekly_minutes": "The maximum is below the minimum."})
    with transaction.atomic():
        for name, value in changes.items():
            setattr(level, name, value)
        level.save()
        audit.record(actor=by, action="level_of_care.update", target=level, data={"fields": sorted(changes)})
    return level


# --- Programs ----------------------------------------------------------------------------


# A week has 168 hours: no program can require more, whatever its level.
MINUTES_IN_A_WEEK = 7 * 24 * 60


def highest_program_minimum(level: LevelOfCare, age_band: str) -> int:
    """The most a program at ``level`` may require a week: up to the floor of the next
    level up (CLINICAL.md: some IOPs run 10-20 h, and 20 h is where PHP starts), or the
    level's own maximum if an admin set that higher. Requiring more than that is running
    the next level, which is a different program. The top level is bounded by the week."""
    higher = LevelOfCare.objects.filter(rank__gt=level.rank).order_by("rank").first()
    if higher is None:
        return MINUTES_IN_A_WEEK
    ceiling = max(higher.min_weekly_minutes(age_band), level.max_weekly_minutes(age_band) or 0)
    return min(ceiling, MINUTES_IN_A_WEEK)


def _check_override(level: LevelOfCare, age_band: str, override: int | None) -> None:
    """A program may require more than its level's floor, never less (CLINICAL.md). Above
    the level's own maximum the week's maximum follows the program's minimum
    (programs.selectors.weekly_requirement), so a requirement never says min > max."""
    if override is None:
        return
    minimum = level.min_weekly_minutes(age_band)
    if override < minimum:
        raise ValidationError(
            {"min_weekly_minutes_override": f"A program may require more than {level.code}'s {minimum}, not less."}
        )
    ceiling = highest_program_minimum(level, age_band)
    if override > ceiling:
        raise ValidationError(
            {
                "min_weekly_minutes_override": (
                    f"A {level.code} program may require at most {ceiling} minutes a week; "
                    "more than that is the next level of care."
                )
            }
        )


def create_program(
    *,
    by: User,
    name: str,
    level_of_care: LevelOfCare,
    age_band: str,
    time_zone: str,
    typical_length_weeks: int = 12,
    days_per_week_target: int = 3,
    minutes_per_day_target: int = 180,
    min_weekly_minutes_override: int | None = None,
    payer_rule: PayerRule | None = None,
) -> Program:
    ensure_admin(by)
    if age_band not in AgeBand.values:
        raise ValidationError({"age_band": "Unknown age band."})
    _check_time_zone(time_zone)
    _check_override(level_of_care, age_band, min_weekly_minutes_override)
    with transaction.atomic():
        program = Program.objects.create(
            name=name,
            level_of_care=level_of_care,
            age_band=age_band,
            time_zone=time_zone,
            typical_length_weeks=typical_length_weeks,
            days_per_week_target=days_per_week_target,
            minutes_per_day_target=minutes_per_day_target,
            min_weekly_minutes_override=min_weekly_minutes_override,
            payer_rule=payer_rule,
        )
        audit.record(actor=by, action="program.create", target=program)
    return program


PROGRAM_EDITABLE_FIELDS = frozenset(
    {
        "clinicians",
        "forecast_time",
        "forecast_weekday",
        "name",
        "time_zone",
        "typical_length_weeks",
        "days_per_week_target",
        "minutes_per_day_target",
        "min_weekly_minutes_override",
        "payer_rule",
    }
)


def _check_clinicians(people: Iterable[User]) -> list[User]:
    staff = list(people)
    if any(person.role != Role.CLINICIAN or not person.is_active for person in staff):
        raise ValidationError({"clinicians": "A program's clinicians are active clinician accounts."})
    return staff


def update_program(*, by: User, program: Program, changes: dict[str, Any]) -> Program:
    """``clinicians`` replaces the program's staff. Someone taken off it keeps the groups
    they facilitate and the enrollments they are primary clinician for (admins reassign
    those); they can no longer enrol participants in it or be named on new enrollments."""
    ensure_admin(by)
    check_editable(changes, PROGRAM_EDITABLE_FIELDS)
    if "time_zone" in changes:
        _check_time_zone(changes["time_zone"])
    if "min_weekly_minutes_override" in changes:
        _check_override(program.level_of_care, program.age_band, changes["min_weekly_minutes_override"])
    staff = _check_clinicians(changes["clinicians"]) if "clinicians" in changes else None
    with transaction.atomic():
        for name, value in changes.items():
            if name != "clinicians":
                setattr(program, name, value)
        program.save()
        data: dict[str, Any] = {"fields": sorted(changes)}
        if staff is not None:
            program.clinicians.set(staff)
            data["clinicians"] = sorted(person.pk for person in staff)
        audit.record(actor=by, action="program.update", target=program, data=data)
    return program


# --- Enrollment --------------------------------------------------------------------------


def enroll_participant(
    *,
    by: User,
    participant: User,
    program: Program,
    start_date: date,
    primary_clinician: User,
    medically_stable: bool,
    detox_status: str,
    stable_living_situation: bool,
    able_to_attend: bool,
    planned_end_date: date | None = None,
    eligibility_notes: str = "",
) -> Enrollment:
    """Eligibility is recorded and shown, not a gate: a clinician may enroll someone whose
    intake answers are not all yes, and the record says so. Admins and the program's own
    clinicians enrol; the primary clinician works in the program. A clinician hears the
    same refusal for every participant id they may not enrol (see NO_SUCH_PARTICIPANT)."""
    ensure_can_enroll(user=by, program=program)

    def refuse_participant(reason: str) -> NoReturn:
        refuse_person(by=by, field="participant", reason=reason, uniform=NO_SUCH_PARTICIPANT)

    if participant.role != Role.PARTICIPANT:
        refuse_participant("Only participants can be enrolled.")
    if not participant.is_active:
        refuse_participant("This account is deactivated.")
    if participant.age_band != program.age_band:
        refuse_participant(f"This program is for {program.age_band} participants.")
    current = Enrollment.objects.filter(participant=participant, status=EnrollmentStatus.ACTIVE).first()
    if current is not None and by.role != Role.ADMIN and current.primary_clinician_id != by.pk:
        # Being in treatment elsewhere is itself protected (42 CFR Part 2).
        refuse_participant("This participant already has an active enrollment.")
    if not (primary_clinician.is_active and works_in(clinician=primary_clinician, program=program)):
        raise ValidationError({"primary_clinician": NO_SUCH_CLINICIAN})
    if detox_status not in DetoxStatus.values:
        raise ValidationError({"detox_status": "Unknown detox status."})
    end = planned_end_date or start_date + timedelta(weeks=program.typical_length_weeks)
    if end <= start_date:
        raise ValidationError({"planned_end_date": "The planned end must be after the start."})
    try:
        with transaction.atomic():
            enrollment = Enrollment.objects.create(
                participant=participant,
                program=program,
                start_date=start_date,
                planned_end_date=end,
                primary_clinician=primary_clinician,
                medically_stable=medically_stable,
                detox_status=detox_status,
                stable_living_situation=stable_living_situation,
                able_to_attend=able_to_attend,
                eligibility_notes=eligibility_notes,
                created_by=by,
            )
            audit.record(
                actor=by,
                action="enrollment.create",
                target=enrollment,
                data={"participant": participant.pk, "program": program.pk},
            )
    except IntegrityError as exc:
        raise Conflict("This participant already has an active enrollment.", code="active_enrollment_exists") from exc
    return enrollment


def end_enrollment(*, by: User, enrollment: Enrollment, status: str, ended_on: date) -> Enrollment:
    """Ends treatment in the program now, whatever ``ended_on`` says: the participant
    leaves its groups and the rosters of their sessions not yet ended, and a socket in
    one open now closes (groups.services.end_memberships_in_program)."""
    from groups.services import end_memberships_in_program  # groups build on programs

    ensure_staff(by)
    if enrollment.status != EnrollmentStatus.ACTIVE:
        raise Conflict("This enrollment has already ended.", code="enrollment_not_active")
    if status not in (EnrollmentStatus.COMPLETED, EnrollmentStatus.DISCHARGED, EnrollmentStatus.TRANSFERRED):
        raise ValidationError({"status": "An enrollment ends as completed, discharged or transferred."})
    if ended_on < enrollment.start_date:
        raise ValidationError({"ended_on": "An enrollment cannot end before it starts."})
    with transaction.atomic():
        enrollment.status = status
        enrollment.ended_on = ended_on
        enrollment.save(update_fields=["status", "ended_on"])
        audit.record(actor=by, action="enrollment.end", target=enrollment, data={"status": status})
        end_memberships_in_program(by=by, participant=enrollment.participant, program=enrollment.program)
    return enrollment


def record_care_transition(
    *,
    by: User,
    enrollment: Enrollment,
    to_level: LevelOfCare,
    effective_date: date,
    reason: str,
    clinician: User | None = None,
) -> CareTransition:
    """Step up or down from ``effective_date``; the weekly requirement follows it."""
    ensure_staff(by)
    responsible = clinician or by
    if clinician is not None and not (
        clinician.is_active and works_in(clinician=clinician, program=enrollment.program)
    ):
        raise ValidationError({"clinician": NO_SUCH_CLINICIAN})
    if responsible.role != Role.CLINICIAN:
        raise ValidationError({"clinician": "A care transition names the clinician responsible for it."})
    if enrollment.status != EnrollmentStatus.ACTIVE:
        raise Conflict("Only an active enrollment can change level.", code="enrollment_not_active")
    if effective_date < enrollment.start_date:
        raise ValidationError({"effective_date": "The transition cannot be before the enrollment starts."})
    if not reason.strip():
        raise ValidationError({"reason": "Give the clinical reason for the transition."})
    latest = enrollment.transitions.order_by("-effective_date").first()
    if latest is not None and effective_date <= latest.effective_date:
        raise Conflict(
            f"Transitions are recorded in date order; the latest is on {latest.effective_date}.",
            code="transition_out_of_order",
        )
    from_level = level_on(enrollment, effective_date)
    if from_level.pk == to_level.pk:
        raise ValidationError({"to_level": f"The participant is already at {to_level.code} on that date."})
    try:
        with transaction.atomic():
            transition = CareTransition.objects.create(
                enrollment=enrollment,
                from_level=from_level,
                to_level=to_level,
                effective_date=effective_date,
                reason=reason,
                clinician=responsible,
            )
            audit.record(
                actor=by,
                action="care_transition.create",
                target=transition,
                data={"from": from_level.code, "to": to_level.code, "effective_date": effective_date.isoformat()},
            )
    except IntegrityError as exc:
        raise Conflict("There is already a transition on that date.", code="transition_exists") from exc
    return transition
