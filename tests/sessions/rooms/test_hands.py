"""Hands (sessions/rooms/hands.py)."""

from __future__ import annotations

import pytest

from tests.sessions.rooms.support import (
    Clients,
    drain,
    of_type,
    open_room,
    state,
    still_open,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def test_hand_raise_and_lower(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    p0, p1 = room.participants[:2]
    lead, a, b = await clients.seated(room.session, room.lead, p0, p1)

    await a.send({"type": "hand.raise"})
    for socket in (lead, a, b):
        raised = await socket.expect("hand.raised")
        assert raised["user"]["id"] == p0.pk
    await a.send({"type": "hand.raise"})
    await still_open(a)
    assert of_type(await drain(lead), "hand.raised") == []
    assert of_type(await drain(b), "hand.raised") == []
    co = await clients.join(room.co, room.session)
    (mine,) = [person for person in state(co)["participants"] if person["id"] == p0.pk]
    assert mine["hand_raised"] is True

    await a.send({"type": "hand.lower"})
    for socket in (lead, co, a, b):
        lowered = await socket.expect("hand.lowered")
        assert lowered["user"]["id"] == p0.pk
    await a.send({"type": "hand.lower"})
    await still_open(a)
    assert of_type(await drain(b), "hand.lowered") == []
