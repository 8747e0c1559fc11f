"""/ws/sessions/<id>/: the live-room websocket, frame by frame and role by role
(CONTRACT.md, Websockets): handshake refusals, waiting room, presence and attendance,
chat and resume, hands, host controls, failover, breakouts, revoked access, limits and
the audit log's privacy."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone
from redis import exceptions as redis_exceptions
from redis.connection import parse_url

from accounts import services as account_services
from accounts.models import Consent, User
from audit.models import AuditEntry
from groups import services as group_services
from groups.models import TherapyGroup
from server import async_db, redis_client
from server.asgi import application
from server.realtime import REVOCATIONS_CHANNEL, close_user_sockets_on_commit
from server.redis_client import get_redis
from server.redis_urls import pubsub_prefix
from sessions import chat_seqs, room_hub, room_services, room_store
from sessions import services as session_services
from sessions.models import AttendanceSegment, ChatMessage, RoomRemoval, RosterEntry, Session
from tests.factories import ConsentFactory, GuardianLinkFactory, UserFactory, make_session
from tests.sessions.rooms import OpenRoom, RoomClient, connect, open_room, ticket_for

pytestmark = pytest.mark.django_db(transaction=True)

CLOSE = "websocket.close"


# --- Helpers ---------------------------------------------------------------------------------


class Clients:
    """Opens room sockets and disconnects every one of them when the test ends."""

    def __init__(self) -> None:
        self.opened: list[RoomClient] = []

    async def connect(
        self, user: User, session: Session, *, ticket: str | None = None, path: str | None = None
    ) -> RoomClient:
        client = await connect(user, session, ticket=ticket, path=path)
        self.opened.append(client)
        return client

    async def join(self, user: User, session: Session) -> RoomClient:
        """Connected and past room.state (kept as ``state(client)``)."""
        client = await self.connect(user, session)
        first = await client.next()
        assert first["type"] == "room.state", first
        return client

    async def seated(self, session: Session, *users: User) -> list[RoomClient]:
        """Each user joined (past room.state), then every frame of the others' arrivals
        drained, so a test starts from a quiet room."""
        sockets = [await self.join(user, session) for user in users]
        await drain_all(*sockets)
        return sockets

    async def admitted_by(self, host: RoomClient, user: User, session: Session) -> RoomClient:
        """Connected, through the waiting room, admitted by ``host`` (whose
        presence.joined for them is consumed) and past room.state."""
        client = await self.connect(user, session)
        await client.expect("waiting")
        await host.send({"type": "host.admit", "user": user.pk})
        await client.expect("room.state")
        await host.expect("presence.joined")
        return client

    async def refused(self, user: User, session: Session, **kwargs: Any) -> int:
        """The close code of a handshake the server refuses after accepting it."""
        client = await self.connect(user, session, **kwargs)
        output = await client.ws.receive_output(timeout=3)
        assert output["type"] == CLOSE, output
        return int(output["code"])

    async def close_all(self) -> None:
        for client in reversed(self.opened):
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await client.ws.disconnect(timeout=3)


@pytest.fixture
async def clients(transactional_db: None) -> AsyncIterator[Clients]:
    opened = Clients()
    yield opened
    await opened.close_all()


def state(client: RoomClient) -> dict[str, Any]:
    """The room.state this socket got first."""
    return client.seen[0]


async def drain(client: RoomClient, quiet: float = 0.25) -> list[dict[str, Any]]:
    """Every frame that arrives until the socket has been quiet for ``quiet`` seconds."""
    frames = []
    while not await client.ws.receive_nothing(timeout=quiet):
        frames.append(await client.next())
    return frames


async def drain_all(*sockets: RoomClient) -> None:
    for socket in sockets:
        await drain(socket, quiet=0.1)


async def error(client: RoomClient, frame: dict[str, Any] | str | bytes) -> str:
    """Send a frame expected to be refused; the error code. The socket must stay open."""
    if isinstance(frame, bytes):
        await client.ws.send_to(bytes_data=frame)
    elif isinstance(frame, str):
        await client.ws.send_to(text_data=frame)
    else:
        await client.send(frame)
    reply = await client.next()
    assert reply["type"] == "error", reply
    assert set(reply) == {"type", "code", "message"}, reply
    return str(reply["code"])


async def still_open(client: RoomClient) -> None:
    await client.send({"type": "ping"})
    assert await client.next() == {"type": "pong"}


def of_type(frames: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [frame for frame in frames if frame.get("type") == kind]


@database_sync_to_async
def audit(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("seq"))


@database_sync_to_async
def segments(session: Session, user: User) -> list[AttendanceSegment]:
    return list(AttendanceSegment.objects.filter(session=session, user=user).order_by("joined_at"))


@database_sync_to_async
def open_segments(session: Session) -> int:
    return AttendanceSegment.objects.filter(session=session, left_at__isnull=True).count()


@database_sync_to_async
def stored_chat(session: Session) -> list[ChatMessage]:
    return list(ChatMessage.objects.filter(session=session).order_by("pk"))


async def chat_rows(session: Session) -> list[ChatMessage]:
    """The session's chat rows, with every seq queued so far written (they are written in
    batches: sessions/chat_seqs.py)."""
    await chat_seqs.recorder().flush()
    return await stored_chat(session)


@database_sync_to_async
def removals(session: Session) -> list[RoomRemoval]:
    return list(RoomRemoval.objects.filter(session=session))


@database_sync_to_async
def reload(session: Session) -> Session:
    return Session.objects.get(pk=session.pk)


@database_sync_to_async
def put_on_roster(session: Session, user: User, role: str = "participant") -> None:
    RosterEntry.objects.create(session=session, user=user, role=role)


@database_sync_to_async
def make_user(**traits: Any) -> User:
    return UserFactory.create(**traits)


def chat(text: str, client_id: str, **extra: Any) -> dict[str, Any]:
    return {"type": "chat.send", "text": text, "client_id": client_id, **extra}


def ids(people: list[dict[str, Any]]) -> set[int]:
    return {person["id"] for person in people}


# --- Handshake -------------------------------------------------------------------------------


async def test_missing_garbage_or_reused_ticket_closes_4401(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    p0 = room.participants[0]
    assert await clients.refused(p0, room.session, path=f"/ws/sessions/{room.session.pk}/") == 4401
    assert await clients.refused(p0, room.session, ticket="not-a-ticket") == 4401
    assert await clients.refused(p0, room.session, ticket="") == 4401
    ticket = await ticket_for(p0)
    first = await clients.connect(p0, room.session, ticket=ticket)
    assert (await first.next())["type"] == "room.state"
    assert await clients.refused(p0, room.session, ticket=ticket) == 4401


async def test_inactive_user_ticket_closes_4401(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    p0 = room.participants[0]
    ticket = await ticket_for(p0)
    await database_sync_to_async(User.objects.filter(pk=p0.pk).update)(is_active=False)
    assert await clients.refused(p0, room.session, ticket=ticket) == 4401


async def test_outsider_not_on_roster_closes_4403(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    assert await clients.refused(room.outsider, room.session) == 4403
    clinician = await make_user()
    assert await clients.refused(clinician, room.session) == 4403
    assert await audit("session.join") == []


async def test_unknown_session_closes_4404(clients: Clients) -> None:
    room = await open_room()
    ticket = await ticket_for(room.lead)
    path = f"/ws/sessions/{room.session.pk + 100_000}/?ticket={ticket}"
    assert await clients.refused(room.lead, room.session, path=path) == 4404
    # Ids far past any row (and past a 32-bit key) are refused the same way, not a crash.
    huge = f"/ws/sessions/{10**18 - 1}/?ticket={await ticket_for(room.lead)}"
    assert await clients.refused(room.lead, room.session, path=huge) == 4404


async def test_session_not_yet_open_closes_4409(clients: Clients) -> None:
    room = await open_room(starts_in=timedelta(hours=3))
    assert await clients.refused(room.participants[0], room.session) == 4409
    assert await clients.refused(room.lead, room.session) == 4409


async def test_ended_or_cancelled_session_closes_4409(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    await database_sync_to_async(Session.objects.filter(pk=room.session.pk).update)(ended_at=timezone.now())
    assert await clients.refused(room.participants[0], room.session) == 4409
    assert await clients.refused(room.lead, room.session) == 4409
    other = await open_room(admit_directly=True)
    await database_sync_to_async(Session.objects.filter(pk=other.session.pk).update)(cancelled_at=timezone.now())
    assert await clients.refused(other.participants[0], other.session) == 4409


async def test_adult_on_an_adolescent_group_roster_closes_4403(clients: Clients) -> None:
    room = await open_room(age_band="adolescent", admit_directly=True)
    adult = await make_user(adult=True)
    await put_on_roster(room.session, adult)
    assert await clients.refused(adult, room.session) == 4403
    # The adolescents themselves get in.
    teen = await clients.join(room.participants[0], room.session)
    assert state(teen)["you"]["role"] == "participant"


@pytest.mark.parametrize("roster_role", ["participant", "guardian"])
async def test_guardian_on_an_adolescent_group_roster_closes_4403(clients: Clients, roster_role: str) -> None:
    room = await open_room(age_band="adolescent", admit_directly=True)
    guardian = await make_user(guardian=True)
    await put_on_roster(room.session, guardian, roster_role)
    assert await clients.refused(guardian, room.session) == 4403


async def test_participant_removed_earlier_closes_4403(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    p0 = room.participants[0]
    await database_sync_to_async(RoomRemoval.objects.create)(session=room.session, user=p0, by=room.lead)
    assert await clients.refused(p0, room.session) == 4403


@pytest.mark.parametrize(
    "headers",
    [[], [(b"origin", b"null")], [(b"origin", b"https://evil.example")], [(b"origin", b"http://127.0.0.1:9")]],
    ids=["missing", "null", "foreign", "other-port"],
)
async def test_origin_outside_the_allow_list_is_refused(headers: list[tuple[bytes, bytes]]) -> None:
    room = await open_room(admit_directly=True)
    ticket = await ticket_for(room.participants[0])
    communicator = WebsocketCommunicator(
        application, f"/ws/sessions/{room.session.pk}/?ticket={ticket}", headers=headers
    )
    connected, _ = await communicator.connect()
    assert not connected
    assert await audit("session.join") == []
    # Daphne tells the refused consumer the socket is gone; without it the consumer is
    # still waiting on the channel layer when the test's event loop shuts down.
    await communicator.disconnect()


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


# --- Guardians in a family session ------------------------------------------------------------


@database_sync_to_async
def family_session(consent: str) -> tuple[Session, User, User, User, Consent | None]:
    """A family session open now: a clinician, an adolescent and the adolescent's linked
    guardian, whose consent is ``active``, ``revoked`` or ``none`` (never given)."""
    clinician = UserFactory.create(first_name="Dee")
    teen = UserFactory.create(adolescent=True, first_name="Ava")
    guardian = UserFactory.create(guardian=True, first_name="Pat")
    link = GuardianLinkFactory.create(guardian=guardian, adolescent=teen, created_by=UserFactory.create(admin=True))
    given: Consent | None = None
    if consent == "active":
        given = ConsentFactory.create(link=link)
    elif consent == "revoked":
        given = ConsentFactory.create(link=link, revoked_at=timezone.now())
    session = make_session(
        kind="family", hosts=[clinician], roster=[teen], guardians=[guardian], starts_in=timedelta(minutes=-5)
    )
    return session, clinician, teen, guardian, given


async def test_guardian_with_consent_joins_a_family_session_and_revoking_it_closes_4403(clients: Clients) -> None:
    session, _, teen, guardian, consent = await family_session("active")
    assert consent is not None
    socket = await clients.join(guardian, session)
    assert state(socket)["you"]["role"] == "guardian"
    await database_sync_to_async(account_services.revoke_consent)(by=teen, consent=consent)
    assert await socket.closed(timeout=1) == 4403
    assert await clients.refused(guardian, session) == 4403


async def test_a_guardian_never_shares_a_breakout_with_an_adolescent(clients: Clients) -> None:
    session, clinician, teen, guardian, _ = await family_session("active")
    host = await clients.join(clinician, session)
    for person in (teen, guardian):
        socket = await clients.connect(person, session)
        await socket.expect("waiting")
    await host.send({"type": "host.admit", "all": True})
    assert len(of_type(await drain(host, quiet=0.4), "presence.joined")) == 2
    together = {"type": "breakout.open", "rooms": {"1": [teen.pk, guardian.pk]}}
    assert await error(host, together) == "forbidden"
    assert await audit("session.breakouts_open") == []
    await host.send({"type": "breakout.open", "rooms": {"1": [teen.pk], "2": [guardian.pk]}})
    opened = await host.expect("breakout.opened")
    assert opened["rooms"] == {"1": [teen.pk], "2": [guardian.pk]}


async def test_guardian_whose_consent_was_revoked_closes_4403(clients: Clients) -> None:
    session, _, _, guardian, _ = await family_session("revoked")
    assert await clients.refused(guardian, session) == 4403


async def test_guardian_without_any_consent_closes_4403(clients: Clients) -> None:
    """Regression: _guardian_may_join (sessions/room_services.py) once filtered GuardianLink
    on consents__revoked_at__isnull=True, a LEFT OUTER JOIN that let a link with no consent
    at all through."""
    session, _, _, guardian, _ = await family_session("none")
    assert await clients.refused(guardian, session) == 4403


# --- Waiting room ----------------------------------------------------------------------------


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
    room = await open_room()
    lead = await clients.join(room.lead, room.session)
    waiting = await clients.connect(room.participants[0], room.session)
    await waiting.expect("waiting")
    await drain(lead)
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


async def test_waiting_participant_cannot_chat_or_raise_a_hand(clients: Clients) -> None:
    room = await open_room()
    lead = await clients.join(room.lead, room.session)
    waiting = await clients.connect(room.participants[0], room.session)
    await waiting.expect("waiting")
    await drain(lead)
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


# --- Presence and attendance ---------------------------------------------------------------------


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


# --- Chat ---------------------------------------------------------------------------------------


async def test_chat_message_fields_and_seq_step_by_one(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    p0, p1 = room.participants[:2]
    lead, a, b = await clients.seated(room.session, room.lead, p0, p1)

    await a.send(chat("hello room", "c-1"))
    frame = await lead.expect("chat.message")
    assert {"id", "seq", "user", "text", "sent_at", "client_id"} <= set(frame)
    assert frame["user"] == {"id": p0.pk, "name": "P0", "role": "participant"}
    assert frame["text"] == "hello room"
    assert frame["client_id"] == "c-1"
    assert datetime.fromisoformat(frame["sent_at"]).tzinfo is not None
    assert await a.expect("chat.message") == frame
    assert await b.expect("chat.message") == frame
    # The row is stored before the broadcast; its seq is written after it, in a batch
    # within CHAT_SEQ_FLUSH_SECONDS.
    (row,) = await stored_chat(room.session)
    assert (row.pk, row.text, row.user_id) == (frame["id"], "hello room", p0.pk)
    for _ in range(100):
        (row,) = await stored_chat(room.session)
        if row.seq is not None:
            break
        await asyncio.sleep(0.02)
    assert row.seq == frame["seq"]

    # Across frame types too (one after the other: two senders' frames may publish in
    # either order, and each takes the next number when it does).
    await a.send({"type": "hand.raise"})
    raised = await lead.expect("hand.raised")
    await b.send(chat("second", "c-2"))
    second = await lead.expect("chat.message")
    assert [raised["seq"], second["seq"]] == [frame["seq"] + 1, frame["seq"] + 2]


async def test_repeated_client_id_is_stored_once_and_echoed_to_the_sender_only(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    p0, p1 = room.participants[:2]
    lead, a, b = await clients.seated(room.session, room.lead, p0, p1)
    await a.send(chat("only once", "dup-1"))
    original = await a.expect("chat.message")
    await b.expect("chat.message")
    await lead.expect("chat.message")

    await a.send(chat("only once", "dup-1"))
    assert await a.next() == original
    await a.send(chat("different text, same id", "dup-1"))
    assert await a.next() == original
    assert await b.silent()
    assert await lead.silent()
    assert len(await chat_rows(room.session)) == 1


@database_sync_to_async
def _cut_chat_database_connections() -> int:
    """pg_terminate_backend every connection of the chat pool (server/async_db.py), as a
    PostgreSQL restart would."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
            [async_db.APPLICATION_NAME],
        )
        return int(cursor.fetchone()[0])


@database_sync_to_async
def _cut_chat_redis_connections() -> int:
    """CLIENT KILL every connection of the event loop's Redis client (chat), as a Redis
    restart would; the channel layer's and the room bus's connections stay."""
    redis = get_redis()
    ids = [client["id"] for client in redis.client_list() if client.get("name") == redis_client.ASYNC_CLIENT_NAME]
    for client_id in ids:
        redis.client_kill_filter(_id=client_id)
    return len(ids)


async def _two_after_one_line(clients: Clients) -> tuple[OpenRoom, RoomClient, RoomClient, dict[str, Any]]:
    """A room where participant ``a`` has posted "before" and ``b`` and ``a`` got it."""
    room = await open_room(admit_directly=True)
    p0, p1 = room.participants[:2]
    a, b = await clients.seated(room.session, p0, p1)
    await a.send(chat("before", "c-1"))
    first = await b.expect("chat.message", text="before")
    await a.expect("chat.message", text="before")
    return room, a, b, first


async def test_chat_goes_on_when_its_database_connections_break(clients: Clients) -> None:
    room, a, b, first = await _two_after_one_line(clients)
    assert await _cut_chat_database_connections() >= 1

    await a.send(chat("after", "c-2"))
    after = await b.expect("chat.message", text="after")
    await a.expect("chat.message", text="after")
    rows = await chat_rows(room.session)
    assert after["seq"] == first["seq"] + 1
    assert [(row.text, row.seq) for row in rows] == [("before", first["seq"]), ("after", after["seq"])]


async def test_chat_goes_on_when_its_redis_connections_break(clients: Clients) -> None:
    """Whether the client library notices the dead connection before sending (it does on
    a unix socket) or only after (the sender then gets an error frame and re-sends with
    the same client_id), the line reaches the room exactly once."""
    room, a, b, first = await _two_after_one_line(clients)
    assert await _cut_chat_redis_connections() >= 1

    await a.send(chat("after", "c-2"))
    reply = await a.next()
    if reply["type"] == "error":
        assert reply["code"] == "server_error"
        await a.send(chat("after", "c-2"))
        reply = await a.expect("chat.message", text="after")
    after = await b.expect("chat.message", text="after")
    assert reply == after
    assert after["seq"] == first["seq"] + 1
    assert await a.silent() and await b.silent(), "posted once"
    rows = await chat_rows(room.session)
    assert [(row.text, row.seq) for row in rows] == [("before", first["seq"]), ("after", after["seq"])]


def _fail_the_next_publish(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next chat publish fails as on a connection Redis closed; later ones work."""
    publish = room_store.publish_async

    async def broken_once(*args: Any, **kwargs: Any) -> int | None:
        monkeypatch.setattr(room_store, "publish_async", publish)
        raise redis_exceptions.ConnectionError("Connection closed by server.")

    monkeypatch.setattr(room_store, "publish_async", broken_once)


async def test_chat_stored_but_not_broadcast_is_broadcast_once_when_resent(
    clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The publish is never retried blindly (Redis may have run it before the connection
    broke): the sender gets an error frame, the line is stored without a seq, and the
    client's re-send with the same client_id broadcasts it to the room, the sender
    included, once (no second echo)."""
    room, a, b, first = await _two_after_one_line(clients)
    _fail_the_next_publish(monkeypatch)
    assert await error(a, chat("after", "c-2")) == "server_error"
    assert await b.silent()
    assert [(row.text, row.seq) for row in await chat_rows(room.session)] == [("before", first["seq"]), ("after", None)]

    await a.send(chat("after", "c-2"))
    after = await b.expect("chat.message", text="after")
    assert await a.expect("chat.message", text="after") == after
    assert after["seq"] == first["seq"] + 1
    assert await a.silent() and await b.silent(), "posted once"
    rows = await chat_rows(room.session)
    assert [(row.text, row.seq) for row in rows] == [("before", first["seq"]), ("after", after["seq"])]


async def test_chat_resent_before_its_seq_was_written_is_echoed_not_posted_again(
    clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seq of a broadcast line is written in a batch; if the process dies holding
    the batch, the row has no seq. A re-send with the same client_id (the sender never
    saw its echo) finds the broadcast in the room's log: the sender gets it, with its
    seq, the room does not get it twice, and the row gets its seq."""
    room, a, b, first = await _two_after_one_line(clients)
    monkeypatch.setattr(chat_seqs.SeqRecorder, "record", lambda self, message_id, seq: None)
    await a.send(chat("after", "c-2"))
    after = await b.expect("chat.message", text="after")
    assert await a.expect("chat.message", text="after") == after
    assert [(row.text, row.seq) for row in await chat_rows(room.session)] == [("before", first["seq"]), ("after", None)]

    await a.send(chat("after", "c-2"))
    assert await a.next() == after
    assert await b.silent(), "posted once"
    rows = await chat_rows(room.session)
    assert [(row.text, row.seq) for row in rows] == [("before", first["seq"]), ("after", after["seq"])]


async def test_seqs_a_dead_process_never_wrote_are_copied_from_the_log(
    clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process died holding its batch: the sweep copies those seqs from the room's
    log (a database resume then finds the lines); a line never broadcast stays without."""
    room, a, b, first = await _two_after_one_line(clients)
    monkeypatch.setattr(chat_seqs.SeqRecorder, "record", lambda self, message_id, seq: None)
    await a.send(chat("after", "c-2"))
    after = await b.expect("chat.message", text="after")
    await a.expect("chat.message", text="after")
    _fail_the_next_publish(monkeypatch)
    assert await error(a, chat("never broadcast", "c-3")) == "server_error"
    rows = await chat_rows(room.session)
    assert [row.seq for row in rows] == [first["seq"], None, None]

    backfill = database_sync_to_async(room_services.backfill_chat_seqs)
    assert await backfill() == 0, "too recent: its batch may still be on its way"
    later = timezone.now() + room_services.SEQ_BACKFILL_AFTER + timedelta(seconds=1)
    assert await backfill(now=later) == 1
    rows = await chat_rows(room.session)
    assert [(row.text, row.seq) for row in rows] == [
        ("before", first["seq"]), ("after", after["seq"]), ("never broadcast", None),
    ]  # fmt: skip
    assert await backfill(now=later) == 0


async def test_frames_that_are_only_their_type_refuse_any_other_field(clients: Clients) -> None:
    """ping, hand.raise, ... skip the validation pass only when they are exactly {"type": ...}."""
    room = await open_room(admit_directly=True)
    lead, a = await clients.seated(room.session, room.lead, room.participants[0])
    await a.send({"type": "ping"})
    assert (await a.expect("pong"))["type"] == "pong"
    for frame in [
        {"type": "ping", "extra": 1},
        {"type": "hand.raise", "user": room.participants[0].pk},
        {"type": "host.end", "now": True},
        {"type": "breakout.close", "rooms": {}},
    ]:
        assert await error(a if frame["type"] != "host.end" else lead, frame) == "invalid", frame
    await still_open(a)
    await still_open(lead)
    assert await lead.silent()  # no hand raised, nothing ended


async def test_invalid_chat_frames_are_refused_and_the_socket_stays(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    lead, a = await clients.seated(room.session, room.lead, room.participants[0])
    for frame in [
        chat("x" * 4001, "v-1"),
        chat("", "v-2"),
        chat("   \n\t ", "v-3"),
        {"type": "chat.send", "text": 5, "client_id": "v-4"},
        {"type": "chat.send", "text": "hi", "client_id": 7},
        {"type": "chat.send", "text": "hi"},
        {"type": "chat.send", "client_id": "v-6"},
        {"type": "chat.send", "text": "hi", "client_id": "v-7", "colour": "red"},
        {"type": "chat.send", "text": "hi", "client_id": "has space"},
        {"type": "chat.send", "text": "hi", "client_id": "x" * 65},
        {"type": "chat.send", "text": "hi", "client_id": "v-8", "breakout": "1"},
    ]:
        assert await error(a, frame) == "invalid", frame
    await still_open(a)
    assert await lead.silent()
    assert await chat_rows(room.session) == []
    # The longest allowed text goes through.
    await a.send(chat("y" * 4000, "v-ok"))
    assert len((await lead.expect("chat.message"))["text"]) == 4000
    assert len(await chat_rows(room.session)) == 1


async def test_error_frames_never_echo_the_invalid_value(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    a = await clients.join(room.participants[0], room.session)
    await a.send({"type": "chat.send", "text": 12345678, "client_id": "secret-client-id-0042"})
    reply = await a.expect("error")
    assert "12345678" not in reply["message"]
    assert "secret-client-id-0042" not in reply["message"]


async def test_chat_text_with_a_nul_character_is_refused_not_a_crash(clients: Clients) -> None:
    """Regression: a NUL in chat text reached PostgreSQL (which refuses it) and the
    DataError crashed the consumer instead of giving an error frame."""
    room = await open_room(admit_directly=True)
    a = await clients.join(room.participants[0], room.session)
    assert await error(a, chat("hello\u0000world", "nul-1")) == "invalid"
    await still_open(a)
    assert await chat_rows(room.session) == []


async def _resume_setup(clients: Clients, room: OpenRoom) -> tuple[int, list[dict[str, Any]]]:
    """A joins and sees seq N, leaves; B chats 3 times. Returns N and B's chat frames."""
    p0, p1 = room.participants[:2]
    a = await clients.join(p0, room.session)
    b = await clients.join(p1, room.session)
    last_seen = (await a.expect("presence.joined"))["seq"]
    assert await a.silent()
    await a.leave()
    await b.expect("presence.left")
    for index in range(3):
        await b.send(chat(f"missed {index}", f"m-{index}"))
    sent = [await b.expect("chat.message") for _ in range(3)]
    return last_seen, sent


async def test_resume_replays_missed_frames_in_order_without_duplicates(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    last_seen, sent = await _resume_setup(clients, room)
    assert [f["seq"] for f in sent] == sorted(f["seq"] for f in sent)

    a = await clients.join(room.participants[0], room.session)
    current = state(a)["seq"]
    await a.send({"type": "resume", "last_seq": last_seen})
    replayed = await drain(a)
    assert of_type(replayed, "chat.message") == sent
    seqs = [frame["seq"] for frame in replayed]
    assert seqs == sorted(set(seqs))
    assert all(last_seen < seq <= current for seq in seqs)
    # Nothing left to replay from here on.
    await a.send({"type": "resume", "last_seq": current})
    assert await a.silent()


async def test_resume_past_the_trimmed_log_resyncs_from_the_database(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    with override_settings(ROOM_LOG_LENGTH=2):
        last_seen, sent = await _resume_setup(clients, room)
        a = await clients.join(room.participants[0], room.session)
        await a.send({"type": "resume", "last_seq": last_seen})
        replayed = await drain(a)
    assert replayed[0] == {"type": "resync", "reason": "too_far_behind"}
    assert replayed[1]["type"] == "room.state"
    assert replayed[1]["seq"] >= state(a)["seq"]
    assert replayed[2:] == sent


async def test_resync_serves_lines_whose_seq_is_not_written_yet_from_the_log(
    clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seqs are written in batches, so the newest rows may have none yet (another
    process holds them): a resync takes the chat the log still has from the log."""
    room = await open_room(admit_directly=True)
    p0, p1 = room.participants[:2]
    # The log ends up holding "missed 1", "missed 2" and A's second join.
    with override_settings(ROOM_LOG_LENGTH=3):
        a = await clients.join(p0, room.session)
        b = await clients.join(p1, room.session)
        last_seen = (await a.expect("presence.joined"))["seq"]
        await a.leave()
        await b.expect("presence.left")
        await b.send(chat("missed 0", "m-0"))
        sent = [await b.expect("chat.message")]
        await chat_rows(room.session)  # its seq is written
        monkeypatch.setattr(chat_seqs.SeqRecorder, "record", lambda self, message_id, seq: None)
        for index in (1, 2):
            await b.send(chat(f"missed {index}", f"m-{index}"))
            sent.append(await b.expect("chat.message"))
        assert [row.seq for row in await chat_rows(room.session)] == [sent[0]["seq"], None, None]
        a = await clients.join(p0, room.session)
        await a.send({"type": "resume", "last_seq": last_seen})
        replayed = await drain(a)
    assert replayed[0] == {"type": "resync", "reason": "too_far_behind"}
    assert replayed[1]["type"] == "room.state"
    assert replayed[2:] == sent


async def test_resume_up_to_a_live_frame_replays_nothing(clients: Clients) -> None:
    """Regression: replay() took last_seq > the room.state's seq for a restarted counter,
    so a resume naming a frame this socket already got live caused a spurious resync."""
    room = await open_room(admit_directly=True)
    a, b = await clients.seated(room.session, room.participants[0], room.participants[1])
    await b.send(chat("live one", "l-1"))
    newest = (await a.expect("chat.message"))["seq"]
    assert newest > state(a)["seq"]
    await a.send({"type": "resume", "last_seq": newest})
    assert await drain(a) == []


# --- Hands --------------------------------------------------------------------------------------


async def test_hand_raise_and_lower(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    p0, p1 = room.participants[:2]
    lead, a, b = await clients.seated(room.session, room.lead, p0, p1)

    await a.send({"type": "hand.raise"})
    for socket in (lead, a, b):
        raised = await socket.expect("hand.raised")
        assert raised["user"]["id"] == p0.pk
    await a.send({"type": "hand.raise"})
    await still_open(a)
    assert of_type(await drain(lead), "hand.raised") == []
    assert of_type(await drain(b), "hand.raised") == []
    co = await clients.join(room.co, room.session)
    (mine,) = [person for person in state(co)["participants"] if person["id"] == p0.pk]
    assert mine["hand_raised"] is True

    await a.send({"type": "hand.lower"})
    for socket in (lead, co, a, b):
        lowered = await socket.expect("hand.lowered")
        assert lowered["user"]["id"] == p0.pk
    await a.send({"type": "hand.lower"})
    await still_open(a)
    assert of_type(await drain(b), "hand.lowered") == []


# --- Host controls --------------------------------------------------------------------------------


async def test_mute_reaches_the_target_only(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    p0, p1, p2 = room.participants
    lead, a, b = await clients.seated(room.session, room.lead, p0, p1)
    await lead.send({"type": "host.mute", "user": p0.pk})
    muted = await a.next()
    assert muted["type"] == "muted" and muted["by"] == room.lead.pk
    assert await b.silent()
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

    assert await database_sync_to_async(room_services.end_overdue_rooms)() == 1
    entry = await assert_room_ended(room, lead, participant)
    assert entry.actor_id is None and entry.data == {"reason": "ends_at_passed"}
    assert await clients.refused(room.participants[1], room.session) == 4409
    # Idempotent, and a session still within its time is left alone.
    assert await database_sync_to_async(room_services.end_overdue_rooms)() == 0
    await still_open(still_running)
    assert await open_segments(other.session) == 1


async def test_co_facilitator_cannot_end_while_the_lead_is_present(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    await clients.join(room.lead, room.session)
    co = await clients.join(room.co, room.session)
    assert await error(co, {"type": "host.end"}) == "forbidden"
    assert (await reload(room.session)).ended_at is None


# --- Host failover ----------------------------------------------------------------------------------


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


# --- Breakouts --------------------------------------------------------------------------------------


async def _breakout_room(clients: Clients) -> tuple[OpenRoom, dict[str, RoomClient]]:
    room = await open_room(admit_directly=True)
    sockets = {
        "lead": await clients.join(room.lead, room.session),
        "co": await clients.join(room.co, room.session),
        **{f"p{i}": await clients.join(person, room.session) for i, person in enumerate(room.participants)},
    }
    await drain_all(*sockets.values())
    return room, sockets


async def test_breakouts_route_chat_by_room(clients: Clients) -> None:
    room, s = await _breakout_room(clients)
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
    room, s = await _breakout_room(clients)
    p0, p1, p2 = room.participants
    await s["lead"].send({"type": "breakout.open", "rooms": {"1": [p0.pk, p1.pk], "2": [p2.pk]}})
    for socket in s.values():
        await socket.expect("breakout.opened")
    await s["p0"].leave()
    again = await clients.join(p0, room.session)
    assert state(again)["you"]["breakout"] == 1
    await drain(again)
    await s["p1"].send(chat("room one only", "r-1"))
    await s["p2"].send(chat("room two only", "r-2"))
    await s["lead"].send(chat("main room only", "r-3"))
    texts = [frame["text"] for frame in of_type(await drain(again, quiet=0.5), "chat.message")]
    assert texts == ["room one only"]


# --- Access ends while connected -------------------------------------------------------------------


@database_sync_to_async
def remove_from_group(room: OpenRoom, participant: User) -> None:
    group = TherapyGroup.objects.get(sessions=room.session)
    group_services.remove_member(by=room.lead, group=group, participant=participant)


async def test_removal_from_the_group_closes_4403(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    p0 = room.participants[0]
    lead = await clients.join(room.lead, room.session)
    socket = await clients.join(p0, room.session)
    await remove_from_group(room, p0)
    assert await socket.closed(timeout=1) == 4403
    await socket.leave()
    assert (await lead.expect("presence.left"))["user"]["id"] == p0.pk
    assert await clients.refused(p0, room.session) == 4403


async def test_deactivation_closes_4401(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    p0, p1 = room.participants[:2]
    admin = await make_user(admin=True)
    socket = await clients.join(p0, room.session)
    other = await clients.join(p1, room.session)
    await database_sync_to_async(account_services.deactivate_user)(by=admin, user=p0)
    assert await socket.closed(timeout=1) == 4401
    await still_open(other)


async def test_logout_closes_4401(clients: Clients) -> None:
    from knox.models import AuthToken

    room = await open_room(admit_directly=True)
    p0 = room.participants[0]
    socket = await clients.join(p0, room.session)
    token, _ = await database_sync_to_async(AuthToken.objects.create)(user=p0)
    await database_sync_to_async(account_services.revoke_token)(user=p0, token=token)
    assert await socket.closed(timeout=1) == 4401


async def test_a_ticket_asked_for_with_a_token_dies_with_it_at_logout(clients: Clients) -> None:
    from knox.models import AuthToken

    room = await open_room(admit_directly=True)
    p0 = room.participants[0]
    token, _ = await database_sync_to_async(AuthToken.objects.create)(user=p0)
    issued = await database_sync_to_async(account_services.issue_realtime_ticket)(user=p0, token=token)
    await database_sync_to_async(account_services.revoke_token)(user=p0, token=token)
    assert await clients.refused(p0, room.session, ticket=issued.ticket) == 4401


def revoked_while_registering(monkeypatch: pytest.MonkeyPatch, revoke: Callable[[], Awaitable[None]]) -> None:
    """``revoke`` runs, committed and published, after the handshake's checks and before
    the socket is registered with its process's hub: nobody is listening for it yet."""
    original = room_hub.RoomHub.join

    async def join(self: room_hub.RoomHub, socket: Any) -> None:
        await revoke()
        await original(self, socket)

    monkeypatch.setattr(room_hub.RoomHub, "join", join)


async def test_a_removal_from_the_roster_during_the_handshake_still_closes_the_socket(
    clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = await open_room(admit_directly=True)
    p0, p1 = room.participants[:2]
    lead = await clients.join(room.lead, room.session)
    await drain(lead)
    revoked_while_registering(monkeypatch, lambda: remove_from_group(room, p0))
    assert await clients.refused(p0, room.session) == 4403
    # Never in the room: no presence, no attendance, no announcement.
    assert await lead.silent()
    assert not await database_sync_to_async(AttendanceSegment.objects.filter(user=p0).exists)()
    assert room_store.present_user_ids(room.session.pk) == {room.lead.pk}
    monkeypatch.undo()
    await clients.join(p1, room.session)  # the next handshake is as usual


async def test_a_revocation_heard_before_access_is_decided_refuses_the_socket(
    clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The socket already listens when the revocation is published, but its access is
    still being checked: the revocation is kept and weighed once it is decided."""
    room = await open_room(admit_directly=True)
    p0 = room.participants[0]
    authorize = room_services.authorize_holder

    def authorized_then_removed(**kwargs: Any) -> room_services.RoomMember:
        member = authorize(**kwargs)  # passes: still on the roster
        async_to_sync(remove_from_group)(room, p0)  # committed and published
        time.sleep(0.3)  # the hub hands it to the socket meanwhile
        return member

    monkeypatch.setattr(room_services, "authorize_holder", authorized_then_removed)
    assert await clients.refused(p0, room.session) == 4403
    assert not await database_sync_to_async(AttendanceSegment.objects.filter(user=p0).exists)()
    assert room_store.present_user_ids(room.session.pk) == set()


async def test_a_logout_during_the_handshake_still_closes_the_socket(
    clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    from knox.models import AuthToken

    room = await open_room(admit_directly=True)
    p0 = room.participants[0]
    token, _ = await database_sync_to_async(AuthToken.objects.create)(user=p0)
    issued = await database_sync_to_async(account_services.issue_realtime_ticket)(user=p0, token=token)
    revoked_while_registering(
        monkeypatch, lambda: database_sync_to_async(account_services.revoke_token)(user=p0, token=token)
    )
    assert await clients.refused(p0, room.session, ticket=issued.ticket) == 4401


async def test_revocations_reach_room_sockets_through_the_hub_not_a_group_per_socket(clients: Clients) -> None:
    """A room socket takes no channel-layer group (server/realtime.py says why): its
    process's hub closes it when a revocation names its user, and only then."""
    room = await open_room(admit_directly=True)
    p0, p1 = room.participants[:2]
    socket, other = await clients.seated(room.session, p0, p1)
    assert get_redis().keys("*group:user.*") == []

    await database_sync_to_async(realtime_revoke)(p0.pk, "session_cancelled", session_id=room.session.pk + 1000)
    await database_sync_to_async(realtime_revoke)(p1.pk + p0.pk + 1000, "deactivated")
    await asyncio.sleep(0.3)  # published; the hub has handed them on
    await still_open(socket)

    await database_sync_to_async(realtime_revoke)(p0.pk, "removed_from_roster", session_id=room.session.pk)
    assert await socket.closed(timeout=1) == 4403
    await still_open(other)


async def test_a_revocation_on_another_redis_db_closes_nothing_here(clients: Clients) -> None:
    """Pub/sub ignores the selected db: without the db in the channel name, another
    deployment on the same Redis server (make run beside make test) could close our sockets."""
    room = await open_room(admit_directly=True)
    socket = await clients.join(room.participants[0], room.session)
    ours = pubsub_prefix(settings.REDIS_URL)
    theirs = pubsub_prefix(f"redis://127.0.0.1:6379/{int(parse_url(settings.REDIS_URL).get('db') or 0) + 1}")
    event = {"type": "access.revoked", "reason": "deactivated", "user": room.participants[0].pk}
    get_redis().publish(REVOCATIONS_CHANNEL.replace(ours, theirs, 1), json.dumps(event))
    stray = f"{10**9}\tall\t\n" + json.dumps({"type": "chat.message", "text": "from another db"})
    get_redis().publish(room_store.channel_name(room.session.pk).replace(ours, theirs, 1), stray)
    await asyncio.sleep(0.3)  # published; a hub listening there would have handed them on
    await still_open(socket)
    get_redis().publish(REVOCATIONS_CHANNEL, json.dumps(event))
    assert await socket.closed(timeout=1) == 4401


def realtime_revoke(user_id: int, reason: str, session_id: int | None = None) -> None:
    with transaction.atomic():
        close_user_sockets_on_commit(user_id, reason=reason, session_id=session_id)


async def test_cancelling_the_session_closes_participants_4409(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    socket = await clients.join(room.participants[0], room.session)
    session = await reload(room.session)
    await database_sync_to_async(session_services.cancel_session)(by=room.lead, session=session)
    assert await socket.closed(timeout=1) == 4409


async def test_cancelling_a_session_is_one_publish_and_closes_only_its_own_room(
    clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = await open_room(admit_directly=True)
    other_room = await open_room(admit_directly=True)
    lead, p0, p1 = await clients.seated(room.session, room.lead, *room.participants[:2])
    elsewhere = await clients.join(other_room.participants[0], other_room.session)
    published: list[str] = []
    original = type(get_redis()).publish

    def publish(self: Any, channel: str, message: bytes) -> Any:
        published.append(channel)
        return original(self, channel, message)

    monkeypatch.setattr(type(get_redis()), "publish", publish)
    session = await reload(room.session)
    await database_sync_to_async(session_services.cancel_session)(by=room.lead, session=session)
    for socket in (lead, p0, p1):
        assert await socket.closed(timeout=1) == 4409
    assert published.count(REVOCATIONS_CHANNEL) == 1
    await still_open(elsewhere)


async def test_cancelling_the_session_closes_hosts_too(clients: Clients) -> None:
    """Regression: cancel_session closed only roster entries' sockets, leaving the
    facilitators connected to a cancelled session."""
    room = await open_room(admit_directly=True)
    lead = await clients.join(room.lead, room.session)
    session = await reload(room.session)
    await database_sync_to_async(session_services.cancel_session)(by=room.lead, session=session)
    assert not await lead.ws.receive_nothing(timeout=1)
    assert await lead.closed(timeout=1) == 4409


# --- Limits -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"\x00\x01binary", "binary_not_supported"),
        ("{not json", "malformed"),
        ("[1, 2]", "malformed"),
        ('{"type": 5}', "malformed"),
        ('{"type": "ping", "pad": "' + "x" * (64 * 1024) + '"}', "too_large"),
        ('{"type": "shout"}', "unknown_type"),
        ('{"type": "ping", "extra": 1}', "invalid"),
        ('{"type": "resume", "last_seq": -1}', "invalid"),
        ('{"type": "resume", "last_seq": "3"}', "invalid"),
    ],
    ids=["binary", "not-json", "array", "type-not-string", "too-large", "unknown", "extra", "neg-seq", "str-seq"],
)
async def test_bad_frames_get_an_error_and_the_socket_stays(clients: Clients, frame: str | bytes, code: str) -> None:
    room = await open_room(admit_directly=True)
    socket = await clients.join(room.participants[0], room.session)
    await drain(socket, quiet=0.1)
    assert await error(socket, frame) == code
    await still_open(socket)


async def test_repeated_bad_frames_close_4429(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    socket = await clients.join(room.participants[0], room.session)
    await drain(socket, quiet=0.1)
    for _ in range(21):
        await socket.ws.send_to(text_data="nope")
    outputs = [await socket.ws.receive_output(timeout=3) for _ in range(22)]
    assert [o["type"] for o in outputs[:21]] == ["websocket.send"] * 21
    assert all(json.loads(o["text"])["code"] == "malformed" for o in outputs[:21])
    assert outputs[21] == {"type": CLOSE, "code": 4429}


async def test_more_than_100_frames_a_minute_are_rate_limited(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    socket = await clients.join(room.participants[0], room.session)
    await drain(socket, quiet=0.1)
    for _ in range(100):
        await socket.send({"type": "ping"})
        assert await socket.next() == {"type": "pong"}
    assert await error(socket, {"type": "ping"}) == "rate_limited"
    assert await socket.silent()  # refused, not closed


# --- Privacy ----------------------------------------------------------------------------------------


async def test_audit_entries_never_hold_chat_text(clients: Clients) -> None:
    room, s = await _breakout_room(clients)
    p0, p1, p2 = room.participants
    secret = "zebra-quartz-7731 my relapse on friday"
    await s["p0"].send(chat(secret, "priv-1"))
    await s["lead"].expect("chat.message", text=secret)
    await s["lead"].send({"type": "breakout.open", "rooms": {"1": [p0.pk, p1.pk]}})
    await s["p0"].expect("breakout.opened")
    await s["p0"].send(chat(secret + " (breakout)", "priv-2"))
    await s["lead"].expect("chat.message", text=secret + " (breakout)")
    await s["lead"].send({"type": "breakout.close"})
    await s["lead"].expect("breakout.closed")
    await s["lead"].send({"type": "host.remove", "user": p2.pk})
    await s["p2"].expect("removed")
    await s["lead"].send({"type": "host.end"})
    await s["lead"].expect("session.ended")

    entries = await database_sync_to_async(lambda: list(AuditEntry.objects.all()))()
    assert {"session.join", "session.remove", "session.end", "session.breakouts_open"} <= {e.action for e in entries}
    for entry in entries:
        blob = json.dumps(
            [entry.action, entry.actor_username, entry.target_type, entry.target_id, entry.data, entry.request_id]
        )
        assert "zebra-quartz" not in blob, entry
        assert "relapse" not in blob, entry
