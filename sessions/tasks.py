from __future__ import annotations

from celery import shared_task

from sessions import services


@shared_task
def generate_upcoming_sessions() -> int:
    """Extend every schedule over the rolling horizon. Idempotent: occurrences that exist
    (by schedule and local date) are never created again."""
    return services.generate_upcoming_sessions()
