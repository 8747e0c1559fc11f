from __future__ import annotations

import pytest

from tests.sessions.rooms import join, open_room

pytestmark = pytest.mark.django_db(transaction=True)


async def test_smoke() -> None:
    room = await open_room(admit_directly=True)
    lead = await join(room.lead, room.session)
    p0 = await join(room.participants[0], room.session)
    joined = await lead.expect("presence.joined")
    assert joined["user"]["id"] == room.participants[0].pk
    await p0.send({"type": "chat.send", "text": "hello", "client_id": "c1"})
    m1 = await lead.expect("chat.message")
    m2 = await p0.expect("chat.message")
    assert m1 == m2 and m1["text"] == "hello"
    await p0.send({"type": "ping"})
    assert await p0.expect("pong")
    await p0.leave()
    await lead.expect("presence.left")
    await lead.leave()
