"""Host controls (sessions/rooms/host.py): admit, mute, remove, end, who holds the controls."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEntry
from sessions.models import AttendanceSegment, RoomRemoval, Session, SessionFacilitator
from sessions.rooms import access, presence
from sessions.rooms import host as host_controls
from tests.sessions.rooms.support import (
    CLOSE,
    Clients,
    OpenRoom,
    RoomClient,
    audit,
    chat,
    drain,
    drain_all,
    error,
    ids,
    of_type,
    open_room,
    redis_round_trips,
    reload,
    segments,
    state,
    still_open,
)

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def open_segments(session: Session) -> int:
    return AttendanceSegment.objects.filter(session=session, left_at__isnull=True).count()


@database_sync_to_async
def removals(session: Session) -> list[RoomRemoval]:
    return list(RoomRemoval.objects.filter(session=session))


async def assert_room_ended(room: OpenRoom, *sockets: RoomClient) -> AuditEntry:
    """Every socket got session.ended and closed 1000, the session is ended with no open
    attendance; returns the one session.end audit entry."""
    for socket in sockets:
        await socket.expect("session.ended")
        assert await socket.ws.receive_output(timeout=3) == {"type": CLOSE, "code": 1000}
    ended = await reload(room.session)
    assert ended.ended_at is not None and ended.status == "ended"
    assert await open_segments(room.session) == 0
    (entry,) = await audit("session.end")
    return entry


async def test_admitting_one_sends_admitted_then_fresh_state(clients: Clients) -> None:
    room = await open_room()
    p0 = room.participants[0]
    lead = await clients.join(room.lead, room.session)
    co = await clients.join(room.co, room.session)
    waiting = await clients.connect(p0, room.session)
    await waiting.expect("waiting")
    await lead.expect("waiting.joined")
    assert await segments(room.session, p0) == []

    await lead.send({"type": "host.admit", "user": p0.pk})
    admitted = await waiting.next()
    assert admitted["type"] == "admitted" and isinstance(admitted["seq"], int)
    fresh = await waiting.next()
    assert fresh["type"] == "room.state"
    assert fresh["you"]["admitted"] is True
    assert fresh["seq"] >= admitted["seq"]
    assert ids(fresh["participants"]) == {room.lead.pk, room.co.pk, p0.pk}
    for host in (lead, co):
        joined = await host.expect("presence.joined")
        assert joined["user"]["id"] == p0.pk
    (entry,) = await audit("session.admit")
    assert entry.actor_id == room.lead.pk and entry.data == {"user": p0.pk}
    (segment,) = await segments(room.session, p0)
    assert segment.left_at is None
    # Admitted: chat now works.
    await waiting.send(chat("hi all", "a-1"))
    assert (await lead.expect("chat.message"))["text"] == "hi all"
    # The queue is for hosts only: an admitted participant does not see who waits.
    await drain_all(waiting, co)
    await clients.connect(room.participants[1], room.session)
    assert (await co.expect("waiting.joined"))["user"]["id"] == room.participants[1].pk
    assert await waiting.silent()


async def test_admit_all_admits_everyone_waiting(clients: Clients) -> None:
    room = await open_room()
    lead = await clients.join(room.lead, room.session)
    queue = []
    for person in room.participants[:2]:
        socket = await clients.connect(person, room.session)
        await socket.expect("waiting")
        queue.append(socket)
    await lead.send({"type": "host.admit", "all": True})
    for socket in queue:
        assert (await socket.next())["type"] == "admitted"
        assert (await socket.next())["you"]["admitted"] is True
    joined = [await lead.expect("presence.joined") for _ in queue]
    assert {frame["user"]["id"] for frame in joined} == {p.pk for p in room.participants[:2]}
    assert sorted(entry.data["user"] for entry in await audit("session.admit")) == sorted(
        p.pk for p in room.participants[:2]
    )


async def test_admitting_someone_not_on_the_roster_changes_nothing(clients: Clients) -> None:
    room, lead, waiting = await clients.lead_and_one_waiting()
    assert await error(lead, {"type": "host.admit", "user": room.outsider.pk}) == "not_on_roster"
    assert await error(lead, {"type": "host.admit", "user": 2**52}) == "not_on_roster"
    assert await waiting.silent()
    assert await lead.silent()
    assert await audit("session.admit") == []
    await still_open(lead)


async def test_participant_cannot_use_host_controls(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    p0, p1 = room.participants[:2]
    lead, me, other = await clients.seated(room.session, room.lead, p0, p1)
    for frame in [
        {"type": "host.admit", "user": p1.pk},
        {"type": "host.admit", "all": True},
        {"type": "host.remove", "user": p1.pk},
        {"type": "host.mute", "user": p1.pk},
        {"type": "host.end"},
        {"type": "breakout.open", "rooms": {"1": [p0.pk, p1.pk]}},
        {"type": "breakout.close"},
    ]:
        assert await error(me, frame) == "forbidden", frame
        await still_open(me)
    assert await other.silent()
    assert await lead.silent()
    assert (await reload(room.session)).ended_at is None
    assert await removals(room.session) == []
    for action in ("session.admit", "session.remove", "session.mute", "session.end", "session.breakouts_open"):
        assert await audit(action) == [], action


async def test_mute_is_a_media_state_the_room_sees(clients: Clients) -> None:
    """The muted person's client mutes itself; the others show them muted."""
    room = await open_room(admit_directly=True)
    p0, p1, p2 = room.participants
    lead, a, b = await clients.seated(room.session, room.lead, p0, p1)
    await lead.send({"type": "host.mute", "user": p0.pk})
    for socket in (a, b, lead):
        muted = await socket.next()
        assert muted["type"] == "muted" and muted["user"] == p0.pk and muted["by"] == room.lead.pk
    (entry,) = await audit("session.mute")
    assert entry.data == {"user": p0.pk}
    assert await error(lead, {"type": "host.mute", "user": p2.pk}) == "not_present"


async def test_remove_sends_removed_closes_4000_and_keeps_them_out(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    p0, p1 = room.participants[:2]
    lead, co, target, other = await clients.seated(room.session, room.lead, room.co, p0, p1)

    await lead.send({"type": "host.remove", "user": p0.pk})
    assert (await target.next())["type"] == "removed"
    assert await target.ws.receive_output(timeout=3) == {"type": CLOSE, "code": 4000}
    for socket in (lead, co, other):
        left = await socket.expect("presence.left")
        assert left["user"]["id"] == p0.pk and left["reason"] == "removed"
    await target.leave()
    assert of_type(await drain(lead), "presence.left") == []  # announced once

    (removal,) = await removals(room.session)
    assert (removal.user_id, removal.by_id) == (p0.pk, room.lead.pk)
    (entry,) = await audit("session.remove")
    assert entry.actor_id == room.lead.pk and entry.data == {"user": p0.pk}
    (segment,) = await segments(room.session, p0)
    assert segment.left_reason == "removed"
    assert await clients.refused(p0, room.session) == 4403
    assert await error(lead, {"type": "host.admit", "user": p0.pk}) == "removed"
    assert await error(lead, {"type": "host.remove", "user": p0.pk}) == "removed"


async def test_facilitators_cannot_be_removed(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    lead, co = await clients.seated(room.session, room.lead, room.co)
    assert await error(lead, {"type": "host.remove", "user": room.co.pk}) == "forbidden"
    assert await error(lead, {"type": "host.remove", "user": room.lead.pk}) == "forbidden"
    assert await error(lead, {"type": "host.remove", "user": room.outsider.pk}) == "not_on_roster"
    await still_open(co)
    assert await co.silent()
    assert await removals(room.session) == []


async def test_end_closes_every_socket_and_the_session(clients: Clients) -> None:
    room = await open_room()
    p0, p1, p2 = room.participants
    lead = await clients.join(room.lead, room.session)
    co = await clients.join(room.co, room.session)
    admitted = await clients.connect(p0, room.session)
    await admitted.expect("waiting")
    await lead.send({"type": "host.admit", "user": p0.pk})
    await admitted.expect("room.state")
    waiting = await clients.connect(p1, room.session)
    await waiting.expect("waiting")
    assert await open_segments(room.session) == 3

    await lead.send({"type": "host.end"})
    entry = await assert_room_ended(room, lead, co, admitted, waiting)
    assert entry.actor_id == room.lead.pk
    assert await clients.refused(p2, room.session) == 4409
    assert await clients.refused(room.lead, room.session) == 4409


async def test_a_room_past_ends_at_is_ended_by_the_sweep(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    other = await open_room(admit_directly=True)
    lead = await clients.join(room.lead, room.session)
    participant = await clients.join(room.participants[0], room.session)
    still_running = await clients.join(other.participants[0], other.session)
    await database_sync_to_async(Session.objects.filter(pk=room.session.pk).update)(
        ends_at=timezone.now() - timedelta(seconds=1)
    )

    assert await database_sync_to_async(host_controls.end_overdue_rooms)() == 1
    entry = await assert_room_ended(room, lead, participant)
    assert entry.actor_id is None and entry.data == {"reason": "ends_at_passed"}
    assert await clients.refused(room.participants[1], room.session) == 4409
    # Idempotent, and a session still within its time is left alone.
    assert await database_sync_to_async(host_controls.end_overdue_rooms)() == 0
    await still_open(still_running)
    assert await open_segments(other.session) == 1


async def test_co_facilitator_cannot_end_while_the_lead_is_present(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    await clients.join(room.lead, room.session)
    co = await clients.join(room.co, room.session)
    assert await error(co, {"type": "host.end"}) == "forbidden"
    assert (await reload(room.session)).ended_at is None


async def test_co_facilitator_takes_over_while_the_lead_is_away(clients: Clients) -> None:
    room = await open_room()
    p0, p1 = room.participants[:2]
    lead = await clients.join(room.lead, room.session)
    co = await clients.join(room.co, room.session)
    assert state(co)["host"] == room.lead.pk
    waiting = await clients.connect(p0, room.session)
    await waiting.expect("waiting", host_present=True)
    await drain_all(lead, co)

    assert await error(co, {"type": "host.admit", "user": p0.pk}) == "forbidden"
    assert await waiting.silent()

    await lead.leave()
    assert (await co.expect("host.changed"))["host"] == room.co.pk
    assert (await waiting.expect("host.changed"))["host"] == room.co.pk
    await co.send({"type": "host.admit", "user": p0.pk})
    await waiting.expect("admitted")
    assert (await waiting.expect("room.state"))["you"]["admitted"] is True
    (entry,) = await audit("session.admit")
    assert entry.actor_id == room.co.pk

    back = await clients.join(room.lead, room.session)
    assert state(back)["host"] == room.lead.pk
    assert (await co.expect("host.changed"))["host"] == room.lead.pk
    assert (await waiting.expect("host.changed"))["host"] == room.lead.pk
    second = await clients.connect(p1, room.session)
    await second.expect("waiting")
    await co.expect("waiting.joined")
    assert await error(co, {"type": "host.admit", "user": p1.pk}) == "forbidden"


async def test_host_controls_follow_the_sessions_facilitators_now_not_at_the_handshake(clients: Clients) -> None:
    """A co-facilitator promoted to lead while connected holds the controls at once, and
    the old lead, still connected as a co-facilitator, no longer does: who holds them is
    read from the session's facilitators at each action (a group change rewrites them)."""
    room, lead, waiting = await clients.lead_and_one_waiting()
    co = await clients.join(room.co, room.session)
    await lead.drain()

    @database_sync_to_async
    def swap_lead_and_co() -> None:
        SessionFacilitator.objects.filter(session=room.session, clinician=room.lead).update(role="co")
        SessionFacilitator.objects.filter(session=room.session, clinician=room.co).update(role="lead")

    await swap_lead_and_co()
    assert await error(lead, {"type": "host.admit", "user": room.participants[0].pk}) == "forbidden"
    await co.send({"type": "host.admit", "user": room.participants[0].pk})
    await waiting.expect("admitted")


async def test_waiting_participants_learn_when_no_host_is_present(clients: Clients) -> None:
    room = await open_room()
    p0, p1 = room.participants[:2]
    lead = await clients.join(room.lead, room.session)
    waiting = await clients.connect(p0, room.session)
    await waiting.expect("waiting", host_present=True)
    await lead.leave()
    assert (await waiting.expect("host.changed"))["host"] is None
    told = await waiting.next()
    assert (told["type"], told["host_present"], "seq" in told) == ("waiting", False, True)

    late = await clients.connect(p1, room.session)
    assert (await late.next())["host"] is None
    assert await late.next() == {"type": "waiting", "host_present": False}

    await clients.join(room.co, room.session)
    for socket in (waiting, late):
        await socket.expect("waiting", host_present=True)


def test_admitting_a_waiting_participant_costs_a_fixed_number_of_queries_and_round_trips(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    room = open_room.func(size=1)
    lead = access.authorize_entry(session_id=room.session.pk, user=room.lead)
    presence.enter_room(member=lead, conn_id="lead")
    waiting = access.authorize_entry(session_id=room.session.pk, user=room.participants[0])
    assert not presence.enter_room(member=waiting, conn_id="p0").admitted

    with CaptureQueriesContext(connection) as queries, redis_round_trips(monkeypatch) as redis_requests:
        assert host_controls.admit(member=lead, user_id=room.participants[0].pk) == [room.participants[0].pk]

    sql = [query["sql"].split(" ", 1)[0] for query in queries.captured_queries]
    # The session's facilitators (who holds the controls); on the roster, not removed;
    # whether they must still check in (measures/checkin.py); then the admission's
    # transaction: the audit entry (the chain's lock, its head, the entry), the attendance
    # segment, the person as the room shows them (name, role).
    assert sql == [
        "SELECT", "SELECT", "SELECT", "SELECT",
        "BEGIN", "SELECT", "SELECT", "INSERT", "INSERT", "SELECT", "SELECT", "COMMIT",
    ], "\n".join(query["sql"] for query in queries.captured_queries)  # fmt: skip
    # Presence (controls), presence (targets), SADD, ZREM, then after commit the three
    # broadcasts (admitted, waiting.left, presence.joined), one script call each.
    assert len(redis_requests) == 7, redis_requests
