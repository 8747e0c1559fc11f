"""Writes about questionnaires: a program's schedule, answering one (scored here, never
edited after), a clinician's note on it, and the "a questionnaire is ready" notices."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Role, User
from accounts.services import ensure_admin
from audit.services import record
from measures import alerts
from measures.models import Assessment, DueNotice, Instrument, InstrumentSchedule
from measures.schedule import due_for, fits_age, participants_with_schedules
from measures.scoring import answer_errors, score_answers
from measures.selectors import program_schedule
from notifications.kinds import NotificationKind
from notifications.services import notify
from programs.models import Program
from programs.selectors import treats

# The web client's page that shows the participant's due questionnaires (web/urls.py).
QUESTIONNAIRES_LINK = "/questionnaires/"


def set_program_schedule(*, by: User, program: Program, entries: list[dict[str, Any]]) -> list[InstrumentSchedule]:
    """An admin replaces the program's questionnaire schedule: ``entries`` (each with
    ``instrument`` code, ``at_intake``, ``every_days``, shapes checked by the caller) is the
    whole schedule, [] for none. Every instrument must exist, fit the program's age band and
    appear once; otherwise nothing changes."""
    ensure_admin(by)
    codes = [entry["instrument"] for entry in entries]
    instruments = {instrument.code: instrument for instrument in Instrument.objects.filter(code__in=codes)}
    errors = []
    for code in codes:
        instrument = instruments.get(code)
        if instrument is None:
            errors.append(f"{code}: no such questionnaire.")
        elif instrument.age_band not in ("", program.age_band):
            errors.append(f"{code} is for the {instrument.age_band} age band, not this program's {program.age_band}.")
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    if duplicates:
        errors.append(f"Name each questionnaire once: {', '.join(duplicates)} appears more than once.")
    if errors:
        raise ValidationError({"instruments": errors})
    with transaction.atomic():
        # The program's row lock orders concurrent replacements: the last one wins whole.
        Program.objects.select_for_update().filter(pk=program.pk).first()
        InstrumentSchedule.objects.filter(program=program).exclude(instrument__code__in=codes).delete()
        for entry in entries:
            InstrumentSchedule.objects.update_or_create(
                program=program,
                instrument=instruments[entry["instrument"]],
                defaults={"at_intake": entry["at_intake"], "every_days": entry["every_days"]},
            )
        schedule = program_schedule(program=program)
        record(
            actor=by,
            action="measure_schedule.update",
            target=program,
            data={"instruments": [[row.instrument.code, row.at_intake, row.every_days] for row in schedule]},
        )
    return schedule


def submit_assessment(*, participant: User, instrument_code: Any, answers: Any) -> Assessment:
    """A participant answers a questionnaire due for them. The server scores it; an answer
    above 0 on the risk item raises a clinical alert in the same transaction."""
    if participant.role != Role.PARTICIPANT:
        raise PermissionDenied("Only participants answer questionnaires, each for themselves.")
    instrument = Instrument.objects.filter(code=instrument_code).first() if isinstance(instrument_code, str) else None
    if instrument is None:
        raise ValidationError({"instrument": "No such questionnaire."})
    if not fits_age(instrument, participant):
        raise ValidationError({"instrument": "This questionnaire is not the one for your age group."})
    errors = answer_errors(answers=answers, item_count=len(instrument.items), max_answer=instrument.max_answer)
    if errors:
        raise ValidationError({"answers": errors})
    due = next((d for d in due_for(participant=participant) if d.instrument.pk == instrument.pk), None)
    if due is None:
        raise ValidationError({"instrument": "This questionnaire is not due for you now."})
    result = score_answers(answers=answers, bands=instrument.severity_bands, risk_item=instrument.risk_item)
    try:
        with transaction.atomic():
            assessment = Assessment.objects.create(
                participant=participant,
                instrument=instrument,
                answers=answers,
                score=result.score,
                severity=result.severity,
                risk=result.risk,
                due_on=due.due_on,
            )
            # No answers, score or severity in the audit log: it records who did what.
            record(
                actor=participant, action="assessment.submit", target=assessment, data={"instrument": instrument.code}
            )
            if result.risk:
                alerts.raise_alert(assessment=assessment)
    except IntegrityError as exc:  # the same occurrence answered twice at once
        raise ValidationError({"instrument": "This questionnaire is not due for you now."}) from exc
    return assessment


def add_note(*, assessment: Assessment, note: str, by: User) -> Assessment:
    """A clinician treating the participant (or an admin) notes on an assessment. The note
    is the only thing about an assessment that changes."""
    if not (by.role == Role.ADMIN or treats(clinician=by, participant=assessment.participant)):
        raise PermissionDenied("Only the participant's clinicians can note on their questionnaires.")
    with transaction.atomic():
        assessment.note, assessment.note_by, assessment.note_at = note, by, timezone.now()
        assessment.save(update_fields=["note", "note_by", "note_at"])
        record(actor=by, action="assessment.note", target=assessment)
    return assessment


def notify_due_questionnaires() -> int:
    """Tell each participant once per due occurrence that a questionnaire is ready (beat).
    The DueNotice row and the notification commit together; a repeat finds the row."""
    sent = 0
    for participant in participants_with_schedules():
        for due in due_for(participant=participant):
            with transaction.atomic():
                _, created = DueNotice.objects.get_or_create(
                    participant=participant, instrument=due.instrument, due_on=due.due_on
                )
                if not created:
                    continue
                notify(
                    recipient=participant,
                    kind=NotificationKind.QUESTIONNAIRE_DUE,
                    data={"link": QUESTIONNAIRES_LINK},
                    dedupe_key=f"questionnaire_due:{participant.pk}:{due.instrument.pk}:{due.due_on.isoformat()}",
                )
                sent += 1
    return sent
