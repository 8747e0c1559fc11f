"""Helpers for live-room tests: a session open now, tickets, and a client that reads
frames by type."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone
from redis.connection import AbstractConnection

from accounts import services as account_services
from accounts.models import Consent, User
from audit.models import AuditEntry
from server.asgi import application
from sessions.models import AttendanceSegment, ChatMessage, Session
from sessions.rooms import store
from sessions.rooms.members import user_audience
from tests.factories import ConsentFactory, GuardianLinkFactory, UserFactory, make_group, make_program, make_session
from tests.measures.support import check_in

ORIGIN = [(b"origin", b"http://127.0.0.1:8000")]


@dataclass
class OpenRoom:
    session: Session
    lead: User
    co: User
    participants: list[User]
    outsider: User


@database_sync_to_async
def open_room(
    *,
    size: int = 3,
    admit_directly: bool = False,
    age_band: str = "adult",
    starts_in: timedelta = timedelta(minutes=-5),
    checked_in: bool = True,
) -> OpenRoom:
    """A group session open now with a lead, a co-facilitator and ``size`` participants,
    checked in for it (their location and emergency contact) unless ``checked_in`` is off."""
    adolescent = age_band == "adolescent"
    lead = UserFactory.create(first_name="Lee")
    co = UserFactory.create(first_name="Cole")
    members = [
        UserFactory.create(adolescent=adolescent, adult=not adolescent, first_name=f"P{index}") for index in range(size)
    ]
    group = make_group(program=make_program(age_band=age_band), lead=lead, co=[co], members=members)
    session = make_session(group=group, hosts=[lead, co], roster=members, starts_in=starts_in)
    if admit_directly:
        Session.objects.filter(pk=session.pk).update(admit_directly=True)
        session.refresh_from_db()
    outsider = UserFactory.create(adult=not adolescent, adolescent=adolescent, first_name="Out")
    if checked_in:
        check_in(session, members)
    return OpenRoom(session, lead, co, members, outsider)


@database_sync_to_async
def ticket_for(user: User) -> str:
    return account_services.issue_realtime_ticket(user=user).ticket


# A frame the tests publish to one user's sockets through the room's own stream: frames
# published before it arrive before it, so reading up to it replaces a quiet window.
BARRIER = "test.barrier"


class RoomClient:
    """A WebsocketCommunicator that keeps frames it skipped, to find frames by type."""

    def __init__(self, communicator: WebsocketCommunicator, *, session_id: int = 0, user_id: int = 0) -> None:
        self.ws = communicator
        self.session_id = session_id
        self.user_id = user_id
        self.seen: list[dict[str, Any]] = []

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send_json_to(frame)

    async def next(self, timeout: float = 3) -> dict[str, Any]:
        """The next frame (barriers meant for another socket of the same user skipped)."""
        while True:
            frame: dict[str, Any] = await self.ws.receive_json_from(timeout=timeout)
            if frame.get("type") != BARRIER:
                self.seen.append(frame)
                return frame

    async def expect(self, kind: str, timeout: float = 3, **fields: Any) -> dict[str, Any]:
        """The next frame of this type (and these field values), skipping others."""
        while True:
            frame = await self.next(timeout)
            if frame.get("type") == kind and all(frame.get(k) == v for k, v in fields.items()):
                return frame

    async def closed(self, timeout: float = 3) -> int:
        """Skip frames until the close; its code."""
        while True:
            output = await self.ws.receive_output(timeout)
            if output["type"] == "websocket.close":
                return int(output.get("code", 1000))
            if "text" in output and (frame := orjson.loads(output["text"])).get("type") != BARRIER:
                self.seen.append(frame)

    async def drain(self) -> list[dict[str, Any]]:
        """Every frame published to this socket so far: read up to a barrier published
        now, without waiting for a quiet window."""
        token = uuid.uuid4().hex
        barrier = {"type": BARRIER, "token": token}
        store.publish(store.Broadcast(self.session_id, user_audience(self.user_id), barrier))
        frames: list[dict[str, Any]] = []
        while True:
            frame: dict[str, Any] = await self.ws.receive_json_from(timeout=3)
            if frame.get("type") == BARRIER:
                if frame.get("token") == token:
                    return frames
                continue
            self.seen.append(frame)
            frames.append(frame)

    async def silent(self) -> bool:
        """Nothing published to this socket that it has not read yet."""
        return await self.drain() == []

    async def leave(self) -> None:
        await self.ws.disconnect()


async def connect(user: User, session: Session, *, ticket: str | None = None, path: str | None = None) -> RoomClient:
    ticket = ticket if ticket is not None else await ticket_for(user)
    communicator = WebsocketCommunicator(
        application, path or f"/ws/sessions/{session.pk}/?ticket={ticket}", headers=ORIGIN
    )
    connected, _ = await communicator.connect()
    assert connected
    return RoomClient(communicator, session_id=session.pk, user_id=user.pk)


async def join(user: User, session: Session) -> RoomClient:
    """Connected and past the first frame (room.state)."""
    client = await connect(user, session)
    state = await client.next()
    assert state["type"] == "room.state", state
    return client


CLOSE = "websocket.close"


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

    async def lead_and_one_waiting(self) -> tuple[OpenRoom, RoomClient, RoomClient]:
        """A room with a waiting room: its lead joined, then its first participant, held
        waiting; the lead has read the arrival."""
        room = await open_room()
        lead = await self.join(room.lead, room.session)
        waiting = await self.connect(room.participants[0], room.session)
        await waiting.expect("waiting")
        await lead.expect("waiting.joined")
        return room, lead, waiting

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


def state(client: RoomClient) -> dict[str, Any]:
    """The room.state this socket got first."""
    return client.seen[0]


async def drain(client: RoomClient) -> list[dict[str, Any]]:
    """Every frame published to this socket so far (RoomClient.drain)."""
    return await client.drain()


async def drain_all(*sockets: RoomClient) -> None:
    for socket in sockets:
        await socket.drain()


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
def stored_chat(session: Session) -> list[ChatMessage]:
    return list(ChatMessage.objects.filter(session=session).order_by("pk"))


async def chat_rows(session: Session) -> list[ChatMessage]:
    return await stored_chat(session)


@database_sync_to_async
def reload(session: Session) -> Session:
    return Session.objects.get(pk=session.pk)


@database_sync_to_async
def make_user(**traits: Any) -> User:
    return UserFactory.create(**traits)


def chat(text: str, client_id: str, **extra: Any) -> dict[str, Any]:
    return {"type": "chat.send", "text": text, "client_id": client_id, **extra}


def ids(people: list[dict[str, Any]]) -> set[int]:
    return {person["id"] for person in people}


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
    check_in(session, [teen])
    return session, clinician, teen, guardian, given


async def breakout_room(clients: Clients) -> tuple[OpenRoom, dict[str, RoomClient]]:
    room = await open_room(admit_directly=True)
    sockets = {
        "lead": await clients.join(room.lead, room.session),
        "co": await clients.join(room.co, room.session),
        **{f"p{i}": await clients.join(person, room.session) for i, person in enumerate(room.participants)},
    }
    await drain_all(*sockets.values())
    return room, sockets


@contextmanager
def redis_round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The first command of every request sent to Redis (a pipeline is one request)."""
    sent: list[str] = []
    original = AbstractConnection.send_packed_command

    def counting(self: AbstractConnection, command: bytes | list[bytes], check_health: bool = True) -> None:
        first = command[0] if isinstance(command, list) else command
        sent.append(first[:40].decode(errors="replace"))
        original(self, command, check_health)

    with monkeypatch.context() as patch:
        patch.setattr(AbstractConnection, "send_packed_command", counting)
        yield sent
