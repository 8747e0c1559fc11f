"""sessions/rooms/chat_poster.py: chat lines that arrive while the writers are busy are stored
with one INSERT and broadcast with one Redis round trip, in order, each exactly once; a
line that cannot be stored fails alone."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import psycopg
import pytest
from channels.db import database_sync_to_async
from django.test import override_settings
from django.utils import timezone
from redis import exceptions as redis_exceptions

from server import async_db
from server.redis_client import get_redis
from sessions.models import ChatMessage, Session
from sessions.rooms import chat_poster, store
from sessions.rooms.events import UserRef
from tests.factories import UserFactory, make_session

pytestmark = pytest.mark.django_db(transaction=True)

AUTHOR: UserRef = {"id": 0, "name": "Test", "role": "participant"}


@database_sync_to_async
def _room() -> tuple[int, int]:
    """A live room (its seq counter set, as opening the room does) and one author."""
    session_id = make_session(kind="individual").pk
    get_redis().set(store.RoomKeys(session_id).seq, 0)
    # Redis knows the publish script, as after any earlier publish (on a fresh Redis the
    # first pipeline meets NOSCRIPT and runs each call again alone: the last test here).
    get_redis().script_load(store._PUBLISH)
    return session_id, UserFactory.create().pk


def _line(session_id: int, user_id: int, client_id: str) -> ChatMessage:
    return ChatMessage(
        session_id=session_id, user_id=user_id, client_id=client_id, text=f"text of {client_id}", sent_at=timezone.now()
    )


async def _post(*messages: ChatMessage) -> list[Any]:
    """Post the lines at once, as lines arriving together do; each one's outcome."""
    poster = chat_poster.poster()
    return await asyncio.gather(*(poster.post(m, AUTHOR) for m in messages), return_exceptions=True)


@database_sync_to_async
def _rows(session_id: int) -> list[str]:
    """The client_id of each stored line, in id order."""
    return list(ChatMessage.objects.filter(session_id=session_id).order_by("pk").values_list("client_id", flat=True))


def _logged(session_id: int) -> list[tuple[int, str]]:
    """(seq, client_id) of each chat line in the room's Redis log."""
    return [
        (entry.seq, orjson.loads(entry.frame_text)["client_id"])
        for entry in store.log_entries(session_id)
        if entry.frame_text.startswith('{"type":"chat.message"')
    ]


class _Counted:
    """Counts the INSERTs and the publish round trips of the lines posted meanwhile."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.inserts: list[int] = []  # rows per INSERT
        self.publishes: list[int] = []  # frames per round trip
        fetch_all, publish_async, publish_many = (
            async_db.fetch_all,
            store.publish_async,
            store.publish_many_async,
        )

        async def counted_fetch_all(sql: str, params: tuple[Any, ...]) -> Any:
            if sql.startswith("INSERT"):
                self.inserts.append(len(params[0]) if isinstance(params[0], list) else 1)
            return await fetch_all(sql, params)

        async def counted_publish(*args: Any, **kwargs: Any) -> Any:
            self.publishes.append(1)
            return await publish_async(*args, **kwargs)

        async def counted_publish_many(broadcasts: list[store.Broadcast]) -> Any:
            self.publishes.append(len(broadcasts))
            return await publish_many(broadcasts)

        monkeypatch.setattr(async_db, "fetch_all", counted_fetch_all)
        monkeypatch.setattr(store, "publish_async", counted_publish)
        monkeypatch.setattr(store, "publish_many_async", counted_publish_many)


async def test_lines_that_arrive_together_go_in_one_insert_and_one_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    session_id, user_id = await _room()
    counted = _Counted(monkeypatch)
    assert await _post(*(_line(session_id, user_id, f"c-{n}") for n in range(5))) == [True] * 5
    assert counted.inserts == [5]
    assert counted.publishes == [5]
    assert _logged(session_id) == [(1, "c-0"), (2, "c-1"), (3, "c-2"), (4, "c-3"), (5, "c-4")]
    assert await _rows(session_id) == ["c-0", "c-1", "c-2", "c-3", "c-4"]


@override_settings(CHAT_WRITERS=1)
async def test_lines_that_arrive_while_every_writer_is_busy_queue_and_go_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session_id, user_id = await _room()
    counted = _Counted(monkeypatch)
    counted_fetch_all = async_db.fetch_all
    inserting, release = asyncio.Event(), asyncio.Event()

    async def slow_first_insert(sql: str, params: tuple[Any, ...]) -> Any:
        if not inserting.is_set():
            inserting.set()
            await release.wait()
        return await counted_fetch_all(sql, params)

    monkeypatch.setattr(async_db, "fetch_all", slow_first_insert)
    first = asyncio.ensure_future(_post(_line(session_id, user_id, "c-0")))
    await inserting.wait()
    later = asyncio.ensure_future(_post(*(_line(session_id, user_id, f"c-{n}") for n in range(1, 4))))
    await asyncio.sleep(0.05)
    assert not later.done(), "queued behind the busy writer"
    release.set()
    assert await first == [True]
    assert await later == [True] * 3
    assert counted.inserts == [1, 3]
    assert counted.publishes == [1, 3]
    assert _logged(session_id) == [(1, "c-0"), (2, "c-1"), (3, "c-2"), (4, "c-3")]


async def test_a_line_that_finds_a_writer_free_goes_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    session_id, user_id = await _room()
    counted = _Counted(monkeypatch)
    assert await _post(_line(session_id, user_id, "c-1")) == [True]
    assert await _post(_line(session_id, user_id, "c-2")) == [True]
    assert counted.inserts == [1, 1]
    assert counted.publishes == [1, 1]


@pytest.mark.parametrize("writers", [1, 4])
async def test_a_copy_of_a_line_being_posted_is_answered_as_a_repeat(writers: int) -> None:
    session_id, user_id = await _room()
    copies = [_line(session_id, user_id, "same") for _ in range(3)]
    with override_settings(CHAT_WRITERS=writers):
        outcomes = await _post(*copies, _line(session_id, user_id, "c-2"))
    assert outcomes == [True, False, False, True]
    assert sorted(client_id for _, client_id in _logged(session_id)) == ["c-2", "same"], "each broadcast once"
    assert sorted(await _rows(session_id)) == ["c-2", "same"]


@override_settings(CHAT_WRITERS=1)
async def test_a_line_that_cannot_be_stored_fails_alone() -> None:
    session_id, user_id = await _room()
    gone = await database_sync_to_async(lambda: Session.objects.order_by("-pk").values_list("pk", flat=True)[0])() + 1
    outcomes = await _post(
        _line(session_id, user_id, "c-0"),
        _line(gone, user_id, "c-bad"),  # its session no longer exists
        _line(session_id, user_id, "c-1"),
    )
    assert outcomes[0] is True and outcomes[2] is True
    assert isinstance(outcomes[1], psycopg.IntegrityError)
    assert [client_id for _, client_id in _logged(session_id)] == ["c-0", "c-1"]
    assert await _rows(session_id) == ["c-0", "c-1"]


async def test_a_batch_whose_publish_fails_is_stored_and_fails_every_sender(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As for one line: each sender gets the error, and each row waits for its client's
    re-send (the repeat path broadcasts a stored line that is in no log)."""
    session_id, user_id = await _room()

    async def redis_down(broadcasts: list[store.Broadcast]) -> Any:
        raise redis_exceptions.ConnectionError("Connection closed by server.")

    monkeypatch.setattr(store, "publish_many_async", redis_down)
    outcomes = await _post(*(_line(session_id, user_id, f"c-{n}") for n in range(3)))
    assert all(isinstance(outcome, redis_exceptions.ConnectionError) for outcome in outcomes)
    assert await _rows(session_id) == ["c-0", "c-1", "c-2"]
    assert _logged(session_id) == []


async def test_a_batch_that_finds_the_counter_lost_numbers_on_from_the_clock() -> None:
    """Redis lost the room's counter (and log): the next numbers start from the current
    time in milliseconds, above any the room gave before, and still step by one."""
    session_id, user_id = await _room()
    assert await _post(_line(session_id, user_id, "c-0")) == [True]
    get_redis().delete(store.RoomKeys(session_id).seq, store.RoomKeys(session_id).log)
    before_ms = time.time_ns() // 1_000_000
    assert await _post(*(_line(session_id, user_id, f"c-{n}") for n in range(1, 4))) == [True] * 3
    seqs = [seq for seq, _ in _logged(session_id)]
    assert seqs[0] > before_ms
    assert seqs == [seqs[0], seqs[0] + 1, seqs[0] + 2]


async def test_publish_many_loads_the_script_again_after_redis_forgot_it() -> None:
    session_id, _ = await _room()
    assert (await store.publish_async(store.Broadcast(session_id, "main", {"type": "room.test"}))).seq == 1
    frames = [store.Broadcast(session_id, "main", {"type": "room.test", "n": n}) for n in range(3)]
    assert await store.publish_many_async(frames[:1]) == [store.Published(2, True)]
    get_redis().script_flush()  # as after a Redis restart
    assert await store.publish_many_async(frames[1:]) == [store.Published(3, True), store.Published(4, True)]
    assert [entry.seq for entry in store.log_entries(session_id)] == [1, 2, 3, 4], "each published once"


async def test_a_copy_waits_until_the_line_it_copies_is_broadcast(monkeypatch: pytest.MonkeyPatch) -> None:
    """With several writers, a copy that came a moment later goes to another writer: it
    must not be answered before the original is published (its answer is the original's
    frame and seq)."""
    session_id, user_id = await _room()
    publish_async = store.publish_async
    publishing, release = asyncio.Event(), asyncio.Event()

    async def slow_first_publish(*args: Any, **kwargs: Any) -> Any:
        if not publishing.is_set():
            publishing.set()
            await release.wait()
        return await publish_async(*args, **kwargs)

    monkeypatch.setattr(store, "publish_async", slow_first_publish)
    original = asyncio.ensure_future(_post(_line(session_id, user_id, "same")))
    await publishing.wait()
    copy = asyncio.ensure_future(_post(_line(session_id, user_id, "same")))
    await asyncio.sleep(0.05)
    answered_early = copy.done()
    release.set()
    assert not answered_early, "answered before the original was broadcast"
    assert await original == [True]
    assert await copy == [False]
    assert _logged(session_id) == [(1, "same")]
