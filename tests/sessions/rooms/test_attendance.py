"""Attendance segments (sessions/rooms/attendance.py): one per person however many tabs, none for waiting-room time."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from server.redis_client import get_redis
from sessions.models import AttendanceSegment
from sessions.rooms import access, presence, store
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


def test_a_dead_processs_segment_ends_at_the_persons_last_heartbeat() -> None:
    """Its process died: the sweep finds the socket long after, and the attendance segment
    ends when the person was last heard from, not when the sweep noticed."""
    room = open_room.func(size=1, admit_directly=True)
    participant = room.participants[0]
    member = access.authorize_entry(session_id=room.session.pk, user=participant)
    presence.enter_room(member=member, conn_id="on-a-dead-process")
    joined = timezone.now() - timedelta(minutes=5)
    AttendanceSegment.objects.filter(session=room.session, user=participant).update(joined_at=joined)
    last_heard = time.time() - 100
    name = presence.socket_name(participant.pk, "on-a-dead-process")
    get_redis().zadd(store.RoomKeys(room.session.pk).presence, {name: last_heard})

    assert presence.sweep_stale_presence() == 1
    (segment,) = AttendanceSegment.objects.filter(session=room.session, user=participant)
    assert segment.left_reason == "timeout"
    assert segment.left_at is not None
    assert abs(segment.left_at.timestamp() - last_heard) < 0.001
    assert presence.sweep_stale_presence() == 0, "each departure once"
