"""The room's stream in Redis (sessions/rooms/store.py): seq, the replay log, and chat
lines broadcast once."""

from __future__ import annotations

import time

import pytest
from channels.db import database_sync_to_async
from django.test import override_settings

from server.redis_client import get_redis
from sessions.rooms import store
from tests.factories import make_session

pytestmark = pytest.mark.django_db(transaction=True)


def line(session_id: int, chat_id: int) -> store.Broadcast:
    return store.Broadcast(session_id, "main", {"type": "chat.message", "id": chat_id}, chat_id=chat_id)


def test_a_new_room_numbers_from_the_clock_and_steps_by_one() -> None:
    session_id = make_session(kind="individual").pk
    before_ms = time.time_ns() // 1_000_000
    first = store.publish(store.Broadcast(session_id, "all", {"type": "room.test"}))
    second = store.publish(store.Broadcast(session_id, "all", {"type": "room.test"}))
    assert first.seq >= before_ms and second.seq == first.seq + 1
    assert first.seq < 2**53, "clients read seq as a JSON number"
    assert [entry.seq for entry in store.log_entries(session_id)] == [first.seq, second.seq]


def test_a_chat_line_is_broadcast_once_however_often_it_is_published() -> None:
    """Two processes may both try (a re-send reached another process): the second call
    publishes nothing and gets the first one's seq."""
    session_id = make_session(kind="individual").pk
    pubsub = get_redis().pubsub()
    pubsub.subscribe(store.channel_name(session_id))
    pubsub.get_message(timeout=1)  # the subscription's confirmation
    first = store.publish(line(session_id, 41))
    again = store.publish(line(session_id, 41))
    other = store.publish(line(session_id, 42))
    assert first.new and not again.new and other.new
    assert again.seq == first.seq and other.seq == first.seq + 1
    heard = [pubsub.get_message(timeout=1) for _ in range(3)]
    assert [message["data"].decode().split("\t", 1)[0] for message in heard if message] == [
        str(first.seq),
        str(other.seq),
    ]
    assert len(store.log_entries(session_id)) == 2


@override_settings(ROOM_LOG_LENGTH=3)
def test_the_log_keeps_the_last_frames_only() -> None:
    session_id = make_session(kind="individual").pk
    seqs = [store.publish(store.Broadcast(session_id, "all", {"type": "room.test"})).seq for _ in range(5)]
    assert [entry.seq for entry in store.log_entries(session_id)] == seqs[-3:]


async def test_publishing_many_keeps_their_order_and_skips_lines_sent_before() -> None:
    session_id = (await database_sync_to_async(make_session)(kind="individual")).pk
    first = await store.publish_async(line(session_id, 1))
    results = await store.publish_many_async([line(session_id, 1), line(session_id, 2), line(session_id, 3)])
    assert results == [
        store.Published(first.seq, False), store.Published(first.seq + 1, True), store.Published(first.seq + 2, True)
    ]  # fmt: skip
