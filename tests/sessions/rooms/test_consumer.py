"""The room consumer (sessions/rooms/consumer.py): access revocations close sockets with their codes, frame limits."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import transaction

from accounts import services as account_services
from accounts.models import User
from groups import services as group_services
from groups.models import TherapyGroup
from server.realtime import REVOCATIONS_CHANNEL, close_user_sockets_on_commit
from server.redis_client import get_redis
from sessions import services as session_services
from sessions.models import AttendanceSegment
from sessions.rooms import access, hub, presence_store
from sessions.rooms.members import RoomMember
from tests.sessions.rooms.support import (
    CLOSE,
    Clients,
    OpenRoom,
    RoomClient,
    drain,
    error,
    join,
    make_user,
    open_room,
    reload,
    still_open,
)

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def remove_from_group(room: OpenRoom, participant: User) -> None:
    group = TherapyGroup.objects.get(sessions=room.session)
    group_services.remove_member(by=room.lead, group=group, participant=participant)


def revoked_while_registering(monkeypatch: pytest.MonkeyPatch, revoke: Callable[[], Awaitable[None]]) -> None:
    """``revoke`` runs, committed and published, after the handshake's checks and before
    the socket is registered with its process's hub: nobody is listening for it yet."""
    original = hub.RoomHub.join

    async def join(self: hub.RoomHub, socket: Any) -> None:
        await revoke()
        await original(self, socket)

    monkeypatch.setattr(hub.RoomHub, "join", join)


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


async def test_a_role_change_closes_4401(clients: Clients) -> None:
    """A role change ends the person's sessions (accounts/services.py): their room sockets
    close as for a new password, whatever path made it."""
    room = await open_room(admit_directly=True)
    p0, p1 = room.participants[:2]
    socket = await clients.join(p0, room.session)
    other = await clients.join(p1, room.session)

    @database_sync_to_async
    def change_role() -> None:
        with transaction.atomic():
            account_services.end_sessions(user=p0, reason="role_changed")

    await change_role()
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
    assert presence_store.present_user_ids(room.session.pk) == {room.lead.pk}
    monkeypatch.undo()
    await clients.join(p1, room.session)  # the next handshake is as usual


async def test_a_revocation_heard_before_access_is_decided_refuses_the_socket(
    clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The socket already listens when the revocation is published, but its access is
    still being checked: the revocation is kept and weighed once it is decided."""
    room = await open_room(admit_directly=True)
    p0 = room.participants[0]
    authorize = access.authorize_holder

    def authorized_then_removed(**kwargs: Any) -> RoomMember:
        member = authorize(**kwargs)  # passes: still on the roster
        async_to_sync(remove_from_group)(room, p0)  # committed and published
        time.sleep(0.3)  # the hub hands it to the socket meanwhile
        return member

    monkeypatch.setattr(access, "authorize_holder", authorized_then_removed)
    assert await clients.refused(p0, room.session) == 4403
    assert not await database_sync_to_async(AttendanceSegment.objects.filter(user=p0).exists)()
    assert presence_store.present_user_ids(room.session.pk) == set()


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
    assert await lead.closed(timeout=1) == 4409


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
    await drain(socket)
    assert await error(socket, frame) == code
    await still_open(socket)


async def test_repeated_bad_frames_close_4429(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    socket = await clients.join(room.participants[0], room.session)
    await drain(socket)
    for _ in range(21):
        await socket.ws.send_to(text_data="nope")
    outputs = [await socket.ws.receive_output(timeout=3) for _ in range(22)]
    assert [o["type"] for o in outputs[:21]] == ["websocket.send"] * 21
    assert all(json.loads(o["text"])["code"] == "malformed" for o in outputs[:21])
    assert outputs[21] == {"type": CLOSE, "code": 4429}


async def test_more_than_100_frames_a_minute_are_rate_limited(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    socket = await clients.join(room.participants[0], room.session)
    await drain(socket)
    for _ in range(100):
        await socket.send({"type": "ping"})
        assert await socket.next() == {"type": "pong"}
    assert await error(socket, {"type": "ping"}) == "rate_limited"
    assert await socket.silent()  # refused, not closed


async def test_smoke() -> None:
    room = await open_room(admit_directly=True)
    lead = await join(room.lead, room.session)
    p0 = await join(room.participants[0], room.session)
    joined = await lead.expect("presence.joined")
    assert joined["user"]["id"] == room.participants[0].pk
    await p0.send({"type": "chat.send", "text": "hello", "client_id": "c1"})
    m1 = await lead.expect("chat.message")
    m2 = await p0.expect("chat.message")
    assert m1 == m2 and m1["text"] == "hello"
    await p0.send({"type": "ping"})
    assert await p0.expect("pong")
    await p0.leave()
    await lead.expect("presence.left")
    await lead.leave()


async def test_an_expired_token_closes_only_the_sockets_it_opened(clients: Clients) -> None:
    """A revocation naming one bearer token (its digest, never the token) closes the room
    sockets whose ticket that token asked for, 4401, and not the same person's sockets
    opened through another token (another device)."""
    from knox.models import AuthToken

    room = await open_room(admit_directly=True)
    p0 = room.participants[0]

    async def socket_through_a_token() -> tuple[RoomClient, AuthToken]:
        token, _ = await database_sync_to_async(AuthToken.objects.create)(user=p0)
        issued = await database_sync_to_async(account_services.issue_realtime_ticket)(user=p0, token=token)
        socket = await clients.connect(p0, room.session, ticket=issued.ticket)
        await socket.expect("room.state")
        return socket, token

    phone, phone_token = await socket_through_a_token()
    laptop, _ = await socket_through_a_token()

    @database_sync_to_async
    def expire(token: AuthToken) -> None:
        with transaction.atomic():
            close_user_sockets_on_commit(p0.pk, reason="token_expired", token_digest=token.digest)

    await expire(phone_token)
    assert await phone.closed(timeout=1) == 4401
    await still_open(laptop)
