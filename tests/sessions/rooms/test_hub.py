"""The per-process hub (sessions/rooms/hub.py): revocations, fan-out."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.test import override_settings
from redis.connection import parse_url

from server.realtime import REVOCATIONS_CHANNEL, close_user_sockets_on_commit
from server.redis_client import get_redis
from server.redis_urls import pubsub_prefix
from sessions.rooms import store
from tests.sessions.rooms.support import Clients, join, open_room, still_open

pytestmark = pytest.mark.django_db(transaction=True)


def realtime_revoke(user_id: int, reason: str, session_id: int | None = None) -> None:
    with transaction.atomic():
        close_user_sockets_on_commit(user_id, reason=reason, session_id=session_id)


async def test_revocations_reach_room_sockets_through_the_hub_not_a_group_per_socket(clients: Clients) -> None:
    """A room socket takes no channel-layer group (server/realtime.py says why): its
    process's hub closes it when a revocation names its user, and only then."""
    room = await open_room(admit_directly=True)
    p0, p1 = room.participants[:2]
    socket, other = await clients.seated(room.session, p0, p1)
    assert get_redis().keys("*group:user.*") == []

    await database_sync_to_async(realtime_revoke)(p0.pk, "session_cancelled", session_id=room.session.pk + 1000)
    await database_sync_to_async(realtime_revoke)(p1.pk + p0.pk + 1000, "deactivated")
    await asyncio.sleep(0.3)  # published; the hub has handed them on
    await still_open(socket)

    await database_sync_to_async(realtime_revoke)(p0.pk, "removed_from_roster", session_id=room.session.pk)
    assert await socket.closed(timeout=1) == 4403
    await still_open(other)


async def test_a_revocation_on_another_redis_db_closes_nothing_here(clients: Clients) -> None:
    """Pub/sub ignores the selected db: without the db in the channel name, another
    deployment on the same Redis server (make run beside make test) could close our sockets."""
    room = await open_room(admit_directly=True)
    socket = await clients.join(room.participants[0], room.session)
    ours = pubsub_prefix(settings.REDIS_URL)
    theirs = pubsub_prefix(f"redis://127.0.0.1:6379/{int(parse_url(settings.REDIS_URL).get('db') or 0) + 1}")
    event = {"type": "access.revoked", "reason": "deactivated", "user": room.participants[0].pk}
    get_redis().publish(REVOCATIONS_CHANNEL.replace(ours, theirs, 1), json.dumps(event))
    stray = f"{10**9}\tall\t\n" + json.dumps({"type": "chat.message", "text": "from another db"})
    get_redis().publish(store.channel_name(room.session.pk).replace(ours, theirs, 1), stray)
    await asyncio.sleep(0.3)  # published; a hub listening there would have handed them on
    await still_open(socket)
    get_redis().publish(REVOCATIONS_CHANNEL, json.dumps(event))
    assert await socket.closed(timeout=1) == 4401


# Not per broadcast: each socket's channel-layer inbox is a blocking pop that wakes every
# few seconds, pooled connections say hello when they open, INFO is this test's probe.
BACKGROUND = {"bzpopmin", "info", "hello", "select", "ping", "client|setinfo", "client|setname"}


def _command_calls() -> dict[str, int]:
    stats = get_redis().info("commandstats")
    calls = {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}
    return {name: count for name, count in calls.items() if name not in BACKGROUND}


async def _commands_per_broadcast(size: int) -> tuple[float, float]:
    room = await open_room(size=size, admit_directly=True)
    sockets = [await join(person, room.session) for person in room.participants]
    for client in sockets:
        await client.drain()
    before = _command_calls()
    broadcasts = 20
    for number in range(broadcasts):
        await sockets[0].send({"type": "chat.send", "text": "hi", "client_id": f"c{number}"})
        for client in sockets:
            await client.expect("chat.message")
    after = _command_calls()
    for client in sockets:
        await client.leave()
    publishes = (after.get("publish", 0) - before.get("publish", 0)) / broadcasts
    total = (sum(after.values()) - sum(before.values())) / broadcasts
    return publishes, total


@override_settings(ROOM_HEARTBEAT_SECONDS=3600, ROOM_SWEEP_SECONDS=3600)
async def test_one_publish_and_constant_redis_work_per_broadcast_whatever_the_room_size() -> None:
    small_publishes, small_total = await _commands_per_broadcast(2)
    large_publishes, large_total = await _commands_per_broadcast(12)
    assert small_publishes == large_publishes == 1
    # A per-member cost would add at least 10 commands per broadcast here; allow for a
    # stray background command or two (pool connections opening, another test's sweeper).
    assert abs(large_total - small_total) < 1, (small_total, large_total)


def test_channel_layer_read_timeout_outlasts_its_blocking_pop() -> None:
    layer: Any = get_channel_layer()
    config: Any = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    assert config["hosts"][0]["socket_timeout"] > layer.brpop_timeout
