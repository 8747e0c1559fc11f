"""sessions/chat_seqs.py: chat rows get their broadcast seq in batches, and a batch that
cannot be written is kept, not lost."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import psycopg
import pytest
from channels.db import database_sync_to_async
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from server import async_db
from server.redis_client import get_redis
from sessions import chat_seqs, room_services
from sessions.models import ChatMessage
from sessions.room_store import RoomKeys
from tests.factories import UserFactory, make_session

pytestmark = pytest.mark.django_db(transaction=True)


def _make_three_rows() -> list[int]:
    session = make_session(kind="individual")
    user = UserFactory.create()
    return [
        ChatMessage.objects.create(
            session=session, user=user, client_id=f"c-{n}", text=f"line {n}", sent_at=timezone.now()
        ).pk
        for n in range(3)
    ]


_three_rows = database_sync_to_async(_make_three_rows)


@database_sync_to_async
def _seqs(ids: list[int]) -> list[int | None]:
    by_id = dict(ChatMessage.objects.filter(pk__in=ids).values_list("pk", "seq"))
    return [by_id[pk] for pk in ids]


async def test_seqs_queued_together_are_written_in_one_statement(monkeypatch: pytest.MonkeyPatch) -> None:
    ids = await _three_rows()
    statements: list[str] = []
    execute = async_db.execute

    async def counting(sql: str, params: tuple[Any, ...]) -> Any:
        statements.append(sql)
        return await execute(sql, params)

    monkeypatch.setattr(async_db, "execute", counting)
    recorder = chat_seqs.recorder()
    for seq, pk in enumerate(ids, start=10):
        recorder.record(pk, seq)
    assert await _seqs(ids) == [None, None, None]  # not before the batch is due
    await recorder.flush()
    assert await _seqs(ids) == [10, 11, 12]
    assert len(statements) == 1
    assert recorder.pending == {}


@override_settings(CHAT_SEQ_FLUSH_SECONDS=0.01)
async def test_the_batch_is_written_on_its_own_without_a_flush() -> None:
    ids = await _three_rows()
    recorder = chat_seqs.recorder()
    recorder.record(ids[0], 5)
    recorder.record(ids[1], 6)
    for _ in range(100):
        if await _seqs(ids) == [5, 6, None]:
            break
        await asyncio.sleep(0.01)
    assert await _seqs(ids) == [5, 6, None]


async def test_a_batch_that_fails_is_kept_and_written_next_time(monkeypatch: pytest.MonkeyPatch) -> None:
    ids = await _three_rows()
    execute = async_db.execute

    async def down_once(sql: str, params: tuple[Any, ...]) -> Any:
        monkeypatch.setattr(async_db, "execute", execute)
        raise psycopg.OperationalError("the database is restarting")

    monkeypatch.setattr(async_db, "execute", down_once)
    recorder = chat_seqs.recorder()
    recorder.record(ids[0], 1)
    recorder.record(ids[1], 2)
    assert await recorder.flush() is False
    assert await _seqs(ids) == [None, None, None]
    recorder.record(ids[2], 3)
    assert await recorder.flush() is True
    assert await _seqs(ids) == [1, 2, 3]


async def test_unwritten_seqs_are_capped_oldest_dropped_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chat_seqs, "MAX_PENDING", 2)

    async def down(sql: str, params: tuple[Any, ...]) -> Any:
        raise psycopg.OperationalError("the database is down")

    monkeypatch.setattr(async_db, "execute", down)
    recorder = chat_seqs.recorder()
    for message_id in (101, 102, 103):
        recorder.pending[message_id] = message_id
    assert await recorder.flush() is False
    assert recorder.pending == {102: 102, 103: 103}
    recorder.pending.clear()


async def test_a_lost_counter_is_reseeded_above_seqs_still_queued_for_writing() -> None:
    """Redis lost the room's counter just after a line was broadcast, before its seq was
    written: the first broadcast after (a join, say, from a db thread) must not hand that
    number out again."""
    ids = await _three_rows()
    session_id = await database_sync_to_async(lambda: ChatMessage.objects.get(pk=ids[0]).session_id)()
    chat_seqs.recorder().record(ids[0], 41)  # broadcast as seq 41, written within a flush interval
    get_redis().delete(RoomKeys(session_id).seq)
    seq = await database_sync_to_async(room_services.broadcast)(session_id, "room", {"type": "hand.raised"})
    assert seq == 42
    assert await _seqs(ids[:1]) == [41]


def test_writing_seqs_is_a_hot_update_that_touches_no_index() -> None:
    """Migration 0005: seq is in no index nor index condition, and pages keep room, so the
    seq write adds no row version to any index (PostgreSQL's HOT update). Adding an index
    on seq brings back an index entry per chat line and this fails."""
    table = ChatMessage._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        ids = _make_three_rows()
        cursor.execute(chat_seqs._SET_SEQS, [ids, [7, 8, 9]])
        cursor.execute(
            "SELECT pg_stat_get_xact_tuples_updated(%s::regclass), pg_stat_get_xact_tuples_hot_updated(%s::regclass)",
            [table, table],
        )
        updated, hot = cursor.fetchone()
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", [table])
        definitions = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT reloptions FROM pg_class WHERE oid = %s::regclass", [table])
        (options,) = cursor.fetchone()
    assert (updated, hot) == (3, 3)
    assert definitions, "the table's indexes were read"
    assert [d for d in definitions if re.search(r"\bseq\b", d)] == []
    assert "fillfactor=85" in options
