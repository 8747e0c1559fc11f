"""/ws/notifications/: ticket auth, replay since last_id, live frames, isolation, bad frames."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings

from accounts import services as account_services
from accounts.models import User
from notifications import services
from notifications.models import Notification
from server.asgi import application
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = [(b"origin", b"http://127.0.0.1:8000")]


@sync_to_async
def _user(**traits: object) -> User:
    return UserFactory.create(**traits)


@sync_to_async
def _ticket(user: User) -> str:
    return account_services.issue_realtime_ticket(user=user).ticket


@sync_to_async
def _notify(user: User, hour: str = "17") -> Notification:
    notification = services.notify(recipient=user, kind="session_opening", data={"time": f"{hour}:00", "link": "/s/1"})
    assert notification is not None
    return notification


async def _connect(user: User, extra: str = "") -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(
        application, f"/ws/notifications/?ticket={await _ticket(user)}{extra}", headers=ORIGIN
    )
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def _expect_close(communicator: WebsocketCommunicator, code: int, timeout: float = 1) -> None:
    assert await communicator.receive_output(timeout=timeout) == {"type": "websocket.close", "code": code}
    # As Daphne does after a server close; otherwise the consumer is still waiting on the
    # channel layer when the test's event loop shuts down.
    await communicator.disconnect()


async def test_bad_or_reused_ticket_closes_4401() -> None:
    user = await _user(adult=True)
    ticket = await _ticket(user)
    for attempt in range(2):
        communicator = WebsocketCommunicator(application, f"/ws/notifications/?ticket={ticket}", headers=ORIGIN)
        await communicator.connect()
        if attempt == 0:
            await communicator.send_json_to({"type": "ping"})
            assert await communicator.receive_json_from() == {"type": "pong"}
            await communicator.disconnect()
        else:
            await _expect_close(communicator, 4401)
    garbage = WebsocketCommunicator(application, "/ws/notifications/?ticket=nope", headers=ORIGIN)
    await garbage.connect()
    await _expect_close(garbage, 4401)


async def test_replays_unread_since_last_id_then_streams_live() -> None:
    user = await _user(adult=True)
    first = await _notify(user, "10")
    second = await _notify(user, "11")
    communicator = await _connect(user, f"&last_id={first.pk}")
    frame = await communicator.receive_json_from()
    assert frame == {
        "type": "notification",
        "id": second.pk,
        "kind": "session_opening",
        "title": "Your session at 11:00 is open",
        "body": f"You can join now: {settings.PUBLIC_BASE_URL}/s/1",  # links are absolute
        "created_at": second.created_at.isoformat(),
    }
    assert await communicator.receive_nothing(timeout=0.2)
    third = await _notify(user, "12")
    assert (await communicator.receive_json_from(timeout=2))["id"] == third.pk
    await communicator.disconnect()


async def test_feeds_are_isolated_between_users() -> None:
    sam = await _user(adult=True)
    ava = await _user(adolescent=True)
    sams_feed = await _connect(sam)
    await _notify(ava)
    assert await sams_feed.receive_nothing(timeout=0.5)
    await sams_feed.disconnect()


async def test_resume_frame_replays() -> None:
    user = await _user(adult=True)
    first = await _notify(user)
    communicator = await _connect(user, f"&last_id={first.pk}")
    await communicator.send_json_to({"type": "resume", "last_id": 0})
    assert (await communicator.receive_json_from())["id"] == first.pk
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "malformed"),
        ("[1, 2]", "malformed"),
        ('{"type": 5}', "malformed"),
        ('{"type": "shout"}', "unknown_type"),
        ('{"type": "resume"}', "invalid"),
        ('{"type": "resume", "last_id": "x"}', "invalid"),
        ('{"type": "resume", "last_id": -1}', "invalid"),
        ('{"type": "ping", "pad": "' + "x" * 70_000 + '"}', "too_large"),
    ],
)
async def test_bad_frames_get_an_error_and_the_socket_stays_open(frame: str, code: str) -> None:
    user = await _user(adult=True)
    communicator = await _connect(user)
    await communicator.send_to(text_data=frame)
    reply = await communicator.receive_json_from()
    assert reply["type"] == "error" and reply["code"] == code
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from() == {"type": "pong"}
    await communicator.disconnect()


async def test_binary_frames_are_refused() -> None:
    user = await _user(adult=True)
    communicator = await _connect(user)
    await communicator.send_to(bytes_data=b"\x00\x01")
    assert (await communicator.receive_json_from())["code"] == "binary_not_supported"
    await communicator.disconnect()


async def test_repeated_abuse_closes_4429() -> None:
    user = await _user(adult=True)
    communicator = await _connect(user)
    for _ in range(21):
        await communicator.send_to(text_data="nope")
    outputs = [await communicator.receive_output() for _ in range(22)]
    assert [o["type"] for o in outputs[:21]] == ["websocket.send"] * 21
    assert outputs[21] == {"type": "websocket.close", "code": 4429}
    await communicator.disconnect()


async def test_logout_closes_the_feed() -> None:
    from knox.models import AuthToken

    user = await _user(adult=True)
    communicator = await _connect(user)
    instance, _ = await sync_to_async(AuthToken.objects.create)(user=user)
    await sync_to_async(account_services.revoke_token)(user=user, token=instance)
    await _expect_close(communicator, 4401, timeout=1)


async def test_a_logout_while_the_feed_joins_its_group_still_closes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The logout commits and is sent to ``user.<id>`` after the ticket check and before
    the socket is in that group: the check made once it is in closes it."""
    from channels_redis.core import RedisChannelLayer
    from knox.models import AuthToken

    user = await _user(adult=True)
    token, _ = await sync_to_async(AuthToken.objects.create)(user=user)
    issued = await sync_to_async(account_services.issue_realtime_ticket)(user=user, token=token)
    original = RedisChannelLayer.group_add

    async def group_add(self: RedisChannelLayer, group: str, channel: str) -> None:
        await sync_to_async(account_services.revoke_token)(user=user, token=token)
        await original(self, group, channel)

    monkeypatch.setattr(RedisChannelLayer, "group_add", group_add)
    communicator = WebsocketCommunicator(application, f"/ws/notifications/?ticket={issued.ticket}", headers=ORIGIN)
    await communicator.connect()
    await _expect_close(communicator, 4401)


async def test_a_ticket_asked_for_before_logout_no_longer_opens_the_feed() -> None:
    from knox.models import AuthToken

    user = await _user(adult=True)
    token, _ = await sync_to_async(AuthToken.objects.create)(user=user)
    issued = await sync_to_async(account_services.issue_realtime_ticket)(user=user, token=token)
    await sync_to_async(account_services.revoke_token)(user=user, token=token)
    communicator = WebsocketCommunicator(application, f"/ws/notifications/?ticket={issued.ticket}", headers=ORIGIN)
    await communicator.connect()
    await _expect_close(communicator, 4401)


async def test_a_bearer_token_that_expires_closes_the_feeds_it_opened_and_no_other() -> None:
    """The token purge (a beat task) names the expired token: a feed opened with a ticket
    it asked for closes 4401, one opened through the same person's other token stays."""
    from datetime import timedelta

    from django.utils import timezone
    from knox.models import AuthToken

    user = await _user(adult=True)
    expiring, _ = await sync_to_async(AuthToken.objects.create)(user=user)
    other, _ = await sync_to_async(AuthToken.objects.create)(user=user)
    feeds = []
    for token in (expiring, other):
        issued = await sync_to_async(account_services.issue_realtime_ticket)(user=user, token=token)
        feed = WebsocketCommunicator(application, f"/ws/notifications/?ticket={issued.ticket}", headers=ORIGIN)
        assert (await feed.connect())[0]
        feeds.append(feed)
    await sync_to_async(AuthToken.objects.filter(pk=expiring.pk).update)(expiry=timezone.now() - timedelta(seconds=1))
    assert await sync_to_async(account_services.purge_expired_tokens)() == 1
    await _expect_close(feeds[0], 4401)
    await feeds[1].send_json_to({"type": "ping"})
    assert await feeds[1].receive_json_from() == {"type": "pong"}
    await feeds[1].disconnect()
