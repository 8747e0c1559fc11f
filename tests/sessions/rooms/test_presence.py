"""Entering and leaving (sessions/rooms/presence.py): the waiting room, the grace period, and what a join costs."""

from __future__ import annotations

import asyncio

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from accounts import services as account_services
from accounts.services import TicketHolder
from sessions.rooms import access, presence
from tests.sessions.rooms.support import (
    Clients,
    audit,
    chat,
    chat_rows,
    drain,
    error,
    ids,
    open_room,
    redis_round_trips,
    segments,
    state,
    still_open,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def test_waiting_participant_gets_empty_state_then_waiting_and_hosts_see_the_queue(clients: Clients) -> None:
    room = await open_room()
    p0 = room.participants[0]
    lead = await clients.join(room.lead, room.session)
    waiting = await clients.connect(p0, room.session)
    first = await waiting.next()
    assert first["type"] == "room.state"
    assert first["participants"] == []
    assert first["you"]["admitted"] is False
    assert "waiting" not in first
    assert await waiting.next() == {"type": "waiting", "host_present": True}
    joined = await lead.expect("waiting.joined")
    assert joined["user"] == {"id": p0.pk, "name": "P0", "role": "participant"}
    # A host arriving later sees the queue in its room.state; the waiting person sees nothing.
    co = await clients.join(room.co, room.session)
    assert [entry["id"] for entry in state(co)["waiting"]] == [p0.pk]
    assert p0.pk not in ids(state(co)["participants"])
    assert await waiting.silent()
    (entry,) = [e for e in await audit("session.join") if e.actor_id == p0.pk]
    assert entry.data == {"waiting": True}


async def test_waiting_participant_cannot_chat_or_raise_a_hand(clients: Clients) -> None:
    room, lead, waiting = await clients.lead_and_one_waiting()
    assert await error(waiting, chat("let me in", "w-1")) == "not_admitted"
    assert await error(waiting, {"type": "hand.raise"}) == "not_admitted"
    await still_open(waiting)
    assert await lead.silent()
    assert await chat_rows(room.session) == []


async def test_admitted_participant_back_within_grace_keeps_admission(clients: Clients) -> None:
    room = await open_room()
    p0 = room.participants[0]
    lead = await clients.join(room.lead, room.session)
    first = await clients.admitted_by(lead, p0, room.session)
    await first.leave()
    await lead.expect("presence.left")

    again = await clients.join(p0, room.session)
    assert state(again)["you"]["admitted"] is True
    assert p0.pk in ids(state(again)["participants"])
    extra = await drain(again)
    assert extra == [], (state(again), extra)  # no "waiting" frame
    assert (await lead.expect("presence.joined"))["user"]["id"] == p0.pk
    assert len(await audit("session.admit")) == 1
    assert [s.left_at is None for s in await segments(room.session, p0)] == [False, True]


async def test_participant_back_after_grace_waits_again(clients: Clients) -> None:
    room = await open_room()
    p0 = room.participants[0]
    lead = await clients.join(room.lead, room.session)
    first = await clients.admitted_by(lead, p0, room.session)
    with override_settings(ROOM_GRACE_SECONDS=0):
        await first.leave()
        await lead.expect("presence.left")
        await asyncio.sleep(0.01)
        again = await clients.join(p0, room.session)
    assert state(again)["you"]["admitted"] is False
    assert state(again)["participants"] == []
    assert await again.next() == {"type": "waiting", "host_present": True}
    assert (await lead.expect("waiting.joined"))["user"]["id"] == p0.pk
    assert await error(again, chat("still here", "g-1")) == "not_admitted"


def test_a_participant_handshake_costs_a_fixed_number_of_queries_and_round_trips(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    room = open_room.func(size=2, admit_directly=True)
    first, second = room.participants
    # The first arrival loads the scripts and starts the room's seq counter.
    warm = access.authorize_holder(session_id=room.session.pk, holder=TicketHolder(first.pk))
    presence.enter_room(member=warm, conn_id="warm")
    ticket = account_services.issue_realtime_ticket(user=second).ticket

    with CaptureQueriesContext(connection) as queries, redis_round_trips(monkeypatch) as redis_requests:
        # As the consumer does: the ticket, (registering with the hub), the checks, the arrival.
        holder = account_services.consume_realtime_ticket(ticket=ticket)
        assert holder is not None
        member = access.authorize_holder(session_id=room.session.pk, holder=holder)
        entry = presence.enter_room(member=member, conn_id="c1")

    assert entry.admitted and entry.state["you"]["id"] == second.pk
    sql = [query["sql"].split(" ", 1)[0] for query in queries.captured_queries]
    # Ticket's user, session, facilitators, roster entry (with any removal); the join's
    # transaction (attendance segment, then the audit entry under the chain's lock); the
    # room.state (session, names, roster roles).
    assert sql == [
        *["SELECT"] * 4,
        "BEGIN", "INSERT", "SELECT", "SELECT", "INSERT", "COMMIT",
        *["SELECT"] * 3,
    ], "\n".join(query["sql"] for query in queries.captured_queries)  # fmt: skip
    # The ticket (GETDEL), the arrival (one script), presence.joined (one script) and the
    # room.state (one pipeline).
    assert len(redis_requests) == 4, redis_requests
