"""The bare baseline: a plain `websockets` server speaking the room protocol, one process.

    python -m bench.bare --port 9000

- ``/ws/sessions/<room>/?user=<id>`` joins in-memory room ``<room>``; the first frame is
  ``{"type": "room.state", "seq": N, ...}`` as the project sends.
- ``{"type": "ping"}`` is answered with ``{"type": "pong"}`` to that socket, after JSON
  parsing, as the project does.
- ``{"type": "chat.send", "text", "client_id"}`` takes the room's next seq and the same
  ``chat.message`` frame shape as the project goes to every member, the sender included.

No authentication, no channel layer, no application: the floor any websocket server in
Python stands on, to measure the project's overhead against.

With ``--redis URL`` several such processes share rooms as the project's do: a chat line
takes its seq and is published in one Lua call (INCR + PUBLISH), and each process, subscribed
once per room it has members in, hands the encoded frame to its local members. With
``--database URL`` too, each chat line is first committed to PostgreSQL (one autocommit
INSERT into its own table, unique per room, user and client_id, from a small pool of async
connections), as the project stores every line before broadcasting it. Both together are
the work of the project's S2 (two processes, Redis, PostgreSQL), minus the application.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import signal
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import redis.asyncio as aioredis
from psycopg_pool import AsyncConnectionPool
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

PONG = orjson.dumps({"type": "pong"}).decode()


class Room:
    __slots__ = ("members", "seq")

    def __init__(self) -> None:
        self.members: set[ServerConnection] = set()
        self.seq = 0


rooms: dict[str, Room] = {}
message_ids = itertools.count(1)
# INCR the room's seq, then PUBLISH the frame with it; returns the seq.
PUBLISH_WITH_SEQ = """
local seq = redis.call('INCR', KEYS[1])
redis.call('PUBLISH', ARGV[1], (string.gsub(ARGV[2], '"seq":0', '"seq":' .. seq, 1)))
return seq
"""


class RedisRooms:
    """Cross-process rooms: one pub/sub connection per process, subscribed once, at start,
    to every room's channel (in S2 every room has members in every process)."""

    def __init__(self, url: str, pool_size: int) -> None:
        # A pool that waits for a free connection: redis-py's default pool raises "Too many
        # connections" when a burst of chat lines awaits its publish at once, and that
        # closed the senders' sockets (1011) instead of only delaying their lines.
        pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=pool_size, timeout=None)
        self.redis = aioredis.Redis(connection_pool=pool)
        self.pubsub = self.redis.pubsub()
        self.publish_script = self.redis.register_script(PUBLISH_WITH_SEQ)

    @staticmethod
    def channel(room_key: str) -> str:
        return f"bare:room:{room_key}"

    async def start(self) -> asyncio.Task[None]:
        await self.pubsub.psubscribe(self.channel("*"))
        return asyncio.create_task(self.listen())

    async def publish(self, room_key: str, frame: dict[str, Any]) -> None:
        await self.publish_script(keys=[f"bare:seq:{room_key}"], args=[self.channel(room_key), orjson.dumps(frame)])

    async def listen(self) -> None:
        async for message in self.pubsub.listen():
            if message["type"] != "pmessage":
                continue
            room = rooms.get(message["channel"].decode().rsplit(":", 1)[1])
            if room is not None:
                broadcast(room.members, message["data"].decode())


class ChatStore:
    """Each chat line committed to PostgreSQL before it is published, as the project
    stores it: one autocommit INSERT, with a unique (room, user, client_id) so a re-sent
    line is not stored twice. The plainest way to do it: a pool of async connections, one
    statement per line, no batching."""

    TABLE = "bare_chat"

    def __init__(self, url: str, pool_size: int) -> None:
        self.pool = AsyncConnectionPool(
            url, min_size=pool_size, max_size=pool_size, open=False, kwargs={"autocommit": True}
        )

    async def start(self) -> None:
        await self.pool.open(wait=True)
        async with self.pool.connection() as conn, conn.transaction():
            # Several bare processes start at once: one creates the table, the others wait.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.TABLE,))
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self.TABLE} (id bigserial PRIMARY KEY, room text NOT NULL, "
                "user_id bigint NOT NULL, client_id text NOT NULL, text text NOT NULL, "
                "sent_at timestamptz NOT NULL, UNIQUE (room, user_id, client_id))"
            )

    async def insert(self, room_key: str, user_id: int, client_id: str, text: str, sent_at: datetime) -> int | None:
        """The new row's id; None if this (room, user, client_id) was stored before."""
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                f"INSERT INTO {self.TABLE} (room, user_id, client_id, text, sent_at) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (room, user_id, client_id) DO NOTHING RETURNING id",
                (room_key, user_id, client_id, text, sent_at),
            )
            row = await cursor.fetchone()
        return None if row is None else int(row[0])


shared: RedisRooms | None = None
store: ChatStore | None = None


def _error(code: str, message: str) -> str:
    return orjson.dumps({"type": "error", "code": code, "message": message}).decode()


async def handler(ws: ServerConnection) -> None:
    assert ws.request is not None
    parts = urlsplit(ws.request.path)
    segments = [segment for segment in parts.path.split("/") if segment]
    room_key = segments[2] if len(segments) >= 3 and segments[:2] == ["ws", "sessions"] else "lobby"
    user_id = int(parse_qs(parts.query).get("user", ["0"])[0] or 0)
    room = rooms.setdefault(room_key, Room())
    room.members.add(ws)
    try:
        await ws.send(orjson.dumps({"type": "room.state", "seq": room.seq, "members": len(room.members)}).decode())
        async for raw in ws:
            try:
                frame: Any = orjson.loads(raw)
            except orjson.JSONDecodeError:
                await ws.send(_error("malformed", "The frame is not valid JSON."))
                continue
            kind = frame.get("type") if isinstance(frame, dict) else None
            if kind == "ping":
                await ws.send(PONG)
            elif kind == "chat.send":
                room.seq += 1
                text = str(frame.get("text", ""))[:4000]
                client_id = str(frame.get("client_id", ""))[:64]
                sent_at = datetime.now(UTC)
                message_id = next(message_ids)
                if store is not None:
                    stored_id = await store.insert(room_key, user_id, client_id, text, sent_at)
                    if stored_id is None:
                        continue  # stored before: not posted twice
                    message_id = stored_id
                out = {
                    "type": "chat.message",
                    "id": message_id,
                    "seq": 0 if shared is not None else room.seq,  # Redis numbers shared rooms
                    "user": {"id": user_id},
                    "text": text,
                    "sent_at": sent_at.isoformat(),
                    "client_id": client_id,
                }
                if shared is not None:
                    await shared.publish(room_key, out)
                else:
                    broadcast(room.members, orjson.dumps(out).decode())
            else:
                await ws.send(_error("unknown_type", "Unknown frame type."))
    except ConnectionClosed:
        pass
    finally:
        room.members.discard(ws)
        if not room.members:
            rooms.pop(room_key, None)


async def serve_forever(
    host: str, port: int, redis_url: str | None, redis_pool_size: int, database_url: str | None, db_pool_size: int
) -> None:
    global shared, store
    if database_url:
        store = ChatStore(database_url, db_pool_size)
        await store.start()
    if redis_url:
        shared = RedisRooms(redis_url, redis_pool_size)
        listener = await shared.start()  # noqa: F841 (kept alive until the server stops)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    async with serve(handler, host, port, compression=None, ping_interval=None, max_size=64 * 1024, backlog=1024):
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", help="share rooms with other processes through this Redis")
    parser.add_argument(
        "--redis-pool-size", type=int, default=500, help="Redis connections at most (the project's REDIS_POOL_SIZE)"
    )
    parser.add_argument("--database", help="commit each chat line to this PostgreSQL before publishing it")
    parser.add_argument("--database-pool-size", type=int, default=4, help="PostgreSQL connections")
    args = parser.parse_args(argv)
    asyncio.run(
        serve_forever(args.host, args.port, args.redis, args.redis_pool_size, args.database, args.database_pool_size)
    )


if __name__ == "__main__":
    main()
