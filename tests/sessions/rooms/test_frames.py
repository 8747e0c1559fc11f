"""Inbound frame schemas (sessions/rooms/frames.py)."""

from __future__ import annotations

import pytest

from tests.sessions.rooms.support import (
    Clients,
    error,
    open_room,
    still_open,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def test_frames_that_are_only_their_type_refuse_any_other_field(clients: Clients) -> None:
    """ping, hand.raise, ... skip the validation pass only when they are exactly {"type": ...}."""
    room = await open_room(admit_directly=True)
    lead, a = await clients.seated(room.session, room.lead, room.participants[0])
    await a.send({"type": "ping"})
    assert (await a.expect("pong"))["type"] == "pong"
    for frame in [
        {"type": "ping", "extra": 1},
        {"type": "hand.raise", "user": room.participants[0].pk},
        {"type": "host.end", "now": True},
        {"type": "breakout.close", "rooms": {}},
    ]:
        assert await error(a if frame["type"] != "host.end" else lead, frame) == "invalid", frame
    await still_open(a)
    await still_open(lead)
    assert await lead.silent()  # no hand raised, nothing ended
