"""Chat (sessions/rooms/chat.py): fields and seq, repeats, failures of PostgreSQL and Redis, bad frames, privacy."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from redis import exceptions as redis_exceptions

from audit.models import AuditEntry
from server import async_db, redis_client
from server.redis_client import get_redis
from sessions.rooms import access, store
from sessions.rooms import chat as chat_service
from sessions.rooms.members import SocketView
from tests.sessions.rooms.support import (
    Clients,
    OpenRoom,
    RoomClient,
    breakout_room,
    chat,
    chat_rows,
    error,
    open_room,
    still_open,
    stored_chat,
)

pytestmark = pytest.mark.django_db(transaction=True)


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


def _fail_the_next_publish(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next chat publish fails as on a connection Redis closed; later ones work."""
    publish = store.publish_async

    async def broken_once(*args: Any, **kwargs: Any) -> store.Published:
        monkeypatch.setattr(store, "publish_async", publish)
        raise redis_exceptions.ConnectionError("Connection closed by server.")

    monkeypatch.setattr(store, "publish_async", broken_once)


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
    # The row is stored before the broadcast; its seq lives in the room's stream only.
    (row,) = await stored_chat(room.session)
    assert (row.pk, row.text, row.user_id) == (frame["id"], "hello room", p0.pk)

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


async def test_chat_goes_on_when_its_database_connections_break(clients: Clients) -> None:
    room, a, b, first = await _two_after_one_line(clients)
    assert await _cut_chat_database_connections() >= 1

    await a.send(chat("after", "c-2"))
    after = await b.expect("chat.message", text="after")
    await a.expect("chat.message", text="after")
    assert after["seq"] == first["seq"] + 1
    assert [row.text for row in await chat_rows(room.session)] == ["before", "after"]


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
    assert [row.text for row in await chat_rows(room.session)] == ["before", "after"]


async def test_chat_stored_but_not_broadcast_is_broadcast_once_when_resent(
    clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The publish is never retried blindly (Redis may have run it before the connection
    broke): the sender gets an error frame, the line is stored, and the client's re-send
    with the same client_id broadcasts it to the room, the sender included, once (no
    second echo)."""
    room, a, b, first = await _two_after_one_line(clients)
    _fail_the_next_publish(monkeypatch)
    assert await error(a, chat("after", "c-2")) == "server_error"
    assert [row.text for row in await chat_rows(room.session)] == ["before", "after"]

    await a.send(chat("after", "c-2"))
    after = await b.next()  # nothing reached b before the re-send
    assert (after["type"], after["text"]) == ("chat.message", "after")
    assert await a.expect("chat.message", text="after") == after
    assert after["seq"] == first["seq"] + 1
    assert await a.silent() and await b.silent(), "posted once"
    assert [row.text for row in await chat_rows(room.session)] == ["before", "after"]


async def test_a_broadcast_line_resent_is_echoed_to_the_sender_with_its_seq_not_posted_again(
    clients: Clients,
) -> None:
    """The sender never saw its echo (a reconnect) and re-sends the same client_id: the
    room's stream knows the line's seq (store.py), so the sender alone gets the line
    again, with that seq, and the room does not get it twice."""
    room, a, b, _first = await _two_after_one_line(clients)
    await a.send(chat("after", "c-2"))
    after = await b.expect("chat.message", text="after")
    assert await a.expect("chat.message", text="after") == after

    await a.send(chat("after", "c-2"))
    assert await a.next() == after
    assert await b.silent(), "posted once"
    assert [row.text for row in await chat_rows(room.session)] == ["before", "after"]


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


async def test_audit_entries_never_hold_chat_text(clients: Clients) -> None:
    room, s = await breakout_room(clients)
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


async def test_a_chat_line_costs_one_statement_and_one_redis_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hot path: one INSERT on the event loop's pool, one publish script call, and no
    ORM work (the view of the room comes from the socket, not the database; an ORM call
    on the event loop would raise, and none is sent to the db thread pool)."""
    room = await open_room(admit_directly=True)
    authorize = database_sync_to_async(access.authorize_entry)
    view = SocketView(await authorize(session_id=room.session.pk, user=room.participants[0]), admitted=True)
    statements: list[str] = []
    publishes: list[int] = []
    fetch_all, publish_async = async_db.fetch_all, store.publish_async

    async def counted_fetch_all(sql: str, params: Any) -> Any:
        statements.append(sql.split(" ", 1)[0])
        return await fetch_all(sql, params)

    async def counted_publish(broadcast: store.Broadcast) -> store.Published:
        publishes.append(1)
        return await publish_async(broadcast)

    def no_thread_pool_work(func: Any) -> Any:
        raise AssertionError(f"{func.__name__} sent to the db thread pool")

    monkeypatch.setattr(async_db, "fetch_all", counted_fetch_all)
    monkeypatch.setattr(store, "publish_async", counted_publish)
    monkeypatch.setattr(chat_service, "db_task", no_thread_pool_work)
    outcome = await chat_service.post_chat_message(view=view, text="hello", client_id="q-1", breakout=None)
    assert outcome.repeat is None
    assert statements == ["INSERT"]
    assert publishes == [1]
