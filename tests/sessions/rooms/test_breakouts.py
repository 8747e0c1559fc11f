"""Breakout rooms (sessions/rooms/breakouts.py): routing, restrictions, reconnects."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sessions.rooms.support import (
    Clients,
    audit,
    breakout_room,
    chat,
    chat_rows,
    drain,
    drain_all,
    error,
    family_session,
    of_type,
    open_room,
    state,
    still_open,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_guardian_never_shares_a_breakout_with_an_adolescent(clients: Clients) -> None:
    session, clinician, teen, guardian, _ = await family_session("active")
    host = await clients.join(clinician, session)
    for person in (teen, guardian):
        socket = await clients.connect(person, session)
        await socket.expect("waiting")
    await host.send({"type": "host.admit", "all": True})
    joined = {(await host.expect("presence.joined"))["user"]["id"] for _ in range(2)}
    assert joined == {teen.pk, guardian.pk}
    together = {"type": "breakout.open", "rooms": {"1": [teen.pk, guardian.pk]}}
    assert await error(host, together) == "forbidden"
    assert await audit("session.breakouts_open") == []
    await host.send({"type": "breakout.open", "rooms": {"1": [teen.pk], "2": [guardian.pk]}})
    opened = await host.expect("breakout.opened")
    assert opened["rooms"] == {"1": [teen.pk], "2": [guardian.pk]}


async def test_breakouts_route_chat_by_room(clients: Clients) -> None:
    room, s = await breakout_room(clients)
    p0, p1, p2 = room.participants
    await s["lead"].send({"type": "breakout.open", "rooms": {"1": [p1.pk, p0.pk], "2": [p2.pk]}})
    for socket in s.values():
        opened = await socket.expect("breakout.opened")
        assert opened["rooms"] == {"1": sorted([p0.pk, p1.pk]), "2": [p2.pk]}
    (entry,) = await audit("session.breakouts_open")
    assert entry.data == {"rooms": {"1": sorted([p0.pk, p1.pk]), "2": [p2.pk]}}

    await s["p0"].send(chat("in room one", "b-1"))
    for name in ("p0", "p1", "lead", "co"):
        frame = await s[name].expect("chat.message")
        assert frame["text"] == "in room one" and frame["breakout"] == 1
    assert await s["p2"].silent()

    await s["lead"].send(chat("visiting room two", "b-2", breakout=2))
    for name in ("p2", "lead", "co"):
        frame = await s[name].expect("chat.message")
        assert frame["text"] == "visiting room two" and frame["breakout"] == 2
    assert await s["p0"].silent()
    assert await s["p1"].silent()
    assert await error(s["lead"], chat("nobody here", "b-3", breakout=3)) == "no_such_breakout"

    await s["lead"].send({"type": "breakout.close"})
    for socket in s.values():
        await socket.expect("breakout.closed")
    (closed,) = await audit("session.breakouts_close")
    assert closed.actor_id == room.lead.pk
    await s["p2"].send(chat("back together", "b-4"))
    for socket in s.values():
        frame = await socket.expect("chat.message")
        assert frame["text"] == "back together" and frame["breakout"] is None
    assert [row.breakout for row in await chat_rows(room.session)] == [1, 2, None]
    assert await error(s["lead"], {"type": "breakout.close"}) == "no_breakouts"


async def test_invalid_breakout_assignments_are_refused(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    p0, p1, p2 = room.participants
    lead = await clients.join(room.lead, room.session)
    a = await clients.join(p0, room.session)
    await clients.join(p1, room.session)
    await drain_all(lead, a)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"rooms": {}}, "invalid"),
        ({"rooms": {"0": [p0.pk]}}, "invalid"),
        ({"rooms": {"99": [p0.pk]}}, "invalid"),
        ({"rooms": {"51": [p0.pk]}}, "invalid"),
        ({"rooms": {"1": [str(p0.pk)]}}, "invalid"),
        ({"rooms": {"1": []}}, "invalid"),
        ({"rooms": [[p0.pk]]}, "invalid"),
        ({}, "invalid"),
        ({"rooms": {"1": [p0.pk], "2": [p0.pk]}}, "invalid"),
        ({"rooms": {"1": [p0.pk, p0.pk]}}, "invalid"),
        ({"rooms": {"1": [p0.pk, room.outsider.pk]}}, "not_on_roster"),
        ({"rooms": {"1": [p0.pk], "2": [p2.pk]}}, "not_admitted"),
    ]
    for frame, code in cases:
        assert await error(lead, {"type": "breakout.open", **frame}) == code, frame
    await still_open(lead)
    assert await a.silent()
    assert await audit("session.breakouts_open") == []


async def test_reconnecting_during_breakouts_stays_in_the_breakout(clients: Clients) -> None:
    """Regression: connect() never read the person's breakout back (room.state's
    you.breakout), so after a reconnect they got main-room chat and missed their breakout's."""
    room, s = await breakout_room(clients)
    p0, p1, p2 = room.participants
    await s["lead"].send({"type": "breakout.open", "rooms": {"1": [p0.pk, p1.pk], "2": [p2.pk]}})
    for socket in s.values():
        await socket.expect("breakout.opened")
    await s["p0"].leave()
    again = await clients.join(p0, room.session)
    assert state(again)["you"]["breakout"] == 1
    await drain(again)
    await s["p1"].send(chat("room one only", "r-1"))
    await s["p1"].expect("chat.message", text="room one only")
    await s["p2"].send(chat("room two only", "r-2"))
    await s["p2"].expect("chat.message", text="room two only")
    await s["lead"].send(chat("main room only", "r-3"))
    await s["lead"].expect("chat.message", text="main room only")
    texts = [frame["text"] for frame in of_type(await drain(again), "chat.message")]
    assert texts == ["room one only"]
