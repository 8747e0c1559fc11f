"""Fan-out cost does not grow with the room: one PUBLISH (and the same Redis commands)
per broadcast whether 2 or 12 sockets listen; and the channel layer's Redis read timeout
outlasts its blocking pop, so idle consumers do not crash."""

from __future__ import annotations

from typing import Any

import pytest
from channels.layers import get_channel_layer
from django.conf import settings
from django.test import override_settings

from server.redis_client import get_redis
from tests.sessions.rooms import join, open_room

pytestmark = pytest.mark.django_db(transaction=True)


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
