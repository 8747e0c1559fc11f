"""Every frame the server sends (sessions/rooms/events.py) matches its published model.

One room is driven through every server frame type; every frame each socket received is
validated against ``ServerFrame`` (the union of the models, extra keys refused), and the
test fails if any frame type of the protocol was not seen."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import override_settings
from pydantic import TypeAdapter

from sessions.rooms import events, protocol
from tests.measures.support import answer_with_risk, post_checkin, seed_instruments
from tests.sessions.rooms.support import Clients, chat, open_room

pytestmark = pytest.mark.django_db(transaction=True)

SERVER_FRAME = TypeAdapter(protocol.server_frame_union())
SEQUENCED_TYPES = {name for model in events.SEQUENCED for name in protocol.type_names(model)}
ALL_TYPES = {name for model in protocol.SERVER_FRAMES for name in protocol.type_names(model)}


def validate(frame: dict[str, Any]) -> str:
    SERVER_FRAME.validate_python(frame, strict=True)
    if frame["type"] in SEQUENCED_TYPES and not isinstance(frame.get("seq"), int):
        raise ValueError(f"a broadcast frame without its seq: {frame}")
    return str(frame["type"])


@override_settings(ROOM_LOG_LENGTH=3)
async def test_every_server_frame_type_matches_its_model(clients: Clients) -> None:
    room = await open_room(size=3)
    p0, p1, p2 = room.participants
    lead = await clients.join(room.lead, room.session)
    co = await clients.join(room.co, room.session)
    a = await clients.connect(p0, room.session)
    await a.expect("waiting")  # room.state, then waiting
    await lead.expect("waiting.joined")
    await a.send({"type": "ping"})
    await a.expect("pong")
    await lead.send({"type": "host.admit", "user": p0.pk})
    await a.expect("admitted")
    await a.expect("room.state")
    b = await clients.admitted_by(lead, p1, room.session)
    c = await clients.connect(p2, room.session)
    await lead.expect("waiting.joined")

    await a.send(chat("hello", "e-1"))
    await b.expect("chat.message")
    await a.send({"type": "rtc.offer", "to": p1.pk, "sdp": "v=0"})
    await b.expect("rtc.offer")
    await b.send({"type": "rtc.answer", "to": p0.pk, "sdp": "v=0"})
    await a.expect("rtc.answer")
    await a.send({"type": "rtc.ice", "to": p1.pk, "candidate": {"candidate": "", "sdpMid": "0"}})
    await b.expect("rtc.ice")
    await a.send({"type": "hand.raise"})
    await b.expect("hand.raised")
    await a.send({"type": "hand.lower"})
    await b.expect("hand.lowered")
    await lead.send({"type": "host.mute", "user": p1.pk})
    await b.expect("muted")
    await lead.send({"type": "breakout.open", "rooms": {"1": [p0.pk], "2": [p1.pk]}})
    await a.expect("breakout.opened")
    await lead.send({"type": "breakout.close"})
    await a.expect("breakout.closed")
    await a.send({"type": "hand.raise", "extra": 1})
    await a.expect("error")
    await a.send({"type": "resume", "last_seq": 1})  # far behind a log of 3 frames
    await a.expect("resync")
    await a.expect("room.state")
    await a.expect("chat.history")
    await database_sync_to_async(post_checkin)(room.session, p0)  # hosts only: checkin.received
    await lead.expect("checkin.received")
    await database_sync_to_async(seed_instruments)()
    # An item-9 answer: hosts only, attention.needed.
    program = await database_sync_to_async(lambda: room.session.group.program)()
    await database_sync_to_async(answer_with_risk)(p0, clinician=room.lead, program=program)
    await lead.expect("attention.needed")
    await lead.send({"type": "host.remove", "user": p2.pk})  # still waiting: waiting.left
    assert await c.closed() == 4000
    await lead.send({"type": "host.remove", "user": p1.pk})  # admitted: presence.left
    assert await b.closed() == 4000
    await lead.leave()  # theo takes over: host.changed
    await co.expect("host.changed")
    await co.send({"type": "host.end"})
    for socket in (co, a):
        assert await socket.closed() == 1000

    seen = {validate(frame) for socket in clients.opened for frame in socket.seen}
    assert seen == ALL_TYPES, f"frame types not driven: {sorted(ALL_TYPES - seen)}"


def test_a_builder_that_adds_a_field_fails_validation() -> None:
    """The models refuse extra keys, so this test cannot pass a frame a client was never told of."""
    with pytest.raises(ValueError, match="extra"):
        validate({**events.pong(), "debug": True})
    with pytest.raises(ValueError, match="without its seq"):
        validate({**events.session_ended()})  # a broadcast frame without its seq
