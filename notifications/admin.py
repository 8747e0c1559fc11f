from __future__ import annotations

from django.contrib import admin

from notifications.models import Delivery
from server.admin_helpers import ReadOnlyAdmin


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ("id", "notification", "channel", "status", "attempts", "last_error", "sent_at")
    list_filter = ("status", "channel")
