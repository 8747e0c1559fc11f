"""Shared websocket plumbing: ticket auth, frame limits and parsing, error frames."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qs

import orjson
from asgiref.sync import SyncToAsync
from autobahn.websocket.protocol import PreparedMessage
from autobahn.websocket.protocol import WebSocketProtocol as AutobahnProtocol
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connections

from accounts.selectors import realtime_user
from accounts.services import consume_realtime_ticket
from server import async_db, daphne_tuning, redis_client
from server.live_counters import LIVE

MAX_FRAME_BYTES = 64 * 1024
# Past this many refused frames (too large, too fast, malformed) in a minute, close 4429.
ABUSE_LIMIT = 20

CLOSE_BAD_TICKET = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_NOT_OPEN = 4409
CLOSE_RATE_LIMITED = 4429
CLOSE_REMOVED = 4000
# Beyond CONTRACT.md's codes. Daphne (autobahn) sends only 1000 or 3000-4999, so the
# standard 1001/1012 are not available to a server close.
# No frame (not even a ping) from the client for too long: the connection is presumed dead.
CLOSE_IDLE = 4408
# The server lost its message bus (Redis restart): reconnect with a new ticket and resume.
CLOSE_SERVICE_RESTART = 4503

T = TypeVar("T")
# Shared by every event loop of the process and never shut down with one, so a thread's
# pooled database connection is always handed back by the thread that took it.
db_executor = ThreadPoolExecutor(max_workers=settings.DB_THREADS, thread_name_prefix="db")


def query_params(scope: dict[str, Any]) -> dict[str, str]:
    raw = scope.get("query_string", b"").decode("latin-1")
    return {key: values[0] for key, values in parse_qs(raw).items() if values}


def db_task(func: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """``func`` (ORM or Redis work) run off the event loop on the process's db thread pool.

    Channels' database_sync_to_async defaults to one shared thread per process, so every
    socket's database work queued behind everyone else's (bench S2: chat saturated at a
    few hundred messages a second). Here calls from different sockets run side by side,
    each thread on its own pooled connection; one socket's frames are still handled one
    at a time. Each call hands its connection back to the pool when it ends.
    """
    return _PooledCall(func, thread_sensitive=False, executor=db_executor)


class _PooledCall(SyncToAsync):
    def thread_handler(self, loop: Any, *args: Any, **kwargs: Any) -> Any:
        # Hand the thread's connection back to the pool after every call, whatever its age.
        try:
            return super().thread_handler(loop, *args, **kwargs)
        finally:
            connections.close_all()


# The handshake's two reads of a ticket, off the event loop. A consumer consumes the
# ticket, registers for access revocations of its holder, and only then checks that the
# holder may still connect: a revocation committed before the check is seen by it, and
# one committed after it is published to a socket already listening.
consume_ticket = db_task(consume_realtime_ticket)
still_allowed = db_task(realtime_user)


class FrameError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class FrameGate:
    """Per-socket limits: frame size, frames per minute, and repeated abuse.

    Frames of ``signaling_types`` (a room's rtc.* frames) count toward a budget of their
    own, ``signaling_per_minute``: a newcomer to a full mesh sends a burst of offers and
    ICE candidates, one per candidate per peer, that must neither be cut off by the
    general budget nor widen it for chat and pings. A frame's type is known only once it
    is parsed, so the budget is charged after parsing; a frame that is not a valid one
    (binary, too large, malformed) is charged to the general budget.
    """

    max_bytes: int = MAX_FRAME_BYTES
    per_minute: int = field(default_factory=lambda: settings.WS_FRAMES_PER_MINUTE)
    signaling_per_minute: int = field(default_factory=lambda: settings.WS_SIGNALING_FRAMES_PER_MINUTE)
    signaling_types: frozenset[str] = frozenset()
    abuse_limit: int = ABUSE_LIMIT
    # The latest limit+1 times: the limit is passed when the oldest of them is within the
    # minute. O(1) a frame, where counting a minute's frames would walk them.
    _recent: deque[float] = field(init=False)
    _signaling: deque[float] = field(init=False)
    _refused: deque[float] = field(init=False)

    def __post_init__(self) -> None:
        self._recent = deque(maxlen=self.per_minute + 1)
        self._signaling = deque(maxlen=self.signaling_per_minute + 1)
        self._refused = deque(maxlen=self.abuse_limit + 1)

    @staticmethod
    def _over(stamps: deque[float]) -> bool:
        """Record a frame now; True when more than the limit came within a minute."""
        now = time.monotonic()
        stamps.append(now)
        return len(stamps) == stamps.maxlen and now - stamps[0] <= 60

    def refused(self) -> bool:
        """Record a refused frame; True when the socket should be closed for abuse."""
        return self._over(self._refused)

    def _invalid(self, code: str, message: str) -> FrameError:
        """The error for a frame that is not a valid one, charged to the general budget:
        ``rate_limited`` past it, as for any frame."""
        if self._over(self._recent):
            return FrameError("rate_limited", f"At most {self.per_minute} frames a minute.")
        return FrameError(code, message)

    def parse(self, text_data: str | None, bytes_data: bytes | None) -> dict[str, Any]:
        """One inbound frame as a dict with a string ``type``, or FrameError."""
        LIVE.frames_in += 1
        if text_data is None:
            raise self._invalid("binary_not_supported", "Frames are JSON text.")
        # A character is at most 4 bytes of UTF-8: only a long text needs encoding to tell.
        if len(text_data) * 4 > self.max_bytes and len(text_data.encode()) > self.max_bytes:
            raise self._invalid("too_large", f"Frames are at most {self.max_bytes // 1024} KiB.")
        try:
            frame = orjson.loads(text_data)
        except orjson.JSONDecodeError as exc:
            raise self._invalid("malformed", "The frame is not valid JSON.") from exc
        if not isinstance(frame, dict) or not isinstance(kind := frame.get("type"), str):
            raise self._invalid("malformed", 'A frame is a JSON object with a string "type".')
        if kind in self.signaling_types:
            if self._over(self._signaling):
                raise FrameError("rate_limited", f"At most {self.signaling_per_minute} signaling frames a minute.")
        elif self._over(self._recent):
            raise FrameError("rate_limited", f"At most {self.per_minute} frames a minute.")
        return frame


def error_frame(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}


def dumps(frame: Mapping[str, Any]) -> str:
    return orjson.dumps(frame).decode()


class PreparedFrame:
    """One frame sent as it is to many local sockets (a room broadcast, the pong): encoded
    and framed for the wire once, on first use, instead of once per socket."""

    __slots__ = ("_prepared", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._prepared: PreparedMessage | None = None

    def prepared(self) -> PreparedMessage:
        if self._prepared is None:
            # A server's frames are not masked; compression is never negotiated (Daphne
            # does not offer it), and autobahn falls back to a normal send if it were.
            self._prepared = PreparedMessage(self.text.encode(), isBinary=False, applyMask=False, doNotCompress=False)
        return self._prepared


# The reply to every ping, framed once per process.
PONG = PreparedFrame(dumps({"type": "pong"}))


def autobahn_protocol(send: Any) -> AutobahnProtocol | None:
    """The connection's autobahn protocol if ``send`` is Daphne's (``functools.partial(
    server.handle_reply, protocol)``) and Daphne's reply path is the code the direct send was
    written against (server/daphne_tuning.py, "direct_send"), else None."""
    if not daphne_tuning.direct_send:
        return None
    bound = getattr(send, "args", ())
    return bound[0] if bound and isinstance(bound[0], AutobahnProtocol) else None


class RealtimeConsumer(AsyncWebsocketConsumer):
    """The project's websocket consumers, with Channels' per-message costs taken out of
    the frame path (bench S1):

    - Channels' dispatch closes stale database connections in a worker thread before
      every message, a thread hop per frame; every database call here goes through
      db_task, which hands its connection back after each call.
    - Channels' ``await_many_dispatch`` makes a task and an ``asyncio.wait`` per message;
      here the socket and the channel layer are each read by one long-lived loop. With
      both, a lock keeps Channels' rule that one message is handled at a time, in arrival
      order; a consumer without a channel has one loop and needs no lock.
    - A text frame to an open connection is written by autobahn's ``sendMessage``
      directly (``send``), not through the ASGI message, Daphne's ``handle_reply`` and
      ``serverSend``, which come to the same call (bench S1); only while that is Daphne's
      code (the "direct_send" patch of server/daphne_tuning.py).
    - A room broadcast goes to each local socket as one already-framed message
      (``send_prepared``): written to the connection by autobahn's
      ``sendPreparedMessage``, instead of each socket re-encoding and re-framing it
      (bench S2/S3).
    - Under Daphne, see also server/daphne_tuning.py.
    """

    # Under Daphne, the connection's autobahn protocol (Daphne binds it into ``send``);
    # None under other servers and in tests, which then take the ASGI send.
    wire: AutobahnProtocol | None = None
    # False for a consumer whose events come another way (live rooms: sessions/rooms/hub.py):
    # no channel of its own, nor a task reading it.
    uses_channel_layer = True
    channel_layer: Any = None

    # Whether this socket was accepted (counted in /metrics' open sockets until it ends).
    counted_open = False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.scope = scope
        self.base_send = send
        self.wire = autobahn_protocol(send)
        self.channel_layer = get_channel_layer(self.channel_layer_alias) if self.uses_channel_layer else None
        sources = [receive]
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
            sources.append(self.channel_receive)
        # With a single source there is nothing to take turns with: no lock per message.
        one_at_a_time = asyncio.Lock() if len(sources) > 1 else contextlib.nullcontext()

        async def pump(source: Callable[[], Awaitable[dict[str, Any]]]) -> None:
            while True:
                message = await source()
                async with one_at_a_time:
                    await self.dispatch(message)

        pumps = [asyncio.create_task(pump(source)) for source in sources]
        try:
            done, _ = await asyncio.wait(pumps, return_when=asyncio.FIRST_EXCEPTION)
            for finished in done:
                finished.result()  # StopConsumer at disconnect, or a handler's error
        except StopConsumer:
            pass
        finally:
            if self.counted_open:
                self.counted_open = False
                LIVE.open_sockets -= 1
            for task in pumps:
                task.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)

    async def accept(self, subprotocol: str | None = None, headers: Any = None) -> None:
        await super().accept(subprotocol, headers)
        if not self.counted_open:
            self.counted_open = True
            LIVE.open_sockets += 1

    def open_wire(self) -> AutobahnProtocol | None:
        """The connection's autobahn protocol while it is open; None when not under Daphne
        or closing (the ASGI send then says what happens)."""
        wire = self.wire
        return wire if wire is not None and wire.state == AutobahnProtocol.STATE_OPEN else None

    async def send(self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False) -> None:
        if text_data is not None or bytes_data is not None:
            LIVE.frames_out += 1
        wire = self.open_wire()
        if wire is not None and text_data and bytes_data is None and not close:
            wire.sendMessage(text_data.encode(), isBinary=False)
        else:
            await super().send(text_data, bytes_data, close)

    async def send_prepared(self, frame: PreparedFrame) -> None:
        wire = self.open_wire()
        if wire is not None:
            LIVE.frames_out += 1
            wire.sendPreparedMessage(frame.prepared())
        else:
            await self.send(frame.text)

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


async def close_loop_clients() -> None:
    """Close the event loop's own async clients (chat's PostgreSQL pool and Redis client):
    tests call it as each test's loop ends; a server process keeps them for its lifetime."""
    await async_db.close_pools()
    await redis_client.close_async_redis()
