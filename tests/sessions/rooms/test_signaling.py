"""Mesh signaling (sessions/rooms/signaling.py): rtc.offer / rtc.answer / rtc.ice go to one
person's sockets in the sender's part of the room, with ``from``, and to nobody else;
never numbered, never in the replay log; refusals are error frames and send nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from sessions.rooms import store
from tests.sessions.rooms.support import Clients, drain_all, error, open_room, still_open

pytestmark = pytest.mark.django_db(transaction=True)

SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


def offer(to: int, sdp: str = SDP) -> dict[str, Any]:
    return {"type": "rtc.offer", "to": to, "sdp": sdp}


def ice(to: int, **candidate: Any) -> dict[str, Any]:
    return {"type": "rtc.ice", "to": to, "candidate": candidate}


async def test_an_offer_reaches_the_addressee_alone_with_from_and_no_seq(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    p0, p1, p2 = room.participants
    lead, a, b, c = await clients.seated(room.session, room.lead, p0, p1, p2)
    log_before = store.log_entries(room.session.pk)

    await a.send(offer(p1.pk))
    assert await b.next() == {"type": "rtc.offer", "from": p0.pk, "sdp": SDP}
    await b.send({"type": "rtc.answer", "to": p0.pk, "sdp": "v=0 answer"})
    assert await a.next() == {"type": "rtc.answer", "from": p1.pk, "sdp": "v=0 answer"}
    candidate = {"candidate": "candidate:1 1 UDP 2122 127.0.0.1 5000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}
    await a.send(ice(p1.pk, **candidate))
    assert await b.next() == {"type": "rtc.ice", "from": p0.pk, "candidate": candidate}

    assert store.log_entries(room.session.pk) == log_before, "signaling is not room state"
    for other in (lead, c, a, b):
        assert await other.silent()


async def test_every_socket_of_the_addressee_gets_it(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    p0, p1 = room.participants[:2]
    a, b1, b2 = await clients.seated(room.session, p0, p1, p1)
    await a.send(offer(p1.pk))
    for socket in (b1, b2):
        assert (await socket.next())["from"] == p0.pk


async def test_hosts_and_participants_of_the_main_room_signal_each_other(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    p0 = room.participants[0]
    lead, co, a = await clients.seated(room.session, room.lead, room.co, p0)
    await lead.send(offer(p0.pk))
    assert (await a.next())["from"] == room.lead.pk
    await a.send(offer(room.co.pk))
    assert (await co.next())["from"] == p0.pk


@pytest.mark.parametrize(
    "frame",
    [
        offer(1, sdp="x" * (16 * 1024 + 1)),  # SDP over 16 KiB
        offer(1, sdp=""),
        {"type": "rtc.offer", "to": "1", "sdp": SDP},  # no coercion
        {"type": "rtc.offer", "sdp": SDP},  # no addressee
        {"type": "rtc.answer", "to": 1, "sdp": SDP, "from": 5},  # a client cannot say who it is
        ice(1, candidate="c" * 1025),  # candidate over 1 KiB
        ice(1, candidate="c", extra=True),
        {"type": "rtc.ice", "to": 1, "candidate": "candidate:1 ..."},  # not an object
        ice(1, candidate="c", sdpMLineIndex=-1),
    ],
)
async def test_malformed_or_oversized_frames_are_refused_and_send_nothing(
    clients: Clients, frame: dict[str, Any]
) -> None:
    room = await open_room(admit_directly=True)
    p0, p1 = room.participants[:2]
    a, b = await clients.seated(room.session, p0, p1)
    frame = {**frame, "to": p1.pk} if isinstance(frame.get("to"), int) else frame
    assert await error(a, frame) == "invalid"
    await still_open(a)
    assert await b.silent()


async def test_a_frame_to_someone_absent_waiting_or_yourself_is_refused(clients: Clients) -> None:
    room = await open_room()
    p0, p1, p2 = room.participants
    lead = await clients.join(room.lead, room.session)
    a = await clients.admitted_by(lead, p0, room.session)
    waiting = await clients.connect(p1, room.session)
    await waiting.expect("waiting")
    await drain_all(lead, a, waiting)

    assert await error(a, offer(p2.pk)) == "not_present"  # on the roster, not connected
    assert await error(a, offer(room.outsider.pk)) == "not_present"
    assert await error(a, offer(p1.pk)) == "not_present"  # waiting: not in the room yet
    assert await error(a, offer(p0.pk)) == "invalid"
    assert await error(waiting, offer(room.lead.pk)) == "not_admitted"  # nor may they send
    for socket in (lead, a, waiting):
        assert await socket.silent()


async def test_a_frame_to_someone_in_another_breakout_is_refused(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    p0, p1, p2 = room.participants
    lead, a, b, c = await clients.seated(room.session, room.lead, p0, p1, p2)
    await lead.send({"type": "breakout.open", "rooms": {"1": [p0.pk, p1.pk], "2": [p2.pk]}})
    for socket in (lead, a, b, c):
        await socket.expect("breakout.opened")

    assert await error(a, offer(p2.pk)) == "not_in_your_room"  # breakout 1 -> breakout 2
    assert await error(a, offer(room.lead.pk)) == "not_in_your_room"  # breakout -> main room
    assert await error(lead, offer(p2.pk)) == "not_in_your_room"  # main room -> breakout
    await a.send(offer(p1.pk))  # within breakout 1
    assert (await b.next())["from"] == p0.pk
    for socket in (lead, a, b, c):
        assert await socket.silent()

    await lead.send({"type": "breakout.close"})
    for socket in (lead, a, b, c):
        await socket.expect("breakout.closed")
    await a.send(offer(p2.pk))  # everyone is back in the main room
    assert (await c.next())["from"] == p0.pk


@override_settings(MESH_MAX_PARTICIPANTS=3)
async def test_above_the_mesh_limit_frames_are_refused(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    p0, p1, p2 = room.participants
    lead, a, b = await clients.seated(room.session, room.lead, p0, p1)
    await a.send(offer(p1.pk))  # three people: mesh
    await b.expect("rtc.offer")
    c = await clients.join(p2, room.session)
    await drain_all(lead, a, b, c)
    assert await error(a, offer(p1.pk)) == "sfu_required"  # four
    assert await b.silent()


@override_settings(MEDIA_BACKEND="livekit")
async def test_with_the_sfu_mesh_frames_are_refused(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    p0, p1 = room.participants[:2]
    a, b = await clients.seated(room.session, p0, p1)
    assert await error(a, offer(p1.pk)) == "sfu_required"
    assert await b.silent()


@override_settings(WS_FRAMES_PER_MINUTE=20)
async def test_a_signaling_burst_past_the_frame_limit_is_relayed_and_pings_keep_their_limit(
    clients: Clients,
) -> None:
    room = await open_room(admit_directly=True)
    p0, p1 = room.participants[:2]
    a, b = await clients.seated(room.session, p0, p1)
    assert await a.silent()  # the joins' frames were read; none of them were sent by a
    # 60 candidates at once, three times the general budget: every one reaches the peer.
    for n in range(60):
        await a.send(ice(p1.pk, candidate=f"candidate:{n} 1 UDP 2122 127.0.0.1 {5000 + n} typ host"))
    received = [await b.next() for _ in range(60)]
    assert [frame["candidate"]["candidate"].split()[0] for frame in received] == [f"candidate:{n}" for n in range(60)]
    assert await a.silent()  # no error frame
    # Chat and pings keep the general budget: 20 a minute, then refused, as before.
    for _ in range(20):
        await a.send({"type": "ping"})
        assert await a.next() == {"type": "pong"}
    assert await error(a, {"type": "ping"}) == "rate_limited"


@override_settings(WS_SIGNALING_FRAMES_PER_MINUTE=3)
async def test_the_signaling_budget_refuses_past_it(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    p0, p1 = room.participants[:2]
    a, b = await clients.seated(room.session, p0, p1)
    for _ in range(3):
        await a.send(offer(p1.pk))
        assert (await b.next())["type"] == "rtc.offer"
    assert await error(a, offer(p1.pk)) == "rate_limited"
    assert await b.silent()
    await still_open(a)


def test_the_rooms_signaling_budget_covers_exactly_its_rtc_frames() -> None:
    from sessions.rooms.consumer import HANDLERS
    from sessions.rooms.signaling import FRAME_TYPES

    assert {kind for kind in HANDLERS if kind.startswith("rtc.")} == FRAME_TYPES
