"""Item-9 alerts: raised with the answer that signals risk, acknowledged with a note, and
escalated to the program admins while nobody acknowledges them. Every step is audited and
every message PHI-free (the clinical_alert kind says only that an alert needs attention;
the room frame names the participant's id, never an answer)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User
from audit.services import record
from measures.models import AlertEscalation, Assessment, ClinicalAlert
from notifications.kinds import NotificationKind
from notifications.services import notify
from programs.models import Enrollment, EnrollmentStatus
from programs.selectors import treats
from sessions.models import Session, SessionFacilitator, SessionStatus
from sessions.rooms import events as room_events
from sessions.rooms.broadcast import broadcast_on_commit

logger = logging.getLogger(__name__)


def alert_link(alert: ClinicalAlert) -> str:
    """The web client's page of open alerts, each with its acknowledge form (web/urls.py)."""
    return "/alerts/"


def sessions_today(participant: User, now: datetime) -> list[Session]:
    """The participant's sessions of their local day not yet over, cancelled or ended."""
    zone = ZoneInfo(participant.time_zone)
    day_end = datetime.combine(now.astimezone(zone).date() + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    return list(
        Session.objects.filter(
            roster__user=participant,
            roster__removed_at__isnull=True,
            starts_at__lt=day_end,
            ends_at__gt=now,
            cancelled_at__isnull=True,
            ended_at__isnull=True,
        )
    )


def raise_alert(*, assessment: Assessment) -> ClinicalAlert:
    """Inside the transaction storing the assessment: the alert, its audit entry, a
    clinical_alert notification (feed at once, urgent email) to the primary clinician and
    to the hosts of the participant's sessions today, and an ``attention.needed`` frame to
    the hosts of those sessions whose room is open, all sent after commit."""
    participant = assessment.participant
    now = timezone.now()
    enrollment = Enrollment.objects.filter(participant=participant, status=EnrollmentStatus.ACTIVE).first()
    clinician_id = enrollment.primary_clinician_id if enrollment else None
    alert = ClinicalAlert.objects.create(assessment=assessment, participant=participant, clinician_id=clinician_id)
    sessions = sessions_today(participant, now)
    host_ids = set(SessionFacilitator.objects.filter(session__in=sessions).values_list("clinician_id", flat=True))
    recipients = ({clinician_id} if clinician_id else set()) | host_ids
    record(
        actor=participant,
        action="clinical_alert.raise",
        target=alert,
        data={"notified": sorted(recipients), "sessions": sorted(s.pk for s in sessions)},
    )
    for user in User.objects.filter(pk__in=recipients, is_active=True):
        notify(
            recipient=user,
            kind=NotificationKind.CLINICAL_ALERT,
            data={"link": alert_link(alert)},
            about=participant,
            dedupe_key=f"clinical_alert:{alert.pk}:{user.pk}",
        )
    for session in sessions:
        if session.status_at(now) == SessionStatus.OPEN:
            frame = room_events.attention_needed(participant=participant.pk, alert=alert.pk)
            broadcast_on_commit(session.pk, "staff", frame)
    return alert


def acknowledge(*, alert: ClinicalAlert, note: str, by: User) -> ClinicalAlert:
    """A clinician treating the participant, or an admin, acknowledges with a note."""
    if not (by.role == Role.ADMIN or treats(clinician=by, participant=alert.participant)):
        raise PermissionDenied("Only the participant's clinicians or an admin can acknowledge this alert.")
    if not note.strip():
        raise ValidationError({"note": "Say what was done: an acknowledgement needs a note."})
    with transaction.atomic():
        locked = ClinicalAlert.objects.select_for_update().get(pk=alert.pk)
        if locked.acknowledged_at is not None:
            raise AlreadyAcknowledged()
        locked.acknowledged_at, locked.acknowledged_by, locked.note = timezone.now(), by, note.strip()
        locked.save(update_fields=["acknowledged_at", "acknowledged_by", "note"])
        record(actor=by, action="clinical_alert.acknowledge", target=locked, data={"escalations": locked.escalations})
    return locked


class AlreadyAcknowledged(Exception):
    """A 409: someone acknowledged it first."""


def escalate_due_alerts(*, now: datetime | None = None) -> int:
    """Beat: each unacknowledged alert whose next step is due goes to every active admin.
    Step n is due CLINICAL_ALERT_ESCALATE_MINUTES x n after the alert; a sweep that comes
    late sends the current step only. The row lock and the (alert, step) key make each step
    happen once, however many sweeps run or are redelivered."""
    now = now or timezone.now()
    every = timedelta(minutes=settings.CLINICAL_ALERT_ESCALATE_MINUTES)
    candidates = ClinicalAlert.objects.filter(acknowledged_at__isnull=True, created_at__lte=now - every)
    escalated = 0
    for alert_id in candidates.values_list("pk", flat=True):
        with transaction.atomic():
            alert = (
                ClinicalAlert.objects.select_for_update(skip_locked=True)
                .filter(pk=alert_id, acknowledged_at__isnull=True)
                .first()
            )
            if alert is None:
                continue
            step = int((now - alert.created_at) / every)
            if step <= alert.escalations:
                continue
            AlertEscalation.objects.create(alert=alert, step=step)
            alert.escalations = step
            alert.save(update_fields=["escalations"])
            admins = list(User.objects.filter(role=Role.ADMIN, is_active=True))
            record(
                actor=None, action="clinical_alert.escalate", target=alert,
                data={"step": step, "notified": [admin.pk for admin in admins]},
            )  # fmt: skip
            for admin in admins:
                notify(
                    recipient=admin,
                    kind=NotificationKind.CLINICAL_ALERT,
                    data={"link": alert_link(alert)},
                    dedupe_key=f"clinical_alert:{alert.pk}:step{step}:{admin.pk}",
                )
            escalated += 1
    if escalated:
        logger.warning("Escalated %s unacknowledged clinical alert(s) to admins", escalated)
    return escalated
