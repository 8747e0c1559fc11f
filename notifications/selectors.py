from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts.models import User
from notifications.events import notification_frame
from notifications.models import Delivery, DeliveryStatus, Notification

REPLAY_LIMIT = 200


def notifications_of(user: User, *, unread_only: bool = False) -> QuerySet[Notification]:
    notifications = Notification.objects.filter(recipient=user).order_by("-id")
    return notifications.filter(read_at__isnull=True) if unread_only else notifications


def unread_frames_since(user_id: int, last_id: int) -> list[dict[str, Any]]:
    """What a (re)connecting feed missed: unread notifications after ``last_id``, oldest first."""
    rows = Notification.objects.filter(recipient_id=user_id, read_at__isnull=True, id__gt=last_id).order_by("id")
    return [notification_frame(row) for row in rows[:REPLAY_LIMIT]]


def failed_deliveries() -> QuerySet[Delivery]:
    return Delivery.objects.filter(status=DeliveryStatus.FAILED).select_related("notification").order_by("-id")
