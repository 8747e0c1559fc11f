"""Frames this app sends over /ws/notifications/ (CONTRACT.md)."""

from __future__ import annotations

from typing import Any

from notifications.models import Notification


def notification_frame(notification: Notification) -> dict[str, Any]:
    return {
        "type": "notification",
        "id": notification.pk,
        "kind": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "created_at": notification.created_at.isoformat(),
    }
