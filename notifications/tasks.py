from __future__ import annotations

from typing import Any

from celery import shared_task

from notifications import services
from notifications.reminders import send_due_reminders
from notifications.session_opening import notify_opened_sessions


@shared_task(bind=True, max_retries=services.EMAIL_MAX_ATTEMPTS, acks_late=True)
def send_email_delivery(self: Any, delivery_id: int) -> str:
    """Idempotent: a delivery already sent (or given up on) is not sent again."""
    try:
        return services.deliver_email(delivery_id=delivery_id)
    except services.EmailSendFailed as exc:
        # 30 s, 60 s, 120 s, ... capped well below the broker's visibility timeout.
        raise self.retry(exc=exc, countdown=min(30 * 2**self.request.retries, 1800)) from exc


@shared_task
def release_held_emails() -> int:
    return services.release_held_deliveries()


@shared_task
def notify_session_openings() -> int:
    return notify_opened_sessions()


@shared_task
def send_session_reminders() -> int:
    """Idempotent: each reminder is claimed once (notifications/reminders.py)."""
    return send_due_reminders()
