"""Chat lines stored and broadcast in batches, one poster per event loop (chat.py posts
through it).

Each chat line is one INSERT, committed before its broadcast (DESIGN.md), and one
publish. Posted one by one, every line paid a PostgreSQL round trip and commit (with its
WAL flush) and a Redis round trip of its own, each waking another process. Bench S2
measured what that costs: the same load without the INSERT halved the project's median
latency and cut its p99 by a factor of three to six.

So each event loop posts through one ``ChatPoster``, with up to ``CHAT_WRITERS`` batches
in flight (each on a pooled connection). A line that finds a writer free goes at
once, as a batch of one, with the plain single-row INSERT: nothing waits for a batch to
fill. Lines that arrive while every writer is busy queue, and the next free writer takes
them all: one INSERT, then one pipelined round trip to Redis publishing each in order.
So batches form only when lines arrive faster than they are written, which is when the
per-line costs hurt most: after any stall, the backlog goes out in a round trip or two
instead of one per line.

A copy of a line being posted (the same client_id, from another tab or a quick re-send)
waits until that line is broadcast and is then answered as a repeat, so a process never
posts a line twice. A line that cannot be stored (its session or author deleted
meanwhile) fails alone, not its batch.

This is chat's one write path: the INSERT. A line's seq is never written back; it lives in
the room's stream in Redis (store.py), which also makes a second broadcast of the same
line a no-op.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import psycopg
from django.conf import settings

from server import async_db
from server.live_counters import LIVE
from server.loop_local import LoopLocal
from sessions.models import ChatMessage
from sessions.rooms import events, store
from sessions.rooms.members import chat_audience

log = logging.getLogger("iop.rooms")

_CHAT_TABLE = ChatMessage._meta.db_table
# (session, user, client_id) is unique: a repeated client_id inserts nothing and returns
# no row. A batch of one (most of them, below saturation) takes the plain single-row
# statement, which costs PostgreSQL and psycopg less than unnest's arrays; a larger one
# takes one statement whatever its size, so psycopg prepares it once.
_RETURNING = "ON CONFLICT (session_id, user_id, client_id) DO NOTHING RETURNING id, session_id, user_id, client_id"
_INSERT_CHAT = (
    f"INSERT INTO {_CHAT_TABLE} (session_id, user_id, client_id, text, breakout, sent_at) "  # noqa: S608
    f"VALUES (%s, %s, %s, %s, %s, %s) {_RETURNING}"
)
_INSERT_CHATS = (
    f"INSERT INTO {_CHAT_TABLE} (session_id, user_id, client_id, text, breakout, sent_at) "  # noqa: S608
    "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::int[], %s::timestamptz[]) "
    f"{_RETURNING}"
)
# Enough to clear any backlog in a few round trips; small enough for one statement.
MAX_BATCH = 200

ChatKey = tuple[int, int, str]


@dataclass
class PendingChat:
    message: ChatMessage  # its pk is set once it is stored
    author: events.UserRef
    # True once stored and broadcast; False if its client_id was stored before.
    posted: asyncio.Future[bool] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    @property
    def key(self) -> ChatKey:
        return (self.message.session_id, self.message.user_id, self.message.client_id)

    def resolve(self, posted: bool) -> None:
        if not self.posted.done():  # failed already (a later step of its batch)
            self.posted.set_result(posted)

    def fail(self, exc: BaseException) -> None:
        if not self.posted.done():
            self.posted.set_exception(exc)


class ChatPoster:
    def __init__(self) -> None:
        self._queue: list[PendingChat] = []
        self._writers: set[asyncio.Task[None]] = set()
        # The line of each client_id being posted now, so a copy (a re-send from another
        # tab or a reconnect) waits for it and is answered as a repeat, never posted twice.
        self._posting: dict[ChatKey, PendingChat] = {}

    async def post(self, message: ChatMessage, author: events.UserRef) -> bool:
        """Store and broadcast one line with whatever else is queued. True once it is
        broadcast; False if its client_id was stored before (the caller answers the
        repeat). Raises what storing or publishing it raised."""
        pending = PendingChat(message, author)
        earlier = self._posting.get(pending.key)
        if earlier is not None:
            await asyncio.wait([earlier.posted])
        self._posting[pending.key] = pending
        pending.posted.add_done_callback(lambda _: self._forget(pending))
        self._queue.append(pending)
        if len(self._writers) < settings.CHAT_WRITERS:
            writer = asyncio.create_task(self._write_while_queued())
            self._writers.add(writer)
            writer.add_done_callback(self._writers.discard)
        # Shielded: a sender that goes away does not cancel the post its copies wait for.
        return await asyncio.shield(pending.posted)

    def _forget(self, pending: PendingChat) -> None:
        if self._posting.get(pending.key) is pending:
            del self._posting[pending.key]

    async def _write_while_queued(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                await self._post_batch(batch)
            except BaseException as exc:
                for pending in batch:
                    pending.fail(exc)
                if not isinstance(exc, Exception):
                    raise  # cancelled: the loop is closing

    async def _post_batch(self, batch: list[PendingChat]) -> None:
        stored, repeats = await _store(batch)
        LIVE.chat_lines += len(stored)
        await _broadcast(stored)
        # Copies of a stored line answer as repeats only now that it is broadcast, so the
        # repeat path finds its seq in the room's log and does not post it again.
        for pending in repeats:
            pending.resolve(False)

    async def close(self) -> None:
        """Finish the batches queued (the end of a test's event loop)."""
        writers = list(self._writers)
        if writers:
            await asyncio.gather(*writers, return_exceptions=True)


async def _store(batch: list[PendingChat]) -> tuple[list[PendingChat], list[PendingChat]]:
    """INSERT the batch; (the lines stored now, with their pk, and the repeats)."""
    try:
        ids = await _insert(batch)
    except (psycopg.IntegrityError, psycopg.DataError):
        if len(batch) == 1:
            raise
        # One bad line (its session or author deleted meanwhile) must not fail the rest:
        # store each on its own, and fail only the ones that fail.
        stored: list[PendingChat] = []
        repeats: list[PendingChat] = []
        for pending in batch:
            try:
                alone, repeat = await _store([pending])
            except (psycopg.IntegrityError, psycopg.DataError) as exc:
                pending.fail(exc)
            else:
                stored += alone
                repeats += repeat
        return stored, repeats
    stored, repeats = [], []
    for pending in batch:
        pk = ids.pop(pending.key, None)  # only the first copy of a key takes the row
        if pk is None:
            repeats.append(pending)
        else:
            pending.message.pk = pk
            stored.append(pending)
    return stored, repeats


async def _insert(batch: list[PendingChat]) -> dict[ChatKey, int]:
    messages = [pending.message for pending in batch]
    if len(messages) == 1:
        m = messages[0]
        params = (m.session_id, m.user_id, m.client_id, m.text, m.breakout, m.sent_at)
        rows = await async_db.fetch_all(_INSERT_CHAT, params)
    else:
        rows = await async_db.fetch_all(
            _INSERT_CHATS,
            (
                [m.session_id for m in messages],
                [m.user_id for m in messages],
                [m.client_id for m in messages],
                [m.text for m in messages],
                [m.breakout for m in messages],
                [m.sent_at for m in messages],
            ),
        )
    return {(session_id, user_id, client_id): pk for pk, session_id, user_id, client_id in rows}


def chat_frame(message: ChatMessage, author: events.UserRef) -> events.ChatMessage:
    """The ``chat.message`` frame of a stored line, without its seq (the broadcast adds it)."""
    return events.chat_message(
        events.chat_line(
            message_id=message.pk,
            user=author,
            text=message.text,
            sent_at=message.sent_at,
            client_id=message.client_id,
            breakout=message.breakout,
        )
    )


def chat_broadcast(message: ChatMessage, author: events.UserRef) -> store.Broadcast:
    return store.Broadcast(
        message.session_id, chat_audience(message.breakout), chat_frame(message, author), chat_id=message.pk
    )


async def _broadcast(stored: list[PendingChat]) -> None:
    """Publish the stored lines in order, in one round trip."""
    if not stored:
        return
    broadcasts = [chat_broadcast(p.message, p.author) for p in stored]
    if len(broadcasts) == 1:
        results: list[store.Published | Exception] = [await store.publish_async(broadcasts[0])]
    else:
        results = await store.publish_many_async(broadcasts)
    for pending, result in zip(stored, results, strict=True):
        if isinstance(result, Exception):
            pending.fail(result)
        else:  # new, or already broadcast by a re-send elsewhere: either way, once
            pending.resolve(True)


_posters = LoopLocal(ChatPoster)


def poster() -> ChatPoster:
    """This event loop's poster."""
    return _posters.get()


async def close_loop_poster() -> None:
    """Finish and forget this loop's queued lines (the end of a test's event loop)."""
    found = _posters.pop()
    if found is not None:
        await found.close()
