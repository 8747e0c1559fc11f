"""Reads of questionnaires: a participant's history with its trend, and a program's latest
score and trend per participant. Who may read is decided here (``history_access``); a
staff read of answers or scores is audited by the caller (api.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from accounts.models import ConsentScope, Role, User
from measures.models import Assessment, ClinicalAlert, Instrument, InstrumentSchedule
from measures.scoring import percent_change
from programs.models import EnrollmentStatus, Program
from programs.selectors import RecordAccess, participant_record_access, works_in


class HistoryView:
    """What a viewer sees of a participant's questionnaires."""

    FULL = "full"  # answers, scores, notes: the participant, their clinicians, admins
    TOTALS = "totals"  # score and severity only: a guardian with the ``measures`` scope


def history_access(*, viewer: User, participant: User) -> tuple[RecordAccess, str]:
    access = participant_record_access(viewer=viewer, participant=participant, scope=ConsentScope.MEASURES)
    view = HistoryView.TOTALS if viewer.role == Role.GUARDIAN else HistoryView.FULL
    return access, view


@dataclass(frozen=True)
class Trend:
    first: int
    latest: int
    change: int
    change_percent: float | None
    response: bool  # at least the instrument's drop (50%) from the first score
    remission: bool  # below the instrument's remission threshold (PHQ below 5)


def trend_of(instrument: Instrument, first: int, latest: int) -> Trend:
    change_percent = percent_change(first, latest)
    response = first > 0 and (first - latest) * 100 >= instrument.response_drop_percent * first
    remission = instrument.remission_below is not None and latest < instrument.remission_below
    return Trend(first, latest, latest - first, change_percent, response, remission)


def history(*, participant: User) -> list[dict[str, Any]]:
    """Each instrument the participant answered: its assessments oldest first, each with
    its change from the first, and the trend (two queries)."""
    rows = list(
        Assessment.objects.filter(participant=participant).select_related("instrument").order_by("created_at", "id")
    )
    by_instrument: dict[str, list[Assessment]] = {}
    for row in rows:
        by_instrument.setdefault(row.instrument.code, []).append(row)
    result = []
    for code, assessments in sorted(by_instrument.items()):
        instrument, first = assessments[0].instrument, assessments[0].score
        result.append(
            {
                "instrument": code,
                "assessments": assessments,
                "first_score": first,
                "trend": trend_of(instrument, first, assessments[-1].score),
            }
        )
    return result


def program_overview(*, program: Program) -> list[dict[str, Any]]:
    """Per participant in an active enrollment and instrument: the latest score, severity
    and trend from the first (three queries, whatever the program's size)."""
    active = Assessment.objects.filter(
        participant__enrollments__program=program, participant__enrollments__status=EnrollmentStatus.ACTIVE
    )
    ordering = ("participant_id", "instrument_id")
    firsts = {
        (a.participant_id, a.instrument_id): a.score
        for a in active.order_by(*ordering, "created_at", "id").distinct(*ordering).only(*ordering, "score")
    }
    latest = list(active.select_related("instrument").order_by(*ordering, "-created_at", "-id").distinct(*ordering))
    open_alerts = set(
        ClinicalAlert.objects.filter(
            acknowledged_at__isnull=True, participant_id__in={a.participant_id for a in latest}
        ).values_list("participant_id", flat=True)
    )
    return [
        {
            "participant": row.participant_id,
            "instrument": row.instrument.code,
            "latest_score": row.score,
            "severity": row.severity,
            "answered_at": row.created_at,
            "trend": trend_of(row.instrument, firsts[(row.participant_id, row.instrument_id)], row.score),
            "open_alert": row.participant_id in open_alerts,
        }
        for row in latest
    ]


def program_schedule(*, program: Program) -> list[InstrumentSchedule]:
    """The program's questionnaire schedule, by instrument code (one query)."""
    return list(
        InstrumentSchedule.objects.filter(program=program).select_related("instrument").order_by("instrument__code")
    )


def may_see_program(*, viewer: User, program: Program) -> bool:
    return viewer.is_active and (viewer.role == Role.ADMIN or works_in(clinician=viewer, program=program))


def alerts_visible_to(viewer: User) -> QuerySet[ClinicalAlert]:
    """Admins: all. Clinicians: alerts of participants they treat or were sent."""
    alerts = ClinicalAlert.objects.select_related("assessment__instrument").order_by("-created_at", "-id")
    if not viewer.is_active:
        return alerts.none()
    if viewer.role == Role.ADMIN:
        return alerts
    if viewer.role == Role.CLINICIAN:
        treated = User.objects.filter(
            enrollments__status=EnrollmentStatus.ACTIVE, enrollments__program__clinicians=viewer
        ).values("pk")
        return alerts.filter(participant__in=treated) | alerts.filter(clinician=viewer)
    return alerts.none()
