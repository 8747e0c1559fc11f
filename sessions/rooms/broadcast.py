"""Announcing a change to a room: one publish on the room's stream (store.py), made after
the transaction that recorded the change commits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from sessions.rooms import events
from sessions.rooms.store import Broadcast, publish


def broadcast(session_id: int, audience: str, frame: Mapping[str, Any], control: events.Control | None = None) -> int:
    """Publish now (outside a transaction, or after it committed); the frame's seq."""
    return publish(Broadcast(session_id, audience, frame, control)).seq


def broadcast_on_commit(
    session_id: int, audience: str, frame: Mapping[str, Any], control: events.Control | None = None
) -> None:
    transaction.on_commit(lambda: broadcast(session_id, audience, frame, control))
