"""Host removal, mute and breakouts reach the LiveKit SFU (sessions/rooms/sfu_sync.py): with
MEDIA_BACKEND=livekit each queues its Celery task once the room's change committed, for
the rooms the person may be in there; in mesh mode nothing is queued."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from sessions.rooms import store
from sessions.sfu_tasks import sfu_mute_participant, sfu_remove_participant
from tests.sessions.rooms.support import Clients, RoomClient, open_room

pytestmark = pytest.mark.django_db(transaction=True)

LIVEKIT = {
    "MEDIA_BACKEND": "livekit",
    "LIVEKIT_URL": "http://127.0.0.1:9",
    "LIVEKIT_API_KEY": "k",
    "LIVEKIT_API_SECRET": "s",
}


async def settled(host: RoomClient) -> None:
    """The host's frames before this ping are handled, their after-commit work included:
    a consumer handles its frames one at a time."""
    await host.send({"type": "ping"})
    await host.expect("pong")


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    calls: list[tuple[str, tuple[Any, ...]]] = []
    for task in (sfu_mute_participant, sfu_remove_participant):
        monkeypatch.setattr(task, "delay", lambda *args, name=task.name: calls.append((name, args)))
    return calls


@override_settings(**LIVEKIT)
async def test_mute_and_removal_are_queued_for_the_sfu_rooms(
    clients: Clients, queued: list[tuple[str, tuple[Any, ...]]]
) -> None:
    room = await open_room(admit_directly=True)
    p0, p1 = room.participants[:2]
    lead, a, b = await clients.seated(room.session, room.lead, p0, p1)
    await lead.send({"type": "breakout.open", "rooms": {"2": [p1.pk]}})
    await settled(lead)
    queued.clear()  # p1 left the main room's SFU room (the test below)

    await lead.send({"type": "host.mute", "user": p0.pk})
    await a.expect("muted")
    await lead.send({"type": "host.remove", "user": p1.pk})
    assert await b.closed() == 4000
    await settled(lead)
    main, breakout = f"session-{room.session.pk}", f"session-{room.session.pk}-breakout-2"
    assert queued == [
        (sfu_mute_participant.name, (p0.pk, [main])),
        (sfu_remove_participant.name, (p1.pk, [main, breakout])),
    ]
    assert store.log_entries(room.session.pk)  # the room's own frames went out as ever


@override_settings(**LIVEKIT)
async def test_a_refused_removal_queues_nothing(clients: Clients, queued: list[tuple[str, tuple[Any, ...]]]) -> None:
    room = await open_room(admit_directly=True)
    p0 = room.participants[0]
    lead, a = await clients.seated(room.session, room.lead, p0)
    await a.send({"type": "host.remove", "user": room.participants[1].pk})  # not a host
    await a.expect("error")
    await lead.send({"type": "host.remove", "user": room.co.pk})  # facilitators stay
    await lead.expect("error")
    await settled(lead)
    assert queued == []


async def test_in_mesh_mode_nothing_is_queued(clients: Clients, queued: list[tuple[str, tuple[Any, ...]]]) -> None:
    room = await open_room(admit_directly=True)
    p0, p1 = room.participants[:2]
    lead, a, b = await clients.seated(room.session, room.lead, p0, p1)
    await lead.send({"type": "host.mute", "user": p0.pk})
    await a.expect("muted")
    await lead.send({"type": "host.remove", "user": p1.pk})
    assert await b.closed() == 4000
    await settled(lead)
    assert queued == []


@override_settings(**LIVEKIT)
async def test_whoever_changes_part_of_the_room_leaves_their_old_sfu_room(
    clients: Clients, queued: list[tuple[str, tuple[Any, ...]]]
) -> None:
    """So nobody moved to a breakout keeps hearing the main room on an earlier token."""
    room = await open_room(admit_directly=True)
    p0, p1, p2 = room.participants
    lead, *_ = await clients.seated(room.session, room.lead, p0, p1, p2)
    main = f"session-{room.session.pk}"

    await lead.send({"type": "breakout.open", "rooms": {"1": [p0.pk], "2": [p1.pk]}})
    await settled(lead)
    assert queued == [(sfu_remove_participant.name, (p0.pk, [main])), (sfu_remove_participant.name, (p1.pk, [main]))]
    queued.clear()
    await lead.send({"type": "breakout.open", "rooms": {"1": [p0.pk], "2": [p2.pk]}})  # p1 back, p2 out
    await settled(lead)
    assert queued == [
        (sfu_remove_participant.name, (p1.pk, [f"{main}-breakout-2"])),
        (sfu_remove_participant.name, (p2.pk, [main])),
    ]
    queued.clear()
    await lead.send({"type": "breakout.close"})
    await settled(lead)
    assert queued == [
        (sfu_remove_participant.name, (p0.pk, [f"{main}-breakout-1"])),
        (sfu_remove_participant.name, (p2.pk, [f"{main}-breakout-2"])),
    ]
