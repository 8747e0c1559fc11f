"""The one way to write the audit log."""

from __future__ import annotations

import logging
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from audit.chain import GENESIS_HASH, entry_hash
from audit.models import AuditEntry, AuditVerification
from server.middleware import current_request_context

logger = logging.getLogger(__name__)

# Keys that must never be written to the audit log (secrets and message bodies).
FORBIDDEN_DATA_KEYS = frozenset(
    {"password", "token", "ticket", "secret", "text", "body", "message", "otp", "recovery_code", "recovery_codes"}
)
# Any constant fits; it only has to be the same for every writer of the chain.
_CHAIN_LOCK_KEY = 0x1A0D17


def _check_data(data: dict[str, Any]) -> None:
    for key, value in data.items():
        if key.lower() in FORBIDDEN_DATA_KEYS:
            raise ValueError(f"Audit data may not carry {key!r}.")
        if isinstance(value, dict):
            _check_data(value)
        elif isinstance(value, float):
            raise ValueError("Audit data holds no floats (their text form is not stable for hashing).")


def target_ref(target: models.Model | None) -> tuple[str, str]:
    if target is None:
        return "", ""
    return target._meta.label_lower, str(target.pk)


def record(
    *,
    actor: Any | None,
    action: str,
    target: models.Model | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry, chained to the last. Call inside the transaction of the change it
    records, so both commit or neither does."""
    data = dict(data or {})
    _check_data(data)
    target_type, target_id = target_ref(target)
    context = current_request_context()
    actor_id: int | None = None
    actor_username = ""
    if actor is not None and getattr(actor, "pk", None):
        actor_id = actor.pk
        actor_username = actor.get_username()
    # No savepoint: inside the caller's transaction an entry that fails must fail the
    # change it records too, and a savepoint would cost two more round trips per entry.
    with transaction.atomic(savepoint=False):
        # Serialise writers so each entry chains to the true previous one.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
        last = AuditEntry.objects.order_by("-seq").values("seq", "hash").first()
        seq = (last["seq"] + 1) if last else 1
        prev_hash = last["hash"] if last else GENESIS_HASH
        fields = {
            "seq": seq,
            "at": timezone.now(),
            "actor_id": actor_id,
            "actor_username": actor_username,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "data": data,
            "request_id": context.request_id if context else "",
            "ip": context.ip if context else None,
        }
        return AuditEntry.objects.create(**fields, prev_hash=prev_hash, hash=entry_hash(prev_hash, fields))


def record_chain_verification(*, run_key: str) -> tuple[AuditVerification, bool]:
    """Verify the chain and store the result once per ``run_key``. Returns the stored
    record and whether this call created it (False for a duplicate delivery)."""
    from audit.selectors import first_chain_break

    existing = AuditVerification.objects.filter(run_key=run_key).first()
    if existing is not None:
        return existing, False
    # The head is read first, so the walk below covers it (entries may be appended meanwhile).
    head = AuditEntry.objects.order_by("-seq").values("seq", "hash").first()
    broken = first_chain_break()
    entries = head["seq"] if head else 0  # an intact chain numbers its entries 1..n
    if broken is not None:
        entries = AuditEntry.objects.count()
    with transaction.atomic():
        # The unique run_key decides between two deliveries racing past the check above.
        verification, created = AuditVerification.objects.get_or_create(
            run_key=run_key,
            defaults={
                "entries": entries,
                "intact": broken is None,
                "broken_seq": broken.seq if broken else None,
                "reason": broken.reason[:200] if broken else "",
                # The checkpoint later checks compare with (audit.selectors.checkpoint_break).
                "head_seq": head["seq"] if head and broken is None else None,
                "head_hash": head["hash"] if head and broken is None else "",
            },
        )
    if created and broken is not None:
        logger.error("Audit chain broken at entry #%s: %s", broken.seq, broken.reason)
    elif created and head is not None:
        # A copy of the checkpoint outside the database, wherever the logs are shipped.
        logger.info("Audit chain intact: %s entries, head #%s %s", entries, head["seq"], head["hash"])
    return verification, created
