from __future__ import annotations

from celery import shared_task

from accounts import services


@shared_task
def purge_expired_tokens() -> int:
    """Idempotent: deleting what has expired twice deletes nothing the second time."""
    return services.purge_expired_tokens()
