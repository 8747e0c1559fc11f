"""Helpers for live-room tests: a session open now, tickets, and a client that reads
frames by type."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from accounts import services as account_services
from accounts.models import User
from server.asgi import application
from sessions.models import Session
from tests.factories import UserFactory, make_group, make_program, make_session

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
) -> OpenRoom:
    """A group session open now with a lead, a co-facilitator and ``size`` participants."""
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
    return OpenRoom(session, lead, co, members, outsider)


@database_sync_to_async
def ticket_for(user: User) -> str:
    return account_services.issue_realtime_ticket(user=user).ticket


class RoomClient:
    """A WebsocketCommunicator that keeps frames it skipped, to find frames by type."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.ws = communicator
        self.seen: list[dict[str, Any]] = []

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send_json_to(frame)

    async def next(self, timeout: float = 3) -> dict[str, Any]:
        frame: dict[str, Any] = await self.ws.receive_json_from(timeout=timeout)
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
            if "text" in output:
                import orjson

                self.seen.append(orjson.loads(output["text"]))

    async def drain(self, quiet: float = 0.2) -> None:
        """Read and keep frames until none arrives for ``quiet`` seconds."""
        while not await self.ws.receive_nothing(timeout=quiet):
            await self.next()

    async def silent(self, timeout: float = 0.3) -> bool:
        return await self.ws.receive_nothing(timeout=timeout)

    async def leave(self) -> None:
        await self.ws.disconnect()


async def connect(user: User, session: Session, *, ticket: str | None = None, path: str | None = None) -> RoomClient:
    ticket = ticket if ticket is not None else await ticket_for(user)
    communicator = WebsocketCommunicator(
        application, path or f"/ws/sessions/{session.pk}/?ticket={ticket}", headers=ORIGIN
    )
    connected, _ = await communicator.connect()
    assert connected
    return RoomClient(communicator)


async def join(user: User, session: Session) -> RoomClient:
    """Connected and past the first frame (room.state)."""
    client = await connect(user, session)
    state = await client.next()
    assert state["type"] == "room.state", state
    return client
