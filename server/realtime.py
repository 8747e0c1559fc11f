"""Sending events to channel-layer groups, only after the change they announce commits."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def group_send_now(group: str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:  # pragma: no cover - CHANNEL_LAYERS is always configured
        raise RuntimeError("No channel layer configured")
    async_to_sync(layer.group_send)(group, event)


def group_send_on_commit(group: str, event: dict[str, Any]) -> None:
    transaction.on_commit(lambda: group_send_now(group, event))


def close_user_sockets_on_commit(user_id: int, *, reason: str, session_id: int | None = None) -> None:
    """Every socket of this user (or only those in one session) closes after commit.
    Consumers join ``user.<id>`` and handle ``access.revoked`` by closing."""
    event: dict[str, Any] = {"type": "access.revoked", "reason": reason}
    if session_id is not None:
        event["session_id"] = session_id
    group_send_on_commit(user_group(user_id), event)
