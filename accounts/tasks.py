from __future__ import annotations

from celery import shared_task

from accounts import services


@shared_task
def purge_expired_tokens() -> int:
    """Deletes expired bearer tokens and closes the sockets they opened. Idempotent:
    deleting what has expired twice deletes (and closes) nothing the second time."""
    return services.purge_expired_tokens()


@shared_task
def end_guardian_access_at_adulthood() -> int:
    """Ends the guardian links of participants who turned 18 (unless they consented as
    adults). Idempotent: an ended link is not selected again."""
    return services.end_guardian_access_at_adulthood()
