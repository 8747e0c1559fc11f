"""The room.state frame (sessions/rooms/state.py): first after accept, what each role sees."""

from __future__ import annotations

import pytest

from tests.sessions.rooms.support import Clients, ids, open_room, state

pytestmark = pytest.mark.django_db(transaction=True)


async def test_first_frame_is_room_state_and_only_hosts_see_the_queue(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    lead = await clients.join(room.lead, room.session)
    host_state = state(lead)
    assert {"seq", "session", "status", "you", "participants", "waiting"} <= set(host_state)
    assert host_state["status"] == "open"
    assert host_state["session"]["id"] == room.session.pk
    assert host_state["you"]["id"] == room.lead.pk
    assert host_state["you"]["role"] == "lead"
    assert host_state["you"]["host"] is True
    assert host_state["waiting"] == []
    assert ids(host_state["participants"]) == {room.lead.pk}
    assert isinstance(host_state["seq"], int)

    p0 = await clients.join(room.participants[0], room.session)
    mine = state(p0)
    assert "waiting" not in mine
    assert mine["you"]["role"] == "participant"
    assert mine["you"]["host"] is False
    assert mine["you"]["admitted"] is True
    assert mine["status"] == "open"
    assert ids(mine["participants"]) == {room.lead.pk, room.participants[0].pk}
    assert mine["seq"] > host_state["seq"]
    # Names are first names only.
    assert {person["name"] for person in mine["participants"]} == {"Lee", "P0"}
