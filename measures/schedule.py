"""When a questionnaire is due. A program's schedule names its instruments; each is due at
intake (the enrollment's start) when ``at_intake``, else ``every_days`` after it, and then
``every_days`` after the participant's last answer, in the program's local dates. The date
it became due names the occurrence: one answer and one notice per occurrence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Max, Q
from django.utils import timezone

from accounts.models import User
from measures.models import Assessment, Instrument, InstrumentSchedule
from programs.models import Enrollment, EnrollmentStatus


@dataclass(frozen=True)
class Due:
    instrument: Instrument
    due_on: date


def fits_age(instrument: Instrument, participant: User) -> bool:
    return instrument.age_band in ("", participant.age_band)


def due_for(*, participant: User, today: date | None = None) -> list[Due]:
    """The participant's questionnaires due now (three queries)."""
    enrollment = (
        Enrollment.objects.select_related("program")
        .filter(participant=participant, status=EnrollmentStatus.ACTIVE)
        .first()
    )
    if enrollment is None:
        return []
    zone = ZoneInfo(enrollment.program.time_zone)
    today = today or timezone.now().astimezone(zone).date()
    schedules = InstrumentSchedule.objects.filter(program_id=enrollment.program_id).select_related("instrument")
    last_answered = dict(
        Assessment.objects.filter(participant=participant, created_at__date__gte=enrollment.start_date - timedelta(1))
        .values_list("instrument_id")
        .annotate(last=Max("created_at"))
    )
    due = []
    for schedule in schedules:
        if not fits_age(schedule.instrument, participant):
            continue
        last = last_answered.get(schedule.instrument_id)
        if last is not None and last.astimezone(zone).date() >= enrollment.start_date:
            due_on = last.astimezone(zone).date() + timedelta(days=schedule.every_days)
        elif schedule.at_intake:
            due_on = enrollment.start_date
        else:
            due_on = enrollment.start_date + timedelta(days=schedule.every_days)
        if due_on <= today:
            due.append(Due(schedule.instrument, due_on))
    return due


def participants_with_schedules() -> list[User]:
    """Participants in an active enrollment of a program that gives questionnaires."""
    return list(
        User.objects.filter(
            Q(enrollments__status=EnrollmentStatus.ACTIVE)
            & Q(enrollments__program__instrument_schedules__isnull=False),
            is_active=True,
        ).distinct()
    )
