from __future__ import annotations

from celery import shared_task

from measures import alerts, services


@shared_task
def notify_due_questionnaires() -> int:
    """Beat: "a questionnaire is ready", once per due occurrence (DueNotice key)."""
    return services.notify_due_questionnaires()


@shared_task
def escalate_clinical_alerts() -> int:
    """Beat: unacknowledged item-9 alerts to the admins, once per step (AlertEscalation key)."""
    return alerts.escalate_due_alerts()
