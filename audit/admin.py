from __future__ import annotations

from django.contrib import admin

from audit.models import AuditEntry, AuditVerification
from server.admin_helpers import ReadOnlyAdmin


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("seq", "at", "actor_username", "action", "target_type", "target_id", "ip")
    list_filter = ("action",)
    search_fields = ("actor_username", "target_id", "request_id")


@admin.register(AuditVerification)
class AuditVerificationAdmin(ReadOnlyAdmin):
    list_display = ("run_key", "checked_at", "entries", "intact", "broken_seq")
