"""The append-only, hash-chained audit log."""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models


class AppendOnlyError(Exception):
    """Raised on any attempt to change or delete an audit entry."""


class AuditEntryQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("Audit entries cannot be updated.")

    def delete(self) -> NoReturn:
        raise AppendOnlyError("Audit entries cannot be deleted.")


class AuditEntry(models.Model):
    """One thing someone did to one record. ``hash`` covers every field and the previous
    entry's hash, so a changed, inserted or removed row breaks the chain
    (`manage.py verify_audit`). A database trigger refuses UPDATE and DELETE as well."""

    seq = models.BigIntegerField(unique=True)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["target_type", "target_id"]), models.Index(fields=["actor", "at"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.target_type}:{self.target_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("Audit entries cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("Audit entries cannot be deleted.")


class AuditVerification(models.Model):
    """The result of one scheduled check of the audit chain. ``run_key`` (for example the
    day) makes the check's record idempotent: a redelivered task writes nothing new.

    An intact check is also a checkpoint: the chain's head then (``head_seq``,
    ``head_hash``) and ``entries``. The chain alone cannot show entries removed from its
    end (or all of them); a later check compares with the checkpoint and fails when the
    checkpointed entry is gone or the count dropped. Append-only, like the log itself."""

    run_key = models.CharField(max_length=64, unique=True)
    checked_at = models.DateTimeField(auto_now_add=True)
    entries = models.BigIntegerField()
    intact = models.BooleanField()
    broken_seq = models.BigIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    head_seq = models.BigIntegerField(null=True, blank=True)
    head_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-checked_at"]

    def __str__(self) -> str:
        return f"audit verification {self.run_key}"
