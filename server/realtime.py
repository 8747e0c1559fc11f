"""Sending events to channel-layer groups, only after the change they announce commits.

Access revocations reach two kinds of sockets. Notification feeds each join the
channel-layer group ``user.<id>``. Live-room sockets do not: each web process's RoomHub
(sessions/rooms/hub.py) is subscribed to ``REVOCATIONS_CHANNEL`` on the Redis pub/sub
connection it already holds for its rooms, and closes its own sockets of the user named.
A room socket thus costs no channel-layer channel, group membership or receive loop of its
own (a connect storm paid two Redis round trips and three asyncio tasks per socket for
them, and a socket whose receive held channels_redis's lock took 10 s to be torn down).
"""

from __future__ import annotations

from typing import Any

import orjson
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

from server.redis_client import get_redis
from server.redis_urls import pubsub_prefix

# Pub/sub channel of access revocations for live rooms: {"user": id, "reason": ...,
# "session_id"?, "token_digest"?} for one person's sockets (with "token_digest", only those
# opened with a ticket that token asked for), {"reason": ..., "session_id": id} for a session's.
# Every pub/sub channel of the project starts with this (read once: it names the db).
PUBSUB_PREFIX = pubsub_prefix(settings.REDIS_URL)
REVOCATIONS_CHANNEL = PUBSUB_PREFIX + "revocations"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def group_send_now(group: str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:  # pragma: no cover - CHANNEL_LAYERS is always configured
        raise RuntimeError("No channel layer configured")
    async_to_sync(layer.group_send)(group, event)


def group_send_on_commit(group: str, event: dict[str, Any]) -> None:
    transaction.on_commit(lambda: group_send_now(group, event))


def close_user_sockets_on_commit(
    user_id: int, *, reason: str, session_id: int | None = None, token_digest: str | None = None
) -> None:
    """Every socket of this user (or only those in one session, or only those opened with
    a ticket one bearer token asked for) closes after commit: room sockets through their
    process's RoomHub, feeds through ``user.<id>``; both handle ``access.revoked`` by
    closing. ``token_digest`` is knox's digest of the token (its primary key, never the
    token), as the socket's TicketHolder holds it."""
    event: dict[str, Any] = {"type": "access.revoked", "reason": reason}
    if session_id is not None:
        event["session_id"] = session_id
    if token_digest is not None:
        event["token_digest"] = token_digest
    transaction.on_commit(lambda: _revoke_now(user_id, event))


def close_session_sockets_on_commit(session_id: int, *, reason: str) -> None:
    """Every live-room socket of one session closes after commit, whoever holds it (a
    cancelled session): one publish, however many people are in the room."""
    event = {"type": "access.revoked", "reason": reason, "session_id": session_id}
    transaction.on_commit(lambda: _publish_revocation(event))


def _revoke_now(user_id: int, event: dict[str, Any]) -> None:
    _publish_revocation({**event, "user": user_id})
    group_send_now(user_group(user_id), event)


def _publish_revocation(event: dict[str, Any]) -> None:
    get_redis().publish(REVOCATIONS_CHANNEL, orjson.dumps(event))
