from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from audit import services


@shared_task
def verify_audit_chain(run_key: str | None = None) -> bool:
    """Daily check of the audit chain. Idempotent per run_key (default: today's UTC date),
    so a redelivered or duplicated message records the result once."""
    key = run_key or timezone.now().date().isoformat()
    _, created = services.record_chain_verification(run_key=key)
    return created
