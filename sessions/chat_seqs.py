"""Each chat line's seq, written to its row in batches.

A chat line is stored (INSERT, committed) before it is broadcast, and the broadcast gives
it its seq. Writing that seq back with one UPDATE per line doubled PostgreSQL's commits
and fsyncs per chat line; under load (bench S2) the extra commit, its WAL flush and its
CPU were most of the latency tail. So each event loop collects (row, seq) pairs and
writes them with one UPDATE every ``CHAT_SEQ_FLUSH_SECONDS`` (50 ms by default) while
lines keep arriving.

The UPDATE is a HOT one (migration 0005): seq is in no index, and pages keep room for the
new row versions, so it writes no index entry and leaves vacuum little to do.

The seq is needed only to serve a resume from the database once the room's Redis log no
longer covers it, and to answer a re-sent client_id. A row whose seq was not written yet
(the batch is in flight, or the process died holding it) is still found: the repeat path
looks the line up in the room's Redis log (room_services._repeated_chat_message), and
records its seq then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from django.conf import settings

from server import async_db
from server.loop_local import LoopLocal
from sessions.models import ChatMessage

log = logging.getLogger("iop.rooms")

_CHAT_TABLE = ChatMessage._meta.db_table
# One statement whatever the batch size (so psycopg prepares it once). Safe to run twice.
_SET_SEQS = (
    f"UPDATE {_CHAT_TABLE} AS m SET seq = v.seq "  # noqa: S608
    "FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, seq) WHERE m.id = v.id"
)
# A batch that could not be written is kept for the next attempt, up to this many rows
# (PostgreSQL down for long): past it the oldest are dropped with a warning.
MAX_PENDING = 10_000


def reseed_wait_seconds() -> float:
    """How long a re-seed of a lost seq counter waits before reading the highest stored
    seq: two flush intervals, so that every live process has written the seqs it held
    (otherwise a line broadcast just before Redis lost the counter could have its number
    handed out again)."""
    return 2 * settings.CHAT_SEQ_FLUSH_SECONDS


class SeqRecorder:
    def __init__(self) -> None:
        self.pending: dict[int, int] = {}
        self._writer: asyncio.Task[None] | None = None
        # One write at a time; a batch leaves ``pending`` only inside it, so cancelling
        # the writer task (at close) never loses one.
        self._lock = asyncio.Lock()

    def record(self, message_id: int, seq: int) -> None:
        """Queue one row's seq; it is written within CHAT_SEQ_FLUSH_SECONDS."""
        self.pending[message_id] = seq
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_while_pending())

    async def _write_while_pending(self) -> None:
        while self.pending:
            await asyncio.sleep(settings.CHAT_SEQ_FLUSH_SECONDS)
            if not await self.flush():
                await asyncio.sleep(1)  # do not spin against a database that is down

    async def flush(self) -> bool:
        """Write everything queued now (also before re-seeding a lost counter from the
        database). False if the write failed: the batch stays queued."""
        async with self._lock:
            batch, self.pending = self.pending, {}
            if not batch:
                return True
            try:
                await async_db.execute(_SET_SEQS, (list(batch), list(batch.values())))
            except Exception:
                log.warning("recording %d chat seqs failed; kept for the next batch", len(batch), exc_info=True)
                self._requeue(batch)
                return False
            return True

    def _requeue(self, batch: dict[int, int]) -> None:
        self.pending = {**batch, **self.pending}
        if len(self.pending) > MAX_PENDING:
            dropped = len(self.pending) - MAX_PENDING
            self.pending = dict(list(self.pending.items())[dropped:])
            log.warning("dropped %d unrecorded chat seqs (a re-send still finds them in the room log)", dropped)

    async def close(self) -> None:
        """Write what is queued and stop the writer (the end of a test's event loop)."""
        await self.flush()
        writer, self._writer = self._writer, None
        if writer is not None and not writer.done():
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer


_recorders = LoopLocal(SeqRecorder)


def recorder() -> SeqRecorder:
    """This event loop's recorder."""
    return _recorders.get()


async def close_loop_recorder() -> None:
    """Write and forget this loop's queued seqs (the end of a test's event loop)."""
    found = _recorders.pop()
    if found is not None:
        await found.close()
