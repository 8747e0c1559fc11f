"""Per-process fan-out for live rooms.

Each server process keeps one Redis pub/sub connection and subscribes to the channel of
every room it has sockets in. A broadcast arrives once per process, already encoded, and
is handed to each local socket that should see it: one encode and one PUBLISH per
broadcast however large the room (the stock channel-layer group_send costs one Redis
operation per member; see bench S3).

The same connection carries access revocations (server/realtime.py): the hub closes its
own sockets of the user a revocation names, so a room socket needs no channel-layer
channel or group of its own. It also carries each room's mesh signaling (signaling.py),
frames addressed to one user that the hub hands to that user's local sockets only.
Messages are dispatched by channel, one dict lookup (``_handlers``).

The hub also heartbeats its sockets' presence (one pipeline per tick), closes sockets
whose client went silent, and sweeps presence left behind by dead processes.

If the pub/sub connection breaks (Redis restarted), frames may have been missed: every
local socket gets a ``resync`` frame and is closed with 4503 so its client reconnects
and resumes; nothing is lost silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Protocol

import orjson
import redis.asyncio as aioredis
from django.conf import settings
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from server.live_counters import LIVE
from server.loop_local import LoopLocal
from server.realtime import REVOCATIONS_CHANNEL
from server.redis_client import drop_async_redis_connections
from server.ws import PreparedFrame, db_task
from sessions.rooms import presence, presence_store, signaling, store
from sessions.rooms.store import LogEntry, parse_entry

log = logging.getLogger("iop.rooms")
REVOCATIONS = REVOCATIONS_CHANNEL.encode()


class RoomSocket(Protocol):
    session_id: int
    user_id: int
    member_name: str
    last_heard: float

    def wants(self, audience: str) -> bool: ...

    async def deliver(self, entry: LogEntry, frame: PreparedFrame | None = None) -> None: ...

    async def deliver_signal(self, part: str, frame_text: str) -> None: ...

    async def bus_lost(self) -> None: ...

    async def went_silent(self) -> None: ...

    async def access_revoked(self, event: dict[str, Any]) -> None: ...


class RoomHub:
    def __init__(self) -> None:
        self.rooms: dict[int, set[RoomSocket]] = {}
        # No retries on the pub/sub connection: a silent reconnect would hide lost frames.
        self._redis = aioredis.Redis.from_url(settings.REDIS_URL, retry=Retry(NoBackoff(), 0), socket_connect_timeout=5)
        self._pubsub: aioredis.client.PubSub | None = None
        self._confirmed: dict[bytes, asyncio.Future[None]] = {}
        # What each subscribed channel's messages go to: the room's stream, its signaling,
        # the revocations.
        self._handlers: dict[bytes, Callable[[bytes], Awaitable[None]]] = {REVOCATIONS: self._revoke}
        self._tasks: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()

    # Joining and leaving ------------------------------------------------------------------

    async def join(self, socket: RoomSocket) -> None:
        """Returns once this process is subscribed to the room and to revocations, so
        nothing published after the caller reads the room's state can be missed, nor a
        revocation committed after it."""
        async with self._lock:
            if socket.session_id not in self.rooms:
                self.rooms[socket.session_id] = set()
                LIVE.open_rooms += 1
            self.rooms[socket.session_id].add(socket)
            if self._pubsub is None:
                self._pubsub = self._redis.pubsub()
            session_id = socket.session_id
            room, rtc = store.channel_name(session_id).encode(), store.rtc_channel_name(session_id).encode()
            channels = [room, rtc, REVOCATIONS]
            self._handlers[room] = partial(self._route, session_id)
            self._handlers[rtc] = partial(self._relay, session_id)
            new = [channel for channel in channels if channel not in self._confirmed]
            if new:
                for channel in new:
                    self._confirmed[channel] = asyncio.get_running_loop().create_future()
                try:
                    await self._pubsub.subscribe(*new)
                except BaseException:
                    for channel in new:  # the next join subscribes again
                        self._confirmed.pop(channel, None)
                    raise
                self._start()
            confirmations = [self._confirmed[channel] for channel in channels]
        await asyncio.wait_for(asyncio.shield(asyncio.gather(*confirmations)), timeout=5)

    async def leave(self, socket: RoomSocket) -> None:
        async with self._lock:
            sockets = self.rooms.get(socket.session_id)
            if sockets is None:
                return
            sockets.discard(socket)
            if sockets:
                return
            del self.rooms[socket.session_id]
            LIVE.open_rooms -= 1
            session_id = socket.session_id
            channels = [store.channel_name(session_id).encode(), store.rtc_channel_name(session_id).encode()]
            for channel in channels:
                self._confirmed.pop(channel, None)
                self._handlers.pop(channel, None)
            if self._pubsub is not None:
                with contextlib.suppress(Exception):
                    await self._pubsub.unsubscribe(*channels)

    # Background work ----------------------------------------------------------------------

    def _start(self) -> None:
        if self._tasks:
            return
        self._tasks = [asyncio.create_task(self._listen()), asyncio.create_task(self._tick())]

    async def _listen(self) -> None:
        while True:
            async with self._lock:
                pubsub = self._pubsub
                if pubsub is None or not (self.rooms or set(self._confirmed) - {REVOCATIONS}):
                    await self._stop()
                    return
            try:
                message = await pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("room bus lost; closing local room sockets so clients resume", exc_info=True)
                async with self._lock:
                    orphans = self._forget_all()
                    await self._stop()
                    # Pooled connections to the old server are dead: start afresh.
                    with contextlib.suppress(Exception):
                        await self._redis.connection_pool.disconnect()
                    with contextlib.suppress(Exception):
                        await drop_async_redis_connections()
                for socket in orphans:
                    with contextlib.suppress(Exception):
                        await socket.bus_lost()
                return
            if message is None:
                continue
            if message["type"] == "subscribe":
                future = self._confirmed.get(message["channel"])
                if future is not None and not future.done():
                    future.set_result(None)
            elif message["type"] == "message":
                handler = self._handlers.get(message["channel"])
                if handler is not None:
                    await handler(message["data"])

    async def _route(self, session_id: int, data: bytes) -> None:
        entry = parse_entry(data)
        frame = PreparedFrame(entry.frame_text)  # framed once for all local sockets
        for socket in list(self.rooms.get(session_id, ())):
            if socket.wants(entry.audience):
                try:
                    await socket.deliver(entry, frame)
                except Exception as error:  # one broken socket must not stop the room
                    if "closed protocol" in str(error):  # it closed while we sent; its disconnect follows
                        continue
                    log.exception("delivering a room frame failed")

    async def _relay(self, session_id: int, data: bytes) -> None:
        """A signaling frame addressed to one user: to this process's sockets of that user
        in the room, each of which checks it is in the part of the room it was sent to."""
        addressed = signaling.parse_addressed(data)
        for socket in list(self.rooms.get(session_id, ())):
            if socket.user_id == addressed.to:
                try:
                    await socket.deliver_signal(addressed.part, addressed.frame_text)
                except Exception as error:
                    if "closed protocol" in str(error):
                        continue
                    log.exception("relaying a signaling frame failed")

    async def _revoke(self, data: bytes) -> None:
        """Hand an access revocation to this process's sockets of the user it names, or
        without a user, to all its sockets in the session it names."""
        event = orjson.loads(data)
        user_id = event.get("user")
        if user_id is None:
            targets = list(self.rooms.get(event.get("session_id"), ()))
        else:
            targets = [s for sockets in self.rooms.values() for s in sockets if s.user_id == user_id]
        for socket in targets:
            try:
                await socket.access_revoked(event)
            except Exception:  # one socket must not keep the others open
                log.exception("closing a revoked room socket failed")

    def _forget_all(self) -> list[RoomSocket]:
        sockets = [socket for members in self.rooms.values() for socket in members]
        LIVE.open_rooms -= len(self.rooms)
        self.rooms.clear()
        for future in self._confirmed.values():
            if not future.done():
                future.set_exception(ConnectionError("room bus lost"))
        self._confirmed.clear()
        self._handlers = {REVOCATIONS: self._revoke}
        return sockets

    async def _stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        current = asyncio.current_task()
        for task in tasks:
            if task is not current:
                task.cancel()
        pubsub, self._pubsub = self._pubsub, None
        self._confirmed.pop(REVOCATIONS, None)  # a new connection subscribes again
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def _tick(self) -> None:
        """Heartbeat local sockets, close silent ones, sweep dead processes' presence."""
        heartbeat = settings.ROOM_HEARTBEAT_SECONDS
        next_sweep = 0.0
        while True:
            await asyncio.sleep(heartbeat)
            now = time.time()
            alive: dict[int, list[str]] = {}
            for session_id, sockets in list(self.rooms.items()):
                for socket in list(sockets):
                    if now - socket.last_heard > settings.ROOM_IDLE_SECONDS:
                        log.info("closing a room socket whose client went silent")
                        await socket.went_silent()
                    else:
                        alive.setdefault(session_id, []).append(socket.member_name)
            try:
                if alive:
                    pipe = self._redis.pipeline(transaction=False)
                    presence_store.refresh_pipeline(pipe, alive, now)
                    await pipe.execute()
                if now >= next_sweep:
                    next_sweep = now + settings.ROOM_SWEEP_SECONDS
                    await db_task(presence.sweep_stale_presence)()
            except Exception:
                log.warning("room heartbeat failed", exc_info=True)


_hubs = LoopLocal(RoomHub)


def hub() -> RoomHub:
    """The hub of this process's event loop (tests run one loop per test)."""
    return _hubs.get()
