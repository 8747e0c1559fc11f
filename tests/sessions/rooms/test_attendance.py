"""Attendance segments (sessions/rooms/attendance.py): one per person however many tabs, none for waiting-room time."""

from __future__ import annotations

import asyncio

import pytest
from django.utils import timezone

from tests.sessions.rooms.support import (
    Clients,
    audit,
    drain,
    of_type,
    open_room,
    segments,
    state,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def test_two_tabs_are_one_presence_and_one_attendance_segment(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    p0 = room.participants[0]
    lead = await clients.join(room.lead, room.session)
    tab1 = await clients.join(p0, room.session)
    assert of_type(await drain(lead), "presence.joined") == [
        {
            "type": "presence.joined",
            "user": {"id": p0.pk, "name": "P0", "role": "participant"},
            "seq": state(tab1)["seq"],
        }
    ]
    tab2 = await clients.join(p0, room.session)
    assert await lead.silent()
    assert len(await segments(room.session, p0)) == 1

    await tab1.leave()
    assert await lead.silent()
    (segment,) = await segments(room.session, p0)
    assert segment.left_at is None

    await tab2.leave()
    left = await lead.expect("presence.left")
    assert left["user"]["id"] == p0.pk
    (segment,) = await segments(room.session, p0)
    assert segment.left_at is not None and segment.left_reason == "closed"
    assert len([e for e in await audit("session.join") if e.actor_id == p0.pk]) == 1
    assert len([e for e in await audit("session.leave") if e.actor_id == p0.pk]) == 1


async def test_waiting_room_time_has_no_attendance_segment(clients: Clients) -> None:
    room = await open_room()
    p0 = room.participants[0]
    lead = await clients.join(room.lead, room.session)
    waiting = await clients.connect(p0, room.session)
    await waiting.expect("waiting")
    await waiting.leave()
    assert (await lead.expect("waiting.left"))["user"]["id"] == p0.pk
    assert await segments(room.session, p0) == []

    back = await clients.connect(p0, room.session)
    await back.expect("waiting")
    await asyncio.sleep(0.05)
    admitted_at = timezone.now()
    await lead.send({"type": "host.admit", "user": p0.pk})
    await back.expect("room.state")
    (segment,) = await segments(room.session, p0)
    assert segment.joined_at >= admitted_at
    await back.leave()
    await lead.expect("presence.left")
    (segment,) = await segments(room.session, p0)
    assert segment.left_at is not None
