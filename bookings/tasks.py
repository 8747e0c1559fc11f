from __future__ import annotations

from celery import shared_task

from bookings import idempotency


@shared_task
def delete_expired_idempotency_keys() -> int:
    """Idempotent: deletes the Idempotency-Key records past their 24 h; a key read after
    that and before this runs is treated as new anyway (bookings.idempotency)."""
    return idempotency.delete_expired_records()
