from __future__ import annotations

from django.contrib import admin

from attendance.models import AttendanceRecord
from server.admin_helpers import ReadOnlyAdmin


@admin.register(AttendanceRecord)
class AttendanceRecordAdmin(ReadOnlyAdmin):
    """Read-only: overrides go through the API (attendance.services), which checks the
    reason and writes the audit log."""

    list_display = ("session", "user", "status", "attended_minutes", "override_status", "override_minutes")
    list_filter = ("status", "override_status")
    list_select_related = ("session", "user")
